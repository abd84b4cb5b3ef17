// `db migrate`'s copy (store/store_migrate.h): a SQLite store copied into PostgreSQL reads
// back alike through the store contract, old rows included, and a copy that cannot be
// made whole changes nothing.

#include "store/store_migrate.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "result_testing.h"
#include "store/open_store.h"
#include "store/run_json.h"
#include "support/postgres_cluster.h"
#include "support/store_test_data.h"
#include "support/temp_dir.h"

namespace handoff::store {
namespace {

using ::handoff::testing::FullRun;
using ::handoff::testing::PostgresTestDatabase;
using ::handoff::testing::ValueOf;
using ::handoff::testing::WriteAndWait;

// Everything the contract shows of a store, as one text: every run with its tests,
// attempts (with their lines), journal and deliveries, and every schedule.
std::string Everything(Store& store) {
  std::string out;
  RunQuery query;
  query.limit = 1000;
  for (const store::Run& listed : store.ListRuns(query)) {
    const std::optional<store::Run> run = store.GetRun(listed.id);
    if (!run) return "run " + std::to_string(listed.id) + " does not read back";
    const std::vector<TestRow> tests = store.GetTests(run->id);
    AppendRunJson(out, *run, &tests);
    out += fmt::format("\nsecret={} idempotency={} values={}\n", fmt::join(run->secret_params, ","),
                       run->idempotency_key, run->values.size());
    for (const Attempt& a : store.GetAllAttempts(run->id)) {
      out += fmt::format("attempt {} #{} {} {} {}ms failures={} skip={} values={} spans={}\n",
                         a.test, a.attempt, TestStatusName(a.status), a.started_at_ns,
                         a.duration_ms, a.failures.size(), a.skip_reason, a.values.size(),
                         a.spans.size());
      for (const OutputLine& line : a.lines) {
        out += fmt::format("  {} {} {}:{} {} [{}]\n", static_cast<int>(line.kind), line.time_ns,
                           line.file, line.line, line.text, line.key);
      }
    }
    const Result<std::vector<AttachmentInfo>> files = store.ListAttachments(run->id, std::nullopt);
    if (!files.ok()) return "attachments of run " + std::to_string(run->id) + " do not read";
    for (const AttachmentInfo& f : *files) {
      const Result<std::optional<StoredAttachment>> file =
          store.GetAttachment(run->id, f.test, f.attempt, f.name);
      out += fmt::format("attachment {} #{} {} {} {} {}\n", f.test, f.attempt, f.name,
                         f.media_type, f.size,
                         file.ok() && file->has_value() ? (*file)->data : "<unreadable>");
    }
    for (const RunEvent& e : store.GetEvents(run->id, 0, 100000)) {
      out += fmt::format("event {} {} {}\n", e.seq, e.type, e.data);
    }
    for (const Delivery& d : store.RunDeliveries(run->id)) {
      out += fmt::format("delivery {} {} {} {} {} {} {}\n", d.id, d.destination, d.event,
                         DeliveryStateName(d.state), d.attempts, d.last_error, d.progress);
    }
  }
  for (const IngestedSuite& s : store.ListIngestedSuites()) {
    out += fmt::format("ingested suite {} {}\n", s.name, s.created_at_ns);
  }
  for (const StoredSchedule& s : store.ListSchedules()) {
    out += fmt::format("schedule {} {} {} {} {} {} hunt {} {} {}\n", s.name, s.suite, s.spec,
                       s.time_zone, s.filter, s.paused, s.hunt_repeat, s.hunt_until_failure,
                       s.hunt_max_duration_ms);
  }
  for (const Hunt& h : store.ListHunts(HuntQuery{})) {
    const std::optional<HuntRuns> runs = store.CountHuntRuns(h.id);
    out += fmt::format("hunt {} {} {} {} {} {} {} {} params={} secret={} runs={} failed={}\n",
                       h.id, h.suite, HuntStatusName(h.status), h.repeat, h.until_failure,
                       h.max_duration_ms, h.created_at_ns, h.error, h.params.size(),
                       fmt::join(h.secret_params, ","), runs ? runs->runs : -1,
                       runs ? runs->first_failed_run : -1);
  }
  for (const Delivery& d : store.PendingDeliveries("hook", 100)) {
    out += "pending " + d.id + " " + d.payload + "\n";
  }
  return out;
}

class StoreMigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HANDOFF_NEED_POSTGRES();
    target_ = ValueOf(PostgresTestDatabase::Create());
    ASSERT_NE(target_, nullptr);
  }

  std::string Source() const { return "sqlite:" + (dir_.path() / "h.db").string(); }

