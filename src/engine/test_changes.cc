#include "engine/test_changes.h"

#include <string_view>
#include <unordered_map>

namespace handoff {

std::vector<store::TestRow> DecideTestChanges(const store::Run& run,
                                              std::vector<store::TestRow>& rows,
                                              const std::optional<store::Run>& previous,
                                              const std::vector<store::TestRow>& previous_rows) {
  using store::TestChange;
  std::vector<store::TestRow> changed;
  if (!previous) return changed;
  std::unordered_map<std::string_view, const store::TestRow*> before;
  const auto previous_attempts = store::RetriedTopLevelAttempts(previous_rows);
  for (const store::TestRow& row : previous_rows) {
    if (store::IsCurrentRow(row, previous_attempts)) before.emplace(row.name, &row);
  }
  const store::FailingSince this_run{run.id, run.reference, run.created_at_ns};
  const store::FailingSince previous_run{previous->id, previous->reference,
                                         previous->created_at_ns};
  const auto attempts = store::RetriedTopLevelAttempts(rows);
  for (store::TestRow& row : rows) {
    if (!store::IsCurrentRow(row, attempts)) continue;
    const Verdict now = store::VerdictOf(row);
    if (!now.Ran()) continue;
    const auto it = before.find(row.name);
    TestChange change = TestChange::kNone;
    store::FailingSince since;
    if (it == before.end()) {
      change = TestChange::kNewTest;
      if (now.FailsRun()) since = this_run;
    } else {
      const store::TestRow& old = *it->second;
      const bool failed_before = store::VerdictOf(old).FailsRun();
      const store::FailingSince old_since =
          old.failing_since.run_id != 0 ? old.failing_since : previous_run;
      if (now.FailsRun()) {
        change = failed_before ? TestChange::kStillFailing : TestChange::kNewFailure;
        since = failed_before ? old_since : this_run;
      } else if (failed_before && now.outcome == Status::kPassed) {
        change = TestChange::kFixed;
        since = old_since;
      }
    }
    if (change == TestChange::kNone) continue;
    row.change = change;
    row.failing_since = since;
    changed.push_back(row);
  }
  return changed;
}

}  // namespace handoff
