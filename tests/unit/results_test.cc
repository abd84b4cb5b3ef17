#include "report/results.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "event/event.h"
#include "report_fixture.h"

namespace handoff {
namespace {

using ::handoff::report_testing::EventScript;
using ::handoff::report_testing::GoldenRun;

const TestResult* FindTest(const SuiteResult& suite, const std::string& name) {
  for (const TestResult& test : suite.tests) {
    if (test.name == name) return &test;
  }
  return nullptr;
}

std::vector<std::string> Names(const SuiteResult& suite) {
  std::vector<std::string> names;
  for (const TestResult& test : suite.tests) names.push_back(test.name);
  return names;
}

TEST(ResultCollectorTest, GoldenRunCounts) {
  ResultCollector collector;
  GoldenRun().Feed({&collector});
  const RunResult& run = collector.result();
  ASSERT_EQ(run.suites.size(), 2u);
  EXPECT_EQ(run.status, Status::kFailed);
  EXPECT_EQ(run.start_ns, report_testing::kGoldenStartNs + 123'456'789);
  EXPECT_EQ(run.elapsed_ns, 63'789'000'000);

  const Totals counts = CountTests(run);
  EXPECT_EQ(counts.total, 18);
  // Passed: Passes, Table/one, Table/two/deep, Flaky, Flaky/inner. Failed: Fails, Table,
  // Table/two, Output, Crashes, Crashes/inside, Hangs, Retried. Skipped: Skipped,
  // Checkout's A and B.
  EXPECT_EQ(counts.passed, 5);
  EXPECT_EQ(counts.failed, 8);
  EXPECT_EQ(counts.soft_failed, 1);
  EXPECT_EQ(counts.skipped, 3);
  EXPECT_EQ(counts.cancelled, 1);
  EXPECT_EQ(counts.flaky, 1);
  EXPECT_EQ(counts.passed + counts.failed + counts.soft_failed + counts.skipped +
                counts.cancelled,
            counts.total);
}

TEST(ResultCollectorTest, GoldenRunSuites) {
  ResultCollector collector;
  GoldenRun().Feed({&collector});
  const RunResult& run = collector.result();
  const SuiteResult& basics = run.suites[0];
  EXPECT_EQ(basics.name, "Basics");
  EXPECT_EQ(basics.namespace_name, "shop");
  EXPECT_EQ(basics.status, Status::kFailed);
  EXPECT_EQ(Names(basics),
            (std::vector<std::string>{"Passes", "Fails", "Skipped", "Table", "Table/one",
                                      "Table/two", "Table/two/deep", "Flaky", "Flaky/inner",
                                      "Soft", "Output", "Crashes", "Crashes/inside",
                                      "Hangs", "Retried", "Cancelled"}));
  EXPECT_TRUE(basics.setup_failures.empty());
  EXPECT_TRUE(basics.teardown_failures.empty());
  EXPECT_EQ(basics.output, (std::vector<std::string>{"fixture.cc:10: connected to db",
                                                     "fixture.cc:14: disconnected"}));

  const SuiteResult& checkout = run.suites[1];
  EXPECT_EQ(checkout.name, "Checkout");
  ASSERT_EQ(checkout.setup_failures.size(), 1u);
  EXPECT_EQ(checkout.setup_failures[0].message, "db down: connection refused");
  EXPECT_EQ(checkout.setup_failures[0].file, "tests/fixture.cc");
  EXPECT_EQ(checkout.setup_failures[0].line, 5);
  ASSERT_EQ(checkout.teardown_failures.size(), 1u);
  EXPECT_EQ(checkout.teardown_failures[0].message, "cleanup failed");
  for (const TestResult& test : checkout.tests) {
    EXPECT_EQ(test.status, Status::kSkipped) << test.name;
    EXPECT_EQ(test.skip_reason, "setup failed: db down: connection refused");
  }
}

TEST(ResultCollectorTest, RecordsFailuresOutputValuesAndSpans) {
  ResultCollector collector;
  GoldenRun().Feed({&collector});
  const SuiteResult& basics = collector.result().suites[0];

  const TestResult* passes = FindTest(basics, "Passes");
  ASSERT_NE(passes, nullptr);
  EXPECT_EQ(passes->status, Status::kPassed);
  EXPECT_TRUE(passes->finished);
  EXPECT_EQ(passes->elapsed_ns, 12'000'000);
  EXPECT_EQ(passes->output, (std::vector<std::string>{"cart_test.cc:12: hello",
                                                      "plain stdout line"}));
  ASSERT_EQ(passes->values.size(), 1u);
  EXPECT_EQ(passes->values[0], (std::pair<std::string, std::string>{"order_id", "42"}));
  ASSERT_EQ(passes->spans.size(), 1u);
  EXPECT_EQ(passes->spans[0].name, "checkout");
  EXPECT_EQ(passes->spans[0].elapsed_ns, 3'000'000);
  EXPECT_EQ(passes->spans[0].attributes.size(), 1u);

  const TestResult* fails = FindTest(basics, "Fails");
  ASSERT_NE(fails, nullptr);
  EXPECT_EQ(fails->status, Status::kFailed);
  ASSERT_EQ(fails->failures.size(), 2u);
  EXPECT_EQ(fails->failures[0].message, "want 3, got 2");
  EXPECT_EQ(fails->failures[0].line, 30);
  EXPECT_EQ(fails->failures[1].message, "total wrong\nwant: 10\ngot:  9");

  const TestResult* skipped = FindTest(basics, "Skipped");
  ASSERT_NE(skipped, nullptr);
  EXPECT_EQ(skipped->status, Status::kSkipped);
  EXPECT_EQ(skipped->skip_reason, "not on linux");

  const TestResult* soft = FindTest(basics, "Soft");
  ASSERT_NE(soft, nullptr);
  EXPECT_EQ(soft->status, Status::kFailed);
  EXPECT_TRUE(soft->soft);
}

TEST(ResultCollectorTest, RetryResetsSubtestsAndKeepsEarlierFailures) {
  ResultCollector collector;
  GoldenRun().Feed({&collector});
  const SuiteResult& basics = collector.result().suites[0];
  const TestResult* flaky = FindTest(basics, "Flaky");
  ASSERT_NE(flaky, nullptr);
  EXPECT_EQ(flaky->status, Status::kPassed);
  EXPECT_TRUE(flaky->flaky);
  EXPECT_EQ(flaky->attempts, 2);
  EXPECT_TRUE(flaky->failures.empty());
  ASSERT_EQ(flaky->earlier_attempts.size(), 1u);
  const AttemptRecord& first = flaky->earlier_attempts[0];
  EXPECT_EQ(first.attempt, 1);
  EXPECT_EQ(first.elapsed_ns, 7'000'000);
  ASSERT_EQ(first.failures.size(), 1u);
  EXPECT_EQ(first.failures[0].message, "connection reset");
  // The failed attempt's subtest is gone from the tests, its failure kept with its name.
  ASSERT_EQ(first.subtest_failures.size(), 1u);
  EXPECT_EQ(first.subtest_failures[0].first, "Flaky/inner");
  EXPECT_EQ(first.subtest_failures[0].second.message, "timeout");
  EXPECT_EQ(first.output,
            (std::vector<std::string>{"try 1", "flaky_test.cc:9: connection reset"}));
  EXPECT_EQ(flaky->output,
            (std::vector<std::string>{"try 1", "flaky_test.cc:9: connection reset",
                                      "=== RETRY attempt 2", "try 2"}));
  EXPECT_EQ(flaky->final_output_begin, 3u);
  // Only the second attempt's subtest remains, once.
  int inner_count = 0;
  for (const TestResult& test : basics.tests) inner_count += test.name == "Flaky/inner";
  EXPECT_EQ(inner_count, 1);
  const TestResult* inner = FindTest(basics, "Flaky/inner");
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->status, Status::kPassed);
  EXPECT_TRUE(inner->failures.empty());
  EXPECT_EQ(inner->attempts, 2);
}

TEST(ResultCollectorTest, KeepsEachFailuresCauseAndEveryFailedAttempt) {
  ResultCollector collector;
  GoldenRun().Feed({&collector});
  const SuiteResult& basics = collector.result().suites[0];
  const TestResult* fails = FindTest(basics, "Fails");
  ASSERT_NE(fails, nullptr);
  EXPECT_EQ(fails->failures[0].cause, "");
  EXPECT_EQ(CauseOf(fails->failures), "");
  const TestResult* crashes = FindTest(basics, "Crashes");
  ASSERT_NE(crashes, nullptr);
  EXPECT_EQ(CauseOf(crashes->failures), kCauseCrash);
  const TestResult* hangs = FindTest(basics, "Hangs");
  ASSERT_NE(hangs, nullptr);
  EXPECT_EQ(CauseOf(hangs->failures), kCauseTimeout);

  // Failed every time: an assertion in attempt 1, a crash in attempt 2 (the final one).
  const TestResult* retried = FindTest(basics, "Retried");
  ASSERT_NE(retried, nullptr);
  EXPECT_EQ(retried->status, Status::kFailed);
  EXPECT_EQ(retried->attempts, 2);
  ASSERT_EQ(retried->earlier_attempts.size(), 1u);
  EXPECT_EQ(retried->earlier_attempts[0].failures[0].message, "boom");
  EXPECT_EQ(retried->earlier_attempts[0].Cause(), "");
  EXPECT_EQ(CauseOf(retried->failures), kCauseCrash);

  const TestResult* cancelled = FindTest(basics, "Cancelled");
  ASSERT_NE(cancelled, nullptr);
  EXPECT_EQ(cancelled->status, Status::kCancelled);
  EXPECT_EQ(cancelled->CancelReason(), "cancelled: stopped by --fail-fast: an earlier test failed");
}

TEST(ResultCollectorTest, CauseOfAnAttemptIsItsFirstNonAssertion) {
  EXPECT_EQ(CauseOf({}), "");
  EXPECT_EQ(CauseOf({{"want 1", "a.cc", 1, ""}, {"crashed", "", 0, kCauseCrash},
                     {"timed out", "", 0, kCauseTimeout}}),
            kCauseCrash);
  AttemptRecord attempt;
  attempt.failures = {{"want 1", "a.cc", 1, ""}};
  attempt.subtest_failures = {{"T/sub", {"timed out", "", 0, kCauseTimeout}}};
  EXPECT_EQ(attempt.Cause(), kCauseTimeout);
}

TEST(TestResultTest, CancelReasonSaysCancelledOnce) {
  TestResult test;
  test.status = Status::kCancelled;
  EXPECT_EQ(test.CancelReason(), "cancelled");
  test.failures = {{"cancelled: the run was interrupted while the test ran", "", 0, ""}};
  EXPECT_EQ(test.CancelReason(), "cancelled: the run was interrupted while the test ran");
  test.skip_reason = "not run: the server shut down";
  EXPECT_EQ(test.CancelReason(), "cancelled: not run: the server shut down");
}

TEST(ResultCollectorTest, RetryOfOneTestKeepsOtherTestsIndexed) {
  // Two top-level tests of one suite run interleaved; the retry of one must not confuse
  // the other's records.
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "A");
  s.Start("S", "A/x");
  s.Start("S", "B");
  s.Start("S", "B/y");
  s.Finish("S", "A/x", Status::kFailed, 1);
  s.AttemptEnd("S", "A", 1, Status::kFailed, 1);
  s.Start("S", "A", 2);
  s.Output("S", "B/y", "still B");
  s.Finish("S", "B/y", Status::kPassed, 1);
  s.Finish("S", "B", Status::kPassed, 2);
  s.Start("S", "A/x", 2);
  s.Finish("S", "A/x", Status::kPassed, 1, 2);
  s.Finish("S", "A", Status::kPassed, 2, 2).flaky = true;
  s.SuiteEvent(EventKind::kSuiteFinished, "S");
  ResultCollector collector;
  s.Feed({&collector});
  const SuiteResult& suite = collector.result().suites[0];
  EXPECT_EQ(Names(suite), (std::vector<std::string>{"A", "B", "B/y", "A/x"}));
  ASSERT_NE(FindTest(suite, "B/y"), nullptr);
  EXPECT_EQ(FindTest(suite, "B/y")->output, std::vector<std::string>{"still B"});
  EXPECT_EQ(FindTest(suite, "A/x")->status, Status::kPassed);
  const Totals counts = CountTests(collector.result());
  EXPECT_EQ(counts.total, 4);
  EXPECT_EQ(counts.passed, 4);
  EXPECT_EQ(counts.flaky, 1);
}

TEST(ResultCollectorTest, CrashInsideSubtestFailsTheOpenSubtest) {
  ResultCollector collector;
  GoldenRun().Feed({&collector});
  const SuiteResult& basics = collector.result().suites[0];
  const TestResult* inside = FindTest(basics, "Crashes/inside");
  ASSERT_NE(inside, nullptr);
  EXPECT_TRUE(inside->finished);
  EXPECT_EQ(inside->status, Status::kFailed);
  const TestResult* crashes = FindTest(basics, "Crashes");
  ASSERT_NE(crashes, nullptr);
  ASSERT_EQ(crashes->failures.size(), 1u);
  EXPECT_EQ(crashes->failures[0].message, "crashed: signal 11 (SIGSEGV)");
}

TEST(ResultCollectorTest, UnfinishedTestFailsAtSuiteEnd) {
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "Hangs");
  s.SuiteEvent(EventKind::kSuiteFinished, "S", Status::kFailed);
  ResultCollector collector;
  s.Feed({&collector});
  const TestResult& hangs = collector.result().suites[0].tests[0];
  EXPECT_FALSE(hangs.finished);
  EXPECT_EQ(hangs.status, Status::kFailed);
  EXPECT_EQ(CountTests(collector.result()).failed, 1);
}

