// What only the SQLite backend has: its database file across openings and a SIGKILL, the
// migrations from its older schemas, its URLs. The store contract every backend keeps is
// in store_contract_test.cc.

#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "result_testing.h"
#include "store/open_store.h"
#include "store/store_log.h"
#include "support/store_backends.h"
#include "support/store_test_data.h"
#include "support/temp_dir.h"

namespace handoff::store {
namespace {

using ::handoff::testing::Event;
using ::handoff::testing::FullRun;
using ::handoff::testing::Row;
using ::handoff::testing::TempDir;
using ::handoff::testing::TestNames;
using ::handoff::testing::Texts;
using ::handoff::testing::ValueOf;

// Tests of a database file across openings.
class SqliteStoreFileTest : public ::testing::Test {
 protected:
  std::string Path() const { return (dir_.path() / "handoff.db").string(); }
  std::string Url() const { return "sqlite:" + Path(); }

  TempDir dir_;
};

TEST_F(SqliteStoreFileTest, DataSurvivesReopening) {
  std::int64_t id = 0;
  {
    std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
    ASSERT_NE(store, nullptr);
    store::Run run = FullRun();
    id = ValueOf(store->CreateRun(run, {"A", "B"})).run.id;
    WriteBatch batch;
    batch.tests.emplace_back(id, Row("A", TestStatus::kPassed));
    batch.events.emplace_back(id, Event(1, "test"));
    store->Write(batch);
    store->Sync();
    ASSERT_TRUE(store->PutSchedule({"nightly", "s", "@daily", "", "", false, 1}).ok());
    // Queued without Sync: the destructor commits it.
    WriteBatch last;
    last.events.emplace_back(id, Event(2, "test"));
    store->Write(last);
  }
  std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
  ASSERT_NE(store, nullptr);
  std::optional<store::Run> run = store->GetRun(id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->labels, FullRun().labels);
  std::vector<TestRow> rows = store->GetTests(id);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].status, TestStatus::kPassed);
  EXPECT_EQ(store->GetEvents(id, 0, 10).size(), 2u);
  EXPECT_EQ(store->ListSchedules().size(), 1u);
  // The idempotency key is still known.
  store::Run again = FullRun();
  CreatedRun repeat = ValueOf(store->CreateRun(again, {}));
  EXPECT_FALSE(repeat.created);
  EXPECT_EQ(repeat.run.id, id);
}

// Reads exactly `size` bytes; false at end of file.
bool ReadFull(int fd, void* data, std::size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

TEST_F(SqliteStoreFileTest, ReportedWritesSurviveSigkill) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The "server": reports each commit on the pipe, as the API would, until killed.
    ::close(fds[0]);
    std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
    if (!store) ::_exit(3);
    store::Run run;
    run.suite = "s";
    const std::int64_t id = ValueOf(store->CreateRun(run, {"A", "B"})).run.id;
    for (std::int64_t seq = 1; seq <= 2000; ++seq) {
      WriteBatch batch;
      batch.events.emplace_back(id, Event(seq, "test"));
      if (seq == 2) batch.tests.emplace_back(id, Row("A", TestStatus::kPassed));
      store->Write(std::move(batch), [fd = fds[1], id, seq](bool ok) {
        const std::int64_t report[2] = {id, ok ? seq : -seq};
        if (::write(fd, report, sizeof report) != sizeof report) ::_exit(4);
      });
    }
    for (;;) ::pause();
  }
  ::close(fds[1]);
  std::int64_t report[2] = {0, 0};
  std::int64_t id = 0;
  std::int64_t last = 0;
  while (last < 500 && ReadFull(fds[0], report, sizeof report)) {
    id = report[0];
    last = report[1];
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // Reports written before the kill count too.
  while (ReadFull(fds[0], report, sizeof report)) last = report[1];
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  ASSERT_GE(last, 500);

  std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
  ASSERT_NE(store, nullptr);
  std::vector<RunEvent> events = store->GetEvents(id, 0, 5000);
  ASSERT_GE(events.size(), static_cast<std::size_t>(last));
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, static_cast<std::int64_t>(i) + 1);
  }
  EXPECT_EQ(store->GetTests(id)[0].status, TestStatus::kPassed);
}

