#include "store/sqlite_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <future>
#include <iterator>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "store/journal.h"
#include "store/output_lines.h"
#include "store/planned_tests.h"
#include "store/quiet_attempts.h"
#include "store/sqlite_backup.h"
#include "store/sqlite_files.h"
#include "store/value_encoding.h"

namespace handoff::store {
namespace {

// Every write waits this long for a lock held by another process before failing.
constexpr int kBusyTimeoutMs = 5000;
// Idle read connections kept open; more are opened while more readers run at once.
constexpr std::size_t kMaxIdleReaders = 8;
// Retention deletes at most this many runs, and stops after about this many rows, per
// transaction so that the writer commits test results in between.
constexpr int kDeleteRunsPerTransaction = 100;
constexpr std::int64_t kDeleteRowsPerTransaction = 20000;

// Where the store's log lines go: the log of the last store opened with one (`serve` has
// one store per process), else stderr (warnings and errors only). Process-wide because the helpers that report
// (statements, decoders) have no store at hand.
std::mutex log_mutex;
std::shared_ptr<const StoreLog> current_log;

void Log(LogLevel level, std::string_view message, std::string_view detail) {
  std::shared_ptr<const StoreLog> log;
  {
    std::lock_guard lock(log_mutex);
    log = current_log;
  }
  if (log && *log) {
    (*log)(level, message, detail);
    return;
  }
  // Without a log, only what went wrong is worth a line on stderr.
  if (level == LogLevel::kInfo) return;
  std::fprintf(stderr, "handoff: %.*s: %.*s\n", static_cast<int>(message.size()),
               message.data(), static_cast<int>(detail.size()), detail.data());
}

// `what` failed (a statement's SQL, or what was being done) because of `detail`.
void LogError(std::string_view what, std::string_view detail) {
  Log(LogLevel::kError, fmt::format("store error: {}", what), detail);
}

// The probe's table and row (ProbeWrite): created by the first probe, outside the schema's
// migrations, so it never changes the schema version.
constexpr const char* kCreateProbe =
    "CREATE TABLE IF NOT EXISTS handoff_probe (id INTEGER PRIMARY KEY, probed_at INTEGER "
    "NOT NULL)";
constexpr const char* kUpsertProbe =
    "INSERT INTO handoff_probe (id, probed_at) VALUES (1, ?1) "
    "ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at";

// ---------------------------------------------------------------------------------------
// Schema. Step i brings a database from user_version i to i + 1; steps are only ever
// appended. Lists (a run's tests, labels, params and values; an attempt's failures, values
// and spans) are BLOBs in the compact encoding (store/compact_encoding.h): nothing outside
// src/store reads them, and it round-trips any bytes. An attempt's output is typed lines
// (store/output_lines.h) in `lines` since version 4, its lines joined with '\n' in `output`
// before (NULL: no lines). A test's position is its rowid, which only grows, so within a run it
// is the order in which tests were first recorded.

constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after retention
  suite TEXT NOT NULL,
  namespace TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  run_trigger TEXT NOT NULL,
  initiated_by TEXT NOT NULL DEFAULT '',
  reference TEXT NOT NULL DEFAULT '',
  environment TEXT NOT NULL DEFAULT '',
  schedule TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  flaky INTEGER NOT NULL DEFAULT 0,
  resumed INTEGER NOT NULL DEFAULT 0,
  retry_of INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  test_filter TEXT NOT NULL DEFAULT '',
  tests BLOB NOT NULL DEFAULT x'',
  labels BLOB NOT NULL DEFAULT x'',
  params BLOB NOT NULL DEFAULT x'',
  max_attempts INTEGER NOT NULL DEFAULT 0,
  timeout_ms INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT NOT NULL DEFAULT '',
  run_values BLOB NOT NULL DEFAULT x''
);
CREATE INDEX runs_by_suite ON runs (suite, id);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE INDEX runs_by_suite_status ON runs (suite, status, id);
CREATE INDEX runs_by_reference ON runs (reference, id);
CREATE INDEX runs_by_created_at ON runs (created_at);
CREATE UNIQUE INDEX runs_by_idempotency_key ON runs (idempotency_key)
  WHERE idempotency_key <> '';

CREATE TABLE tests (
  position INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  soft INTEGER NOT NULL DEFAULT 0,
  flaky INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX tests_by_name ON tests (run_id, name);
CREATE INDEX tests_by_position ON tests (run_id, position);

CREATE TABLE attempts (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  test TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  soft INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  output TEXT,
  failures BLOB NOT NULL DEFAULT x'',
  skip_reason TEXT NOT NULL DEFAULT '',
  attempt_values BLOB NOT NULL DEFAULT x'',
  spans BLOB NOT NULL DEFAULT x''
);
CREATE UNIQUE INDEX attempts_by_test ON attempts (run_id, test, attempt);

CREATE TABLE run_events (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE schedules (
  name TEXT PRIMARY KEY,
  suite TEXT NOT NULL,
  spec TEXT NOT NULL,
  time_zone TEXT NOT NULL DEFAULT '',
  test_filter TEXT NOT NULL DEFAULT '',
  paused INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 2: the tests a run plans to run are one list on the run instead of a "pending" row
    // each (10,000 inserts saved on every POST of a big suite). A test gets its row when
    // it first starts; until then GetTests shows it pending.
    // Also, a test's journal entry is its row (at `seq`) instead of a copy of it in
    // run_events, written again at each change of state.
    R"sql(
ALTER TABLE runs ADD COLUMN planned BLOB NOT NULL DEFAULT x'';
ALTER TABLE tests ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tests_by_seq ON tests (run_id, seq);
)sql",
    // 3: a finished run's totals ("total passed failed skipped", since extended, see
    // EncodeTotals; '' until it finishes),
    // so that lists of runs show pass rates without reading their tests.
    R"sql(
ALTER TABLE runs ADD COLUMN totals TEXT NOT NULL DEFAULT '';
)sql",
    // 4: an attempt's output as typed lines (store/output_lines.h: each line's kind, time
    // and location), so reports replay it instead of parsing text. Attempts written before
    // keep their text in `output` and are read back with LinesFromText; new ones leave it
    // NULL.
    R"sql(
ALTER TABLE attempts ADD COLUMN lines BLOB;
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// ---------------------------------------------------------------------------------------
// SQL. Kept as constants: each is prepared once per connection.

constexpr std::string_view kRunColumns =
    "id, suite, namespace, status, run_trigger, initiated_by, reference, environment, "
    "schedule, created_at, started_at, finished_at, flaky, resumed, retry_of, error, "
    "test_filter, tests, labels, params, max_attempts, timeout_ms, idempotency_key, "
    "run_values, totals";

constexpr const char* kInsertRun =
    "INSERT INTO runs (suite, namespace, status, run_trigger, initiated_by, reference, "
    "environment, schedule, created_at, started_at, finished_at, flaky, resumed, retry_of, "
    "error, test_filter, tests, labels, params, max_attempts, timeout_ms, idempotency_key, "
    "run_values, planned) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
    "?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)";
// Unset fields are bound as NULL and keep their value (no column is ever NULL).
constexpr const char* kUpdateRun =
    "UPDATE runs SET status = coalesce(?2, status), started_at = coalesce(?3, started_at), "
    "finished_at = coalesce(?4, finished_at), flaky = coalesce(?5, flaky), "
    "resumed = coalesce(?6, resumed), error = coalesce(?7, error), "
    "run_values = coalesce(?8, run_values), totals = coalesce(?9, totals) WHERE id = ?1";
constexpr const char* kUpsertTest =
    "INSERT INTO tests (run_id, name, status, attempt, soft, flaky, started_at, duration_ms, "
    "message, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
    "ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status, "
    "attempt = excluded.attempt, soft = excluded.soft, flaky = excluded.flaky, "
    "started_at = excluded.started_at, duration_ms = excluded.duration_ms, "
    "message = excluded.message, seq = excluded.seq";
constexpr const char* kUpsertAttempt =
    "INSERT INTO attempts (run_id, test, attempt, status, soft, started_at, duration_ms, "
    "output, failures, skip_reason, attempt_values, spans, lines) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, ?10, ?11, ?12) "
    "ON CONFLICT (run_id, test, attempt) DO UPDATE SET status = excluded.status, "
    "soft = excluded.soft, started_at = excluded.started_at, "
    "duration_ms = excluded.duration_ms, output = excluded.output, "
    "failures = excluded.failures, skip_reason = excluded.skip_reason, "
    "attempt_values = excluded.attempt_values, spans = excluded.spans, "
    "lines = excluded.lines";
constexpr const char* kInsertEvent =
    "INSERT INTO run_events (run_id, seq, type, data) VALUES (?1, ?2, ?3, ?4)";

constexpr const char* kSelectPlanned = "SELECT planned FROM runs WHERE id = ?1";
// What ReadTestRow reads.
#define HANDOFF_TEST_COLUMNS \
  "SELECT name, status, attempt, soft, flaky, started_at, duration_ms, message, seq FROM tests "
constexpr const char* kSelectTests = HANDOFF_TEST_COLUMNS "WHERE run_id = ?1 ORDER BY position";
constexpr const char* kSelectTest = HANDOFF_TEST_COLUMNS "WHERE run_id = ?1 AND name = ?2";
constexpr const char* kSelectTestEvents =
    HANDOFF_TEST_COLUMNS "WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
#undef HANDOFF_TEST_COLUMNS
constexpr const char* kLastEventSeqs =
    "SELECT (SELECT max(seq) FROM run_events WHERE run_id = ?1), "
    "(SELECT max(seq) FROM tests WHERE run_id = ?1)";
constexpr std::string_view kAttemptColumns =
    "a.test, a.attempt, a.status, a.soft, a.started_at, a.duration_ms, a.output, "
    "a.failures, a.skip_reason, a.attempt_values, a.spans, a.lines";
constexpr const char* kSelectEvents =
    "SELECT seq, type, data FROM run_events WHERE run_id = ?1 AND seq > ?2 "
    "ORDER BY seq LIMIT ?3";

constexpr const char* kInsertSchedule =
    "INSERT INTO schedules (name, suite, spec, time_zone, test_filter, paused, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO NOTHING";
constexpr const char* kPauseSchedule = "UPDATE schedules SET paused = ?2 WHERE name = ?1";
constexpr const char* kDeleteSchedule = "DELETE FROM schedules WHERE name = ?1";
constexpr const char* kSelectSchedules =
    "SELECT name, suite, spec, time_zone, test_filter, paused, created_at FROM schedules "
    "ORDER BY name";

// The oldest first, along runs_by_created_at ("+status" keeps the planner off
// runs_by_status, which would sort every finished run).
constexpr const char* kPickExpiredRuns =
    "SELECT id FROM runs WHERE created_at < ?1 "
    "AND +status IN ('passed', 'failed', 'cancelled', 'error') ORDER BY created_at, id "
    "LIMIT ?2";
// Children first, each by its run_id index; the foreign keys then find nothing left.
constexpr const char* kDeleteRunRows[] = {
    "DELETE FROM run_events WHERE run_id = ?1",
    "DELETE FROM attempts WHERE run_id = ?1",
    "DELETE FROM tests WHERE run_id = ?1",
    "DELETE FROM runs WHERE id = ?1",
};

constexpr const char* kBegin = "BEGIN IMMEDIATE";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
constexpr const char* kSavepoint = "SAVEPOINT write";
constexpr const char* kRelease = "RELEASE write";
constexpr const char* kRollbackTo = "ROLLBACK TO write";

// Returns a list read back from the database, or (a corrupt stored value, logged) an empty
// one.
template <typename T>
T ValueOrLogged(Result<T> decoded) {
  if (decoded.ok()) return std::move(decoded).value();
  LogError("corrupt stored value", decoded.error().message);
  return T{};
}

std::int64_t SystemNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Looks std::string keys up by std::string_view without building a string.
struct SqlHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view sql) const {
    return std::hash<std::string_view>{}(sql);
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------
// One connection with its prepared statements. Used by one thread at a time.

class SqliteDb {
 public:
  // Opens `path` ("" for a private in-memory database) with `flags`.
  static std::unique_ptr<SqliteDb> Open(const std::string& path, int flags,
                                        std::string* error) {
    // Memory statistics take a global lock on every allocation; nothing reads them.
    // (Refused, harmlessly, if the program initialised SQLite before us.)
    [[maybe_unused]] static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3* handle = nullptr;
    const char* name = path.empty() ? ":memory:" : path.c_str();
    const int rc = sqlite3_open_v2(name, &handle, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      // SQLite says "unable to open database file"; errno says why.
      const int err = handle != nullptr ? sqlite3_system_errno(handle) : 0;
      *error = fmt::format("cannot open database \"{}\": {}", path.empty() ? name : path,
                           err != 0 && !path.empty()
                               ? DescribeOpenError(path, err)
                               : std::string(handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc)));
      sqlite3_close_v2(handle);
      return nullptr;
    }
    sqlite3_extended_result_codes(handle, 1);
    sqlite3_busy_timeout(handle, kBusyTimeoutMs);
    return std::unique_ptr<SqliteDb>(new SqliteDb(handle));
  }

