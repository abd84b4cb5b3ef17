#include "engine/run_recorder.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "engine/stored_report.h"
#include "store/store.h"
#include "store/open_store.h"
#include "result_testing.h"

namespace handoff {
namespace {

using ::handoff::testing::ValueOf;

class RunRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    store_ = ValueOf(store::OpenStore("sqlite::memory:"));
    ASSERT_NE(store_, nullptr) << error;
    store::Run run;
    run.suite = "Checkout";
    run_ = ValueOf(store_->CreateRun(run, {"Pay", "Refund", "Later"})).run;
    journal_ = std::make_unique<RunJournal>(run_.id, 0);
    recorder_ = std::make_unique<RunRecorder>(*store_, *journal_, [this](Committed c) {
      std::lock_guard lock(mu_);
      for (auto& e : c.events) events_.push_back(e);
      for (auto& f : c.finished) finished_.push_back(f);
      if (c.run_finished) run_finished_ = true;
    });
  }

  void Emit(EventKind kind, std::string test, int attempt = 1) {
    Event e;
    e.kind = kind;
    e.suite = "Checkout";
    e.test = std::move(test);
    e.attempt = attempt;
    e.time_ns = 1'000'000'000;
    last_ = e;
    recorder_->OnEvent(e);
  }
  void Emit(Event e) {
    e.suite = "Checkout";
    recorder_->OnEvent(e);
  }

  Event Make(EventKind kind, std::string test, int attempt = 1) {
    Event e;
    e.kind = kind;
    e.test = std::move(test);
    e.attempt = attempt;
    e.time_ns = 1'000'000'000;
    return e;
  }

  std::unique_ptr<store::Store> store_;
  store::Run run_;
  std::unique_ptr<RunJournal> journal_;
  std::unique_ptr<RunRecorder> recorder_;
  std::mutex mu_;
  std::vector<store::RunEvent> events_;
  std::vector<FinishedTest> finished_;
  bool run_finished_ = false;
  Event last_;
};

TEST_F(RunRecorderTest, StoresRowsAttemptsAndJournalAndReportsOnlyAfterCommit) {
  Emit(Make(EventKind::kTestStarted, "Pay"));
  Event out = Make(EventKind::kOutput, "Pay");
  out.text = "paying";
  Emit(out);
  Event fail = Make(EventKind::kFailure, "Pay");
  fail.text = "card declined";
  fail.file = "/src/pay_test.cc";
  fail.line = 42;
  Emit(fail);
  Event done = Make(EventKind::kAttemptFinished, "Pay");
  done.status = Status::kFailed;
  done.elapsed_ns = 5'000'000;
  Emit(done);
  // Nothing is reported before the batch is committed.
  {
    std::lock_guard lock(mu_);
    EXPECT_TRUE(events_.empty());
  }
  // Second attempt passes, with a subtest and a value.
  Emit(Make(EventKind::kTestStarted, "Pay", 2));
  Emit(Make(EventKind::kTestStarted, "Pay/visa", 2));
  Event sub_done = Make(EventKind::kTestFinished, "Pay/visa", 2);
  sub_done.elapsed_ns = 1'000'000;
  Emit(sub_done);
  Event value = Make(EventKind::kValue, "Pay", 2);
  value.key = "order";
  value.text = "A-1";
  Emit(value);
  Event attempt2 = Make(EventKind::kAttemptFinished, "Pay", 2);
  attempt2.elapsed_ns = 7'000'000;
  Emit(attempt2);
  Event finished = Make(EventKind::kTestFinished, "Pay", 2);
  finished.flaky = true;
  finished.elapsed_ns = 12'000'000;
  Emit(finished);
  recorder_->Flush();
  store_->Sync();

  std::vector<store::TestRow> rows = store_->GetTests(run_.id);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].name, "Pay");
  EXPECT_EQ(rows[0].status, store::TestStatus::kPassed);
  EXPECT_EQ(rows[0].attempt, 2);
  EXPECT_TRUE(rows[0].flaky);
  EXPECT_EQ(rows[0].duration_ms, 12);
  EXPECT_EQ(rows[1].status, store::TestStatus::kPending);  // Refund has not run
  EXPECT_EQ(rows[3].name, "Pay/visa");

  std::vector<store::Attempt> attempts = store_->GetAttempts(run_.id, "Pay");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, store::TestStatus::kFailed);
  ASSERT_EQ(attempts[0].failures.size(), 1u);
  EXPECT_EQ(attempts[0].failures[0].line, 42);
  ASSERT_EQ(attempts[0].lines.size(), 2u);
  EXPECT_EQ(attempts[0].lines[0].kind, store::LineKind::kOutput);
  EXPECT_EQ(attempts[0].lines[0].text, "paying");
  EXPECT_EQ(attempts[0].lines[1].kind, store::LineKind::kFailure);
  EXPECT_EQ(attempts[0].lines[1].text, "card declined");
  EXPECT_EQ(attempts[0].lines[1].line, 42);
  EXPECT_EQ(store::ShownText(attempts[0].lines[1]), "pay_test.cc:42: card declined");
  EXPECT_EQ(attempts[1].status, store::TestStatus::kPassed);
  EXPECT_EQ(attempts[1].values, (store::KeyValues{{"order", "A-1"}}));

  std::lock_guard lock(mu_);
  ASSERT_FALSE(events_.empty());
  for (std::size_t i = 0; i < events_.size(); ++i) EXPECT_EQ(events_[i].seq, static_cast<std::int64_t>(i + 1));
  EXPECT_EQ(store_->GetEvents(run_.id, 0, 1000).size(), events_.size());
  ASSERT_EQ(finished_.size(), 2u);
  EXPECT_EQ(finished_[0].row.name, "Pay/visa");
  EXPECT_FALSE(finished_[0].top_level);
  EXPECT_EQ(finished_[1].row.name, "Pay");
  EXPECT_EQ(finished_[1].values, (store::KeyValues{{"order", "A-1"}}));
  EXPECT_EQ(store::VerdictOf(finished_[1].row), (Verdict{Status::kPassed, false, true}));
}

