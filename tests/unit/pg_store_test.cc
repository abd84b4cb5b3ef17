// PostgreSQL-only behaviour of the PostgreSQL store: URLs without passwords, the schema's
// migrations, connections that come and go, and the lease of one server per database. The
// Store contract itself is tested for every backend by the store suites.
//
// Needs a PostgreSQL server: the throwaway cluster of support/postgres_cluster.h, or the
// one HANDOFF_TEST_POSTGRES_URL names. Without one these tests are skipped, or fail when
// HANDOFF_REQUIRE_POSTGRES=1 (CI). Each test has a database of its own, dropped after it.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "result_testing.h"
#include "store/open_store.h"
#include "store/pg_db.h"
#include "store/pg_ownership.h"
#include "store/pg_store.h"
#include "store/pg_url.h"
#include "store/store_log.h"
#include "support/postgres_cluster.h"

namespace handoff::store {
namespace {

// What versions 9 (hold on failure), 8 (hunts), 7 (ingested suites), 6 (attachments), 5
// (the tests' changes) and 4 (trace ids) added, undone: the start of each test of an upgrade
// from an older version.
constexpr const char* kBackToVersion4 =
    "ALTER TABLE runs DROP COLUMN hold, DROP COLUMN hold_on_failure, DROP COLUMN release_requested; "
    "DROP TABLE hunts; ALTER TABLE runs DROP COLUMN hunt_id; ALTER TABLE schedules "
    "DROP COLUMN hunt_repeat, DROP COLUMN hunt_until_failure, DROP COLUMN hunt_max_duration_ms; "
    "DROP TABLE ingested_suites; DROP TABLE attachments; DROP INDEX tests_by_test; ALTER TABLE tests DROP COLUMN change, DROP COLUMN since_run, "
    "DROP COLUMN since_reference, DROP COLUMN since_at; ";
constexpr const char* kTraceIdsDropped =
    "ALTER TABLE tests DROP COLUMN trace_id; ALTER TABLE attempts DROP COLUMN trace_id; ";

using ::handoff::testing::ValueOf;
using namespace std::chrono_literals;

TEST(PgUrlTest, PasswordsNeverShow) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"postgres://alice:s3cret@db.example:5432/handoff",
       "postgres://alice@db.example:5432/handoff"},
      {"postgresql://alice:s3cret@db/handoff?sslmode=require",
       "postgresql://alice@db/handoff?sslmode=require"},
      {"postgres://alice@db/handoff", "postgres://alice@db/handoff"},
      {"postgres://db/handoff", "postgres://db/handoff"},
      {"postgres://alice:@db", "postgres://alice@db"},
      {"postgres://alice:p%40ss@db/h", "postgres://alice@db/h"},
      {"postgres://alice:p@ss@db/h", "postgres://alice@db/h"},  // an unescaped '@'
      {"postgres://alice:pw@h1:5432,h2:5433/h?target_session_attrs=any",
       "postgres://alice@h1:5432,h2:5433/h?target_session_attrs=any"},
      {"postgres://db/h?password=s3cret", "postgres://db/h"},
      {"postgres://db/h?sslmode=require&password=s3cret&connect_timeout=5",
       "postgres://db/h?sslmode=require&connect_timeout=5"},
      {"postgres://db/h?password=s3cret#frag", "postgres://db/h"},  // libpq: no fragments
      {"postgres://db/h#x?password=s3cret", "postgres://db/h#x"},
      {"postgres://u:pw@[::1]:5432/h", "postgres://u@[::1]:5432/h"},
      {"postgres://", "postgres://"},
      {"host=db password=s3cret", "host=db "},
  };
  for (const auto& [url, shown] : cases) {
    EXPECT_EQ(PostgresUrlWithoutPassword(url), shown) << url;
  }
  EXPECT_TRUE(IsPostgresUrl("postgres://h/d"));
  EXPECT_TRUE(IsPostgresUrl("postgresql://h/d"));
  EXPECT_FALSE(IsPostgresUrl("sqlite:x.db"));
  EXPECT_FALSE(IsPostgresUrl("postgres:/h"));
}

