// How the engine answers when the store cannot write: 503 unavailable, never a conflict or
// a "not found", and never a run or schedule that was not stored. Over every store backend
// (tests/support/store_backends.h): the failures are injected, the answers otherwise the
// backend's own.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/serve_engine.h"
#include "engine/server_log.h"
#include "ingest/collect.h"
#include "ingest/report_events.h"
#include "result_testing.h"
#include "runner/registry.h"
#include "store/open_store.h"
#include "support/store_backends.h"

namespace handoff {
namespace {

using ::handoff::testing::EveryStoreBackend;
using ::handoff::testing::StoreBackendName;

// A store whose synchronous writes fail, as on a full disk, while `failing` is set.
// Everything else goes to the real store `inner`.
class FailingStore : public store::Store {
 public:
  explicit FailingStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}

  std::atomic<bool> failing{false};
  std::atomic<int> probes{0};  // ProbeWrite calls: the engine probes once as it starts
  // Batched writes (Write) commit while fewer than this many were made since it was set;
  // the later ones fail, as a disk that fills in the middle of a run. -1: no limit.
  std::atomic<int> writes_left{-1};
  // DeleteRun fails too (a store that cannot write at all).
  std::atomic<bool> deletes_fail{false};
  store::Store& inner() { return *inner_; }

  // store::Store
  Result<store::CreatedRun> CreateRun(store::Run run,
                                      const std::vector<std::string>& names) override {
    if (failing) return Full();
    return inner_->CreateRun(std::move(run), names);
  }
  void Write(store::WriteBatch batch, std::function<void(bool)> done) override {
    if (writes_left.load() >= 0 && writes_left.fetch_sub(1) <= 0) {
      writes_left.store(0);
      if (done) done(false);
      return;
    }
    if (failing) {
      if (done) done(false);
      return;
    }
    inner_->Write(std::move(batch), std::move(done));
  }
  void Sync() override { inner_->Sync(); }
  std::optional<store::Run> GetRun(std::int64_t id) override { return inner_->GetRun(id); }
  std::vector<store::Run> ListRuns(const store::RunQuery& q) override {
    return inner_->ListRuns(q);
  }
  std::vector<store::Run> RunsWithStatus(const std::vector<store::RunStatus>& s) override {
    return inner_->RunsWithStatus(s);
  }
  std::vector<store::Run> LastRuns(const std::string& suite, int limit) override {
    return inner_->LastRuns(suite, limit);
  }
  std::vector<store::TestRow> GetTests(std::int64_t id) override { return inner_->GetTests(id); }
  std::vector<store::Attempt> GetAttempts(std::int64_t id, const std::string& test) override {
    return inner_->GetAttempts(id, test);
  }
  std::vector<store::Attempt> GetAllAttempts(std::int64_t id) override {
    return inner_->GetAllAttempts(id);
  }
  std::vector<store::RunEvent> GetEvents(std::int64_t id, std::int64_t after, int limit) override {
    return inner_->GetEvents(id, after, limit);
  }
  std::int64_t LastEventSeq(std::int64_t id) override { return inner_->LastEventSeq(id); }
  Result<void> PutSchedule(const store::StoredSchedule& s) override {
    if (failing) return Full();
    return inner_->PutSchedule(s);
  }
  Result<void> UpdateSchedulePaused(const std::string& name, bool paused) override {
    if (failing) return Full();
    return inner_->UpdateSchedulePaused(name, paused);
  }
  Result<void> DeleteSchedule(const std::string& name) override {
    if (failing) return Full();
    return inner_->DeleteSchedule(name);
  }
  std::vector<store::StoredSchedule> ListSchedules() override { return inner_->ListSchedules(); }
  std::int64_t DeleteRunsBefore(std::int64_t cutoff) override {
    return inner_->DeleteRunsBefore(cutoff);
  }
  Result<void> DeleteRun(std::int64_t id) override {
    if (failing || deletes_fail) return Full();
    return inner_->DeleteRun(id);
  }
  Result<void> AddIngestedSuite(const store::IngestedSuite& suite) override {
    if (failing) return Full();
    return inner_->AddIngestedSuite(suite);
  }
  std::vector<store::IngestedSuite> ListIngestedSuites() override {
    return inner_->ListIngestedSuites();
  }
  Result<void> ProbeWrite() override {
    // Counted once its answer is decided, so a failure set after the count is not seen.
    Result<void> answer = failing ? Result<void>(Error{ErrorCode::kUnavailable, "disk full"})
                                  : Result<void>();
    probes.fetch_add(1);
    return answer;
  }

