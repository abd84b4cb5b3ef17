#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "event/event.h"
#include "report/reporters.h"
#include "report/results.h"
#include "report_fixture.h"

namespace handoff {
namespace {

using ::handoff::report_testing::Capture;
using ::handoff::report_testing::EventScript;
using ::handoff::report_testing::GoldenRun;

std::string TextReport(const EventScript& script, TextOptions options = {}) {
  return Capture([&](std::FILE* out) {
    ResultCollector collector;
    std::unique_ptr<EventSink> reporter = MakeTextReporter(out, collector, options);
    script.Feed({&collector, reporter.get()});
  });
}

std::string LastLine(const std::string& text) {
  const std::size_t end = text.size() - (text.ends_with('\n') ? 1 : 0);
  const std::size_t begin = text.rfind('\n', end - 1);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin + 1));
}

TEST(TextReporterGolden, MatchesGolden) {
  report_testing::ExpectMatchesGolden("report.txt", TextReport(GoldenRun()));
}

TEST(TextReporterGolden, VerboseColorMatchesGolden) {
  report_testing::ExpectMatchesGolden("report_verbose_color.txt",
                                      TextReport(GoldenRun(), {.color = true, .verbose = true}));
}

TEST(TextReporterTest, LastLineCountsForScripts) {
  ResultCollector collector;
  const EventScript script = GoldenRun();
  script.Feed({&collector});
  const Totals counts = CountTests(collector.result());
  for (const TextOptions options : {TextOptions{}, TextOptions{.color = true, .verbose = true}}) {
    const std::string last = LastLine(TextReport(script, options));
    EXPECT_EQ(last, std::to_string(counts.passed) + " passed, " +
                        std::to_string(counts.failed) + " failed, " +
                        std::to_string(counts.skipped) + " skipped");
    int passed = -1, failed = -1, skipped = -1, end = 0;
    ASSERT_EQ(std::sscanf(last.c_str(), "%d passed, %d failed, %d skipped%n", &passed, &failed,
                          &skipped, &end),
              3);
    EXPECT_EQ(static_cast<std::size_t>(end), last.size()) << "nothing may follow";
  }
}

TEST(TextReporterTest, NoColorUnlessAsked) {
  const std::string plain = TextReport(GoldenRun());
  // The only escapes are the ones the test itself printed.
  EXPECT_EQ(plain.find("\x1b[32m"), std::string::npos);
  EXPECT_EQ(plain.find("\x1b[0m  "), std::string::npos);
  const std::string color = TextReport(GoldenRun(), {.color = true});
  EXPECT_NE(color.find("  \x1b[32mPASS\x1b[0m  Basics/Passes (12ms)\n"), std::string::npos);
  EXPECT_NE(color.find("  \x1b[31mFAIL\x1b[0m  Basics/Fails (20ms)\n"), std::string::npos);
}

TEST(TextReporterTest, PrintsOutputOfFailedTestsOnlyUnlessVerbose) {
  const std::string plain = TextReport(GoldenRun());
  EXPECT_NE(plain.find("  FAIL  Basics/Fails (20ms)\n        cart_test.cc:30: want 3, got 2\n"),
            std::string::npos);
  EXPECT_EQ(plain.find("plain stdout line"), std::string::npos);
  const std::string verbose = TextReport(GoldenRun(), {.verbose = true});
  EXPECT_NE(verbose.find("  PASS  Basics/Passes (12ms)\n        cart_test.cc:12: hello\n"
                         "        plain stdout line\n"),
            std::string::npos);
}

TEST(TextReporterTest, SubtestsFollowTheirParentIndented) {
  const std::string plain = TextReport(GoldenRun());
  EXPECT_NE(plain.find("  FAIL  Basics/Table (6ms)\n"
                       "    PASS  Basics/Table/one (1ms)\n"
                       "    FAIL  Basics/Table/two (4ms)\n"
                       "          table_test.cc:8: bad row\n"
                       "      PASS  Basics/Table/two/deep (2ms)\n"),
            std::string::npos)
      << plain;
}

