#include "store/store.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "event/located.h"

namespace handoff::store {

Error Unreadable(std::string_view what) {
  return Error{ErrorCode::kUnavailable, "the database could not read " + std::string(what)};
}

namespace {

constexpr std::array<const char*, 7> kRunStatusNames = {"queued", "running", "passed",
                                                         "failed", "cancelled", "error", "held"};
constexpr std::array<const char*, 6> kTestStatusNames = {"pending", "running", "passed",
                                                          "failed", "skipped", "cancelled"};
constexpr std::array<const char*, 5> kTestChangeNames = {"", "new_failure", "still_failing",
                                                         "fixed", "new_test"};
constexpr std::array<const char*, 6> kTriggerNames = {"api",   "schedule", "ui",
                                                       "retry", "cli",      "ingest"};
constexpr std::array<const char*, 6> kHuntStatusNames = {"running", "passed",    "failed",
                                                          "stopped", "cancelled", "error"};
constexpr std::array<const char*, 4> kDeliveryStateNames = {"pending", "delivered", "failed",
                                                             "disabled"};

template <typename Enum, std::size_t N>
bool ParseName(const std::array<const char*, N>& names, std::string_view name, Enum* out) {
  for (std::size_t i = 0; i < N; ++i) {
    if (name == names[i]) {
      *out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string ShownText(const OutputLine& line) {
  switch (line.kind) {
    case LineKind::kOutput:
      return line.text;
    case LineKind::kLog:
    case LineKind::kFailure:
    case LineKind::kSkip:
      return Located(line.text, line.file, line.line);
    default:
      return {};
  }
}

const char* RunStatusName(RunStatus status) {
  return kRunStatusNames[static_cast<std::size_t>(status)];
}
const char* TestStatusName(TestStatus status) {
  return kTestStatusNames[static_cast<std::size_t>(status)];
}
const char* TriggerName(Trigger trigger) {
  return kTriggerNames[static_cast<std::size_t>(trigger)];
}
const char* DeliveryStateName(DeliveryState state) {
  return kDeliveryStateNames[static_cast<std::size_t>(state)];
}
bool ParseRunStatus(std::string_view name, RunStatus* out) {
  return ParseName(kRunStatusNames, name, out);
}
bool ParseTestStatus(std::string_view name, TestStatus* out) {
  return ParseName(kTestStatusNames, name, out);
}
const char* TestChangeName(TestChange change) {
  return kTestChangeNames[static_cast<std::size_t>(change)];
}
bool ParseTestChange(std::string_view name, TestChange* out) {
  return ParseName(kTestChangeNames, name, out);
}
bool ParseTrigger(std::string_view name, Trigger* out) {
  return ParseName(kTriggerNames, name, out);
}
const char* HuntStatusName(HuntStatus status) {
  return kHuntStatusNames[static_cast<std::size_t>(status)];
}
bool ParseHuntStatus(std::string_view name, HuntStatus* out) {
  return ParseName(kHuntStatusNames, name, out);
}
bool ParseDeliveryState(std::string_view name, DeliveryState* out) {
  return ParseName(kDeliveryStateNames, name, out);
}

Verdict VerdictOf(const TestRow& row) {
  Verdict v;
  switch (row.status) {
    case TestStatus::kPassed: v.outcome = Status::kPassed; break;
    case TestStatus::kFailed: v.outcome = Status::kFailed; break;
    case TestStatus::kSkipped: v.outcome = Status::kSkipped; break;
    case TestStatus::kPending:
    case TestStatus::kRunning:
    case TestStatus::kCancelled: v.outcome = Status::kCancelled; break;
  }
  v.soft = row.soft_failure && v.outcome == Status::kFailed;
  v.flaky = row.flaky && v.outcome == Status::kPassed;
  return v;
}

std::unordered_map<std::string_view, int> RetriedTopLevelAttempts(
    const std::vector<TestRow>& rows) {
  std::unordered_map<std::string_view, int> attempts;
  if (std::none_of(rows.begin(), rows.end(), [](const TestRow& r) { return r.attempt > 1; })) {
    return attempts;
  }
  for (const TestRow& row : rows) {
    if (IsTopLevel(row.name)) attempts.emplace(row.name, row.attempt);
  }
  return attempts;
}

bool IsCurrentRow(const TestRow& row,
                  const std::unordered_map<std::string_view, int>& top_level_attempts) {
  if (top_level_attempts.empty() || IsTopLevel(row.name)) return true;
  const std::string_view name = row.name;
  auto parent = top_level_attempts.find(name.substr(0, name.find('/')));
  return parent == top_level_attempts.end() || parent->second == row.attempt;
}

Totals TotalsOf(const std::vector<TestRow>& rows) {
  const auto attempts = RetriedTopLevelAttempts(rows);
  Totals totals;
  for (const TestRow& row : rows) {
    if (IsCurrentRow(row, attempts)) totals.Add(VerdictOf(row));
  }
  return totals;
}

bool IsFinished(RunStatus status) {
  return status != RunStatus::kQueued && status != RunStatus::kRunning &&
         status != RunStatus::kHeld;
}

ReferenceRuns Store::RunsOfReference(const std::string& suite, const std::string& reference) {
  ReferenceRuns found;
  RunQuery query;
  query.suite = suite;
  query.reference = reference;
  query.limit = 100;
  while (!found.finished) {
    const std::vector<Run> page = ListRuns(query);  // newest first
    for (const Run& run : page) {
      if (!run.filter.empty() || !run.tests.empty()) continue;  // a part of the suite
      if (IsFinished(run.status)) {
        found.finished = run;
        break;
      }
      if (!found.unfinished) found.unfinished = run;
    }
    if (static_cast<int>(page.size()) < query.limit) break;
    query.before_id = page.back().id;
  }
  return found;
}

bool IsSecretParam(const Run& run, std::string_view key) {
  return std::find(run.secret_params.begin(), run.secret_params.end(), key) !=
         run.secret_params.end();
}

KeyValues ShownParams(const Run& run) {
  KeyValues shown = run.params;
  for (auto& [key, value] : shown) {
    if (IsSecretParam(run, key)) value = std::string(kRedacted);
  }
  return shown;
}

}  // namespace handoff::store