TEST(PgUrlTest, AnUnreachableServerIsUnavailableWithoutThePassword) {
  // Port 1 on the loopback: refused at once, no server needed.
  const std::string url = "postgres://alice:s3cret@127.0.0.1:1/handoff?connect_timeout=2";
  Result<std::unique_ptr<Store>> opened = OpenStore(url);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(opened.error().message.find(
                "cannot connect to database \"postgres://alice@127.0.0.1:1/handoff"),
            std::string::npos)
      << opened.error().message;
  EXPECT_EQ(opened.error().message.find("s3cret"), std::string::npos) << opened.error().message;

  Result<std::unique_ptr<StoreOwnership>> owned = AcquireStoreOwnership(url);
  ASSERT_FALSE(owned.ok());
  EXPECT_EQ(owned.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(owned.error().message.find("s3cret"), std::string::npos) << owned.error().message;
}

TEST(PgUrlTest, BothSchemesAreAccepted) {
  EXPECT_NE(AcceptedStoreUrls().find("postgres://"), std::string::npos) << AcceptedStoreUrls();
  for (const char* url : {"postgres://127.0.0.1:1/x?connect_timeout=2",
                          "postgresql://127.0.0.1:1/x?connect_timeout=2"}) {
    Result<std::unique_ptr<Store>> opened = OpenStore(url);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable) << opened.error().message;
  }
}

// A database of its own for each test, on the tests' PostgreSQL server
// (support/postgres_cluster.h), and an administrator's connection to that server.
class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HANDOFF_NEED_POSTGRES();
    database_owner_ = ValueOf(::handoff::testing::PostgresTestDatabase::Create());
    ASSERT_NE(database_owner_, nullptr);
    database_ = database_owner_->name();
    url_ = database_owner_->url();
    const std::string& server_url = ::handoff::testing::PostgresServerUrl();
    admin_ = ValueOf(PgDb::Connect(server_url, PostgresUrlWithoutPassword(server_url)));
    ASSERT_NE(admin_, nullptr);
  }

  void TearDown() override {
    admin_.reset();
    database_owner_.reset();  // drops the database, with any connection still open to it
  }

  // A connection of the test's own to its database.
  std::unique_ptr<PgDb> Connect() { return ValueOf(PgDb::Connect(url_, "test database")); }

  // Runs `sql` on a connection of the test's own.
  void Exec(const std::string& sql) {
    std::unique_ptr<PgDb> db = Connect();
    ASSERT_NE(db, nullptr);
    PgResult r = db->ExecScript(sql);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.error();
  }

  std::int64_t QueryInt(const std::string& sql) {
    std::unique_ptr<PgDb> db = Connect();
    if (db == nullptr) return -1;
    PgResult r = db->Exec(sql);
    return r.rows() == 1 ? r.Int(0, 0) : -1;
  }

  std::unique_ptr<::handoff::testing::PostgresTestDatabase> database_owner_;
  std::string database_;
  std::string url_;
  std::unique_ptr<PgDb> admin_;
};

TEST_F(PgStoreTest, OpensThroughOpenStoreWithEitherScheme) {
  std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
  ASSERT_NE(store, nullptr);
  store::Run run;
  run.suite = "checkout";
  const CreatedRun created = ValueOf(store->CreateRun(run, {"TestA"}));
  EXPECT_TRUE(created.created);
  store.reset();
  ASSERT_TRUE(url_.starts_with("postgres://") || url_.starts_with("postgresql://"));
  const std::string other = url_.starts_with("postgres://")
                                ? "postgresql://" + url_.substr(std::string("postgres://").size())
                                : "postgres://" + url_.substr(std::string("postgresql://").size());
  store = ValueOf(OpenStore(other));
  ASSERT_NE(store, nullptr);
  std::optional<store::Run> read = store->GetRun(created.run.id);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->suite, "checkout");
}

