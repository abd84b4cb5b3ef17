#include "engine/run_metrics.h"

#include <array>
#include <cstddef>

namespace handoff {
namespace {

// The result labels, indexed by ResultIndex.
constexpr std::array<const char*, 5> kResults = {"passed", "failed", "soft_failed", "skipped",
                                                 "cancelled"};

std::size_t ResultIndex(const Verdict& v) {
  switch (v.outcome) {
    case Status::kPassed: return 0;
    case Status::kFailed: return v.soft ? 2 : 1;
    case Status::kSkipped: return 3;
    case Status::kCancelled: return 4;
  }
  return 1;
}

}  // namespace

const char* TestResultLabel(const Verdict& verdict) { return kResults[ResultIndex(verdict)]; }

RunMetrics::RunMetrics(metrics::Registry& registry)
    : runs_total_(&registry.AddCounter("handoff_testsuite_runs_total", "Suite runs finished.",
                                       {"namespace", "suite", "result", "flaky"})),
      tests_total_(&registry.AddCounter("handoff_tests_run_total",
                                        "Tests (and subtests) finished, by result.",
                                        {"namespace", "suite", "result"})),
      test_duration_(&registry.AddHistogram("handoff_test_duration_seconds",
                                            "Duration of finished top-level tests.",
                                            {"namespace", "suite"}, metrics::DurationBuckets())),
      run_duration_(&registry.AddHistogram("handoff_testsuite_run_duration_seconds",
                                           "Duration of finished suite runs.",
                                           {"namespace", "suite"}, metrics::DurationBuckets())),
      last_run_(&registry.AddGauge(
          "handoff_testsuite_last_run_timestamp_seconds",
          "When the suite's latest run with this result finished, in seconds since the Unix "
          "epoch.",
          {"namespace", "suite", "result"})) {}

void RunMetrics::AddSuite(const std::string& namespace_name, const std::string& suite) {
  for (store::RunStatus status :
       {store::RunStatus::kPassed, store::RunStatus::kFailed, store::RunStatus::kCancelled,
        store::RunStatus::kError}) {
    runs_total_->With({namespace_name, suite, store::RunStatusName(status), "false"});
  }
  for (store::RunStatus status : {store::RunStatus::kPassed, store::RunStatus::kFailed}) {
    runs_total_->With({namespace_name, suite, store::RunStatusName(status), "true"});
  }
  for (const char* result : kResults) tests_total_->With({namespace_name, suite, result});
}

void RunMetrics::NoteRunFinished(const std::string& namespace_name, const std::string& suite,
                                 store::RunStatus status, std::int64_t finished_at_ns) {
  if (finished_at_ns <= 0 || !store::IsFinished(status)) {
    return;
  }
  const double at = static_cast<double>(finished_at_ns) / 1e9;
  std::lock_guard lock(last_run_mu_);
  metrics::Gauge& gauge =
      last_run_->With({namespace_name, suite, store::RunStatusName(status)});
  if (at > gauge.Value()) gauge.Set(at);
}

void RunMetrics::OnCommitted(const RunKey& run, const Committed& committed) {
  // Labels are looked up once per commit, not once per test (10,000 a run).
  std::array<int, kResults.size()> by_result{};
  metrics::Histogram* duration = nullptr;
  for (const FinishedTest& test : committed.finished) {
    ++by_result[ResultIndex(store::VerdictOf(test.row))];
    if (!test.top_level || test.row.status == store::TestStatus::kCancelled) continue;
    if (duration == nullptr) duration = &test_duration_->With({run.namespace_name, run.suite});
    duration->Observe(static_cast<double>(test.row.duration_ms) / 1000.0);
  }
  for (std::size_t i = 0; i < by_result.size(); ++i) {
    if (by_result[i] == 0) continue;
    tests_total_->With({run.namespace_name, run.suite, kResults[i]}).Inc(by_result[i]);
  }
  if (!committed.run_finished || !committed.run) return;
  const store::Run& r = *committed.run;
  runs_total_->With({run.namespace_name, run.suite, store::RunStatusName(r.status),
                     r.flaky ? "true" : "false"})
      .Inc();
  NoteRunFinished(run.namespace_name, run.suite, r.status, r.finished_at_ns);
  if (r.started_at_ns != 0) {
    run_duration_->With({run.namespace_name, run.suite})
        .Observe(static_cast<double>(r.finished_at_ns - r.started_at_ns) / 1e9);
  }
}

}  // namespace handoff
