#include "metrics/registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

namespace handoff::metrics {
namespace {

TEST(MetricsTest, RendersTheTextFormat) {
  Registry r;
  Family<Counter>& runs = r.AddCounter("handoff_testsuite_runs_total", "Suite runs by result.",
                                       {"namespace", "suite", "result"});
  runs.With({"shop", "Checkout", "passed"}).Inc();
  runs.With({"shop", "Checkout", "passed"}).Inc(2);
  runs.With({"", "Say \"hi\"\\\n", "failed"}).Inc();
  r.AddGauge("handoff_queue_depth", "Runs waiting.\nSecond line.").With({}).Set(3);
  Family<Histogram>& durations =
      r.AddHistogram("handoff_test_duration_seconds", "Test durations.", {"suite"}, {0.1, 1});
  durations.With({"S"}).Observe(0.05);
  durations.With({"S"}).Observe(0.5);
  durations.With({"S"}).Observe(7);
  EXPECT_EQ(r.Render(/*with_process=*/false),
            "# HELP handoff_queue_depth Runs waiting.\\nSecond line.\n"
            "# TYPE handoff_queue_depth gauge\n"
            "handoff_queue_depth 3\n"
            "# HELP handoff_test_duration_seconds Test durations.\n"
            "# TYPE handoff_test_duration_seconds histogram\n"
            "handoff_test_duration_seconds_bucket{suite=\"S\",le=\"0.1\"} 1\n"
            "handoff_test_duration_seconds_bucket{suite=\"S\",le=\"1\"} 2\n"
            "handoff_test_duration_seconds_bucket{suite=\"S\",le=\"+Inf\"} 3\n"
            "handoff_test_duration_seconds_sum{suite=\"S\"} 7.55\n"
            "handoff_test_duration_seconds_count{suite=\"S\"} 3\n"
            "# HELP handoff_testsuite_runs_total Suite runs by result.\n"
            "# TYPE handoff_testsuite_runs_total counter\n"
            "handoff_testsuite_runs_total{namespace=\"\",suite=\"Say \\\"hi\\\"\\\\\\n\",result=\"failed\"} 1\n"
            "handoff_testsuite_runs_total{namespace=\"shop\",suite=\"Checkout\",result=\"passed\"} 3\n");
}

TEST(MetricsTest, RetainRemovesTheSeriesNotKept) {
  Registry r;
  Family<Gauge>& next = r.AddGauge("next_seconds", "Next.", {"schedule"});
  next.With({"a"}).Set(1);
  next.With({"b"}).Set(2);
  next.Retain({{"b"}, {"c"}});
  EXPECT_EQ(r.Render(/*with_process=*/false),
            "# HELP next_seconds Next.\n# TYPE next_seconds gauge\nnext_seconds{schedule=\"b\"} 2\n");
  next.Retain({});
  EXPECT_EQ(r.Render(/*with_process=*/false), "# HELP next_seconds Next.\n# TYPE next_seconds gauge\n");
}

TEST(MetricsTest, ValuesAndCounters) {
  std::string out;
  AppendValue(out, 1.5);
  out += ' ';
  AppendValue(out, 1e21);
  out += ' ';
  AppendValue(out, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(out, "1.5 1e+21 -Inf");
  Counter c;
  c.Inc(-5);  // counters never go down
  EXPECT_EQ(c.Value(), 0);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  Registry r;
  Family<Counter>& f = r.AddCounter("x_total", "x", {"k"});
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 10000; ++j) f.With({"v"}).Inc();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(f.With({"v"}).Value(), 40000);
}

TEST(MetricsTest, ProcessMetricsArePlausible) {
  std::string out;
  AppendProcessMetrics(out);
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_open_fds ", "process_start_time_seconds ",
                           "process_virtual_memory_bytes ", "process_max_fds "}) {
    EXPECT_NE(out.find(std::string("\n") + name), std::string::npos) << name << " in\n" << out;
  }
  std::size_t at = out.find("\nprocess_resident_memory_bytes ");
  EXPECT_GT(std::stod(out.substr(at + 31)), 1e6);
}

TEST(MetricsTest, BadNamesAreProgrammingErrors) {
  Registry r;
  EXPECT_DEATH(r.AddCounter("runs", "no _total"), "must end in _total");
  EXPECT_DEATH(r.AddGauge("2bad", "x"), "invalid metric name");
  EXPECT_DEATH(r.AddGauge("ok", "x", {"__reserved"}), "invalid label name");
  r.AddGauge("twice", "x");
  EXPECT_DEATH(r.AddGauge("twice", "x"), "registered twice");
}

TEST(MetricsTest, PromtoolAcceptsOurOutput) {
  if (::access("/usr/bin/promtool", X_OK) != 0) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") FAIL() << "promtool is required in CI";
    GTEST_SKIP() << "promtool not installed (Debian package prometheus); run scripts/bootstrap";
  }
  Registry r;
  r.AddCounter("handoff_tests_run_total", "Tests run by result.", {"namespace", "suite", "result"})
      .With({"shop", "Checkout", "passed"})
      .Inc(7);
  r.AddGauge("handoff_runs_running", "Runs executing now.").With({}).Set(2);
  r.AddGauge("handoff_testsuites_running", "Suites running.", {"namespace", "suite"})
      .With({"shop", "Checkout"})
      .Set(1);
  r.AddHistogram("handoff_test_duration_seconds", "Test durations.", {"suite"}, DurationBuckets())
      .With({"Checkout"})
      .Observe(0.3);
  const std::string path = ::testing::TempDir() + "/metrics.txt";
  // As a replica serves it too: every series labelled with its name.
  for (const std::string& text : {r.Render(), WithLabel(r.Render(), "replica", "pod-7\"x")}) {
    std::ofstream(path) << text;
    const std::string command = "/usr/bin/promtool check metrics < " + path + " 2>&1";
    std::FILE* p = ::popen(command.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string output;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) output += buf;
    EXPECT_EQ(::pclose(p), 0) << output;
    EXPECT_EQ(output, "") << "promtool found problems in:\n" << text;
  }
}

TEST(MetricsTest, WithLabelLabelsEverySampleAndNothingElse) {
  const std::string text =
      "# HELP a_total Help with {braces} and a_total 1.\n"
      "# TYPE a_total counter\n"
      "a_total 3\n"
      "b{x=\"1\",y=\"a b\"} 2.5\n"
      "c_bucket{le=\"+Inf\"} 1\n"
      "d{} 4\n";
  EXPECT_EQ(WithLabel(text, "replica", "r\"1"),
            "# HELP a_total Help with {braces} and a_total 1.\n"
            "# TYPE a_total counter\n"
            "a_total{replica=\"r\\\"1\"} 3\n"
            "b{replica=\"r\\\"1\",x=\"1\",y=\"a b\"} 2.5\n"
            "c_bucket{replica=\"r\\\"1\",le=\"+Inf\"} 1\n"
            "d{replica=\"r\\\"1\"} 4\n");
  EXPECT_EQ(WithLabel("", "replica", "r"), "");
}

}  // namespace
}  // namespace handoff::metrics