TEST_F(RunRecorderTest, StopRecordingDropsEverythingAfterwards) {
  Emit(Make(EventKind::kTestStarted, "Pay"));
  recorder_->Flush();
  recorder_->StopRecording();
  Event finished = Make(EventKind::kTestFinished, "Pay");
  finished.status = Status::kFailed;
  Emit(finished);
  recorder_->Flush();
  store_->Sync();
  // The test stays running: it runs again when the run resumes.
  EXPECT_EQ(store_->GetTests(run_.id)[0].status, store::TestStatus::kRunning);
}

TEST_F(RunRecorderTest, CancelUnfinishedReportsCancelledTestsAndRunUpdates) {
  Emit(Make(EventKind::kTestStarted, "Pay"));
  Emit(Make(EventKind::kAttemptFinished, "Pay"));
  Emit(Make(EventKind::kTestFinished, "Pay"));
  recorder_->Flush();
  store_->Sync();
  std::vector<store::TestRow> rows = store_->GetTests(run_.id);
  recorder_->CancelUnfinished(rows, "cancelled: the run was cancelled");
  // The caller's rows say what was committed: the run's totals are read from them.
  EXPECT_EQ(store::TotalsOf(rows), (Totals{.total = 3, .passed = 1, .cancelled = 2}));
  store::RunUpdate update;
  update.id = run_.id;
  update.status = store::RunStatus::kCancelled;
  update.finished_at_ns = 2'000'000'000;
  store::Run after = run_;
  after.status = store::RunStatus::kCancelled;
  recorder_->UpdateRun(update, after);
  store_->Sync();
  rows = store_->GetTests(run_.id);
  EXPECT_EQ(rows[0].status, store::TestStatus::kPassed);
  EXPECT_EQ(rows[1].status, store::TestStatus::kCancelled);
  EXPECT_EQ(rows[1].message, "cancelled: the run was cancelled");
  EXPECT_EQ(rows[2].status, store::TestStatus::kCancelled);
  EXPECT_EQ(store_->GetRun(run_.id)->status, store::RunStatus::kCancelled);
  std::lock_guard lock(mu_);
  // Observers hear of the cancelled tests as finished tests, like any other.
  ASSERT_EQ(finished_.size(), 3u);
  EXPECT_EQ(finished_[1].row.name, "Refund");
  EXPECT_EQ(finished_[1].row.status, store::TestStatus::kCancelled);
  EXPECT_EQ(finished_[2].row.name, "Later");
  EXPECT_TRUE(run_finished_);
  EXPECT_EQ(events_.back().type, "run");
  EXPECT_NE(events_.back().data.find("\"status\":\"cancelled\""), std::string::npos);
}

TEST_F(RunRecorderTest, StoredRunRendersAsGoJsonAndJunit) {
  Event started = Make(EventKind::kSuiteStarted, "");
  Emit(started);
  Emit(Make(EventKind::kTestStarted, "Pay"));
  Event fail = Make(EventKind::kFailure, "Pay");
  fail.text = "card declined";
  fail.file = "pay_test.cc";
  fail.line = 7;
  Emit(fail);
  Event done = Make(EventKind::kAttemptFinished, "Pay");
  done.status = Status::kFailed;
  Emit(done);
  Event fin = Make(EventKind::kTestFinished, "Pay");
  fin.status = Status::kFailed;
  Emit(fin);
  recorder_->Flush();
  store_->Sync();
  std::string json, junit;
  auto run = *store_->GetRun(run_.id);
  run.status = store::RunStatus::kFailed;
  ASSERT_TRUE(RenderStoredReport(run, store_->GetTests(run_.id), store_->GetAllAttempts(run_.id),
                                 "json", &json));
  EXPECT_NE(json.find(R"("Action":"fail","Package":"Checkout","Test":"Pay")"), std::string::npos) << json;
  EXPECT_NE(json.find("pay_test.cc:7: card declined"), std::string::npos) << json;
  ASSERT_TRUE(RenderStoredReport(run, store_->GetTests(run_.id), store_->GetAllAttempts(run_.id),
                                 "junit", &junit));
  EXPECT_NE(junit.find("<failure message=\"card declined\""), std::string::npos) << junit;
  EXPECT_FALSE(RenderStoredReport(run, {}, {}, "xml", &junit));
}

}  // namespace
}  // namespace handoff