TEST_F(SqliteStoreFileTest, RunsOfSchemaOneKeepTheirPendingRows) {
  // Schema 1 gave each planned test a "pending" row and copied each test state into
  // run_events; schema 2 keeps the plan on the run and reads test entries from the rows.
  std::int64_t id = 0;
  {
    std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
    ASSERT_NE(store, nullptr);
    store::Run run;
    run.suite = "s";
    id = ValueOf(store->CreateRun(run, {})).run.id;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
  const std::string downgrade =
      "ALTER TABLE attempts DROP COLUMN lines; "
      "DROP TABLE run_plans; ALTER TABLE runs DROP COLUMN totals; "
      "DROP INDEX tests_by_seq; "
      "ALTER TABLE tests DROP COLUMN seq; ALTER TABLE runs DROP COLUMN secret_params; "
      "ALTER TABLE runs DROP COLUMN on_behalf_of; DROP TABLE deliveries; "
      "DROP INDEX runs_by_suite_reference; " + std::string(::handoff::testing::kSqliteBackToSchema9) +
      "PRAGMA user_version=1; "
      "INSERT INTO tests (run_id, name, status) VALUES (" + std::to_string(id) +
      ", 'First', 'pending'), (" + std::to_string(id) + ", 'Second', 'pending'); "
      "INSERT INTO run_events VALUES (" + std::to_string(id) + ", 1, 'test', '{\"v\":1}');";
  ASSERT_EQ(sqlite3_exec(db, downgrade.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);

  std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  TestRow second = Row("Second", TestStatus::kPassed);
  second.seq = 2;
  batch.tests.emplace_back(id, second);
  store->Write(batch);
  store->Sync();
  std::vector<TestRow> rows = store->GetTests(id);
  ASSERT_EQ(TestNames(rows), (std::vector<std::string>{"First", "Second"}));
  EXPECT_EQ(rows[0].status, TestStatus::kPending);
  EXPECT_EQ(rows[1].status, TestStatus::kPassed);
  // The old journal reads on, followed by the new entries.
  std::vector<RunEvent> events = store->GetEvents(id, 0, 10);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "{\"v\":1}");
  EXPECT_EQ(events[1].seq, 2);
  EXPECT_NE(events[1].data.find("\"name\":\"Second\""), std::string::npos);
  EXPECT_EQ(store->LastEventSeq(id), 2);
  // New runs use the new column.
  store::Run run;
  run.suite = "s";
  const std::int64_t next = ValueOf(store->CreateRun(run, {"X"})).run.id;
  EXPECT_EQ(TestNames(store->GetTests(next)), std::vector<std::string>{"X"});
}

TEST_F(SqliteStoreFileTest, TotalsOfOlderServersReadWithTheNewFieldsZero) {
  // Servers before the one result model stored "total passed failed skipped".
  std::int64_t id = 0;
  {
    std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
    ASSERT_NE(store, nullptr);
    store::Run run;
    run.suite = "s";
    id = ValueOf(store->CreateRun(run, {})).run.id;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
  const std::string old_totals =
      "UPDATE runs SET status = 'failed', totals = '4 1 2 1' WHERE id = " + std::to_string(id);
  ASSERT_EQ(sqlite3_exec(db, old_totals.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->GetRun(id)->totals,
            (RunTotals{.total = 4, .passed = 1, .failed = 2, .skipped = 1}));
}

TEST_F(SqliteStoreFileTest, AttemptsOfSchemaThreeReadBackAsTypedLines) {
  // Before schema 4 an attempt's output was its lines joined with '\n'; they read back
  // as output at the attempt's start, with its failures and skip reason typed again.
  std::int64_t id = 0;
  {
    std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
    ASSERT_NE(store, nullptr);
    store::Run run;
    run.suite = "s";
    id = ValueOf(store->CreateRun(run, {"B"})).run.id;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
  // Schema 3 kept the plan in the runs row (schema 5 moved it to run_plans).
  const std::string downgrade =
      "ALTER TABLE runs ADD COLUMN planned BLOB NOT NULL DEFAULT x''; "
      "UPDATE runs SET planned = (SELECT planned FROM run_plans WHERE run_id = runs.id); "
      "DROP TABLE run_plans; "
      "ALTER TABLE attempts DROP COLUMN lines; ALTER TABLE runs DROP COLUMN secret_params; "
      "ALTER TABLE runs DROP COLUMN on_behalf_of; DROP TABLE deliveries; "
      "DROP INDEX runs_by_suite_reference; " + std::string(::handoff::testing::kSqliteBackToSchema9) +
      "PRAGMA user_version=3; "
      "INSERT INTO attempts (run_id, test, attempt, status, started_at, output, failures) "
      "VALUES (" + std::to_string(id) + ", 'B', 1, 'failed', 500, "
      "'hello' || char(10) || 'b_test.cc:3: flaked', x'0106666c616b656409625f746573742e636306');";
  ASSERT_EQ(sqlite3_exec(db, downgrade.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);

  std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
  ASSERT_NE(store, nullptr);
  std::vector<Attempt> attempts = store->GetAttempts(id, "B");
  ASSERT_EQ(attempts.size(), 1u);
  ASSERT_EQ(attempts[0].lines.size(), 2u);
  EXPECT_EQ(attempts[0].lines[0], (OutputLine{.kind = LineKind::kOutput, .time_ns = 500, .text = "hello"}));
  EXPECT_EQ(attempts[0].lines[1].kind, LineKind::kFailure);
  EXPECT_EQ(attempts[0].lines[1].text, "flaked");
  EXPECT_EQ(attempts[0].lines[1].line, 3);
  EXPECT_EQ(Texts(attempts[0]), (std::vector<std::string>{"hello", "b_test.cc:3: flaked"}));
  // The plan moved out of the runs row with it (schema 5).
  EXPECT_EQ(TestNames(store->GetTests(id)), std::vector<std::string>{"B"});
}

TEST_F(SqliteStoreFileTest, RunsOfSchemaFiveHaveNoSecretParamsAndNewRunsKeepTheirs) {
  // Schema 6 added the names of a run's secret params; older runs have none.
  std::int64_t id = 0;
  {
    std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
    ASSERT_NE(store, nullptr);
    store::Run run;
    run.suite = "s";
    run.params = {{"token", "t0k3n"}};
    id = ValueOf(store->CreateRun(run, {})).run.id;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
  const std::string downgrade = "ALTER TABLE runs DROP COLUMN secret_params; "
                                "ALTER TABLE runs DROP COLUMN on_behalf_of; DROP TABLE deliveries; "
                                "DROP INDEX runs_by_suite_reference; " +
                                std::string(::handoff::testing::kSqliteBackToSchema9) +
                                "PRAGMA user_version=5";
  ASSERT_EQ(sqlite3_exec(db, downgrade.c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);

  std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->GetRun(id)->secret_params.empty());
  EXPECT_EQ(store->GetRun(id)->params, (KeyValues{{"token", "t0k3n"}}));
  store::Run run;
  run.suite = "s";
  run.params = {{"token", "t0k3n"}};
  run.secret_params = {"token"};
  const std::int64_t next = ValueOf(store->CreateRun(run, {})).run.id;
  EXPECT_EQ(store->GetRun(next)->secret_params, std::vector<std::string>{"token"});
  EXPECT_EQ(store->GetRun(next)->params, (KeyValues{{"token", "t0k3n"}}));
}

// Returns the rows of `sql` on the database file `path`, each row's columns joined by '|'.
std::vector<std::string> QueryFile(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> rows;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return {"open failed"};
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    rows.push_back(std::string("error: ") + sqlite3_errmsg(db));
  }
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      if (i > 0) row += '|';
      const unsigned char* text = sqlite3_column_text(stmt, i);
      row += text == nullptr ? "" : reinterpret_cast<const char*>(text);
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

TEST_F(SqliteStoreFileTest, SchemaNineGainsTraceIdsAndKeepsItsAttempts) {
  std::int64_t id = 0;
  {
    std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
    ASSERT_NE(store, nullptr);
    store::Run run;
    run.suite = "checkout";
    id = ValueOf(store->CreateRun(run, {"A"})).run.id;
  }
  // Schema 9 is schema 10 without the trace ids (and 11 without the tests' changes, 12
  // without attachments); an attempt written then has none.
  ASSERT_EQ(::handoff::testing::ExecSqliteFile(Path(), ::handoff::testing::kSqliteBackToSchema9), "");
  ASSERT_EQ(QueryFile(Path(), "INSERT INTO attempts (run_id, test, attempt, status) VALUES (" +
                                  std::to_string(id) + ", 'A', 1, 'failed')"),
            std::vector<std::string>{});
  ASSERT_EQ(QueryFile(Path(), "PRAGMA user_version=9"), std::vector<std::string>{});

  std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryFile(Path(), "PRAGMA user_version"),
            std::vector<std::string>{std::to_string(SqliteStore::SchemaVersion())});
  // Rows written before schema 11 compare with nothing.
  ASSERT_EQ(store->GetTests(id).size(), 1u);
  EXPECT_EQ(store->GetTests(id)[0].change, TestChange::kNone);
  EXPECT_EQ(store->GetTests(id)[0].failing_since.run_id, 0);
  std::vector<Attempt> attempts = store->GetAttempts(id, "A");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].trace_id, "");
  WriteBatch batch;
  Attempt a2;
  a2.test = "A";
  a2.attempt = 2;
  a2.status = TestStatus::kFailed;
  a2.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  batch.attempts.emplace_back(id, a2);
  store->Write(batch);
  store->Sync();
  attempts = store->GetAttempts(id, "A");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[1].trace_id, a2.trace_id);
}

TEST_F(SqliteStoreFileTest, SchemaEightGainsTheIndexOfVerdictsAndKeepsItsRuns) {
  std::int64_t id = 0;
  {
    std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
    ASSERT_NE(store, nullptr);
    store::Run run;
    run.suite = "checkout";
    run.reference = "abc123";
    run.status = RunStatus::kPassed;
    id = ValueOf(store->CreateRun(run, {})).run.id;
  }
  // Schema 8 is schema 9 without runs_by_suite_reference (and 10 without trace ids).
  ASSERT_EQ(QueryFile(Path(), "DROP INDEX runs_by_suite_reference"), std::vector<std::string>{});
  ASSERT_EQ(::handoff::testing::ExecSqliteFile(Path(), ::handoff::testing::kSqliteBackToSchema9), "");
  ASSERT_EQ(QueryFile(Path(), "PRAGMA user_version=8"), std::vector<std::string>{});

  std::unique_ptr<Store> store = ValueOf(OpenStore(Url()));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryFile(Path(), "PRAGMA user_version"),
            std::vector<std::string>{std::to_string(SqliteStore::SchemaVersion())});
  EXPECT_EQ(QueryFile(Path(),
                      "SELECT name FROM sqlite_master WHERE name = 'runs_by_suite_reference'"),
            std::vector<std::string>{"runs_by_suite_reference"});
  ReferenceRuns runs = store->RunsOfReference("checkout", "abc123");
  ASSERT_TRUE(runs.finished);
  EXPECT_EQ(runs.finished->id, id);

  // Both reads of a verdict go down the index, newest first, without sorting: one step
  // whatever the number of runs.
  for (const char* statuses :
       {"'queued', 'running') AND id > (2", "'passed', 'failed', 'cancelled', 'error'"}) {
    std::string plan;
    for (const std::string& row : QueryFile(
             Path(), std::string("EXPLAIN QUERY PLAN SELECT id FROM runs WHERE suite = 'a' AND "
                                 "reference = 'b' AND status IN (") +
                         statuses + ") ORDER BY id DESC LIMIT 1")) {
      plan += row + "\n";
    }
    EXPECT_NE(plan.find("runs_by_suite_reference"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  }
}

TEST_F(SqliteStoreFileTest, NewerSchemaIsRefused) {
  ASSERT_NE(ValueOf(OpenStore(Url())), nullptr);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
  const int newer = SqliteStore::SchemaVersion() + 5;
  ASSERT_EQ(sqlite3_exec(db, ("PRAGMA user_version=" + std::to_string(newer)).c_str(), nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  Result<std::unique_ptr<Store>> opened = OpenStore(Url());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
  const std::string& error = opened.error().message;
  EXPECT_NE(error.find("schema version " + std::to_string(newer)), std::string::npos) << error;
  EXPECT_NE(error.find(std::to_string(SqliteStore::SchemaVersion())), std::string::npos)
      << error;
  EXPECT_NE(error.find(Path()), std::string::npos) << error;
}

TEST_F(SqliteStoreFileTest, UnopenableFileIsAnError) {
  Result<std::unique_ptr<Store>> opened =
      OpenStore("sqlite:" + (dir_.path() / "no/such/dir/x.db").string());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(opened.error().message.find("cannot open database"), std::string::npos)
      << opened.error().message;
}

TEST(SqliteStoreUrlTest, BadUrlsAreErrors) {
  const std::pair<std::string, std::string> urls[] = {
      {"mysql://localhost/handoff", "mysql://..."}, {"sqlite:", "sqlite:"}, {"", ""},
      {"memory", "memory"}, {"postgres://", "postgres://..."}};
  for (const auto& [url, shown] : urls) {
    Result<std::unique_ptr<Store>> opened = OpenStore(url);
    ASSERT_FALSE(opened.ok()) << url;
    EXPECT_EQ(opened.error().code, ErrorCode::kUnsupported);
    EXPECT_EQ(opened.error().message,
              "unsupported database URL \"" + shown +
                  "\": use sqlite:PATH or sqlite::memory:, or postgres://USER@HOST:PORT/DATABASE "
                  "(or postgresql://...)");
    // Ownership of such a URL is refused alike, before anything is created.
    Result<std::unique_ptr<StoreOwnership>> owned = AcquireStoreOwnership(url);
    ASSERT_FALSE(owned.ok()) << url;
    EXPECT_EQ(owned.error().message, opened.error().message);
  }
  EXPECT_NE(ValueOf(OpenStore("sqlite::memory:")), nullptr);
}

TEST(SqliteStoreUrlTest, EachMemoryStoreIsItsOwn) {
  std::unique_ptr<Store> one = ValueOf(OpenStore("sqlite::memory:"));
  std::unique_ptr<Store> two = ValueOf(OpenStore("sqlite::memory:"));
  ASSERT_TRUE(one && two);
  store::Run run;
  run.suite = "s";
  ASSERT_TRUE(one->CreateRun(run, {}).ok());
  EXPECT_EQ(one->ListRuns({}).size(), 1u);
  EXPECT_TRUE(two->ListRuns({}).empty());
}

TEST(StoreLogTest, AnErrorThatRepeatsIsLoggedOnceUntilAWriteCommits) {
  // A full disk fails every write the same way, the readiness probe's every few seconds
  // included: one line says so, and one says how often it repeated once writes commit.
  std::vector<std::string> lines;
  std::mutex mu;
  OpenOptions options;
  options.log = [&](LogLevel level, std::string_view message, std::string_view detail) {
    std::lock_guard lock(mu);
    lines.push_back(std::string(level == LogLevel::kError ? "E " : "I ") +
                    std::string(message) + " | " + std::string(detail));
  };
  std::unique_ptr<Store> store = ValueOf(OpenStore("sqlite::memory:", options));
  ASSERT_NE(store, nullptr);
  auto errors = [&] {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const std::string& line : lines) {
      if (line.starts_with("E ") || line.find("repeated") != std::string::npos) out.push_back(line);
    }
    return out;
  };
  for (int i = 0; i < 3; ++i) LogStoreError("COMMIT", "database or disk is full");
  LogStoreError("COMMIT", "disk I/O error");  // another error is logged
  LogStoreError("COMMIT", "disk I/O error");
  EXPECT_EQ(errors(), (std::vector<std::string>{
                          "E store error: COMMIT | database or disk is full",
                          "E store error: COMMIT | disk I/O error"}));
  // A write commits: the count of the last one's repeats, and the next error is news again.
  store::Run run;
  run.suite = "s";
  ASSERT_TRUE(store->CreateRun(run, {}).ok());
  LogStoreError("COMMIT", "disk I/O error");
  EXPECT_EQ(errors(), (std::vector<std::string>{
                          "E store error: COMMIT | database or disk is full",
                          "E store error: COMMIT | disk I/O error",
                          "I the last store error repeated 1 more time until a write committed | disk I/O error",
                          "E store error: COMMIT | disk I/O error"}));
  store.reset();
  NoteStoreWriteCommitted();  // leaves no state behind for other tests
}

}  // namespace
}  // namespace handoff::store