TEST_F(PgStoreTest, NewerSchemaIsRefused) {
  ASSERT_NE(ValueOf(OpenStore(url_)), nullptr);
  const int newer = PgStore::SchemaVersion() + 5;
  Exec("INSERT INTO handoff_schema (version) VALUES (" + std::to_string(newer) + ")");

  Result<std::unique_ptr<Store>> opened = OpenStore(url_);
  ASSERT_FALSE(opened.ok());
  // As SQLite's: the database cannot be served by this build.
  EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
  const std::string& error = opened.error().message;
  EXPECT_NE(error.find("schema version " + std::to_string(newer)), std::string::npos) << error;
  EXPECT_NE(error.find(std::to_string(PgStore::SchemaVersion())), std::string::npos) << error;
  EXPECT_NE(error.find(PostgresUrlWithoutPassword(url_)), std::string::npos) << error;
  // Nothing was changed: the newer version is still the newest.
  EXPECT_EQ(QueryInt("SELECT max(version) FROM handoff_schema"), newer);
}

TEST_F(PgStoreTest, VersionTwoGainsTheIndexOfVerdictsAndKeepsItsRuns) {
  std::int64_t id = 0;
  {
    std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
    ASSERT_NE(store, nullptr);
    store::Run run;
    run.suite = "checkout";
    run.reference = "abc123";
    run.status = RunStatus::kFailed;
    id = ValueOf(store->CreateRun(run, {})).run.id;
  }
  // Version 2 is version 3 without runs_by_suite_reference.
  Exec(std::string(kBackToVersion4) + kTraceIdsDropped +
       "DROP INDEX runs_by_suite_reference; DELETE FROM handoff_schema WHERE version >= 3");
  ASSERT_EQ(QueryInt("SELECT count(*) FROM pg_indexes WHERE indexname = "
                     "'runs_by_suite_reference'"),
            0);

  std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryInt("SELECT max(version) FROM handoff_schema"), PgStore::SchemaVersion());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pg_indexes WHERE indexname = "
                     "'runs_by_suite_reference'"),
            1);
  ReferenceRuns runs = store->RunsOfReference("checkout", "abc123");
  ASSERT_TRUE(runs.finished);
  EXPECT_EQ(runs.finished->id, id);
  EXPECT_EQ(runs.finished->status, RunStatus::kFailed);

  // The planner reads a verdict down the index, without sorting, once it would not read the
  // whole (here tiny) table instead.
  std::unique_ptr<PgDb> db = Connect();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->ExecScript("SET enable_seqscan = off").ok());
  PgResult plan = db->Exec(
      "EXPLAIN SELECT id FROM runs WHERE suite = 'a' AND reference = 'b' "
      "AND status IN ('passed', 'failed', 'cancelled', 'error') ORDER BY id DESC LIMIT 1");
  std::string text;
  for (int row = 0; row < plan.rows(); ++row) text += std::string(plan.Text(row, 0)) + "\n";
  EXPECT_NE(text.find("runs_by_suite_reference"), std::string::npos) << text;
  EXPECT_EQ(text.find("Sort"), std::string::npos) << text;
}

TEST_F(PgStoreTest, VersionThreeGainsTraceIds) {
  std::int64_t id = 0;
  {
    std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
    ASSERT_NE(store, nullptr);
    store::Run run;
    run.suite = "checkout";
    id = ValueOf(store->CreateRun(run, {"A"})).run.id;
  }
  // Version 3 is version 4 without the trace ids.
  Exec(std::string(kBackToVersion4) + kTraceIdsDropped + "DELETE FROM handoff_schema WHERE version >= 4");
  std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryInt("SELECT max(version) FROM handoff_schema"), PgStore::SchemaVersion());
  WriteBatch batch;
  Attempt a;
  a.test = "A";
  a.attempt = 1;
  a.status = TestStatus::kFailed;
  a.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  batch.attempts.emplace_back(id, a);
  store->Write(batch);
  store->Sync();
  std::vector<Attempt> attempts = store->GetAttempts(id, "A");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].trace_id, a.trace_id);
}

