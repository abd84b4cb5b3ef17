#include "store/journal.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/planned_tests.h"
#include "store/run_json.h"

namespace handoff::store {
namespace {

RunEvent Written(std::int64_t seq, const std::string& type) {
  return RunEvent{seq, type, "{\"seq\":" + std::to_string(seq) + "}"};
}

TestRow Row(const std::string& name, std::int64_t seq, TestStatus status = TestStatus::kRunning) {
  TestRow row;
  row.name = name;
  row.status = status;
  row.seq = seq;
  return row;
}

std::vector<std::int64_t> Seqs(const std::vector<RunEvent>& events) {
  std::vector<std::int64_t> seqs;
  for (const RunEvent& e : events) seqs.push_back(e.seq);
  return seqs;
}

TEST(JournalTest, ATestsEntryIsItsRow) {
  const TestRow row = Row("TestPay", 7, TestStatus::kPassed);
  const RunEvent entry = TestEntry(row);
  EXPECT_EQ(entry.seq, 7);
  EXPECT_EQ(entry.type, "test");
  std::string json;
  AppendTestRowJson(json, row);
  EXPECT_EQ(entry.data, json);
}

TEST(JournalTest, WrittenEventsAndTestEntriesMergeBySeq) {
  const std::vector<RunEvent> written = {Written(1, "run"), Written(4, "run"), Written(6, "run")};
  const std::vector<TestRow> tests = {Row("A", 2), Row("B", 3), Row("A/Sub", 5), Row("C", 8)};
  const std::vector<RunEvent> events = MergeJournal(written, tests, 100);
  EXPECT_EQ(Seqs(events), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 8}));
  EXPECT_EQ(events[0].type, "run");
  EXPECT_EQ(events[1].type, "test");
  EXPECT_NE(events[1].data.find("\"name\":\"A\""), std::string::npos) << events[1].data;
  EXPECT_EQ(events[3].data, "{\"seq\":4}");
  EXPECT_EQ(events[6].type, "test");
}

TEST(JournalTest, TheLimitCountsBothKinds) {
  const std::vector<RunEvent> written = {Written(1, "run"), Written(3, "run")};
  const std::vector<TestRow> tests = {Row("A", 2), Row("B", 4)};
  EXPECT_EQ(Seqs(MergeJournal(written, tests, 3)), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_TRUE(MergeJournal(written, tests, 0).empty());
  EXPECT_EQ(Seqs(MergeJournal({}, tests, 10)), (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(Seqs(MergeJournal(written, {}, 10)), (std::vector<std::int64_t>{1, 3}));
}

TEST(JournalTest, TheLastSeqIsTheHigherOfBoth) {
  EXPECT_EQ(LastJournalSeq(0, 0), 0);
  EXPECT_EQ(LastJournalSeq(5, 3), 5);
  EXPECT_EQ(LastJournalSeq(2, 9), 9);
}

TEST(PlannedTestsTest, PlannedTestsComeFirstInTheirOrderThenTheOthers) {
  std::vector<TestRow> rows = {Row("B", 1, TestStatus::kPassed), Row("B/Sub", 2),
                               Row("Extra", 3)};
  const std::vector<TestRow> merged =
      MergePlannedTests({"C", "B", "A", "C"}, std::move(rows));
  std::vector<std::string> names;
  for (const TestRow& row : merged) names.push_back(row.name);
  EXPECT_EQ(names, (std::vector<std::string>{"C", "B", "A", "B/Sub", "Extra"}));
  EXPECT_EQ(merged[0].status, TestStatus::kPending);  // planned, not started yet
  EXPECT_EQ(merged[1].status, TestStatus::kPassed);   // its row
  EXPECT_EQ(merged[1].seq, 1);
  EXPECT_EQ(merged[2].status, TestStatus::kPending);
}

TEST(PlannedTestsTest, RowsAlreadyInPlanOrderComeBackAsTheyAre) {
  // Every planned test recorded in order, then a subtest: the rows are the answer.
  const std::vector<TestRow> merged = MergePlannedTests(
      {"A", "B"}, {Row("A", 1, TestStatus::kPassed), Row("B", 2), Row("B/Sub", 3)});
  std::vector<std::string> names;
  for (const TestRow& row : merged) names.push_back(row.name);
  EXPECT_EQ(names, (std::vector<std::string>{"A", "B", "B/Sub"}));
  EXPECT_EQ(merged[0].status, TestStatus::kPassed);
  // A subtest recorded before a planned test is not in plan order: it moves after them.
  const std::vector<TestRow> moved =
      MergePlannedTests({"A", "B"}, {Row("A", 1), Row("A/Sub", 2), Row("B", 3)});
  names.clear();
  for (const TestRow& row : moved) names.push_back(row.name);
  EXPECT_EQ(names, (std::vector<std::string>{"A", "B", "A/Sub"}));
}

TEST(PlannedTestsTest, NoPlanKeepsTheRowsAsTheyAre) {
  const std::vector<TestRow> merged = MergePlannedTests({}, {Row("Z", 1), Row("A", 2)});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].name, "Z");
  EXPECT_EQ(merged[1].name, "A");
}

}  // namespace
}  // namespace handoff::store