  // Fills the SQLite store with one run of every kind of row, and an attempt kept as text
  // by a server older than typed lines (schema 3).
  void FillSource() {
    OpenOptions options;
    options.now_ns = [] { return std::int64_t{1'700'000'000'000'000'000}; };
    std::unique_ptr<Store> store = ValueOf(OpenStore(Source(), options));
    ASSERT_NE(store, nullptr);
    const store::Run full = ValueOf(store->CreateRun(FullRun(), {"TestPay", "TestCart"})).run;
    store::Run plain;
    plain.suite = "search";
    const store::Run second = ValueOf(store->CreateRun(plain, {"TestFind"})).run;
    WriteBatch batch;
    RunUpdate finished;
    finished.id = full.id;
    finished.status = RunStatus::kFailed;
    finished.finished_at_ns = 99;
    batch.run_updates.push_back(finished);
    TestRow pay = ::handoff::testing::Row("TestPay", TestStatus::kFailed, 2);
    static constexpr char kMessage[] = "pay.cc:3: bad \xff byte\0here";
    pay.message = std::string(kMessage, sizeof kMessage - 1);
    pay.seq = 3;
    batch.tests.emplace_back(full.id, pay);
    batch.tests.emplace_back(full.id, ::handoff::testing::Row("TestPay/Sub", TestStatus::kPassed));
    Attempt attempt;
    attempt.test = "TestPay";
    attempt.attempt = 2;
    attempt.status = TestStatus::kFailed;
    attempt.started_at_ns = 1000;
    attempt.lines = {OutputLine{.kind = LineKind::kOutput, .time_ns = 1001, .text = "out"},
                     OutputLine{.kind = LineKind::kFailure, .time_ns = 1002, .text = "bad",
                                .file = "pay.cc", .line = 3, .key = "crash"}};
    attempt.failures = {Failure{"bad", "pay.cc", 3}};
    attempt.values = {{"k", "v"}};
    attempt.spans = {Span{"db", 1, 2, {{"a", "b"}}}};
    batch.attempts.emplace_back(full.id, attempt);
    batch.events.emplace_back(full.id, ::handoff::testing::Event(1, "run"));
    batch.events.emplace_back(full.id, ::handoff::testing::Event(2, "log"));
    Delivery pending;
    pending.id = "msg_pending";
    pending.run_id = full.id;
    pending.suite = full.suite;
    pending.destination = "hook";
    pending.plugin = "webhook";
    pending.event = "run.finished";
    pending.payload = "{\"x\":1}";
    pending.created_at_ns = 5;
    Delivery delivered = pending;
    delivered.id = "msg_done";
    delivered.event = "run.started";
    delivered.created_at_ns = 4;
    batch.deliveries = {pending, delivered};
    batch.attachments.emplace_back(
        full.id, StoredAttachment{{"TestPay", 2, "response.json", "application/json", 9},
                                  "{\"a\":\"\xff\"}"});
    batch.attachments.emplace_back(
        full.id, StoredAttachment{{"TestPay", 2, "shot.png", "image/png", 4}, std::string("\x89PNG", 4)});
    ASSERT_TRUE(WriteAndWait(*store, std::move(batch)));
    ASSERT_TRUE(store->UpdateDelivery({"msg_done", DeliveryState::kDelivered, 1, 0, 6, "", "ts=1"}).ok());
    ASSERT_TRUE(store->PutSchedule({"nightly", "search", "0 3 * * *", "Europe/Berlin", "^Test", true, 7}).ok());
    ASSERT_TRUE(store->AddIngestedSuite({"pytest-cart", 8}).ok());
    ASSERT_TRUE(store->AddIngestedSuite({"go.shop", 9}).ok());
    StoredSchedule hunting{"hunting", "search", "@every 1h", "", "", false, 10};
    hunting.hunt_repeat = 20;
    hunting.hunt_until_failure = true;
    ASSERT_TRUE(store->PutSchedule(hunting).ok());
    Hunt hunt;
    hunt.suite = "search";
    hunt.repeat = 50;
    hunt.until_failure = true;
    hunt.params = {{"TOKEN", "s3cret"}};
    hunt.secret_params = {"TOKEN"};
    ASSERT_TRUE(store->CreateHunt(hunt).ok());
    store.reset();

    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_.path() / "h.db").c_str(), &db), SQLITE_OK);
    const std::string old_attempt =
        "INSERT INTO attempts (run_id, test, attempt, status, started_at, output, failures) "
        "VALUES (" + std::to_string(second.id) + ", 'TestFind', 1, 'failed', 500, "
        "'hello' || char(10) || 'b_test.cc:3: flaked', x'0106666c616b656409625f746573742e636306');";
    ASSERT_EQ(sqlite3_exec(db, old_attempt.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  ::handoff::testing::TempDir dir_;
  std::unique_ptr<PostgresTestDatabase> target_;
};

TEST_F(StoreMigrateTest, EveryRowArrivesAndReadsBackAlike) {
  FillSource();
  std::vector<std::string> told;
  const MigrationReport report = ValueOf(MigrateSqliteToPostgres(
      Source(), target_->url(), [&](const TableCopied& t) { told.push_back(t.table); }));
  EXPECT_EQ(told, (std::vector<std::string>{"runs", "run_plans", "tests", "attempts",
                                            "run_events", "schedules", "deliveries",
                                            "attachments", "ingested_suites", "hunts"}));
  std::map<std::string, std::int64_t> rows;
  for (const TableCopied& t : report.tables) rows[t.table] = t.rows;
  EXPECT_EQ(rows["runs"], 2);
  EXPECT_EQ(rows["attempts"], 2);
  EXPECT_EQ(rows["deliveries"], 2);
  EXPECT_EQ(rows["schedules"], 2);
  EXPECT_EQ(rows["hunts"], 1);
  EXPECT_EQ(rows["attachments"], 2);
  EXPECT_EQ(rows["ingested_suites"], 2);

  std::unique_ptr<Store> sqlite = ValueOf(OpenStore(Source()));
  std::unique_ptr<Store> pg = ValueOf(OpenStore(target_->url()));
  ASSERT_NE(sqlite, nullptr);
  ASSERT_NE(pg, nullptr);
  const std::string want = Everything(*sqlite);
  EXPECT_NE(want.find("hello"), std::string::npos) << "the old attempt's text is shown";
  EXPECT_NE(want.find("msg_pending"), std::string::npos);
  EXPECT_NE(want.find("ingested suite go.shop 9\ningested suite pytest-cart 8\n"),
            std::string::npos)
      << want;
  EXPECT_NE(want.find("attachment TestPay #2 shot.png image/png 4"), std::string::npos) << want;
  EXPECT_NE(want.find("schedule hunting search @every 1h   false hunt 20 true 0"), std::string::npos)
      << want;
  EXPECT_NE(want.find("hunt 1 search running 50 true 0"), std::string::npos) << want;
  EXPECT_EQ(Everything(*pg), want);
  // Ids go on after the copied ones: a run is never renumbered, nor an id reused.
  store::Run next;
  next.suite = "search";
  EXPECT_EQ(ValueOf(pg->CreateRun(next, {})).run.id, 3);
}

TEST_F(StoreMigrateTest, ATargetThatHoldsRunsIsRefusedAndKeptAsItWas) {
  FillSource();
  {
    std::unique_ptr<Store> pg = ValueOf(OpenStore(target_->url()));
    ASSERT_NE(pg, nullptr);
    store::Run mine;
    mine.suite = "mine";
    ValueOf(pg->CreateRun(mine, {}));
  }
  Result<MigrationReport> refused = MigrateSqliteToPostgres(Source(), target_->url());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("migrate into an empty database"), std::string::npos)
      << refused.error().message;
  std::unique_ptr<Store> pg = ValueOf(OpenStore(target_->url()));
  RunQuery all;
  const std::vector<store::Run> runs = pg->ListRuns(all);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].suite, "mine");
}