 private:
  static Error Full() { return Error{ErrorCode::kUnavailable, "database or disk is full"}; }

  std::unique_ptr<store::Store> inner_;
};

class ServeEngineStoreTest : public ::handoff::testing::StoreBackendTest {
 protected:
  void SetUp() override {
    StoreBackendTest::SetUp();  // opens store_ on this test's backend
    if (IsSkipped() || HasFatalFailure()) return;
    failing_store_ = std::make_unique<FailingStore>(std::move(store_));
    Suite suite;
    suite.name = "Shop";
    suite.tests.push_back(handoff::Test{.name = "Pays", .fn = [](handoff::T&) {}});
    catalog_.suites.push_back(std::move(suite));
    StartEngine();
  }
  // Starts a new engine on the failing store (after the test shut the last one down).
  void StartEngine() {
    failing_store_->probes = 0;
    ServeOptions options;
    // Readiness turns red at the failure and stays so for the test: no probe in between.
    options.store_probe_interval = std::chrono::hours(1);
    engine_ = std::make_unique<ServeEngine>(catalog_, *failing_store_, log_,
                                            std::vector<Schedule>{},
                                            std::vector<std::shared_ptr<Hook>>{}, options);
    std::string error;
    ASSERT_TRUE(engine_->Start(&error)) << error;
    // The probe the engine makes as it starts must not see a failure a test sets up (it
    // would overwrite the reason readiness gives with its own).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (failing_store_->probes.load() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_GT(failing_store_->probes.load(), 0);
  }
  void TearDown() override {
    if (engine_) engine_->Shutdown(std::chrono::milliseconds(0));
    engine_.reset();
    failing_store_.reset();
    StoreBackendTest::TearDown();
    std::fclose(log_file_);
  }

  store::StoredSchedule Nightly(const std::string& name = "nightly") {
    return {name, "Shop", "@daily", "", "", false, 0};
  }

  std::FILE* log_file_ = std::fopen("/dev/null", "w");
  ServerLog log_{false, log_file_};
  Catalog catalog_;
  std::unique_ptr<FailingStore> failing_store_;
  std::unique_ptr<ServeEngine> engine_;
};

TEST_P(ServeEngineStoreTest, AScheduleThatCannotBeStoredIsUnavailableNotAConflict) {
  failing_store_->failing = true;
  Result<void> created = engine_->CreateSchedule(Nightly());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(created.error().message.find("the store cannot write"), std::string::npos)
      << created.error().message;
  EXPECT_TRUE(engine_->Schedules().empty());  // not kept by the server either
  EXPECT_FALSE(engine_->Ready());
  EXPECT_NE(engine_->NotReadyReason().find("nightly"), std::string::npos)
      << engine_->NotReadyReason();

  failing_store_->failing = false;
  created = engine_->CreateSchedule(Nightly());
  EXPECT_TRUE(created.ok()) << created.error().message;
  ASSERT_EQ(failing_store_->inner().ListSchedules().size(), 1u);
}

TEST_P(ServeEngineStoreTest, ANameTheStoreHasAlreadyIsAConflict) {
  // Stored behind the server's back (another replica, a restored backup): the store's
  // answer, not a failure.
  ASSERT_TRUE(failing_store_->inner().PutSchedule(Nightly("taken")).ok());
  const Result<void> created = engine_->CreateSchedule(Nightly("taken"));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kConflict);
  EXPECT_EQ(created.error().message, "a schedule named \"taken\" already exists");
  EXPECT_TRUE(engine_->Ready());
}

