#include "engine/stability.h"

#include <unordered_map>

namespace handoff {

std::vector<TestStability> ComputeStability(const std::vector<std::int64_t>& run_ids,
                                            const std::vector<std::vector<store::TestRow>>& runs) {
  std::vector<TestStability> tests;
  std::unordered_map<std::string, std::size_t> index;
  // Newest run first, so that the order is the latest run's.
  for (std::size_t r = runs.size(); r-- > 0;) {
    for (const store::TestRow& row : runs[r]) {
      if (!store::IsTopLevel(row.name)) continue;
      auto [it, inserted] = index.try_emplace(row.name, tests.size());
      if (inserted) {
        TestStability& t = tests.emplace_back();
        t.name = row.name;
        t.statuses.resize(runs.size());
      }
      tests[it->second].statuses[r] = row.status;
      if (row.attempt > 1) ++tests[it->second].retried;
    }
  }
  for (TestStability& t : tests) {
    std::optional<store::TestStatus> previous;  // the last passed or failed
    for (std::size_t r = 0; r < t.statuses.size(); ++r) {
      const std::optional<store::TestStatus>& status = t.statuses[r];
      if (!status) continue;
      ++t.runs;
      t.last_status = status;
      t.last_run = r < run_ids.size() ? run_ids[r] : 0;
      if (*status == store::TestStatus::kFailed) ++t.failed;
      if (*status != store::TestStatus::kPassed && *status != store::TestStatus::kFailed) continue;
      if (previous && *previous != *status) ++t.flips;
      previous = status;
    }
  }
  return tests;
}

}  // namespace handoff
