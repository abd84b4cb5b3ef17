#include "engine/stability.h"

#include <unordered_map>

namespace handoff {

std::vector<TestStability> ComputeStability(const std::vector<std::int64_t>& run_ids,
                                            const std::vector<std::vector<store::TestRow>>& runs) {
  std::vector<TestStability> tests;
  std::unordered_map<std::string, std::size_t> index;
  // Newest run first, so that the order is the latest run's.
  // Per test and run, oldest first: its verdict where it ran to an outcome.
  std::vector<std::vector<std::optional<Verdict>>> verdicts;
  for (std::size_t r = runs.size(); r-- > 0;) {
    for (const store::TestRow& row : runs[r]) {
      if (!store::IsTopLevel(row.name)) continue;
      auto [it, inserted] = index.try_emplace(row.name, tests.size());
      if (inserted) {
        TestStability& t = tests.emplace_back();
        t.name = row.name;
        t.statuses.resize(runs.size());
        verdicts.emplace_back(runs.size());
      }
      tests[it->second].statuses[r] = row.status;
      const Verdict verdict = store::VerdictOf(row);
      if (!verdict.Ran()) continue;
      verdicts[it->second][r] = verdict;
      if (row.attempt > 1) ++tests[it->second].retried;
    }
  }
  for (std::size_t i = 0; i < tests.size(); ++i) {
    TestStability& t = tests[i];
    std::optional<bool> previous;  // the last pass (true) or failure (false)
    for (std::size_t r = 0; r < t.statuses.size(); ++r) {
      const std::optional<Verdict>& verdict = verdicts[i][r];
      if (!verdict) continue;
      ++t.runs;
      t.last_status = t.statuses[r];
      t.last_run = r < run_ids.size() ? run_ids[r] : 0;
      if (verdict->FailsRun()) ++t.failed;
      if (verdict->outcome != Status::kPassed && !verdict->FailsRun()) continue;
      const bool passed = verdict->outcome == Status::kPassed;
      if (previous && *previous != passed) ++t.flips;
      previous = passed;
    }
  }
  return tests;
}

}  // namespace handoff