  ~SqliteDb() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  sqlite3* handle() const { return db_; }
  std::string ErrorMessage() const { return sqlite3_errmsg(db_); }

  // Returns the statement for `sql`, prepared on first use; nullptr (logged) if it does not
  // compile.
  sqlite3_stmt* Prepare(std::string_view sql) {
    if (auto it = statements_.find(sql); it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      LogError(sql, sqlite3_errmsg(db_));
      return nullptr;
    }
    statements_.emplace(std::string(sql), stmt);
    return stmt;
  }

  // Runs `sql` (several statements, no results) without caching it; false (and *error)
  // on failure.
  bool ExecScript(const char* sql, std::string* error) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return true;
    *error = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return false;
  }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> statements_;
};

namespace {

// One use of a cached statement: binds parameters in order, steps, and resets the
// statement when it goes out of scope. Bound strings must outlive the last Step().
class Stmt {
 public:
  Stmt(SqliteDb& db, std::string_view sql) : db_(db), stmt_(db.Prepare(sql)) {
    failed_ = stmt_ == nullptr;
  }
  ~Stmt() {
    if (stmt_) sqlite3_reset(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // False once preparing, binding or stepping failed (the error is logged).
  bool ok() const { return !failed_; }

  // Makes the statement ready to be bound and run again.
  void Reset() {
    if (stmt_) sqlite3_reset(stmt_);
    index_ = 0;
  }

  Stmt& Bind(std::int64_t value) {
    if (stmt_) Check(sqlite3_bind_int64(stmt_, ++index_, value));
    return *this;
  }
  Stmt& Bind(int value) { return Bind(static_cast<std::int64_t>(value)); }
  Stmt& Bind(bool value) { return Bind(static_cast<std::int64_t>(value ? 1 : 0)); }
  Stmt& Bind(std::string_view text) {
    if (stmt_) {
      Check(sqlite3_bind_text64(stmt_, ++index_, text.data(), text.size(), SQLITE_STATIC,
                                SQLITE_UTF8));
    }
    return *this;
  }
  Stmt& Bind(const std::string& text) { return Bind(std::string_view(text)); }
  Stmt& Bind(const char* text) { return Bind(std::string_view(text)); }
  Stmt& BindBlob(std::string_view bytes) {
    // A non-null pointer with size 0 binds an empty BLOB, not NULL.
    if (stmt_) {
      Check(sqlite3_bind_blob64(stmt_, ++index_, bytes.data() ? bytes.data() : "",
                                bytes.size(), SQLITE_STATIC));
    }
    return *this;
  }
  Stmt& BindNull() {
    if (stmt_) Check(sqlite3_bind_null(stmt_, ++index_));
    return *this;
  }
  template <typename T>
  Stmt& Bind(const std::optional<T>& value) {
    return value ? Bind(*value) : BindNull();
  }

  // Returns true when a row is ready, false when done or failed (see ok()).
  bool Step() {
    if (failed_) return false;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) {
      failed_ = true;
      LogError(sqlite3_sql(stmt_), sqlite3_errmsg(db_.handle()));
    }
    return false;
  }

  // Runs a statement that returns no rows; true on success.
  bool Run() {
    while (Step()) {
    }
    return ok();
  }

  std::int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool Bool(int column) const { return Int(column) != 0; }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  // TEXT or BLOB bytes, valid until the next Step() or Reset().
  std::string_view View(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return data ? std::string_view(static_cast<const char*>(data), size) : std::string_view();
  }
  std::string Text(int column) const { return std::string(View(column)); }

 private:
  void Check(int rc) {
    if (rc == SQLITE_OK || failed_) return;
    failed_ = true;
    LogError(sqlite3_sql(stmt_), sqlite3_errstr(rc));
  }

  SqliteDb& db_;
  sqlite3_stmt* stmt_;
  int index_ = 0;
  bool failed_ = false;
};

// Runs a statement without parameters or results (transaction control).
bool Exec(SqliteDb& db, const char* sql) { return Stmt(db, sql).Run(); }

Run ReadRun(const Stmt& s) {
  Run run;
  run.id = s.Int(0);
  run.suite = s.Text(1);
  run.namespace_name = s.Text(2);
  ParseRunStatus(s.View(3), &run.status);
  ParseTrigger(s.View(4), &run.trigger);
  run.initiated_by = s.Text(5);
  run.reference = s.Text(6);
  run.environment = s.Text(7);
  run.schedule = s.Text(8);
  run.created_at_ns = s.Int(9);
  run.started_at_ns = s.Int(10);
  run.finished_at_ns = s.Int(11);
  run.flaky = s.Bool(12);
  run.resumed = static_cast<int>(s.Int(13));
  run.retry_of = s.Int(14);
  run.error = s.Text(15);
  run.filter = s.Text(16);
  run.tests = ValueOrLogged(DecodeStrings(s.View(17)));
  run.labels = ValueOrLogged(DecodeKeyValues(s.View(18)));
  run.params = ValueOrLogged(DecodeKeyValues(s.View(19)));
  run.max_attempts = static_cast<int>(s.Int(20));
  run.timeout_ms = s.Int(21);
  run.idempotency_key = s.Text(22);
  run.values = ValueOrLogged(DecodeKeyValues(s.View(23)));
  run.totals = DecodeTotals(s.View(24));
  return run;
}

std::vector<Run> ReadRuns(Stmt& s) {
  std::vector<Run> runs;
  while (s.Step()) runs.push_back(ReadRun(s));
  return runs;
}

// Reads the columns of kSelectTests, kSelectTest and kSelectTestEvents.
TestRow ReadTestRow(const Stmt& s) {
  TestRow row;
  row.name = s.Text(0);
  ParseTestStatus(s.View(1), &row.status);
  row.attempt = static_cast<int>(s.Int(2));
  row.soft_failure = s.Bool(3);
  row.flaky = s.Bool(4);
  row.started_at_ns = s.Int(5);
  row.duration_ms = s.Int(6);
  row.message = s.Text(7);
  row.seq = s.Int(8);
  return row;
}

// Reads the columns of kAttemptColumns.
Attempt ReadAttempt(const Stmt& s) {
  Attempt a;
  a.test = s.Text(0);
  a.attempt = static_cast<int>(s.Int(1));
  ParseTestStatus(s.View(2), &a.status);
  a.soft_failure = s.Bool(3);
  a.started_at_ns = s.Int(4);
  a.duration_ms = s.Int(5);
  a.failures = ValueOrLogged(DecodeFailures(s.View(7)));
  a.skip_reason = s.Text(8);
  a.values = ValueOrLogged(DecodeKeyValues(s.View(9)));
  a.spans = ValueOrLogged(DecodeSpans(s.View(10)));
  if (!s.IsNull(11)) {
    if (auto lines = DecodeOutputLines(s.View(11), a.started_at_ns)) {
      a.lines = std::move(*lines);
    } else {
      LogError("corrupt stored value", "output lines");
    }
  } else if (!s.IsNull(6)) {
    a.lines = LinesFromText(s.View(6), a.failures, a.skip_reason, a.started_at_ns);
  }
  return a;
}

bool ApplyBatch(SqliteDb& db, const WriteBatch& batch) {
  if (!batch.run_updates.empty()) {
    Stmt update(db, kUpdateRun);
    for (const RunUpdate& u : batch.run_updates) {
      update.Reset();
      std::optional<std::string_view> status;
      if (u.status) status = RunStatusName(*u.status);
      std::optional<std::string> values;
      if (u.values) values = EncodeKeyValues(*u.values);
      update.Bind(u.id).Bind(status).Bind(u.started_at_ns).Bind(u.finished_at_ns).Bind(u.flaky)
          .Bind(u.resumed).Bind(u.error);
      if (values) {
        update.BindBlob(*values);
      } else {
        update.BindNull();
      }
      std::optional<std::string> totals;
      if (u.totals) totals = EncodeTotals(*u.totals);
      update.Bind(totals);
      if (!update.Run()) return false;
      if (sqlite3_changes(db.handle()) == 0) {
        LogError("update of run", fmt::format("run {} does not exist", u.id));
        return false;
      }
    }
  }
  if (!batch.tests.empty()) {
    Stmt upsert(db, kUpsertTest);
    for (const auto& [run_id, t] : batch.tests) {
      upsert.Reset();
      upsert.Bind(run_id).Bind(t.name).Bind(TestStatusName(t.status)).Bind(t.attempt)
          .Bind(t.soft_failure).Bind(t.flaky).Bind(t.started_at_ns).Bind(t.duration_ms)
          .Bind(t.message).Bind(t.seq);
      if (!upsert.Run()) return false;
    }
  }
  if (!batch.attempts.empty()) {
    Stmt upsert(db, kUpsertAttempt);
    std::string lines, failures, values, spans;
    for (const auto& [run_id, a] : batch.attempts) {
      if (IsQuietPass(a)) continue;  // GetAttempts gives it back from the test's row
      upsert.Reset();
      upsert.Bind(run_id).Bind(a.test).Bind(a.attempt).Bind(TestStatusName(a.status))
          .Bind(a.soft_failure).Bind(a.started_at_ns).Bind(a.duration_ms);
      failures = EncodeFailures(a.failures);
      values = EncodeKeyValues(a.values);
      spans = EncodeSpans(a.spans);
      upsert.BindBlob(failures).Bind(a.skip_reason).BindBlob(values).BindBlob(spans);
      if (a.lines.empty()) {
        upsert.BindNull();
      } else {
        lines = EncodeOutputLines(a.lines, a.started_at_ns);
        upsert.BindBlob(lines);
      }
      if (!upsert.Run()) return false;
    }
  }
  if (!batch.events.empty()) {
    Stmt insert(db, kInsertEvent);
    for (const auto& [run_id, e] : batch.events) {
      insert.Reset();
      insert.Bind(run_id).Bind(e.seq).Bind(e.type).Bind(e.data);
      if (!insert.Run()) return false;
    }
  }
  return true;
}

// Sets the connection up and brings its schema to kSchemaVersion.
bool PrepareWriter(SqliteDb& db, bool in_memory, const std::string& path, std::string* error) {
  if (!in_memory) {
    // WAL lets readers run beside the writer and each other. synchronous=NORMAL does not
    // fsync at each commit, only at checkpoints: a commit is written to the WAL file (the
    // OS page cache) before COMMIT returns, so a process killed at any instant, SIGKILL
    // included, loses nothing committed; only an OS crash or power loss can lose the last
    // transactions, and never corrupts the database. That is our durability promise
    // ("committed before the API sees it", "SIGKILL loses nothing reported") at a fraction
    // of FULL's cost.
    sqlite3_stmt* stmt = nullptr;
    std::string mode;
    if (sqlite3_prepare_v2(db.handle(), "PRAGMA journal_mode=WAL", -1, &stmt, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    if (mode != "wal") {
      *error = fmt::format("database \"{}\": cannot use WAL mode: {}", path,
                           mode.empty() ? db.ErrorMessage() : "journal mode is " + mode);
      return false;
    }
    if (!db.ExecScript("PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=67108864; "
                       "PRAGMA cache_size=-16384",
                       error)) {
      *error = fmt::format("database \"{}\": {}", path, *error);
      return false;
    }
  }
  std::string detail;
  // temp_store=MEMORY: each batch's savepoint needs a statement journal, which SQLite
  // otherwise spills to a file in /var/tmp every few transactions.
  if (!db.ExecScript("PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY", &detail) ||
      !db.ExecScript("BEGIN IMMEDIATE", &detail)) {
    *error = fmt::format("database \"{}\": {}", path, detail);
    return false;
  }
  int version = -1;
  {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db.handle(), "PRAGMA user_version", -1, &stmt, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      version = sqlite3_column_int(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  auto fail = [&](std::string message) {
    std::string ignored;
    db.ExecScript("ROLLBACK", &ignored);
    *error = std::move(message);
    return false;
  };
  if (version < 0) {
    return fail(fmt::format("database \"{}\": cannot read schema version: {}", path,
                            db.ErrorMessage()));
  }
  if (version > kSchemaVersion) {
    return fail(fmt::format(
        "database \"{}\" has schema version {}, newer than the {} this handoff knows: "
        "upgrade handoff or use another database",
        path, version, kSchemaVersion));
  }
  for (int step = version; step < kSchemaVersion; ++step) {
    if (!db.ExecScript(kMigrations[step], &detail)) {
      return fail(fmt::format("database \"{}\": migration to schema version {} failed: {}",
                              path, step + 1, detail));
    }
  }
  if (version != kSchemaVersion &&
      !db.ExecScript(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str(), &detail)) {
    return fail(fmt::format("database \"{}\": {}", path, detail));
  }
  if (!db.ExecScript("COMMIT", &detail)) {
    return fail(fmt::format("database \"{}\": {}", path, detail));
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------

class SqliteStore::ReadLease {
 public:
  explicit ReadLease(SqliteStore& store) : store_(store) {
    if (store.path_.empty()) {
      memory_lock_ = std::unique_lock<std::mutex>(store.memory_mutex_);
      db_ = store.writer_.get();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(store.pool_mutex_);
      if (!store.read_pool_.empty()) {
        owned_ = std::move(store.read_pool_.back());
        store.read_pool_.pop_back();
      }
    }
    if (!owned_) {
      std::string error;
      owned_ = SqliteDb::Open(store.path_, SQLITE_OPEN_READWRITE, &error);
      if (owned_ && !owned_->ExecScript("PRAGMA query_only=ON; PRAGMA temp_store=MEMORY",
                                        &error)) {
        owned_.reset();
      }
      if (!owned_) LogError("read connection", error);
    }
    db_ = owned_.get();
  }

  ~ReadLease() {
    if (!owned_) return;
    std::lock_guard<std::mutex> lock(store_.pool_mutex_);
    if (store_.read_pool_.size() < kMaxIdleReaders) store_.read_pool_.push_back(std::move(owned_));
  }

  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;

  // The connection, or nullptr if none could be opened (logged).
  SqliteDb* db() const { return db_; }

 private:
  SqliteStore& store_;
  std::unique_lock<std::mutex> memory_lock_;
  std::unique_ptr<SqliteDb> owned_;
  SqliteDb* db_ = nullptr;
};

int SqliteStore::SchemaVersion() { return kSchemaVersion; }

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(std::string_view url,
                                                       const SqliteStoreOptions& options) {
  constexpr std::string_view kScheme = "sqlite:";
  if (!url.starts_with(kScheme) || url.size() == kScheme.size()) {
    return Error{ErrorCode::kUnsupported,
                 fmt::format("unsupported database URL \"{}\": use sqlite:PATH or sqlite::memory:",
                             url)};
  }
  std::string path(url.substr(kScheme.size()));
  if (path == ":memory:") path.clear();
  // From now on the store's lines go to this opener's log (those of a failed open too),
  // until the store is destroyed or another is opened.
  auto log = options.log ? std::make_shared<const StoreLog>(options.log) : nullptr;
  {
    std::lock_guard lock(log_mutex);
    current_log = log;
  }
  // Uninstalls the log if the open fails: its owner may not outlive the failure.
  struct LogGuard {
    std::shared_ptr<const StoreLog> log;
    bool opened = false;
    ~LogGuard() {
      if (opened || !log) return;
      std::lock_guard lock(log_mutex);
      if (current_log == log) current_log.reset();
    }
  } guard{log};
  bool existing = false;  // a database with content, to be checked before use
  if (!path.empty()) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (std::filesystem::is_directory(status)) {
      return Error{ErrorCode::kUnavailable,
                   fmt::format("cannot open database \"{}\": it is a directory", path)};
    }
    if (!std::filesystem::exists(status)) {
      Log(LogLevel::kInfo, "new store: creating the database", path);
    } else if (std::filesystem::is_regular_file(status) &&
               std::filesystem::file_size(path, ec) == 0 && !ec) {
      Log(LogLevel::kInfo, "new store: the database file is empty; initialising it", path);
    } else {
      existing = true;
    }
  }
  std::string error;
  auto writer = SqliteDb::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &error);
  if (!writer) return Error{ErrorCode::kUnavailable, std::move(error)};
  if (existing) {
    const std::string problem =
        CheckDatabase(writer->handle(), path, options.integrity_check_budget_ms);
    if (!problem.empty()) {
      return Error{ErrorCode::kCorrupt,
                   problem +
                       ". It is not served: restore it from a backup (see `backup` in "
                       "docs/serve.md), or move it away to start with an empty store"};
    }
  }
  if (!PrepareWriter(*writer, path.empty(), path.empty() ? ":memory:" : path, &error)) {
    return Error{ErrorCode::kUnavailable, std::move(error)};
  }
  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(std::move(path), options,
                                                            std::move(writer)));
  store->log_ = std::move(log);
  guard.opened = true;
  return store;
}

SqliteStore::SqliteStore(std::string path, const SqliteStoreOptions& options,
                         std::unique_ptr<SqliteDb> writer)
    : path_(std::move(path)), options_(options), writer_(std::move(writer)) {
  writer_thread_ = std::thread([this] { WriterLoop(); });
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
  read_pool_.clear();
  writer_.reset();
  if (log_) {
    std::lock_guard lock(log_mutex);
    if (current_log == log_) current_log.reset();
  }
}

void SqliteStore::SetCommitError(std::string error) {
  std::lock_guard lock(commit_error_mutex_);
  commit_error_ = std::move(error);
}

std::string SqliteStore::CommitError() {
  std::lock_guard lock(commit_error_mutex_);
  return commit_error_;
}

Error SqliteStore::NotCommitted(std::string_view what) {
  return Error{ErrorCode::kUnavailable,
               fmt::format("{} could not be stored: the database did not commit the write", what)};
}

std::int64_t SqliteStore::Now() const {
  return options_.now_ns ? options_.now_ns() : SystemNowNs();
}

void SqliteStore::WriterLoop() {
  for (;;) {
    std::vector<PendingWrite> writes;
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is committed
      std::size_t ops = 0;
      while (!queue_.empty() &&
             (writes.empty() || ops + queue_.front().ops <= options_.max_transaction_ops)) {
        ops += queue_.front().ops;
        writes.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    Commit(writes);
  }
}

void SqliteStore::Commit(std::vector<PendingWrite>& writes) {
  std::vector<char> ok(writes.size(), 0);
  {
    std::unique_lock<std::mutex> memory_lock;
    if (path_.empty()) memory_lock = std::unique_lock<std::mutex>(memory_mutex_);
    SqliteDb& db = *writer_;
    bool in_transaction = false;
    std::size_t first = 0;  // the first write of the open transaction
    for (std::size_t i = 0; i < writes.size(); ++i) {
      if (!in_transaction) {
        first = i;
        in_transaction = Exec(db, kBegin);
        if (!in_transaction) continue;
      }
      PendingWrite& write = writes[i];
      if (!Exec(db, kSavepoint)) {
        ok[i] = false;
      } else {
        bool applied = false;
        try {
          applied = write.task ? write.task(db) : ApplyBatch(db, write.batch);
        } catch (const std::exception& e) {
          LogError("write", e.what());
        } catch (...) {
          LogError("write", "unknown exception");
        }
        if (sqlite3_get_autocommit(db.handle()) == 0) {
          if (applied) applied = Exec(db, kRelease);
          if (!applied) {
            Exec(db, kRollbackTo);
            Exec(db, kRelease);
          }
        }
        ok[i] = applied;
      }
      if (sqlite3_get_autocommit(db.handle()) != 0) {
        // SQLite rolled the whole transaction back (disk full, I/O error): every write
        // since BEGIN is lost.
        std::fill(ok.begin() + static_cast<std::ptrdiff_t>(first),
                  ok.begin() + static_cast<std::ptrdiff_t>(i) + 1, 0);
        in_transaction = false;
      }
    }
    if (in_transaction && !Exec(db, kCommit)) {
      SetCommitError(db.ErrorMessage());
      if (sqlite3_get_autocommit(db.handle()) == 0) Exec(db, kRollback);
      std::fill(ok.begin() + static_cast<std::ptrdiff_t>(first), ok.end(), 0);
    }
  }
  // Outside the memory lock: a callback may read the store.
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (!writes[i].done) continue;
    try {
      writes[i].done(ok[i] != 0);
    } catch (const std::exception& e) {
      LogError("write callback", e.what());
    } catch (...) {
      LogError("write callback", "unknown exception");
    }
  }
}

bool SqliteStore::RunTask(std::size_t ops, std::function<bool(SqliteDb&)> task) {
  std::promise<bool> committed;
  std::future<bool> result = committed.get_future();
  PendingWrite write;
  write.task = std::move(task);
  write.ops = ops;
  write.done = [&committed](bool ok) { committed.set_value(ok); };
  if (std::this_thread::get_id() == writer_thread_.get_id()) {
    // Called from a write callback: the writer is between transactions, so run it here
    // rather than wait for ourselves.
    std::vector<PendingWrite> writes;
    writes.push_back(std::move(write));
    Commit(writes);
  } else {
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      queue_.push_back(std::move(write));
    }
    queue_cv_.notify_one();
  }
  return result.get();
}

Result<CreatedRun> SqliteStore::CreateRun(Run run, const std::vector<std::string>& test_names) {
  CreatedRun result;
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    if (!run.idempotency_key.empty()) {
      static const std::string kFindByKey =
          fmt::format("SELECT {} FROM runs WHERE idempotency_key = ?1 AND idempotency_key <> ''",
                      kRunColumns);
      Stmt find(db, kFindByKey);
      find.Bind(run.idempotency_key);
      if (find.Step()) {
        result.run = ReadRun(find);
        result.created = false;
        return true;
      }
      if (!find.ok()) return false;
    }
    const std::int64_t created_at = Now();
    const std::string tests = EncodeStrings(run.tests);
    const std::string labels = EncodeKeyValues(run.labels);
    const std::string params = EncodeKeyValues(run.params);
    const std::string values = EncodeKeyValues(run.values);
    const std::string planned = EncodeStrings(test_names);
    Stmt insert(db, kInsertRun);
    insert.Bind(run.suite).Bind(run.namespace_name).Bind(RunStatusName(run.status))
        .Bind(TriggerName(run.trigger)).Bind(run.initiated_by).Bind(run.reference)
        .Bind(run.environment).Bind(run.schedule).Bind(created_at).Bind(run.started_at_ns)
        .Bind(run.finished_at_ns).Bind(run.flaky).Bind(run.resumed).Bind(run.retry_of)
        .Bind(run.error).Bind(run.filter).BindBlob(tests).BindBlob(labels).BindBlob(params)
        .Bind(run.max_attempts).Bind(run.timeout_ms).Bind(run.idempotency_key)
        .BindBlob(values).BindBlob(planned);
    if (!insert.Run()) return false;
    const std::int64_t id = sqlite3_last_insert_rowid(db.handle());
    result.run = run;
    result.run.id = id;
    result.run.created_at_ns = created_at;
    result.created = true;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("a new run of suite \"{}\"", run.suite));
  return result;
}

void SqliteStore::Write(WriteBatch batch, std::function<void(bool ok)> done) {
  PendingWrite write;
  write.ops = std::max<std::size_t>(1, batch.run_updates.size() + batch.tests.size() +
                                           batch.attempts.size() + batch.events.size());
  write.batch = std::move(batch);
  write.done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back(std::move(write));
  }
  queue_cv_.notify_one();
}

void SqliteStore::Sync() {
  if (std::this_thread::get_id() == writer_thread_.get_id()) {
    // Called from a write callback: commit what is queued here rather than wait for
    // ourselves.
    std::vector<PendingWrite> writes;
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      writes.assign(std::make_move_iterator(queue_.begin()),
                    std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    if (!writes.empty()) Commit(writes);
    return;
  }
  RunTask(0, [](SqliteDb&) { return true; });
}

std::optional<Run> SqliteStore::GetRun(std::int64_t id) {
  static const std::string kSql = fmt::format("SELECT {} FROM runs WHERE id = ?1", kRunColumns);
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  Stmt s(*lease.db(), kSql);
  s.Bind(id);
  if (!s.Step()) return std::nullopt;
  return ReadRun(s);
}

std::vector<Run> SqliteStore::ListRuns(const RunQuery& query) {
  if (query.limit <= 0) return {};
  // Every combination of filters is an index range ((suite, id), (suite, status, id),
  // (status, id), (reference, id) or the rowid) read backwards from before_id, so a page
  // costs the same however many runs are stored.
  std::string sql = fmt::format("SELECT {} FROM runs", kRunColumns);
  const char* glue = " WHERE ";
  auto where = [&](const char* condition) {
    sql += glue;
    sql += condition;
    glue = " AND ";
  };
  if (!query.suite.empty()) where("suite = ?");
  if (query.status) where("status = ?");
  if (!query.reference.empty()) where("reference = ?");
  if (query.before_id > 0) where("id < ?");
  sql += " ORDER BY id DESC LIMIT ?";

  ReadLease lease(*this);
  if (!lease.db()) return {};
  Stmt s(*lease.db(), sql);
  if (!query.suite.empty()) s.Bind(query.suite);
  if (query.status) s.Bind(RunStatusName(*query.status));
  if (!query.reference.empty()) s.Bind(query.reference);
  if (query.before_id > 0) s.Bind(query.before_id);
  s.Bind(query.limit);
  return ReadRuns(s);
}

std::vector<Run> SqliteStore::RunsWithStatus(const std::vector<RunStatus>& statuses) {
  if (statuses.empty()) return {};
  std::string sql = fmt::format("SELECT {} FROM runs WHERE status IN (?", kRunColumns);
  for (std::size_t i = 1; i < statuses.size(); ++i) sql += ", ?";
  sql += ") ORDER BY id";
  ReadLease lease(*this);
  if (!lease.db()) return {};
  Stmt s(*lease.db(), sql);
  for (RunStatus status : statuses) s.Bind(RunStatusName(status));
  return ReadRuns(s);
}

std::vector<Run> SqliteStore::LastRuns(const std::string& suite, int limit) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM runs WHERE suite = ?1 "
      "AND status IN ('passed', 'failed', 'cancelled', 'error') ORDER BY id DESC LIMIT ?2",
      kRunColumns);
  if (limit <= 0) return {};
  ReadLease lease(*this);
  if (!lease.db()) return {};
  Stmt s(*lease.db(), kSql);
  s.Bind(suite).Bind(limit);
  return ReadRuns(s);
}

std::vector<TestRow> SqliteStore::GetTests(std::int64_t run_id) {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  std::vector<std::string> planned;
  {
    Stmt p(*lease.db(), kSelectPlanned);
    p.Bind(run_id);
    if (p.Step()) planned = ValueOrLogged(DecodeStrings(p.View(0)));
  }
  Stmt s(*lease.db(), kSelectTests);
  s.Bind(run_id);
  std::vector<TestRow> rows;
  while (s.Step()) rows.push_back(ReadTestRow(s));
  return MergePlannedTests(planned, std::move(rows));
}

std::vector<Attempt> SqliteStore::GetAttempts(std::int64_t run_id, const std::string& test) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM attempts a WHERE a.run_id = ?1 AND a.test = ?2 ORDER BY a.attempt",
      kAttemptColumns);
  ReadLease lease(*this);
  if (!lease.db()) return {};
  std::vector<Attempt> attempts;
  {
    Stmt s(*lease.db(), kSql);
    s.Bind(run_id).Bind(test);
    while (s.Step()) attempts.push_back(ReadAttempt(s));
  }
  Stmt row(*lease.db(), kSelectTest);
  row.Bind(run_id).Bind(test);
  if (row.Step()) {
    if (auto quiet = QuietAttempt(ReadTestRow(row), attempts)) {
      attempts.push_back(std::move(*quiet));
    }
  }
  return attempts;
}