TEST_F(PgStoreTest, VersionFourGainsTheTestsChangesAndTheirHistoryIndex) {
  std::int64_t id = 0;
  {
    std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
    ASSERT_NE(store, nullptr);
    store::Run run;
    run.suite = "checkout";
    id = ValueOf(store->CreateRun(run, {})).run.id;
  }
  Exec(std::string(kBackToVersion4) +
       "INSERT INTO tests (run_id, name, status) VALUES (" + std::to_string(id) +
       ", 'A', 'failed'); DELETE FROM handoff_schema WHERE version >= 5");
  std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryInt("SELECT max(version) FROM handoff_schema"), PgStore::SchemaVersion());
  // A row written before compares with nothing.
  const std::vector<TestRow> rows = store->GetTests(id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].change, TestChange::kNone);
  EXPECT_EQ(rows[0].failing_since.run_id, 0);
  TestHistoryQuery q;
  q.suite = "checkout";
  q.test = "A";
  ASSERT_EQ(store->TestHistory(q).size(), 1u);
  // A test's history is read down tests_by_test, newest run first, without sorting.
  std::unique_ptr<PgDb> db = Connect();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->ExecScript("SET enable_seqscan = off").ok());
  PgResult plan = db->Exec(
      "EXPLAIN SELECT t.run_id FROM tests t JOIN runs r ON r.id = t.run_id "
      "WHERE t.name = 'A'::bytea AND r.suite = 'checkout' ORDER BY t.run_id DESC LIMIT 50");
  std::string text;
  for (int row = 0; row < plan.rows(); ++row) text += std::string(plan.Text(row, 0)) + "\n";
  EXPECT_NE(text.find("tests_by_test"), std::string::npos) << text;
}

TEST_F(PgStoreTest, ConcurrentOpensMigrateOnce) {
  constexpr int kServers = 6;
  std::vector<std::unique_ptr<Store>> stores(kServers);
  std::vector<std::string> errors(kServers);
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      Result<std::unique_ptr<Store>> opened = OpenStore(url_);
      if (opened.ok()) {
        stores[i] = std::move(opened).value();
      } else {
        errors[i] = opened.error().message;
      }
    });
  }
  go = true;
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kServers; ++i) {
    EXPECT_NE(stores[i], nullptr) << errors[i];
  }
  // Each version applied once.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM handoff_schema"), PgStore::SchemaVersion());
  EXPECT_EQ(QueryInt("SELECT count(DISTINCT version) FROM handoff_schema"),
            PgStore::SchemaVersion());
  // And every store works on the one schema: ids are never shared.
  std::vector<std::int64_t> ids;
  for (auto& store : stores) {
    if (store == nullptr) continue;
    store::Run run;
    run.suite = "s";
    ids.push_back(ValueOf(store->CreateRun(run, {})).run.id);
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
}

TEST_F(PgStoreTest, ConcurrentCreatesWithOneKeyOnTwoStoresMakeOneRun) {
  // Two servers' stores (two connections, two writers): the unique index decides.
  std::unique_ptr<Store> one = ValueOf(OpenStore(url_));
  std::unique_ptr<Store> two = ValueOf(OpenStore(url_));
  ASSERT_TRUE(one && two);
  for (int round = 0; round < 20; ++round) {
    store::Run run;
    run.suite = "s";
    run.idempotency_key = "key-" + std::to_string(round);
    std::vector<CreatedRun> created(2);
    std::thread a([&] { created[0] = ValueOf(one->CreateRun(run, {"T"})); });
    std::thread b([&] { created[1] = ValueOf(two->CreateRun(run, {"T"})); });
    a.join();
    b.join();
    EXPECT_EQ(created[0].run.id, created[1].run.id);
    EXPECT_NE(created[0].created, created[1].created);
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM runs"), 20);
}

TEST_F(PgStoreTest, AnyBytesRoundTrip) {
  // Test names, messages and output come from test code: NUL bytes and invalid UTF-8
  // included. They are stored as bytes, and the batch commits.
  std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
  ASSERT_NE(store, nullptr);
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store->CreateRun(run, {})).run.id;
  static constexpr char kName[] = "Test/\xff\xfe sub\0name";
  const std::string name(kName, sizeof kName - 1);
  static constexpr char kMessage[] = "bad \xc3\x28 byte\0after";
  const std::string message(kMessage, sizeof kMessage - 1);
  WriteBatch batch;
  TestRow row;
  row.name = name;
  row.status = TestStatus::kFailed;
  row.attempt = 1;
  row.message = message;
  row.seq = 1;
  batch.tests.emplace_back(id, row);
  Attempt attempt;
  attempt.test = name;
  attempt.status = TestStatus::kFailed;
  attempt.lines.push_back(OutputLine{.text = message});
  attempt.failures.push_back(Failure{message, "f.cc", 3});
  attempt.skip_reason = message;
  batch.attempts.emplace_back(id, attempt);
  batch.events.emplace_back(id, RunEvent{2, "run", message});
  RunUpdate update;
  update.id = id;
  update.error = message;
  batch.run_updates.push_back(update);
  std::promise<bool> done;
  store->Write(batch, [&](bool ok) { done.set_value(ok); });
  ASSERT_TRUE(done.get_future().get());

  EXPECT_EQ(store->GetRun(id)->error, message);
  const std::vector<TestRow> rows = store->GetTests(id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].name, name);
  EXPECT_EQ(rows[0].message, message);
  const std::vector<Attempt> attempts = store->GetAttempts(id, name);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].lines, attempt.lines);
  EXPECT_EQ(attempts[0].skip_reason, message);
  const std::vector<RunEvent> events = store->GetEvents(id, 0, 10);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].data, message);
}