TEST(ResultCollectorTest, InterruptedRunFailsTheOpenSuite) {
  EventScript s(1'000'000'000, 1'000'000'000);
  s.Add(EventKind::kRunStarted);
  s.Add(EventKind::kSuiteStarted, "S");  // at 2s
  s.Start("S", "T");
  s.SuiteEvent(EventKind::kRunFinished, "", Status::kFailed, 3'000'000'000);  // at 4s
  ResultCollector collector;
  s.Feed({&collector});
  const SuiteResult& suite = collector.result().suites[0];
  EXPECT_EQ(suite.status, Status::kFailed);
  EXPECT_EQ(suite.elapsed_ns, 2'000'000'000);
  EXPECT_EQ(suite.tests[0].status, Status::kFailed);
}

TEST(ResultCollectorTest, SetupFailureAfterWorkerRestartIsASetupFailure) {
  // A crash restarts the worker, which runs setup again after tests already ran.
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.Add(EventKind::kSetupStarted, "S");
  s.SuiteEvent(EventKind::kSetupFinished, "S");
  s.Start("S", "Crashes");
  s.Located(EventKind::kFailure, "S", "Crashes", "crashed: signal 6 (SIGABRT)", "", 0);
  s.Finish("S", "Crashes", Status::kFailed, 1);
  s.Add(EventKind::kSetupStarted, "S");
  s.Located(EventKind::kFailure, "S", "", "port in use", "fixture.cc", 3);
  s.SuiteEvent(EventKind::kSetupFinished, "S", Status::kFailed);
  s.Add(EventKind::kTeardownStarted, "S");
  s.Located(EventKind::kFailure, "S", "", "cleanup failed", "fixture.cc", 9);
  s.SuiteEvent(EventKind::kTeardownFinished, "S", Status::kFailed);
  s.SuiteEvent(EventKind::kSuiteFinished, "S", Status::kFailed);
  ResultCollector collector;
  s.Feed({&collector});
  const SuiteResult& suite = collector.result().suites[0];
  ASSERT_EQ(suite.setup_failures.size(), 1u);
  EXPECT_EQ(suite.setup_failures[0].message, "port in use");
  ASSERT_EQ(suite.teardown_failures.size(), 1u);
  EXPECT_EQ(suite.teardown_failures[0].message, "cleanup failed");
}

TEST(ResultCollectorTest, TeardownFailureOfASuiteWithoutTests) {
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "Empty");
  s.Add(EventKind::kSetupStarted, "Empty");
  s.SuiteEvent(EventKind::kSetupFinished, "Empty");
  s.Add(EventKind::kTeardownStarted, "Empty");
  s.Located(EventKind::kFailure, "Empty", "", "cleanup failed", "fixture.cc", 9);
  s.SuiteEvent(EventKind::kTeardownFinished, "Empty", Status::kFailed);
  s.SuiteEvent(EventKind::kSuiteFinished, "Empty", Status::kFailed);
  ResultCollector collector;
  s.Feed({&collector});
  const SuiteResult& suite = collector.result().suites[0];
  EXPECT_TRUE(suite.setup_failures.empty());
  EXPECT_EQ(suite.teardown_failures.size(), 1u);
}

TEST(ResultCollectorTest, SameSuiteRunTwiceGivesTwoResults) {
  EventScript s;
  for (int run = 0; run < 2; ++run) {
    s.Add(EventKind::kSuiteStarted, "S");
    s.Start("S", "T");
    s.Finish("S", "T", run == 0 ? Status::kPassed : Status::kFailed, 1);
    s.SuiteEvent(EventKind::kSuiteFinished, "S", run == 0 ? Status::kPassed : Status::kFailed);
  }
  ResultCollector collector;
  s.Feed({&collector});
  ASSERT_EQ(collector.result().suites.size(), 2u);
  EXPECT_EQ(collector.result().suites[0].tests[0].status, Status::kPassed);
  EXPECT_EQ(collector.result().suites[1].tests[0].status, Status::kFailed);
}

TEST(ResultCollectorTest, IgnoresEventsOfUnknownSuitesAndTests) {
  EventScript s;
  s.Start("Nope", "T");
  s.Add(EventKind::kSuiteStarted, "S");
  s.Output("S", "Unknown", "lost");
  s.SuiteEvent(EventKind::kSuiteFinished, "S");
  ResultCollector collector;
  s.Feed({&collector});
  ASSERT_EQ(collector.result().suites.size(), 1u);
  EXPECT_TRUE(collector.result().suites[0].tests.empty());
}

TEST(CountTestsTest, EmptyRun) {
  const Totals counts = CountTests(RunResult{});
  EXPECT_EQ(counts.total, 0);
  EXPECT_EQ(counts.passed, 0);
}

}  // namespace
}  // namespace handoff