std::vector<Attempt> SqliteStore::GetAllAttempts(std::int64_t run_id) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM attempts a WHERE a.run_id = ?1 ORDER BY a.test, a.attempt",
      kAttemptColumns);
  ReadLease lease(*this);
  if (!lease.db()) return {};
  std::vector<Attempt> stored;
  {
    Stmt s(*lease.db(), kSql);
    s.Bind(run_id);
    while (s.Step()) stored.push_back(ReadAttempt(s));
  }
  std::vector<TestRow> rows;
  {
    Stmt s(*lease.db(), kSelectTests);
    s.Bind(run_id);
    while (s.Step()) rows.push_back(ReadTestRow(s));
  }
  return AttemptsInReportOrder(rows, std::move(stored));
}

std::vector<RunEvent> SqliteStore::GetEvents(std::int64_t run_id, std::int64_t after_seq,
                                             int limit) {
  if (limit <= 0) return {};
  ReadLease lease(*this);
  if (!lease.db()) return {};
  // Two lists in seq order (the written events, the tests' entries), merged.
  std::vector<RunEvent> written;
  {
    Stmt s(*lease.db(), kSelectEvents);
    s.Bind(run_id).Bind(after_seq).Bind(limit);
    while (s.Step()) {
      RunEvent& e = written.emplace_back();
      e.seq = s.Int(0);
      e.type = s.Text(1);
      e.data = s.Text(2);
    }
  }
  std::vector<TestRow> tests;
  {
    Stmt s(*lease.db(), kSelectTestEvents);
    s.Bind(run_id).Bind(after_seq).Bind(limit);
    while (s.Step()) tests.push_back(ReadTestRow(s));
  }
  return MergeJournal(std::move(written), tests, limit);
}