TEST_F(PgStoreTest, BatchesSharingAPipelineFailAlone) {
  // Batches queued together go in one pipeline; a bad one among them (a journal seq that
  // exists) is rolled back alone, and the ones after it still commit.
  std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
  ASSERT_NE(store, nullptr);
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store->CreateRun(run, {})).run.id;
  // The writer waits in this batch's callback while the others queue behind it.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  WriteBatch first;
  first.events.emplace_back(id, RunEvent{1, "run", "{}"});
  store->Write(first, [released](bool) { released.wait(); });
  constexpr int kBatches = 40;
  std::vector<std::promise<bool>> done(kBatches);
  for (int i = 0; i < kBatches; ++i) {
    WriteBatch batch;
    TestRow row;
    row.name = "Test" + std::to_string(i);
    row.status = TestStatus::kPassed;
    row.attempt = 1;
    batch.tests.emplace_back(id, row);
    // Batches 10 and 30 reuse seq 1, taken by the first batch.
    batch.events.emplace_back(id, RunEvent{i == 10 || i == 30 ? 1 : i + 2, "run", "{}"});
    store->Write(std::move(batch), [&done, i](bool ok) { done[i].set_value(ok); });
  }
  release.set_value();
  for (int i = 0; i < kBatches; ++i) {
    EXPECT_EQ(done[i].get_future().get(), i != 10 && i != 30) << "batch " << i;
  }
  const std::vector<TestRow> rows = store->GetTests(id);
  EXPECT_EQ(rows.size(), static_cast<std::size_t>(kBatches - 2));
  for (const TestRow& row : rows) {
    EXPECT_NE(row.name, "Test10");
    EXPECT_NE(row.name, "Test30");
  }
  EXPECT_EQ(store->GetEvents(id, 0, 100).size(), static_cast<std::size_t>(kBatches - 1));
}

