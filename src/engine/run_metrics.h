#pragma once

// The metrics of finished tests and runs, fed only committed results:
//   handoff_tests_run_total{namespace,suite,result}  result: passed (flaky ones included),
//       failed, soft_failed, skipped, cancelled: the test's verdict (event/outcome.h);
//   handoff_test_duration_seconds{namespace,suite}   top-level tests;
//   handoff_testsuite_runs_total{namespace,suite,result,flaky}  result: the run's status;
//   handoff_testsuite_run_duration_seconds{namespace,suite}.

#include "engine/commit_observer.h"
#include "metrics/registry.h"

namespace handoff {

// Returns the `result` label of a test with this verdict.
const char* TestResultLabel(const Verdict& verdict);

class RunMetrics : public CommitObserver {
 public:
  // Adds the families above to `registry`, which must outlive this.
  explicit RunMetrics(metrics::Registry& registry);

  // CommitObserver
  void OnCommitted(const RunKey& run, const Committed& committed) override;

 private:
  metrics::Family<metrics::Counter>* runs_total_;
  metrics::Family<metrics::Counter>* tests_total_;
  metrics::Family<metrics::Histogram>* test_duration_;
  metrics::Family<metrics::Histogram>* run_duration_;
};

}  // namespace handoff