std::int64_t SqliteStore::LastEventSeq(std::int64_t run_id) {
  ReadLease lease(*this);
  if (!lease.db()) return 0;
  Stmt s(*lease.db(), kLastEventSeqs);
  s.Bind(run_id);
  if (!s.Step()) return 0;
  return LastJournalSeq(s.Int(0), s.Int(1));  // NULL (no rows) reads as 0
}

Result<void> SqliteStore::PutSchedule(const StoredSchedule& schedule) {
  bool inserted = false;
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    Stmt s(db, kInsertSchedule);
    s.Bind(schedule.name).Bind(schedule.suite).Bind(schedule.spec).Bind(schedule.time_zone)
        .Bind(schedule.filter).Bind(schedule.paused).Bind(schedule.created_at_ns);
    if (!s.Run()) return false;
    inserted = sqlite3_changes(db.handle()) > 0;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("schedule \"{}\"", schedule.name));
  if (!inserted) {
    return Error{ErrorCode::kConflict,
                 fmt::format("a schedule named \"{}\" already exists", schedule.name)};
  }
  return {};
}

Result<void> SqliteStore::UpdateSchedulePaused(const std::string& name, bool paused) {
  bool found = false;
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    Stmt s(db, kPauseSchedule);
    s.Bind(name).Bind(paused);
    if (!s.Run()) return false;
    found = sqlite3_changes(db.handle()) > 0;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("the pause of schedule \"{}\"", name));
  if (!found) return Error{ErrorCode::kNotFound, fmt::format("no schedule named \"{}\"", name)};
  return {};
}

