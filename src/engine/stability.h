#pragma once

// How steady each test of a suite has been over its recent runs: the data behind the web
// UI's stability strips and its flaky-tests ranking, served by /suites/{suite}/history and
// /flaky. Pure functions over the store's test rows.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace handoff {

// A test's stability counts only the runs in which it ran to an outcome: a run that left it
// out (a filter, a retry of other tests) or cancelled it (a cancel, a shutdown, --fail-fast)
// says nothing about it, neither a pass nor a failure. Soft failures are known issues: runs
// of the test, but neither passes nor failures.
struct TestStability {
  std::string name;
  // Per run, oldest first: the test's final status, or nothing if it was not in that run.
  std::vector<std::optional<store::TestStatus>> statuses;
  int runs = 0;     // runs in which it ran (passed, failed, skipped; not cancelled)
  int flips = 0;    // changes between passed and failed from one of its runs to the next
  int retried = 0;  // runs in which it needed more than one attempt
  int failed = 0;   // runs in which it failed (not soft)
  std::int64_t last_run = 0;  // the newest run in which it ran
  std::optional<store::TestStatus> last_status;

  // What ranks a test as flaky: how often it flipped or needed retries.
  int score() const { return flips + retried; }
};

// `run_ids` and `runs` (each run's rows, as Store::GetTests returns them) are oldest first.
// Returns the top-level tests in the order of the newest run that has them, newest run
// first.
std::vector<TestStability> ComputeStability(const std::vector<std::int64_t>& run_ids,
                                            const std::vector<std::vector<store::TestRow>>& runs);

}  // namespace handoff
