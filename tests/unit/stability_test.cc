#include "engine/stability.h"

#include <gtest/gtest.h>

namespace handoff {
namespace {

using store::TestRow;
using store::TestStatus;

TestRow Row(std::string name, TestStatus status, int attempt = 1) {
  TestRow row;
  row.name = std::move(name);
  row.status = status;
  row.attempt = attempt;
  return row;
}

TEST(StabilityTest, CountsFlipsRetriesAndFailuresPerTest) {
  const std::vector<std::int64_t> ids = {11, 12, 13, 14};
  const std::vector<std::vector<TestRow>> runs = {
      {Row("Steady", TestStatus::kPassed), Row("Flappy", TestStatus::kPassed),
       Row("Gone", TestStatus::kFailed)},
      {Row("Steady", TestStatus::kPassed), Row("Flappy", TestStatus::kFailed),
       Row("Flappy/Sub", TestStatus::kFailed)},
      // Skipped does not break or make a flip; a retry counts even when it passed.
      {Row("Flappy", TestStatus::kSkipped), Row("Steady", TestStatus::kPassed, 2)},
      {Row("New", TestStatus::kPassed), Row("Flappy", TestStatus::kPassed),
       Row("Steady", TestStatus::kPassed)},
  };
  const std::vector<TestStability> tests = ComputeStability(ids, runs);
  ASSERT_EQ(tests.size(), 4u);
  // The newest run's order, then tests only older runs had.
  EXPECT_EQ(tests[0].name, "New");
  EXPECT_EQ(tests[1].name, "Flappy");
  EXPECT_EQ(tests[2].name, "Steady");
  EXPECT_EQ(tests[3].name, "Gone");

  const TestStability& flappy = tests[1];
  ASSERT_EQ(flappy.statuses.size(), 4u);
  EXPECT_EQ(flappy.statuses[0], TestStatus::kPassed);
  EXPECT_EQ(flappy.statuses[1], TestStatus::kFailed);
  EXPECT_EQ(flappy.statuses[2], TestStatus::kSkipped);
  EXPECT_EQ(flappy.statuses[3], TestStatus::kPassed);
  EXPECT_EQ(flappy.flips, 2);  // passed → failed, failed → passed (across the skip)
  EXPECT_EQ(flappy.failed, 1);
  EXPECT_EQ(flappy.runs, 4);
  EXPECT_EQ(flappy.retried, 0);
  EXPECT_EQ(flappy.score(), 2);
  EXPECT_EQ(flappy.last_run, 14);
  EXPECT_EQ(flappy.last_status, TestStatus::kPassed);

  const TestStability& steady = tests[2];
  EXPECT_EQ(steady.flips, 0);
  EXPECT_EQ(steady.retried, 1);
  EXPECT_EQ(steady.score(), 1);

  const TestStability& gone = tests[3];
  EXPECT_FALSE(gone.statuses[1]);
  EXPECT_EQ(gone.runs, 1);
  EXPECT_EQ(gone.failed, 1);
  EXPECT_EQ(gone.last_run, 11);
  EXPECT_EQ(tests[0].statuses[0], std::nullopt);
}

TEST(StabilityTest, CancelledAndLeftOutRunsCountNeitherAsRunsNorAsFailures) {
  TestRow soft = Row("Known", TestStatus::kFailed);
  soft.soft_failure = true;
  const std::vector<std::int64_t> ids = {1, 2, 3, 4};
  const std::vector<std::vector<TestRow>> runs = {
      {Row("Pay", TestStatus::kPassed), Row("Ship", TestStatus::kPassed), soft},
      // A cancelled run: Pay finished before the cancel, Ship was cut short and Known never
      // started.
      {Row("Pay", TestStatus::kPassed), Row("Ship", TestStatus::kCancelled),
       Row("Known", TestStatus::kCancelled)},
      // A retry of one test: the others were not in it.
      {Row("Ship", TestStatus::kPassed)},
      {Row("Pay", TestStatus::kPassed), Row("Ship", TestStatus::kPassed), soft},
  };
  const std::vector<TestStability> tests = ComputeStability(ids, runs);
  ASSERT_EQ(tests.size(), 3u);
  const TestStability& pay = tests[0];
  EXPECT_EQ(pay.name, "Pay");
  EXPECT_EQ(pay.runs, 3);
  EXPECT_EQ(pay.statuses[2], std::nullopt);
  const TestStability& ship = tests[1];
  EXPECT_EQ(ship.runs, 3);
  EXPECT_EQ(ship.failed, 0);
  EXPECT_EQ(ship.flips, 0);
  EXPECT_EQ(ship.score(), 0);
  // The strip still shows what happened to it.
  EXPECT_EQ(ship.statuses[1], TestStatus::kCancelled);
  const TestStability& known = tests[2];
  // A soft failure is a known issue: a run, but not a failure.
  EXPECT_EQ(known.runs, 2);
  EXPECT_EQ(known.failed, 0);
  EXPECT_EQ(known.flips, 0);
  EXPECT_EQ(known.last_run, 4);
}

TEST(StabilityTest, LastRunIsTheNewestRunTheTestRanIn) {
  const std::vector<std::vector<TestRow>> runs = {{Row("Pay", TestStatus::kFailed)},
                                                  {Row("Pay", TestStatus::kCancelled)}};
  const std::vector<TestStability> tests = ComputeStability({7, 8}, runs);
  ASSERT_EQ(tests.size(), 1u);
  EXPECT_EQ(tests[0].runs, 1);
  EXPECT_EQ(tests[0].failed, 1);
  EXPECT_EQ(tests[0].last_run, 7);
  EXPECT_EQ(tests[0].last_status, TestStatus::kFailed);
}

TEST(StabilityTest, NoRunsNoTests) { EXPECT_TRUE(ComputeStability({}, {}).empty()); }

}  // namespace
}  // namespace handoff
