// Issue 19, section 3: how a test compares with the previous run (engine/test_changes.h) and
// failures grouped by cause (engine/failure_groups.h).

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/failure_groups.h"
#include "engine/test_changes.h"
#include "store/store.h"
#include "support/store_test_data.h"

namespace handoff {
namespace {

using store::TestChange;
using store::TestRow;
using store::TestStatus;
using ::handoff::testing::Row;

store::Run MakeRun(std::int64_t id, std::string reference) {
  store::Run run;
  run.id = id;
  run.suite = "s";
  run.reference = std::move(reference);
  run.created_at_ns = id * 1000;
  return run;
}

const TestRow& Named(const std::vector<TestRow>& rows, const std::string& name) {
  for (const TestRow& row : rows) {
    if (row.name == name) return row;
  }
  ADD_FAILURE() << "no row " << name;
  return rows.front();
}

TEST(TestChangesTest, EachTestIsNewFailureStillFailingFixedOrNew) {
  const store::Run previous = MakeRun(7, "v7");
  TestRow old_still = Row("Still", TestStatus::kFailed);
  old_still.change = TestChange::kNewFailure;
  old_still.failing_since = {5, "v5", 5000};
  TestRow old_fixed = Row("Fixed", TestStatus::kFailed);  // no since: before schema 11
  TestRow soft = Row("Soft", TestStatus::kFailed);
  soft.soft_failure = true;
  const std::vector<TestRow> before = {Row("Broke", TestStatus::kPassed), old_still, old_fixed,
                                       Row("Passing", TestStatus::kPassed), soft,
                                       Row("Skipped", TestStatus::kFailed),
                                       Row("Cancelled", TestStatus::kPassed)};
  const store::Run run = MakeRun(9, "v9");
  std::vector<TestRow> rows = {Row("Broke", TestStatus::kFailed),
                               Row("Still", TestStatus::kFailed),
                               Row("Fixed", TestStatus::kPassed),
                               Row("Passing", TestStatus::kPassed),
                               Row("Soft", TestStatus::kFailed),
                               Row("Skipped", TestStatus::kSkipped),
                               Row("Cancelled", TestStatus::kCancelled),
                               Row("Added", TestStatus::kPassed),
                               Row("AddedFailing", TestStatus::kFailed)};
  rows[4].soft_failure = true;
  const std::vector<TestRow> changed = DecideTestChanges(run, rows, previous, before);
  EXPECT_EQ(changed.size(), 6u);
  EXPECT_EQ(Named(rows, "Broke").change, TestChange::kNewFailure);
  EXPECT_EQ(Named(rows, "Broke").failing_since, (store::FailingSince{9, "v9", 9000}));
  EXPECT_EQ(Named(rows, "Still").change, TestChange::kStillFailing);
  EXPECT_EQ(Named(rows, "Still").failing_since, old_still.failing_since);
  EXPECT_EQ(Named(rows, "Fixed").change, TestChange::kFixed);
  EXPECT_EQ(Named(rows, "Fixed").failing_since, (store::FailingSince{7, "v7", 7000}))
      << "a failure stored without its start began at the latest in the previous run";
  EXPECT_EQ(Named(rows, "Passing").change, TestChange::kNone);
  EXPECT_EQ(Named(rows, "Soft").change, TestChange::kNone) << "a soft failure fails nothing";
  EXPECT_EQ(Named(rows, "Skipped").change, TestChange::kNone);
  EXPECT_EQ(Named(rows, "Skipped").failing_since, (store::FailingSince{7, "v7", 7000}))
      << "a test that did not run carries its failure to the next run";
  EXPECT_EQ(Named(rows, "Cancelled").change, TestChange::kNone);
  EXPECT_EQ(Named(rows, "Added").change, TestChange::kNewTest);
  EXPECT_EQ(Named(rows, "Added").failing_since.run_id, 0);
  EXPECT_EQ(Named(rows, "AddedFailing").change, TestChange::kNewTest);
  EXPECT_EQ(Named(rows, "AddedFailing").failing_since.run_id, 9);
  for (const TestRow& row : changed) {
    EXPECT_EQ(row.change, Named(rows, row.name).change);
    EXPECT_EQ(row.failing_since, Named(rows, row.name).failing_since);
  }
}

TEST(TestChangesTest, ARunThatDidNotRunItsTestsKeepsTheirFailuresForTheNext) {
  // Run 1: A failed (since 1), B passed, A/sub failed. Run 2's setup failed: every test
  // skipped, no subtest reached. Run 3 compares with run 2.
  std::vector<TestRow> first = {Row("A", TestStatus::kFailed), Row("A/sub", TestStatus::kFailed),
                                Row("B", TestStatus::kPassed)};
  first[0].failing_since = {1, "v1", 1000};
  first[1].failing_since = {1, "v1", 1000};
  std::vector<TestRow> second = {Row("A", TestStatus::kSkipped), Row("B", TestStatus::kSkipped)};
  DecideTestChanges(MakeRun(2, "v2"), second, MakeRun(1, "v1"), first);
  EXPECT_EQ(second[0].change, TestChange::kNone);
  EXPECT_EQ(second[0].failing_since, (store::FailingSince{1, "v1", 1000}));
  EXPECT_EQ(second[1].failing_since.run_id, 0) << "B was passing: nothing to carry";

  std::vector<TestRow> third = {Row("A", TestStatus::kFailed), Row("A/sub", TestStatus::kPassed),
                                Row("B", TestStatus::kPassed)};
  DecideTestChanges(MakeRun(3, "v3"), third, MakeRun(2, "v2"), second);
  EXPECT_EQ(third[0].change, TestChange::kStillFailing) << "not a new failure: it never stopped";
  EXPECT_EQ(third[0].failing_since, (store::FailingSince{1, "v1", 1000}));
  EXPECT_EQ(third[1].change, TestChange::kNone) << "its test did not run: it is not new";
  EXPECT_EQ(third[2].change, TestChange::kNone);

  // A run that ended in error (every test pending) carries the same way.
  std::vector<TestRow> errored = {Row("A", TestStatus::kPending)};
  DecideTestChanges(MakeRun(4, "v4"), errored, MakeRun(3, "v3"), third);
  EXPECT_EQ(errored[0].failing_since.run_id, 1);
  std::vector<TestRow> fifth = {Row("A", TestStatus::kPassed)};
  DecideTestChanges(MakeRun(5, "v5"), fifth, MakeRun(4, "v4"), errored);
  EXPECT_EQ(fifth[0].change, TestChange::kFixed);
  EXPECT_EQ(fifth[0].failing_since.run_id, 1);
}

TEST(TestChangesTest, NothingToCompareWithSetsNothing) {
  std::vector<TestRow> rows = {Row("A", TestStatus::kFailed)};
  EXPECT_TRUE(DecideTestChanges(MakeRun(1, ""), rows, std::nullopt, {}).empty());
  EXPECT_EQ(rows[0].change, TestChange::kNone);
}

TEST(TestChangesTest, ARetriedTestComparesItsDecidingAttempt) {
  // Before: A failed on its last attempt (2); its subtest row of attempt 1 is not current.
  std::vector<TestRow> before = {Row("A", TestStatus::kFailed, 2),
                                 Row("A/old", TestStatus::kFailed, 1)};
  std::vector<TestRow> rows = {Row("A", TestStatus::kPassed, 1),
                               Row("A/old", TestStatus::kPassed, 1)};
  DecideTestChanges(MakeRun(3, ""), rows, MakeRun(2, ""), before);
  EXPECT_EQ(rows[0].change, TestChange::kFixed);
  EXPECT_EQ(rows[1].change, TestChange::kNewTest)
      << "a subtest only an earlier attempt ran was not part of the previous result";
}

TEST(FailureSignatureTest, NumbersIdsAddressesAndTimesAreNormalised) {
  EXPECT_EQ(FailureSignature("shop_test.cc:40: connection refused to 10.0.3.7:8080 after "
                             "3012 ms\n  more detail 17"),
            "shop_test.cc:<n>: connection refused to <ip>:<n> after <n> ms");
  EXPECT_EQ(FailureSignature("order 7f1c9a2e-5b3d-4c8e-9f10-2a3b4c5d6e7f not found"),
            "order <uuid> not found");
  EXPECT_EQ(FailureSignature("bad pointer 0x7ffd5e8c3a10 at 2026-12-05T06:10:00.123Z"),
            "bad pointer <hex> at <time>");
  EXPECT_EQ(FailureSignature("commit 3f9e2b1ac0d4 broke it; took 1.25s"),
            "commit <hex> broke it; took <n>s");
  EXPECT_EQ(FailureSignature("user_42 and test2 and deadbeefcafe"),
            "user_<n> and test<n> and deadbeefcafe")
      << "digits ending words; letters alone are no number";
  EXPECT_EQ(FailureSignature("shop_e2e.cc:259: h2o x86_64"), "shop_e2e.cc:<n>: h2o x<n>_<n>")
      << "digits between letters are part of a name";
  EXPECT_EQ(FailureSignature("\n   \n  spaced    out\t\tline  "), "spaced out line");
  EXPECT_EQ(FailureSignature(""), "");
  EXPECT_EQ(FailureSignature(std::string(1000, 'x')).size(), 300u);
  // Two occurrences of one cause have one signature; two causes have two.
  EXPECT_EQ(FailureSignature("timed out after 30s waiting for pod shop-5d8f7c9b4-x2k9p"),
            FailureSignature("timed out after 31s waiting for pod shop-5d8f7c9b4-x2k9p"));
  EXPECT_NE(FailureSignature("want 200, got 503"), FailureSignature("want 200, got body \"\""));
}

TEST(FailureGroupsTest, GroupsCountRunsAndFailuresAndRankByRuns) {
  std::vector<store::Run> runs = {MakeRun(1, ""), MakeRun(2, "")};
  const auto failed = [](std::string name, std::string message) {
    TestRow row = Row(std::move(name), TestStatus::kFailed);
    row.message = std::move(message);
    return row;
  };
  std::vector<std::vector<TestRow>> rows(2);
  for (int i = 0; i < 300; ++i) {
    rows[0].push_back(failed("T" + std::to_string(i), "a.cc:1: refused after " + std::to_string(i) + " ms"));
  }
  rows[0].push_back(failed("Parent", ""));  // failed because its subtest did: left out
  rows[0].push_back(failed("Parent/sub", "a.cc:9: disk full"));
  rows[1].push_back(failed("Parent", ""));
  rows[1].push_back(failed("Parent/sub", "a.cc:9: disk full"));
  TestRow soft = failed("Soft", "a.cc:1: refused after 1 ms");
  soft.soft_failure = true;
  rows[1].push_back(soft);
  rows[1].push_back(Row("Passed", TestStatus::kPassed));

  const std::vector<FailureGroup> groups = GroupFailures(runs, rows);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].signature, "a.cc:<n>: disk full") << "seen in more runs: ranked first";
  EXPECT_EQ(groups[0].runs, 2);
  EXPECT_EQ(groups[0].failures, 2);
  EXPECT_EQ(groups[0].tests, (std::vector<std::string>{"Parent/sub"}));
  EXPECT_EQ(groups[0].first_run, 1);
  EXPECT_EQ(groups[0].last_run, 2);
  EXPECT_EQ(groups[0].last_seen_ns, 2000);
  EXPECT_EQ(groups[1].signature, "a.cc:<n>: refused after <n> ms");
  EXPECT_EQ(groups[1].runs, 1);
  EXPECT_EQ(groups[1].failures, 300);
  EXPECT_EQ(groups[1].tests.size(), kMaxGroupTests);
  EXPECT_EQ(groups[1].tests_left_out, 300 - static_cast<std::int64_t>(kMaxGroupTests));
  EXPECT_EQ(groups[1].message, "a.cc:1: refused after 0 ms");
}

}  // namespace
}  // namespace handoff
