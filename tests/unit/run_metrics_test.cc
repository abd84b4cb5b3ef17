#include "engine/run_metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace handoff {
namespace {

// The value of the last-run gauge of shop/Checkout with `result`, or empty.
std::string LastRunLine(const metrics::Registry& registry, const std::string& result) {
  const std::string text = registry.Render(/*with_process=*/false);
  const std::string prefix =
      "handoff_testsuite_last_run_timestamp_seconds{namespace=\"shop\",suite=\"Checkout\","
      "result=\"" + result + "\"} ";
  const std::size_t at = text.find(prefix);
  if (at == std::string::npos) return {};
  return text.substr(at + prefix.size(), text.find('\n', at) - at - prefix.size());
}

TEST(RunMetricsTest, TheLastRunGaugesOnlyMoveForwardAndAreAbsentUntilARunFinished) {
  metrics::Registry registry;
  RunMetrics run_metrics(registry);
  using store::RunStatus;
  EXPECT_EQ(LastRunLine(registry, "passed"), "");
  run_metrics.NoteRunFinished("shop", "Checkout", RunStatus::kPassed, 1'795'428'000'500'000'000);
  EXPECT_EQ(LastRunLine(registry, "passed"), "1795428000.5");
  EXPECT_EQ(LastRunLine(registry, "failed"), "");
  // A resumed run that finished earlier (seeded later) does not move it back.
  run_metrics.NoteRunFinished("shop", "Checkout", RunStatus::kPassed, 1'795'427'000'000'000'000);
  EXPECT_EQ(LastRunLine(registry, "passed"), "1795428000.5");
  run_metrics.NoteRunFinished("shop", "Checkout", RunStatus::kFailed, 1'795'428'060'000'000'000);
  EXPECT_EQ(LastRunLine(registry, "failed"), "1795428060");
  EXPECT_EQ(LastRunLine(registry, "passed"), "1795428000.5");
  run_metrics.NoteRunFinished("shop", "Checkout", RunStatus::kError, 1'795'428'070'000'000'000);
  EXPECT_EQ(LastRunLine(registry, "error"), "1795428070");
  // A run that never finished has no time to tell.
  run_metrics.NoteRunFinished("shop", "Checkout", RunStatus::kFailed, 0);
  run_metrics.NoteRunFinished("shop", "Checkout", RunStatus::kRunning, 1'795'428'090'000'000'000);
  EXPECT_EQ(LastRunLine(registry, "failed"), "1795428060");
  EXPECT_EQ(LastRunLine(registry, "running"), "");
}

TEST(RunMetricsTest, ASuiteStartsWithItsCountersAtZero) {
  metrics::Registry registry;
  RunMetrics run_metrics(registry);
  run_metrics.AddSuite("shop", "Checkout");
  const std::string text = registry.Render(/*with_process=*/false);
  for (const char* series : {
           R"(handoff_testsuite_runs_total{namespace="shop",suite="Checkout",result="passed",flaky="false"} 0)",
           R"(handoff_testsuite_runs_total{namespace="shop",suite="Checkout",result="failed",flaky="false"} 0)",
           R"(handoff_testsuite_runs_total{namespace="shop",suite="Checkout",result="error",flaky="false"} 0)",
           R"(handoff_testsuite_runs_total{namespace="shop",suite="Checkout",result="cancelled",flaky="false"} 0)",
           R"(handoff_testsuite_runs_total{namespace="shop",suite="Checkout",result="passed",flaky="true"} 0)",
           R"(handoff_testsuite_runs_total{namespace="shop",suite="Checkout",result="failed",flaky="true"} 0)",
           R"(handoff_tests_run_total{namespace="shop",suite="Checkout",result="passed"} 0)",
           R"(handoff_tests_run_total{namespace="shop",suite="Checkout",result="failed"} 0)",
           R"(handoff_tests_run_total{namespace="shop",suite="Checkout",result="soft_failed"} 0)",
           R"(handoff_tests_run_total{namespace="shop",suite="Checkout",result="skipped"} 0)",
           R"(handoff_tests_run_total{namespace="shop",suite="Checkout",result="cancelled"} 0)"}) {
    EXPECT_NE(text.find(std::string(series) + "\n"), std::string::npos) << series << "\n" << text;
  }
  // No run has finished: no time to tell.
  EXPECT_EQ(text.find("handoff_testsuite_last_run_timestamp_seconds{"), std::string::npos);
}

}  // namespace
}  // namespace handoff