TEST(TextReporterTest, FlakySoftAndCancelledHaveTheirOwnWords) {
  const std::string plain = TextReport(GoldenRun());
  EXPECT_NE(plain.find("  FLAKY Basics/Flaky (3ms) after 2 attempts\n"
                       "        earlier attempt: flaky_test.cc:9: connection reset\n"
                       "        earlier attempt: Flaky/inner: flaky_test.cc:5: timeout\n"),
            std::string::npos)
      << plain;
  EXPECT_NE(plain.find("  SOFT FAIL Basics/Soft (1.50s)\n"), std::string::npos) << plain;
  EXPECT_NE(plain.find("  CANCELLED Basics/Cancelled (0ms): cancelled: stopped by --fail-fast: "
                       "an earlier test failed\n"),
            std::string::npos)
      << plain;
  EXPECT_NE(plain.find("Soft failures (they do not fail the run):\n"
                       "  Basics/Soft: perf_test.cc:17: latency 900ms > 500ms\n"),
            std::string::npos);
}

TEST(TextReporterTest, SummaryRepeatsFailures) {
  const std::string plain = TextReport(GoldenRun());
  const std::size_t summary =
      plain.find("\nFAIL  18 tests in 1m04s: 5 passed, 8 failed, 1 soft failed, 3 skipped, "
                 "1 cancelled, 1 flaky\nFailures:\n");
  ASSERT_NE(summary, std::string::npos) << plain;
  for (const char* line : {"  Basics/Fails: cart_test.cc:30: want 3, got 2\n",
                           "  Basics/Fails: cart_test.cc:31: total wrong\n      want: 10\n",
                           "  Basics/Table/two: table_test.cc:8: bad row\n",
                           "  Basics/Crashes: crashed: signal 11 (SIGSEGV)\n",
                           "  Checkout (setup): fixture.cc:5: db down: connection refused\n",
                           "  Checkout (teardown): fixture.cc:20: cleanup failed\n"}) {
    EXPECT_NE(plain.find(line, summary), std::string::npos) << line;
  }
  // A parent that failed only through its subtest is not repeated.
  EXPECT_EQ(plain.find("  Basics/Table: ", summary), std::string::npos);
}

TEST(TextReporterTest, PassingRunSummary) {
  EventScript s;
  s.Add(EventKind::kRunStarted);
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "T");
  s.Finish("S", "T", Status::kPassed, 999'600'000);
  s.SuiteEvent(EventKind::kSuiteFinished, "S", Status::kPassed, 1'000'000'000);
  s.SuiteEvent(EventKind::kRunFinished, "", Status::kPassed, 1'000'000'000);
  EXPECT_EQ(TextReport(s),
            "  PASS  S/T (1.00s)\n"
            "ok    S (1.00s)\n"
            "\n"
            "PASS  1 test in 1.00s: 1 passed, 0 failed, 0 soft failed, 0 skipped, 0 cancelled, "
            "0 flaky\n"
            "1 passed, 0 failed, 0 skipped\n");
}

class TextReporterFlushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = std::tmpfile();
    ASSERT_NE(out_, nullptr);
    script_.Add(EventKind::kRunStarted);
    script_.Add(EventKind::kSuiteStarted, "S");
    script_.Start("S", "T");
    script_.Finish("S", "T", Status::kPassed, 0);
  }
  void TearDown() override {
    if (out_ != nullptr) std::fclose(out_);
  }
  std::uintmax_t Written() const {
    return std::filesystem::file_size("/proc/self/fd/" + std::to_string(fileno(out_)));
  }
  void Feed(EventSink& reporter) {
    for (const Event& e : script_.events()) {
      collector_.OnEvent(e);
      reporter.OnEvent(e);
    }
  }

  std::FILE* out_ = nullptr;
  EventScript script_;
  ResultCollector collector_;
};

TEST_F(TextReporterFlushTest, WithoutColorWaitsForTheSuiteToFinish) {
  std::unique_ptr<EventSink> reporter = MakeTextReporter(out_, collector_, {});
  Feed(*reporter);
  EXPECT_EQ(Written(), 0u);
  const Event& end = script_.SuiteEvent(EventKind::kSuiteFinished, "S");
  collector_.OnEvent(end);
  reporter->OnEvent(end);
  EXPECT_GT(Written(), 0u);
}

TEST_F(TextReporterFlushTest, WithColorWritesEachLineAtOnce) {
  std::unique_ptr<EventSink> reporter = MakeTextReporter(out_, collector_, {.color = true});
  Feed(*reporter);
  EXPECT_GT(Written(), 0u);
}

}  // namespace
}  // namespace handoff