TEST_F(StoreMigrateTest, AStoreBeingServedIsNotCopied) {
  FillSource();
  std::unique_ptr<StoreOwnership> served = ValueOf(AcquireStoreOwnership(Source()));
  ASSERT_NE(served, nullptr);
  Result<MigrationReport> refused = MigrateSqliteToPostgres(Source(), target_->url());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("--from: "), std::string::npos) << refused.error().message;
  served.reset();
  std::unique_ptr<StoreOwnership> target_served = ValueOf(AcquireStoreOwnership(target_->url()));
  refused = MigrateSqliteToPostgres(Source(), target_->url());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("--to: "), std::string::npos) << refused.error().message;
}

TEST_F(StoreMigrateTest, UrlsOfTheWrongKindAreRefused) {
  EXPECT_EQ(MigrateSqliteToPostgres("sqlite::memory:", target_->url()).error().code,
            ErrorCode::kInvalid);
  EXPECT_EQ(MigrateSqliteToPostgres(target_->url(), Source()).error().code, ErrorCode::kInvalid);
  const Result<MigrationReport> missing =
      MigrateSqliteToPostgres("sqlite:/nonexistent/h.db", target_->url());
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalid);
  EXPECT_NE(missing.error().message.find("/nonexistent/h.db"), std::string::npos);
}

}  // namespace
}  // namespace handoff::store