TEST_P(ServeEngineStoreTest, PausesAndDeletionsThatCannotBeStoredAreUnavailable) {
  const Result<void> created = engine_->CreateSchedule(Nightly());
  ASSERT_TRUE(created.ok()) << created.error().message;
  failing_store_->failing = true;
  const Result<void> paused = engine_->PauseSchedule("nightly", true);
  ASSERT_FALSE(paused.ok());
  EXPECT_EQ(paused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(paused.error().message.find("the store cannot write"), std::string::npos)
      << paused.error().message;
  const Result<void> deleted = engine_->DeleteSchedule("nightly");
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(deleted.error().message.find("the store cannot write"), std::string::npos)
      << deleted.error().message;
  // Unchanged, here and in the store.
  ASSERT_EQ(engine_->Schedules().size(), 1u);
  EXPECT_FALSE(engine_->Schedules()[0].paused);
  ASSERT_EQ(failing_store_->inner().ListSchedules().size(), 1u);
  EXPECT_FALSE(failing_store_->inner().ListSchedules()[0].paused);
  // A name nobody has is still "not found", failing store or not.
  const Result<void> nope = engine_->PauseSchedule("nope", true);
  ASSERT_FALSE(nope.ok());
  EXPECT_EQ(nope.error().code, ErrorCode::kNotFound);
}

TEST_P(ServeEngineStoreTest, ARunThatCannotBeStoredIsUnavailableAndNothingIsQueued) {
  failing_store_->failing = true;
  RunRequest request;
  request.suite = "Shop";
  const Result<TriggeredRun> result = engine_->Trigger(request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(result.error().message.find("nothing was queued"), std::string::npos)
      << result.error().message;
  EXPECT_TRUE(failing_store_->inner().ListRuns({}).empty());
  EXPECT_FALSE(engine_->Ready());
}

// A go test -json stream of package shop: TestPay fails at pay_test.go:12, TestCart passes.
constexpr std::string_view kGoReport =
    R"({"Time":"2026-12-05T10:00:00Z","Action":"run","Package":"shop","Test":"TestPay"}
{"Time":"2026-12-05T10:00:01Z","Action":"output","Package":"shop","Test":"TestPay","Output":"    pay_test.go:12: declined\n"}
{"Time":"2026-12-05T10:00:01Z","Action":"fail","Package":"shop","Test":"TestPay","Elapsed":1}
{"Time":"2026-12-05T10:00:01Z","Action":"run","Package":"shop","Test":"TestCart"}
{"Time":"2026-12-05T10:00:02Z","Action":"pass","Package":"shop","Test":"TestCart","Elapsed":0.5}
{"Time":"2026-12-05T10:00:02Z","Action":"fail","Package":"shop","Elapsed":2}
)";

IngestRequest GoIngest(const std::string& suite) {
  Result<ingest::CollectedRun> read =
      ingest::CollectReports({{"", ingest::ReportFormat::kGoTestJson, kGoReport}}, NowNs());
  EXPECT_TRUE(read.ok()) << read.error().message;
  IngestRequest request;
  request.suite = suite;
  request.reference = "abc123";
  if (!read.ok()) return request;
  request.events = read->events;
  request.tests = read->tests;
  request.started_at_ns = read->started_at_ns;
  request.finished_at_ns = read->finished_at_ns;
  request.suite_failed = read->suite_failed;
  return request;
}

TEST_P(ServeEngineStoreTest, AnIngestedReportIsAFinishedRunOfASuiteItCreates) {
  const Result<store::Run> run = engine_->Ingest(GoIngest("go.shop"));
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->status, store::RunStatus::kFailed);
  EXPECT_EQ(run->trigger, store::Trigger::kIngest);
  EXPECT_EQ(run->reference, "abc123");
  ASSERT_TRUE(run->totals);
  EXPECT_EQ(run->totals->total, 2);
  EXPECT_EQ(run->totals->failed, 1);
  // The report's times, not the ingest's.
  EXPECT_EQ(run->started_at_ns, *ingest::ParseRfc3339("2026-12-05T10:00:00Z"));
  EXPECT_EQ(run->finished_at_ns, *ingest::ParseRfc3339("2026-12-05T10:00:02Z"));
  const std::vector<store::TestRow> rows = failing_store_->inner().GetTests(run->id);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].name, "TestPay");
  EXPECT_EQ(rows[0].status, store::TestStatus::kFailed);
  EXPECT_EQ(rows[0].message, "pay_test.go:12: declined");
  EXPECT_EQ(rows[0].duration_ms, 1000);
  EXPECT_EQ(rows[1].name, "TestCart");
  EXPECT_EQ(rows[1].status, store::TestStatus::kPassed);

  // The suite is listed after the binary's, and has nothing to run.
  const std::vector<SuiteInfo> suites = engine_->Suites();
  ASSERT_EQ(suites.size(), 2u);
  EXPECT_EQ(suites[1].name, "go.shop");
  EXPECT_TRUE(suites[1].ingest_only);
  EXPECT_FALSE(suites[0].ingest_only);
  RunRequest trigger;
  trigger.suite = "go.shop";
  const Result<TriggeredRun> triggered = engine_->Trigger(trigger);
  ASSERT_FALSE(triggered.ok());
  EXPECT_EQ(triggered.error().code, ErrorCode::kConflict);
  EXPECT_NE(triggered.error().message.find(
                "suite \"go.shop\" only has ingested runs: it has no command to run"),
            std::string::npos)
      << triggered.error().message;
  store::StoredSchedule schedule = Nightly();
  schedule.suite = "go.shop";
  const Result<void> scheduled = engine_->CreateSchedule(schedule);
  ASSERT_FALSE(scheduled.ok());
  EXPECT_EQ(scheduled.error().code, ErrorCode::kConflict);
  const Result<store::Run> retried = engine_->Retry(run->id, true, "me");
  ASSERT_FALSE(retried.ok());
  EXPECT_EQ(retried.error().code, ErrorCode::kConflict);
  EXPECT_EQ(failing_store_->inner().ListRuns({}).size(), 1u);

  // A declared suite takes reports too, and stays the binary's.
  const Result<store::Run> declared = engine_->Ingest(GoIngest("Shop"));
  ASSERT_TRUE(declared.ok()) << declared.error().message;
  EXPECT_EQ(engine_->Suites().size(), 2u);
  EXPECT_TRUE(engine_->Ready());

  IngestRequest bad = GoIngest("no/slash");
  const Result<store::Run> refused = engine_->Ingest(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalid);
}

