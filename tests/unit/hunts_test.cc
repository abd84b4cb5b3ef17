// What a hunt does next when its runs end, and the failure rate its runs say (engine/hunts.h).

#include "engine/hunts.h"

#include <gtest/gtest.h>

namespace handoff {
namespace {

using store::HuntStatus;

store::Hunt Running(int repeat, bool until_failure, std::int64_t max_duration_ms = 0) {
  store::Hunt hunt;
  hunt.id = 4;
  hunt.repeat = repeat;
  hunt.until_failure = until_failure;
  hunt.max_duration_ms = max_duration_ms;
  hunt.created_at_ns = 1'000'000'000;
  return hunt;
}

store::HuntRuns Counted(std::int64_t passed, std::int64_t failed, std::int64_t unfinished = 0,
                        std::int64_t cancelled = 0, std::int64_t errors = 0) {
  store::HuntRuns runs;
  runs.passed = passed;
  runs.failed = failed;
  runs.unfinished = unfinished;
  runs.cancelled = cancelled;
  runs.errors = errors;
  runs.runs = passed + failed + unfinished + cancelled + errors;
  runs.first_failed_run = failed > 0 ? 11 : 0;
  runs.last_run = runs.runs > 0 ? 12 : 0;
  return runs;
}

TEST(DecideHuntStep, WaitsWhileARunIsUnfinishedOrTheHuntHasEnded) {
  HuntStep step = DecideHuntStep(Running(5, true), Counted(1, 0, 1), 0);
  EXPECT_FALSE(step.next_run);
  EXPECT_FALSE(step.end);
  store::Hunt stopped = Running(5, true);
  stopped.status = HuntStatus::kStopped;
  step = DecideHuntStep(stopped, Counted(1, 0), 0);
  EXPECT_FALSE(step.next_run);
  EXPECT_FALSE(step.end);
}

TEST(DecideHuntStep, StartsTheNextRunUntilTheRepeatIsMade) {
  EXPECT_TRUE(DecideHuntStep(Running(3, true), Counted(0, 0), 0).next_run);
  EXPECT_TRUE(DecideHuntStep(Running(3, true), Counted(2, 0), 0).next_run);
  HuntStep done = DecideHuntStep(Running(3, true), Counted(3, 0), 0);
  EXPECT_FALSE(done.next_run);
  ASSERT_TRUE(done.end);
  EXPECT_EQ(*done.end, HuntStatus::kPassed);
  EXPECT_EQ(done.why, "3 runs made: 0 of 3 runs failed");
}

TEST(DecideHuntStep, UntilFailureStopsAtTheFirstFailedRun) {
  HuntStep step = DecideHuntStep(Running(10, true), Counted(2, 1), 0);
  ASSERT_TRUE(step.end);
  EXPECT_EQ(*step.end, HuntStatus::kFailed);
  EXPECT_EQ(step.why, "run 11 failed (run 3 of the hunt)");
  // Without it, failures are counted and the hunt goes on to its limit.
  step = DecideHuntStep(Running(10, false), Counted(2, 1), 0);
  EXPECT_TRUE(step.next_run);
  step = DecideHuntStep(Running(4, false), Counted(2, 2), 0);
  ASSERT_TRUE(step.end);
  EXPECT_EQ(*step.end, HuntStatus::kFailed);
  EXPECT_EQ(step.why, "4 runs made: 2 of 4 runs failed");
}

TEST(DecideHuntStep, ATimeBudgetStopsNewRunsOnceSpent) {
  const store::Hunt hunt = Running(0, true, 60'000);
  EXPECT_TRUE(DecideHuntStep(hunt, Counted(5, 0), hunt.created_at_ns + 59'999'000'000).next_run);
  HuntStep spent = DecideHuntStep(hunt, Counted(5, 0), hunt.created_at_ns + 60'000'000'000);
  ASSERT_TRUE(spent.end);
  EXPECT_EQ(*spent.end, HuntStatus::kPassed);
  EXPECT_EQ(spent.why, "its time budget is spent: 0 of 5 runs failed");
}

TEST(DecideHuntStep, ATimeBudgetAloneStopsAtTheMostRunsAHuntMakes) {
  const store::Hunt hunt = Running(0, false, kMaxHuntDurationMs);
  EXPECT_TRUE(DecideHuntStep(hunt, Counted(kMaxHuntRepeat - 1, 0), hunt.created_at_ns).next_run);
  HuntStep capped = DecideHuntStep(hunt, Counted(kMaxHuntRepeat, 0), hunt.created_at_ns);
  ASSERT_TRUE(capped.end);
  EXPECT_EQ(*capped.end, HuntStatus::kPassed);
}

TEST(DecideHuntStep, ACancelledRunOrAnErrorEndsTheHunt) {
  HuntStep cancelled = DecideHuntStep(Running(10, true), Counted(2, 0, 0, 1), 0);
  ASSERT_TRUE(cancelled.end);
  EXPECT_EQ(*cancelled.end, HuntStatus::kCancelled);
  EXPECT_EQ(cancelled.why, "run 12 was cancelled");
  HuntStep error = DecideHuntStep(Running(10, true), Counted(2, 0, 0, 0, 1), 0);
  ASSERT_TRUE(error.end);
  EXPECT_EQ(*error.end, HuntStatus::kError);
}

TEST(HuntFailureRate, IsWilsonsScoreIntervalAt95Percent) {
  // Nothing ended yet: nothing to say.
  FailureRate none = HuntFailureRate(Counted(0, 0, 1));
  EXPECT_EQ(none.runs, 0);
  EXPECT_EQ(none.high, 0);
  // 1 failure in 3 runs: 0.3333 in [0.0615, 0.7923].
  FailureRate third = HuntFailureRate(Counted(2, 1));
  EXPECT_EQ(third.runs, 3);
  EXPECT_EQ(third.failures, 1);
  EXPECT_NEAR(third.observed, 1.0 / 3, 1e-9);
  EXPECT_NEAR(third.low, 0.0615, 1e-4);
  EXPECT_NEAR(third.high, 0.7923, 1e-4);
  // 0 in 100: the rate is below 3.7% (the "rule of three" says about 3%).
  FailureRate clean = HuntFailureRate(Counted(100, 0));
  EXPECT_EQ(clean.observed, 0);
  EXPECT_EQ(clean.low, 0);
  EXPECT_NEAR(clean.high, 0.0370, 1e-4);
  // Every run failed: 1 is the top.
  FailureRate all = HuntFailureRate(Counted(0, 4));
  EXPECT_EQ(all.high, 1);
  EXPECT_NEAR(all.low, 0.5101, 1e-4);
  // Cancelled runs and errors say nothing of the test.
  EXPECT_EQ(HuntFailureRate(Counted(3, 1, 0, 5, 2)).runs, 4);
  // 10 in 1000: [0.0054, 0.0183].
  FailureRate rare = HuntFailureRate(Counted(990, 10));
  EXPECT_NEAR(rare.low, 0.0054, 1e-4);
  EXPECT_NEAR(rare.high, 0.0183, 1e-4);
}

}  // namespace
}  // namespace handoff