Result<void> SqliteStore::DeleteSchedule(const std::string& name) {
  bool found = false;
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    Stmt s(db, kDeleteSchedule);
    s.Bind(name);
    if (!s.Run()) return false;
    found = sqlite3_changes(db.handle()) > 0;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("the deletion of schedule \"{}\"", name));
  if (!found) return Error{ErrorCode::kNotFound, fmt::format("no schedule named \"{}\"", name)};
  return {};
}

std::vector<StoredSchedule> SqliteStore::ListSchedules() {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  Stmt s(*lease.db(), kSelectSchedules);
  std::vector<StoredSchedule> schedules;
  while (s.Step()) {
    StoredSchedule& schedule = schedules.emplace_back();
    schedule.name = s.Text(0);
    schedule.suite = s.Text(1);
    schedule.spec = s.Text(2);
    schedule.time_zone = s.Text(3);
    schedule.filter = s.Text(4);
    schedule.paused = s.Bool(5);
    schedule.created_at_ns = s.Int(6);
  }
  return schedules;
}

std::int64_t SqliteStore::DeleteRunsBefore(std::int64_t cutoff_ns) {
  std::int64_t total = 0;
  for (;;) {
    std::int64_t deleted = 0;
    bool more = false;
    // Weighted as a full transaction so that it commits on its own, between batches.
    const bool ok = RunTask(options_.max_transaction_ops, [&](SqliteDb& db) {
      deleted = 0;
      std::vector<std::int64_t> ids;
      {
        Stmt pick(db, kPickExpiredRuns);
        pick.Bind(cutoff_ns).Bind(kDeleteRunsPerTransaction);
        while (pick.Step()) ids.push_back(pick.Int(0));
        if (!pick.ok()) return false;
      }
      more = ids.size() == static_cast<std::size_t>(kDeleteRunsPerTransaction);
      std::int64_t rows = 0;
      for (std::int64_t id : ids) {
        if (rows >= kDeleteRowsPerTransaction) {
          more = true;
          break;
        }
        for (const char* sql : kDeleteRunRows) {
          Stmt s(db, sql);
          s.Bind(id);
          if (!s.Run()) return false;
          rows += sqlite3_changes(db.handle());
        }
        ++deleted;
      }
      return true;
    });
    if (!ok) break;  // logged; what was committed stays deleted
    total += deleted;
    if (!more) break;
  }
  return total;
}

std::string SqliteStore::ProbeWrite() {
  std::string error;
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    if (!db.ExecScript(kCreateProbe, &error)) return false;
    Stmt upsert(db, kUpsertProbe);
    upsert.Bind(Now());
    if (upsert.Run()) return true;
    error = db.ErrorMessage();
    return false;
  });
  if (ok) return {};
  // The task's own error, or (the task went through but its transaction did not commit)
  // the commit's.
  if (error.empty()) error = CommitError();
  return error.empty() ? "a write to the database did not commit" : error;
}

Result<BackupInfo> SqliteStore::Backup(const std::string& path) {
  ReadLease lease(*this);
  if (!lease.db()) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("backup to \"{}\": no connection to the database could be opened",
                             path)};
  }
  return BackupDatabase(lease.db()->handle(), path_.empty(), path);
}

}  // namespace handoff::store
