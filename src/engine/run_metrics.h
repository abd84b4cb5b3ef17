#pragma once

// The metrics of finished tests and runs, fed only committed results:
//   handoff_tests_run_total{namespace,suite,result}  result: passed (flaky ones included),
//       failed, soft_failed, skipped, cancelled: the test's verdict (event/outcome.h);
//   handoff_test_duration_seconds{namespace,suite}   top-level tests;
//   handoff_testsuite_runs_total{namespace,suite,result,flaky}  result: the run's status;
//   handoff_testsuite_run_duration_seconds{namespace,suite};
//   handoff_testsuite_last_run_timestamp_seconds{namespace,suite,result}  when the suite's
//       latest run with that result (passed, failed, cancelled, error) finished, in Unix
//       time, seeded from the store at start-up so that a restart does not forget it: what
//       tells a suite whose latest run failed (its failed time is after its passed time) and
//       a scheduled suite that stopped running, on one server or the max of several replicas.

#include <cstdint>
#include <mutex>
#include <string>

#include "engine/commit_observer.h"
#include "metrics/registry.h"
#include "store/store.h"

namespace handoff {

// Returns the `result` label of a test with this verdict.
const char* TestResultLabel(const Verdict& verdict);

class RunMetrics : public CommitObserver {
 public:
  // Adds the families above to `registry`, which must outlive this.
  explicit RunMetrics(metrics::Registry& registry);

  // Creates the suite's counters at zero: a counter's first increase is only seen by
  // Prometheus' increase() and rate() when a sample of 0 came before it, so a suite's first
  // failure after a start would be missed by the alert rules otherwise. The run counters
  // have the finished statuses, not flaky, and passed and failed flaky (a flaky run is
  // either); the test counters every result.
  void AddSuite(const std::string& namespace_name, const std::string& suite);

  // Records that a run of this suite ended with `status` at `finished_at_ns` (Unix time in
  // ns), unless a later one with that status is recorded already (a resumed old run does
  // not move it back). Unfinished statuses and a zero time are ignored.
  void NoteRunFinished(const std::string& namespace_name, const std::string& suite,
                       store::RunStatus status, std::int64_t finished_at_ns);

  // CommitObserver
  void OnCommitted(const RunKey& run, const Committed& committed) override;

 private:
  metrics::Family<metrics::Counter>* runs_total_;
  metrics::Family<metrics::Counter>* tests_total_;
  metrics::Family<metrics::Histogram>* test_duration_;
  metrics::Family<metrics::Histogram>* run_duration_;
  metrics::Family<metrics::Gauge>* last_run_;
  std::mutex last_run_mu_;  // NoteRunFinished's read, compare and set
};

}  // namespace handoff
