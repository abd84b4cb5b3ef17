#include <gtest/gtest.h>

#include "store/run_json.h"
#include "store/store.h"

namespace handoff::store {
namespace {

TestRow Row(std::string name, TestStatus status, int attempt = 1) {
  TestRow row;
  row.name = std::move(name);
  row.status = status;
  row.attempt = attempt;
  return row;
}

TEST(StoreTotalsTest, EveryRowCountsByItsVerdict) {
  TestRow soft = Row("Known", TestStatus::kFailed);
  soft.soft_failure = true;
  TestRow flaky = Row("Retried", TestStatus::kPassed, 2);
  flaky.flaky = true;
  const std::vector<TestRow> rows = {Row("Pay", TestStatus::kPassed),
                                     Row("Pay/visa", TestStatus::kFailed),
                                     soft,
                                     flaky,
                                     Row("Skips", TestStatus::kSkipped),
                                     Row("Later", TestStatus::kCancelled)};
  EXPECT_EQ(TotalsOf(rows), (Totals{.total = 6, .passed = 2, .failed = 1, .soft_failed = 1,
                                    .skipped = 1, .cancelled = 1, .flaky = 1}));
}

TEST(StoreTotalsTest, SubtestsOnlyAnEarlierAttemptRanAreNotPartOfTheResult) {
  // Attempt 1 of Pay failed in its subtest "visa"; attempt 2 ran "card" only and passed.
  const std::vector<TestRow> rows = {Row("Pay", TestStatus::kPassed, 2),
                                     Row("Pay/visa", TestStatus::kFailed, 1),
                                     Row("Pay/card", TestStatus::kPassed, 2)};
  EXPECT_EQ(TotalsOf(rows), (Totals{.total = 2, .passed = 2}));
  std::string json;
  AppendRunJsonTestsTail(json, rows);
  EXPECT_NE(json.find("\"counts\":{\"total\":2,\"passed\":2,\"failed\":0,"), std::string::npos)
      << json;
}

TEST(StoreTotalsTest, CountsAddPendingAndRunningTestsToTheFinishedOnes) {
  const std::vector<TestRow> rows = {Row("A", TestStatus::kPassed), Row("B", TestStatus::kRunning),
                                     Row("C", TestStatus::kPending)};
  std::string json;
  AppendRunJsonTestsTail(json, rows);
  EXPECT_NE(json.find("\"counts\":{\"total\":3,\"passed\":1,\"failed\":0,\"soft_failed\":0,"
                      "\"skipped\":0,\"cancelled\":0,\"flaky\":0,\"pending\":1,\"running\":1}"),
            std::string::npos)
      << json;
}

}  // namespace
}  // namespace handoff::store
