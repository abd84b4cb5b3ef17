#include "store/quiet_attempts.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace handoff::store {
namespace {

Attempt Passed(const std::string& test, int attempt) {
  Attempt a;
  a.test = test;
  a.attempt = attempt;
  a.status = TestStatus::kPassed;
  return a;
}

TestRow Row(const std::string& name, TestStatus status, int attempt) {
  TestRow row;
  row.name = name;
  row.status = status;
  row.attempt = attempt;
  row.started_at_ns = 1000 * attempt;
  row.duration_ms = 7;
  return row;
}

TEST(QuietAttemptsTest, OnlyAPassWithNothingRecordedIsQuiet) {
  EXPECT_TRUE(IsQuietPass(Passed("A", 1)));

  Attempt with_output = Passed("A", 1);
  with_output.lines.push_back({.text = "hello"});
  EXPECT_FALSE(IsQuietPass(with_output));
  Attempt with_value = Passed("A", 1);
  with_value.values = {{"k", "v"}};
  EXPECT_FALSE(IsQuietPass(with_value));
  Attempt with_span = Passed("A", 1);
  with_span.spans.push_back({"db", 0, 1, {}});
  EXPECT_FALSE(IsQuietPass(with_span));
  Attempt failed = Passed("A", 1);
  failed.status = TestStatus::kFailed;
  EXPECT_FALSE(IsQuietPass(failed));
  Attempt soft = Passed("A", 1);
  soft.soft_failure = true;
  EXPECT_FALSE(IsQuietPass(soft));
  Attempt skipped = Passed("A", 1);
  skipped.skip_reason = "later";
  EXPECT_FALSE(IsQuietPass(skipped));
  Attempt kept = Passed("A", 1);
  kept.keep_quiet = true;  // its row will not show it
  EXPECT_FALSE(IsQuietPass(kept));
}

TEST(QuietAttemptsTest, APassedRowWithoutItsAttemptGivesItBack) {
  std::optional<Attempt> quiet = QuietAttempt(Row("A", TestStatus::kPassed, 2), {});
  ASSERT_TRUE(quiet.has_value());
  EXPECT_EQ(quiet->test, "A");
  EXPECT_EQ(quiet->attempt, 2);
  EXPECT_EQ(quiet->status, TestStatus::kPassed);
  EXPECT_EQ(quiet->started_at_ns, 2000);
  EXPECT_EQ(quiet->duration_ms, 7);

  Attempt stored = Passed("A", 2);
  stored.lines.push_back({.text = "kept"});
  EXPECT_FALSE(QuietAttempt(Row("A", TestStatus::kPassed, 2), {stored}).has_value());
  EXPECT_FALSE(QuietAttempt(Row("A", TestStatus::kFailed, 2), {}).has_value());
  EXPECT_FALSE(QuietAttempt(Row("A", TestStatus::kRunning, 1), {}).has_value());
  EXPECT_FALSE(QuietAttempt(Row("A", TestStatus::kPassed, 0), {}).has_value());
}

TEST(QuietAttemptsTest, ReportOrderFollowsTheRowsWithQuietAttemptsPutBack) {
  Attempt b_failed = Passed("B", 1);
  b_failed.status = TestStatus::kFailed;
  Attempt suite = Passed("", 0);
  suite.lines.push_back({.text = "setup"});
  Attempt orphan = Passed("Z", 1);
  orphan.lines.push_back({.text = "no row"});
  // Stored as a backend reads them: by test name, then attempt.
  std::vector<Attempt> stored = {suite, b_failed, orphan};
  std::vector<TestRow> rows = {Row("B", TestStatus::kPassed, 2), Row("A", TestStatus::kPassed, 1),
                               Row("C", TestStatus::kFailed, 1)};
  std::vector<Attempt> attempts = AttemptsInReportOrder(rows, stored);
  std::vector<std::string> order;
  for (const Attempt& a : attempts) order.push_back(a.test + "#" + std::to_string(a.attempt));
  // B's failed attempt, then its quiet retry; A's quiet attempt; C has none; then the
  // attempts without a row, by name.
  EXPECT_EQ(order, (std::vector<std::string>{"B#1", "B#2", "A#1", "#0", "Z#1"}));
  EXPECT_EQ(attempts[0].status, TestStatus::kFailed);
  EXPECT_EQ(attempts[3].lines.size(), 1u);
}

}  // namespace
}  // namespace handoff::store