TEST_P(ServeEngineStoreTest, AnIngestWhoseWritesFailLeavesNoRunAndIsUnavailable) {
  // Whichever write fails (the run's start, its tests, its end), nothing of it remains.
  for (int writes = 0; writes < 3; ++writes) {
    SCOPED_TRACE(writes);
    failing_store_->writes_left = writes;
    const Result<store::Run> run = engine_->Ingest(GoIngest("go.shop"));
    ASSERT_FALSE(run.ok());
    EXPECT_EQ(run.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(run.error().message.find("nothing of it was kept"), std::string::npos)
        << run.error().message;
    EXPECT_TRUE(failing_store_->inner().ListRuns({}).empty());
    EXPECT_FALSE(engine_->Ready());
  }
  failing_store_->writes_left = -1;
  EXPECT_TRUE(engine_->Ingest(GoIngest("go.shop")).ok());
}

TEST_P(ServeEngineStoreTest, AnIngestLeftUnfinishedIsDeletedAtTheNextStart) {
  failing_store_->writes_left = 1;
  failing_store_->deletes_fail = true;
  ASSERT_FALSE(engine_->Ingest(GoIngest("go.shop")).ok());
  // Not deleted: it stays, unfinished, until the server starts again.
  ASSERT_EQ(failing_store_->inner().ListRuns({}).size(), 1u);
  engine_->Shutdown(std::chrono::milliseconds(0));
  failing_store_->writes_left = -1;
  failing_store_->deletes_fail = false;
  StartEngine();
  EXPECT_TRUE(failing_store_->inner().ListRuns({}).empty());
  // The suite the report created stays.
  EXPECT_EQ(failing_store_->inner().ListIngestedSuites().size(), 1u);
}

TEST_P(ServeEngineStoreTest, AnIngestedSuiteThatCannotBeStoredIsUnavailable) {
  failing_store_->failing = true;
  const Result<store::Run> run = engine_->Ingest(GoIngest("go.shop"));
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(failing_store_->inner().ListIngestedSuites().empty());
  EXPECT_TRUE(failing_store_->inner().ListRuns({}).empty());
  EXPECT_EQ(engine_->Suites().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(ServeEngineStore, ServeEngineStoreTest, EveryStoreBackend(),
                         StoreBackendName);

}  // namespace
}  // namespace handoff