TEST_F(PgStoreTest, ALostDatabaseFailsWritesAndReadsUntilItIsBack) {
  std::vector<std::string> errors;
  std::mutex mu;
  OpenOptions options;
  options.log = [&](LogLevel level, std::string_view message, std::string_view detail) {
    std::lock_guard lock(mu);
    if (level == LogLevel::kError) errors.push_back(std::string(message) + ": " + std::string(detail));
  };
  std::unique_ptr<Store> store = ValueOf(OpenStore(url_, options));
  ASSERT_NE(store, nullptr);
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store->CreateRun(run, {})).run.id;
  ASSERT_TRUE(store->ProbeWrite().ok());
  ASSERT_TRUE(store->GetRun(id).has_value());

  // Every connection to the database is cut, and no new one is let in.
  PgResult closed = admin_->ExecScript("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS false");
  ASSERT_TRUE(closed.ok()) << closed.error();
  PgResult cut = admin_->ExecScript(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + database_ +
      "' AND pid <> pg_backend_pid()");
  ASSERT_TRUE(cut.ok()) << cut.error();

  Result<void> probed = store->ProbeWrite();
  ASSERT_FALSE(probed.ok());
  EXPECT_EQ(probed.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(probed.error().message.find(database_), std::string::npos) << probed.error().message;
  Result<CreatedRun> refused = store->CreateRun(run, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  std::promise<bool> written;
  WriteBatch batch;
  batch.events.emplace_back(id, RunEvent{1, "run", "{}"});
  store->Write(batch, [&](bool ok) { written.set_value(ok); });
  EXPECT_FALSE(written.get_future().get());
  EXPECT_FALSE(store->GetRun(id).has_value());
  EXPECT_TRUE(store->ListRuns({}).empty());
  {
    std::lock_guard lock(mu);
    EXPECT_FALSE(errors.empty());
  }

  // Back: the store reconnects on its own.
  PgResult opened = admin_->ExecScript("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS true");
  ASSERT_TRUE(opened.ok()) << opened.error();
  EXPECT_TRUE(store->ProbeWrite().ok());
  EXPECT_TRUE(store->GetRun(id).has_value());
  EXPECT_TRUE(store->CreateRun(run, {}).ok());
  EXPECT_EQ(store->LastEventSeq(id), 0);  // the failed write left nothing
}

TEST_F(PgStoreTest, AConnectionCutBetweenWritesCostsNothing) {
  // A server restart (or a proxy closing idle connections) between transactions: the next
  // transaction and the next read reconnect, nothing fails.
  std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
  ASSERT_NE(store, nullptr);
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store->CreateRun(run, {})).run.id;
  ASSERT_TRUE(store->GetRun(id).has_value());
  PgResult cut = admin_->ExecScript(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + database_ +
      "' AND pid <> pg_backend_pid()");
  ASSERT_TRUE(cut.ok()) << cut.error();
  EXPECT_TRUE(store->GetRun(id).has_value());
  EXPECT_TRUE(store->ProbeWrite().ok());
  EXPECT_TRUE(store->CreateRun(run, {}).ok());
}

TEST_F(PgStoreTest, BackupSaysToUsePgDump) {
  std::unique_ptr<Store> store = ValueOf(OpenStore(url_));
  ASSERT_NE(store, nullptr);
  Result<BackupInfo> backup = store->Backup("/tmp/x.db");
  ASSERT_FALSE(backup.ok());
  EXPECT_EQ(backup.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(backup.error().message.find("pg_dump"), std::string::npos) << backup.error().message;
}

// ---------------------------------------------------------------------------------------
// Ownership: the lease row.

TEST_F(PgStoreTest, ASecondServerIsRefusedNamingTheHolder) {
  std::unique_ptr<StoreOwnership> first = ValueOf(AcquireStoreOwnership(url_));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->Description(),
            "lease on postgres database " + PostgresUrlWithoutPassword(url_));

  Result<std::unique_ptr<StoreOwnership>> second = AcquireStoreOwnership(url_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  const std::string& error = second.error().message;
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_NE(error.find("pid " + std::to_string(::getpid())), std::string::npos) << error;
  EXPECT_NE(error.find(std::string("host ") + host), std::string::npos) << error;
  EXPECT_NE(error.find(" since "), std::string::npos) << error;
  EXPECT_NE(error.find(PostgresUrlWithoutPassword(url_)), std::string::npos) << error;

  // Released when destroyed: the next server takes it at once, with a higher token.
  const std::int64_t first_token = QueryInt("SELECT token FROM handoff_owner");
  first.reset();
  Result<std::unique_ptr<PgOwnership>> third = AcquirePgOwnership(url_);
  ASSERT_TRUE(third.ok()) << third.error().message;
  EXPECT_GT((*third)->token(), first_token);
}

TEST_F(PgStoreTest, AnExpiredLeaseIsTakenOverWithAHigherToken) {
  // A server that died without releasing: its lease row stays, live until it expires.
  ValueOf(AcquirePgOwnership(url_)).reset();  // creates the table
  Exec("UPDATE handoff_owner SET holder = 'dead:1:x', host = 'deadhost', pid = 1, token = 41, "
       "expires_at = now() + interval '1 hour'");
  Result<std::unique_ptr<PgOwnership>> refused = AcquirePgOwnership(url_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("pid 1 on host deadhost"), std::string::npos)
      << refused.error().message;

  Exec("UPDATE handoff_owner SET expires_at = now() - interval '1 second'");
  std::unique_ptr<PgOwnership> taken = ValueOf(AcquirePgOwnership(url_));
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->token(), 42);
  EXPECT_EQ(QueryInt("SELECT token FROM handoff_owner"), 42);
  EXPECT_EQ(QueryInt("SELECT pid FROM handoff_owner"), ::getpid());
}

