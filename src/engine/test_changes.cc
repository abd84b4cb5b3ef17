#include "engine/test_changes.h"

#include <string_view>
#include <unordered_map>

namespace handoff {
namespace {

// Returns the top-level test of a name ("A" of "A/b/c").
std::string_view TopOf(std::string_view name) { return name.substr(0, name.find('/')); }

}  // namespace

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
    const auto it = before.find(row.name);
    const store::TestRow* old = it == before.end() ? nullptr : it->second;
    // What the previous run knew of the test: it failed, or did not run (a failed setup, an
    // error, a cancel, a skip) and carries the failures of an earlier run on its row.
    const Verdict old_verdict = old != nullptr ? store::VerdictOf(*old) : Verdict{};
    const bool old_ran = old != nullptr && old_verdict.outcome != Status::kSkipped &&
                         old_verdict.Ran();
    const bool failed_before =
        old != nullptr && (old_ran ? old_verdict.FailsRun() : old->failing_since.run_id != 0);
    const store::FailingSince old_since =
        old != nullptr && old->failing_since.run_id != 0 ? old->failing_since : previous_run;
    TestChange change = TestChange::kNone;
    store::FailingSince since;
    if (!now.Ran() || now.outcome == Status::kSkipped) {
      // Nothing new is known of it: a failure it had is carried to the next run, unmarked.
      if (!failed_before) continue;
      since = old_since;
    } else if (old == nullptr) {
      // Absent before: a new test, unless its top-level test did not run then either (its
      // subtests were not reached), which says nothing of it.
      const auto parent = before.find(TopOf(row.name));
      const bool parent_ran =
          parent == before.end() ||
          (store::VerdictOf(*parent->second).Ran() &&
           store::VerdictOf(*parent->second).outcome != Status::kSkipped);
      if (parent_ran) change = TestChange::kNewTest;
      if (now.FailsRun()) since = this_run;
    } else if (now.FailsRun()) {
      change = failed_before ? TestChange::kStillFailing
               : old_ran     ? TestChange::kNewFailure
                             : TestChange::kNone;  // did not run, nothing carried: unknown
      since = failed_before ? old_since : this_run;
    } else if (failed_before && now.outcome == Status::kPassed) {
      change = TestChange::kFixed;
      since = old_since;
    } else {
      continue;
    }
    if (change == TestChange::kNone && since.run_id == 0) continue;
    row.change = change;
    row.failing_since = since;
    changed.push_back(row);
  }
  return changed;
}

}  // namespace handoff