TEST_F(PgStoreTest, ALeaseOfAServerOfThisMachineThatIsGoneIsTakenOverAtOnce) {
  // What a holder of this process looks like: "host|pid|pid space|tag".
  ValueOf(AcquirePgOwnership(url_)).reset();
  std::unique_ptr<PgDb> db = Connect();
  ASSERT_NE(db, nullptr);
  PgResult row = db->Exec("SELECT holder FROM handoff_owner");
  ASSERT_EQ(row.rows(), 1);
  const std::string holder = row.Text(0, 0);
  const std::size_t pid_begin = holder.find('|') + 1;
  const std::size_t pid_end = holder.find('|', pid_begin);
  const std::size_t space_end = holder.find('|', pid_end + 1);
  ASSERT_NE(space_end, std::string::npos) << holder;
  ASSERT_EQ(holder.substr(pid_begin, pid_end - pid_begin), std::to_string(::getpid()));
  const auto live_lease_of = [&](const std::string& who) {
    Exec("UPDATE handoff_owner SET holder = '" + who + "', token = 7, "
         "expires_at = now() + interval '1 hour'");
  };
  const auto with_pid = [&](pid_t pid) {
    return holder.substr(0, pid_begin) + std::to_string(pid) + holder.substr(pid_end);
  };

  // A server that still runs (here, our parent), or a gone pid of another pid space (a
  // container of its own, another boot), keeps its lease.
  live_lease_of(with_pid(::getppid()));
  EXPECT_EQ(AcquirePgOwnership(url_).error().code, ErrorCode::kConflict);
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  const std::string other_space = holder.substr(0, pid_begin) + std::to_string(child) +
                                  "|another-boot/pid:[1]" + holder.substr(space_end);
  live_lease_of(other_space);
  EXPECT_EQ(AcquirePgOwnership(url_).error().code, ErrorCode::kConflict) << other_space;

  // A server of this machine that is gone (killed, not released) holds nothing.
  live_lease_of(with_pid(child));
  Result<std::unique_ptr<PgOwnership>> taken = AcquirePgOwnership(url_);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ((*taken)->token(), 8);
}

TEST_F(PgStoreTest, TheLeaseIsRenewedWhileHeld) {
  PgOwnershipOptions options;
  options.ttl = 600ms;
  std::unique_ptr<PgOwnership> held = ValueOf(AcquirePgOwnership(url_, options));
  ASSERT_NE(held, nullptr);
  // Several ttls later, the renewer has kept it live.
  std::this_thread::sleep_for(1500ms);
  Result<std::unique_ptr<PgOwnership>> second = AcquirePgOwnership(url_, options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
}

TEST_F(PgStoreTest, ALostLeaseIsLogged) {
  std::vector<std::string> lines;
  std::mutex mu;
  std::shared_ptr<const StoreLog> log =
      InstallStoreLog([&](LogLevel level, std::string_view message, std::string_view detail) {
        std::lock_guard lock(mu);
        if (level == LogLevel::kError) lines.push_back(std::string(message) + ": " + std::string(detail));
      });
  PgOwnershipOptions options;
  options.ttl = 300ms;
  std::unique_ptr<PgOwnership> held = ValueOf(AcquirePgOwnership(url_, options));
  ASSERT_NE(held, nullptr);
  // Another server takes it over (as after an expiry the renewer missed).
  Exec("UPDATE handoff_owner SET holder = 'thief:2:y', host = 'thiefhost', pid = 2, "
       "token = token + 1");
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    std::this_thread::sleep_for(50ms);
    std::lock_guard lock(mu);
    for (const std::string& line : lines) {
      if (line.find("lost the lease") != std::string::npos &&
          line.find("thiefhost") != std::string::npos) {
        logged = true;
      }
    }
  }
  EXPECT_TRUE(logged);
  held.reset();
  // The thief's lease is left alone.
  EXPECT_EQ(QueryInt("SELECT pid FROM handoff_owner"), 2);
  UninstallStoreLog(log);
}

}  // namespace
}  // namespace handoff::store
