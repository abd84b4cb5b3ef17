#include "store/sqlite_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
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
#include "store/sqlite_db.h"
#include "store/sqlite_deliveries.h"
#include "store/sqlite_hunts.h"
#include "store/sqlite_files.h"
#include "store/sqlite_schema.h"
#include "store/sql_where.h"
#include "store/store_log.h"
#include "store/value_encoding.h"

namespace handoff::store {
namespace {

// Idle read connections kept open; more are opened while more readers run at once.
constexpr std::size_t kMaxIdleReaders = 8;
// Retention deletes at most this many runs, and stops after about this many rows, per
// transaction so that the writer commits test results in between.
constexpr int kDeleteRunsPerTransaction = 100;
constexpr std::int64_t kDeleteRowsPerTransaction = 20000;

// The probe's table and row (ProbeWrite): created by the first probe, outside the schema's
// migrations, so it never changes the schema version.
constexpr const char* kCreateProbe =
    "CREATE TABLE IF NOT EXISTS handoff_probe (id INTEGER PRIMARY KEY, probed_at INTEGER "
    "NOT NULL)";
constexpr const char* kUpsertProbe =
    "INSERT INTO handoff_probe (id, probed_at) VALUES (1, ?1) "
    "ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at";


// ---------------------------------------------------------------------------------------
// SQL. Kept as constants: each is prepared once per connection.

constexpr std::string_view kRunColumns =
    "id, suite, namespace, status, run_trigger, initiated_by, reference, environment, "
    "schedule, created_at, started_at, finished_at, flaky, resumed, retry_of, error, "
    "test_filter, tests, labels, params, max_attempts, timeout_ms, idempotency_key, "
    "run_values, totals, secret_params, on_behalf_of, hunt_id, hold_on_failure, hold";

constexpr const char* kInsertRun =
    "INSERT INTO runs (suite, namespace, status, run_trigger, initiated_by, reference, "
    "environment, schedule, created_at, started_at, finished_at, flaky, resumed, retry_of, "
    "error, test_filter, tests, labels, params, max_attempts, timeout_ms, idempotency_key, "
    "run_values, secret_params, on_behalf_of, hunt_id, hold_on_failure) VALUES (?1, ?2, ?3, ?4, "
    "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, "
    "?24, ?25, ?26, ?27)";
constexpr const char* kInsertPlan = "INSERT INTO run_plans (run_id, planned) VALUES (?1, ?2)";
// Unset fields are bound as NULL and keep their value (no column is ever NULL).
constexpr const char* kUpdateRun =
    "UPDATE runs SET status = coalesce(?2, status), started_at = coalesce(?3, started_at), "
    "finished_at = coalesce(?4, finished_at), flaky = coalesce(?5, flaky), "
    "resumed = coalesce(?6, resumed), error = coalesce(?7, error), "
    "run_values = coalesce(?8, run_values), totals = coalesce(?9, totals), "
    "hold = coalesce(?10, hold) WHERE id = ?1";
constexpr const char* kUpsertTest =
    "INSERT INTO tests (run_id, name, status, attempt, soft, flaky, started_at, duration_ms, "
    "message, seq, trace_id, change, since_run, since_reference, since_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
    "ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status, "
    "attempt = excluded.attempt, soft = excluded.soft, flaky = excluded.flaky, "
    "started_at = excluded.started_at, duration_ms = excluded.duration_ms, "
    "message = excluded.message, seq = excluded.seq, trace_id = excluded.trace_id, "
    "change = excluded.change, since_run = excluded.since_run, "
    "since_reference = excluded.since_reference, since_at = excluded.since_at";
constexpr const char* kUpsertAttempt =
    "INSERT INTO attempts (run_id, test, attempt, status, soft, started_at, duration_ms, "
    "output, failures, skip_reason, attempt_values, spans, lines, trace_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, ?10, ?11, ?12, ?13) "
    "ON CONFLICT (run_id, test, attempt) DO UPDATE SET status = excluded.status, "
    "soft = excluded.soft, started_at = excluded.started_at, "
    "duration_ms = excluded.duration_ms, output = excluded.output, "
    "failures = excluded.failures, skip_reason = excluded.skip_reason, "
    "attempt_values = excluded.attempt_values, spans = excluded.spans, "
    "lines = excluded.lines, trace_id = excluded.trace_id";
constexpr const char* kInsertEvent =
    "INSERT INTO run_events (run_id, seq, type, data) VALUES (?1, ?2, ?3, ?4)";

constexpr const char* kSelectPlanned = "SELECT planned FROM run_plans WHERE run_id = ?1";
// What ReadTestRow reads.
#define HANDOFF_TEST_COLUMN_LIST \
  "name, status, attempt, soft, flaky, started_at, duration_ms, message, seq, trace_id, " \
  "change, since_run, since_reference, since_at"
#define HANDOFF_TEST_COLUMNS "SELECT " HANDOFF_TEST_COLUMN_LIST " FROM tests "
constexpr const char* kSelectTests = HANDOFF_TEST_COLUMNS "WHERE run_id = ?1 ORDER BY position";
constexpr const char* kSelectTest = HANDOFF_TEST_COLUMNS "WHERE run_id = ?1 AND name = ?2";
constexpr const char* kSelectTestEvents =
    HANDOFF_TEST_COLUMNS "WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
#undef HANDOFF_TEST_COLUMNS

// A test's rows with their runs (TestHistory, FirstFailure, SearchTests): ReadTestInRun reads
// the run's columns, then ReadTestRow's from kTestInRunOffset on.
#define HANDOFF_TEST_IN_RUN_COLUMNS                                                  \
  "SELECT r.id, r.suite, r.reference, r.environment, r.status, r.created_at, t.name, " \
  "t.status, t.attempt, t.soft, t.flaky, t.started_at, t.duration_ms, t.message, t.seq, " \
  "t.trace_id, t.change, t.since_run, t.since_reference, t.since_at "              \
  "FROM tests t JOIN runs r ON r.id = t.run_id "
constexpr int kTestInRunOffset = 6;
// Down tests_by_test (name, run_id), newest run first.
constexpr const char* kSelectTestHistory = HANDOFF_TEST_IN_RUN_COLUMNS
    "WHERE t.name = ?1 AND r.suite = ?2 AND (?3 = 0 OR t.run_id < ?3) "
    "ORDER BY t.run_id DESC LIMIT ?4";
constexpr const char* kSelectFirstFailure = HANDOFF_TEST_IN_RUN_COLUMNS
    "WHERE t.name = ?1 AND r.suite = ?2 AND t.status = 'failed' AND t.soft = 0 "
    "ORDER BY t.run_id LIMIT 1";
// lower() folds ASCII letters only, on both sides alike.
constexpr const char* kSearchTests = HANDOFF_TEST_IN_RUN_COLUMNS
    "WHERE (?1 = '' OR r.suite = ?1) AND (?2 = '' OR instr(lower(t.name), lower(?2)) > 0) "
    "AND (?3 = '' OR (t.status = 'failed' AND instr(lower(t.message), lower(?3)) > 0)) "
    "AND (?4 = 0 OR t.run_id < ?4) ORDER BY t.run_id DESC, t.position LIMIT ?5";
#undef HANDOFF_TEST_IN_RUN_COLUMNS
#undef HANDOFF_TEST_COLUMN_LIST
constexpr const char* kLastEventSeqs =
    "SELECT (SELECT max(seq) FROM run_events WHERE run_id = ?1), "
    "(SELECT max(seq) FROM tests WHERE run_id = ?1)";
constexpr std::string_view kAttemptColumns =
    "a.test, a.attempt, a.status, a.soft, a.started_at, a.duration_ms, a.output, "
    "a.failures, a.skip_reason, a.attempt_values, a.spans, a.lines, a.trace_id";
constexpr const char* kSelectEvents =
    "SELECT seq, type, data FROM run_events WHERE run_id = ?1 AND seq > ?2 "
    "ORDER BY seq LIMIT ?3";

constexpr const char* kInsertAttachment =
    "INSERT OR REPLACE INTO attachments (run_id, test, attempt, name, media_type, size, data) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kSelectAttachments =
    "SELECT test, attempt, name, media_type, size FROM attachments "
    "WHERE run_id = ?1 AND (?2 IS NULL OR test = ?2) ORDER BY test, attempt, rowid";
constexpr const char* kSelectAttachment =
    "SELECT media_type, size, data FROM attachments "
    "WHERE run_id = ?1 AND test = ?2 AND attempt = ?3 AND name = ?4";

constexpr const char* kInsertSchedule =
    "INSERT INTO schedules (name, suite, spec, time_zone, test_filter, paused, created_at, "
    "hunt_repeat, hunt_until_failure, hunt_max_duration_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (name) DO NOTHING";
constexpr const char* kPauseSchedule = "UPDATE schedules SET paused = ?2 WHERE name = ?1";
constexpr const char* kDeleteSchedule = "DELETE FROM schedules WHERE name = ?1";
constexpr const char* kSelectSchedules =
    "SELECT name, suite, spec, time_zone, test_filter, paused, created_at, hunt_repeat, "
    "hunt_until_failure, hunt_max_duration_ms FROM schedules "
    "ORDER BY name";
constexpr const char* kInsertIngestedSuite =
    "INSERT INTO ingested_suites (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING";
constexpr const char* kSelectIngestedSuites =
    "SELECT name, created_at FROM ingested_suites ORDER BY name";

// The oldest first, along runs_by_created_at ("+status" keeps the planner off
// runs_by_status, which would sort every finished run).
constexpr const char* kPickExpiredRuns =
    "SELECT id FROM runs WHERE created_at < ?1 "
    "AND +status IN ('passed', 'failed', 'cancelled', 'error') "
    "AND (hunt_id = 0 OR hunt_id NOT IN (SELECT id FROM hunts WHERE status = 'running')) "
    "ORDER BY created_at, id LIMIT ?2";
// Children first, each by its run_id index; the foreign keys then find nothing left.
constexpr const char* kDeleteRunRows[] = {
    "DELETE FROM attachments WHERE run_id = ?1",
    "DELETE FROM run_events WHERE run_id = ?1",
    "DELETE FROM attempts WHERE run_id = ?1",
    "DELETE FROM tests WHERE run_id = ?1",
    "DELETE FROM run_plans WHERE run_id = ?1",
    kDeleteRunDeliveries,
    "DELETE FROM runs WHERE id = ?1",
};

constexpr const char* kBegin = "BEGIN IMMEDIATE";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
constexpr const char* kSavepoint = "SAVEPOINT write";
constexpr const char* kRelease = "RELEASE write";
constexpr const char* kRollbackTo = "ROLLBACK TO write";

std::int64_t SystemNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
  run.secret_params = ValueOrLogged(DecodeStrings(s.View(25)));
  run.on_behalf_of = s.Text(26);
  run.hunt_id = s.Int(27);
  run.hold_on_failure = s.Bool(28);
  run.hold = ValueOrLogged(DecodeHold(s.View(29)));
  return run;
}

std::vector<Run> ReadRuns(Stmt& s) {
  std::vector<Run> runs;
  while (s.Step()) runs.push_back(ReadRun(s));
  return runs;
}

// Reads the columns of kSelectTests, kSelectTest and kSelectTestEvents, from column `at`.
TestRow ReadTestRow(const Stmt& s, int at = 0) {
  TestRow row;
  row.name = s.Text(at + 0);
  ParseTestStatus(s.View(at + 1), &row.status);
  row.attempt = static_cast<int>(s.Int(at + 2));
  row.soft_failure = s.Bool(at + 3);
  row.flaky = s.Bool(at + 4);
  row.started_at_ns = s.Int(at + 5);
  row.duration_ms = s.Int(at + 6);
  row.message = s.Text(at + 7);
  row.seq = s.Int(at + 8);
  row.trace_id = s.Text(at + 9);
  ParseTestChange(s.View(at + 10), &row.change);
  row.failing_since.run_id = s.Int(at + 11);
  row.failing_since.reference = s.Text(at + 12);
  row.failing_since.created_at_ns = s.Int(at + 13);
  return row;
}

// Reads the rows of a statement of HANDOFF_TEST_IN_RUN_COLUMNS.
std::vector<TestInRun> ReadTestsInRuns(Stmt& s) {
  std::vector<TestInRun> out;
  while (s.Step()) {
    TestInRun t;
    t.run_id = s.Int(0);
    t.suite = s.Text(1);
    t.reference = s.Text(2);
    t.environment = s.Text(3);
    ParseRunStatus(s.View(4), &t.run_status);
    t.run_created_at_ns = s.Int(5);
    t.test = ReadTestRow(s, kTestInRunOffset);
    out.push_back(std::move(t));
  }
  return out;
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
      LogStoreError("corrupt stored value", "output lines");
    }
  } else if (!s.IsNull(6)) {
    a.lines = LinesFromText(s.View(6), a.failures, a.skip_reason, a.started_at_ns);
  }
  a.trace_id = s.Text(12);
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
      // Bound without a copy (SQLITE_STATIC): it lives until the statement ran.
      const std::string hold = u.hold ? EncodeHold(*u.hold) : std::string();
      if (u.hold) {
        update.BindBlob(hold);
      } else {
        update.BindNull();
      }
      if (!update.Run()) return false;
      if (sqlite3_changes(db.handle()) == 0) {
        LogStoreError("update of run", fmt::format("run {} does not exist", u.id));
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
          .Bind(t.message).Bind(t.seq).Bind(t.trace_id).Bind(TestChangeName(t.change))
          .Bind(t.failing_since.run_id).Bind(t.failing_since.reference)
          .Bind(t.failing_since.created_at_ns);
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
      upsert.Bind(a.trace_id);
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
  if (!batch.attachments.empty()) {
    Stmt insert(db, kInsertAttachment);
    for (const auto& [run_id, a] : batch.attachments) {
      insert.Reset();
      insert.Bind(run_id).Bind(a.info.test).Bind(a.info.attempt).Bind(a.info.name)
          .Bind(a.info.media_type).Bind(static_cast<std::int64_t>(a.data.size()))
          .BindBlob(a.data);
      if (!insert.Run()) return false;
    }
  }
  return InsertDeliveries(db, batch.deliveries);
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
      if (!owned_) LogStoreError("read connection", error);
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

int SqliteStore::SchemaVersion() { return SqliteSchemaVersion(); }

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
  std::shared_ptr<const StoreLog> log = InstallStoreLog(options.log);
  // Uninstalls the log if the open fails: its owner may not outlive the failure.
  struct LogGuard {
    std::shared_ptr<const StoreLog> log;
    bool opened = false;
    ~LogGuard() {
      if (!opened) UninstallStoreLog(log);
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
      WriteStoreLog(LogLevel::kInfo, "new store: creating the database", path);
    } else if (std::filesystem::is_regular_file(status) &&
               std::filesystem::file_size(path, ec) == 0 && !ec) {
      WriteStoreLog(LogLevel::kInfo, "new store: the database file is empty; initialising it", path);
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
  UninstallStoreLog(log_);
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
          LogStoreError("write", e.what());
        } catch (...) {
          LogStoreError("write", "unknown exception");
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
    } else if (in_transaction) {
      NoteStoreWriteCommitted();
    }
  }
  // Outside the memory lock: a callback may read the store.
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (!writes[i].done) continue;
    try {
      writes[i].done(ok[i] != 0);
    } catch (const std::exception& e) {
      LogStoreError("write callback", e.what());
    } catch (...) {
      LogStoreError("write callback", "unknown exception");
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
    const std::string secret_params = EncodeStrings(run.secret_params);
    const std::string planned = EncodeStrings(test_names);
    Stmt insert(db, kInsertRun);
    insert.Bind(run.suite).Bind(run.namespace_name).Bind(RunStatusName(run.status))
        .Bind(TriggerName(run.trigger)).Bind(run.initiated_by).Bind(run.reference)
        .Bind(run.environment).Bind(run.schedule).Bind(created_at).Bind(run.started_at_ns)
        .Bind(run.finished_at_ns).Bind(run.flaky).Bind(run.resumed).Bind(run.retry_of)
        .Bind(run.error).Bind(run.filter).BindBlob(tests).BindBlob(labels).BindBlob(params)
        .Bind(run.max_attempts).Bind(run.timeout_ms).Bind(run.idempotency_key)
        .BindBlob(values).BindBlob(secret_params).Bind(run.on_behalf_of).Bind(run.hunt_id)
        .Bind(run.hold_on_failure);
    if (!insert.Run()) return false;
    const std::int64_t id = sqlite3_last_insert_rowid(db.handle());
    if (!test_names.empty()) {
      Stmt plan(db, kInsertPlan);
      plan.Bind(id).BindBlob(planned);
      if (!plan.Run()) return false;
    }
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
                                           batch.attempts.size() + batch.events.size() +
                                           batch.deliveries.size() + batch.attachments.size());
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
  WhereClause where(sql);
  if (!query.suite.empty()) where.Add("suite = ?");
  if (query.status) where.Add("status = ?");
  if (!query.reference.empty()) where.Add("reference = ?");
  if (query.hunt_id != 0) where.Add("hunt_id = ?");
  if (query.before_id > 0) where.Add("id < ?");
  sql += " ORDER BY id DESC LIMIT ?";

  ReadLease lease(*this);
  if (!lease.db()) return {};
  Stmt s(*lease.db(), sql);
  if (!query.suite.empty()) s.Bind(query.suite);
  if (query.status) s.Bind(RunStatusName(*query.status));
  if (!query.reference.empty()) s.Bind(query.reference);
  if (query.hunt_id != 0) s.Bind(query.hunt_id);
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

std::optional<Run> SqliteStore::PreviousFullRun(const Run& run) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM runs WHERE suite = ?1 AND id < ?2 AND namespace = ?3 "
      "AND environment = ?4 AND test_filter = '' AND length(tests) = 0 "
      "AND status IN ('passed', 'failed', 'error') ORDER BY id DESC LIMIT 1",
      kRunColumns);
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  Stmt s(*lease.db(), kSql);
  s.Bind(run.suite).Bind(run.id).Bind(run.namespace_name).Bind(run.environment);
  std::vector<Run> runs = ReadRuns(s);
  if (runs.empty()) return std::nullopt;
  return std::move(runs.front());
}

std::vector<TestInRun> SqliteStore::TestHistory(const TestHistoryQuery& query) {
  if (query.limit <= 0) return {};
  ReadLease lease(*this);
  if (!lease.db()) return {};
  Stmt s(*lease.db(), kSelectTestHistory);
  s.Bind(query.test).Bind(query.suite).Bind(query.before_id).Bind(query.limit);
  return ReadTestsInRuns(s);
}

std::optional<TestInRun> SqliteStore::FirstFailure(const std::string& suite,
                                                   const std::string& test) {
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  Stmt s(*lease.db(), kSelectFirstFailure);
  s.Bind(test).Bind(suite);
  std::vector<TestInRun> found = ReadTestsInRuns(s);
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::vector<TestInRun> SqliteStore::SearchTests(const TestSearch& search) {
  if (search.limit <= 0) return {};
  ReadLease lease(*this);
  if (!lease.db()) return {};
  Stmt s(*lease.db(), kSearchTests);
  s.Bind(search.suite).Bind(search.test).Bind(search.failure).Bind(search.before_id)
      .Bind(search.limit);
  return ReadTestsInRuns(s);
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

ReferenceRuns SqliteStore::RunsOfReference(const std::string& suite,
                                           const std::string& reference) {
  // One statement, so one moment: the finished run, then the unfinished one newer than it,
  // each one step down runs_by_suite_reference (suite, reference, id), read backwards; only
  // runs of the whole suite (no filter, no list of tests) decide a verdict.
  static const std::string kSql = fmt::format(
      "SELECT {0} FROM runs WHERE id = (SELECT id FROM runs WHERE suite = ?1 "
      "AND reference = ?2 AND test_filter = '' AND length(tests) = 0 AND status IN ('passed', 'failed', 'cancelled', 'error') "
      "ORDER BY id DESC LIMIT 1) "
      "UNION ALL "
      "SELECT {0} FROM runs WHERE id = (SELECT id FROM runs WHERE suite = ?1 "
      "AND reference = ?2 AND test_filter = '' AND length(tests) = 0 AND status IN ('queued', 'running', 'held') AND id > coalesce(("
      "SELECT id FROM runs WHERE suite = ?1 AND reference = ?2 "
      "AND test_filter = '' AND length(tests) = 0 AND status IN ('passed', 'failed', 'cancelled', 'error') ORDER BY id DESC LIMIT 1), 0) "
      "ORDER BY id DESC LIMIT 1)",
      kRunColumns);
  ReferenceRuns found;
  ReadLease lease(*this);
  if (!lease.db()) return found;
  Stmt s(*lease.db(), kSql);
  s.Bind(suite).Bind(reference);
  for (Run& run : ReadRuns(s)) {
    (IsFinished(run.status) ? found.finished : found.unfinished) = std::move(run);
  }
  return found;
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
  rows.reserve(planned.size());
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

Result<std::vector<AttachmentInfo>> SqliteStore::ListAttachments(
    std::int64_t run_id, const std::optional<std::string>& test) {
  ReadLease lease(*this);
  if (!lease.db()) return Unreadable("the attachments of a run");
  Stmt s(*lease.db(), kSelectAttachments);
  s.Bind(run_id).Bind(test);
  std::vector<AttachmentInfo> out;
  while (s.Step()) {
    out.push_back(AttachmentInfo{s.Text(0), static_cast<int>(s.Int(1)), s.Text(2), s.Text(3),
                                 s.Int(4)});
  }
  if (!s.ok()) return Unreadable("the attachments of a run");
  return out;
}

Result<std::optional<StoredAttachment>> SqliteStore::GetAttachment(std::int64_t run_id,
                                                                   const std::string& test,
                                                                   int attempt,
                                                                   const std::string& name) {
  ReadLease lease(*this);
  if (!lease.db()) return Unreadable("an attachment");
  Stmt s(*lease.db(), kSelectAttachment);
  s.Bind(run_id).Bind(test).Bind(attempt).Bind(name);
  if (!s.Step()) {
    if (!s.ok()) return Unreadable("an attachment");
    return std::optional<StoredAttachment>{};
  }
  return std::optional<StoredAttachment>(
      StoredAttachment{AttachmentInfo{test, attempt, name, s.Text(0), s.Int(1)}, s.Text(2)});
}

Result<void> SqliteStore::PutSchedule(const StoredSchedule& schedule) {
  bool inserted = false;
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    Stmt s(db, kInsertSchedule);
    s.Bind(schedule.name).Bind(schedule.suite).Bind(schedule.spec).Bind(schedule.time_zone)
        .Bind(schedule.filter).Bind(schedule.paused).Bind(schedule.created_at_ns)
        .Bind(schedule.hunt_repeat).Bind(schedule.hunt_until_failure)
        .Bind(schedule.hunt_max_duration_ms);
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
    schedule.hunt_repeat = static_cast<int>(s.Int(7));
    schedule.hunt_until_failure = s.Bool(8);
    schedule.hunt_max_duration_ms = s.Int(9);
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

Result<void> SqliteStore::DeleteRun(std::int64_t run_id) {
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    for (const char* sql : kDeleteRunRows) {
      Stmt s(db, sql);
      s.Bind(run_id);
      if (!s.Run()) return false;
    }
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("the deletion of run {}", run_id));
  return {};
}

Result<void> SqliteStore::AddIngestedSuite(const IngestedSuite& suite) {
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    Stmt s(db, kInsertIngestedSuite);
    s.Bind(suite.name).Bind(suite.created_at_ns);
    return s.Run();
  });
  if (!ok) return NotCommitted(fmt::format("suite \"{}\"", suite.name));
  return {};
}

std::vector<IngestedSuite> SqliteStore::ListIngestedSuites() {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  Stmt s(*lease.db(), kSelectIngestedSuites);
  std::vector<IngestedSuite> suites;
  while (s.Step()) suites.push_back(IngestedSuite{s.Text(0), s.Int(1)});
  return suites;
}

Result<Hunt> SqliteStore::CreateHunt(Hunt hunt) {
  const std::int64_t created_at = Now();
  std::optional<std::int64_t> id;
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    id = InsertHuntRow(db, hunt, created_at);
    return id.has_value();
  });
  if (!ok || !id) return NotCommitted(fmt::format("a new hunt of suite \"{}\"", hunt.suite));
  hunt.id = *id;
  hunt.created_at_ns = created_at;
  return hunt;
}

std::optional<Hunt> SqliteStore::GetHunt(std::int64_t id) {
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  return SelectHunt(*lease.db(), id);
}

std::vector<Hunt> SqliteStore::ListHunts(const HuntQuery& query) {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return SelectHunts(*lease.db(), query);
}

Result<bool> SqliteStore::EndHunt(std::int64_t id, HuntStatus status, const std::string& error,
                                  std::int64_t finished_at_ns) {
  bool ended = false;
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    const std::optional<bool> updated = EndHuntRow(db, id, status, error, finished_at_ns);
    if (!updated) return false;
    ended = *updated;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("the end of hunt {}", id));
  return ended;
}

std::optional<HuntRuns> SqliteStore::CountHuntRuns(std::int64_t id) {
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  return CountHuntRunRows(*lease.db(), id);
}

std::vector<Delivery> SqliteStore::PendingDeliveries(const std::string& destination,
                                                     int limit) {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return SelectPendingDeliveries(*lease.db(), destination, limit);
}

Result<void> SqliteStore::UpdateDelivery(const DeliveryUpdate& update) {
  bool found = false;
  const bool ok = RunTask(1, [&](SqliteDb& db) {
    const std::optional<bool> updated = UpdateDeliveryRow(db, update);
    if (!updated) return false;
    found = *updated;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("the outcome of delivery \"{}\"", update.id));
  if (!found) return Error{ErrorCode::kNotFound, fmt::format("no delivery \"{}\"", update.id)};
  return {};
}

std::vector<Delivery> SqliteStore::RunDeliveries(std::int64_t run_id) {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return SelectRunDeliveries(*lease.db(), run_id);
}

std::string SqliteStore::LastDeliveryProgress(const std::string& destination,
                                              const std::string& suite) {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return SelectLastDeliveryProgress(*lease.db(), destination, suite);
}

std::map<std::string, std::int64_t> SqliteStore::PendingDeliveryCounts() {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return CountPendingDeliveries(*lease.db());
}

Result<void> SqliteStore::ProbeWrite() {
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
  return Error{ErrorCode::kUnavailable,
               error.empty() ? "a write to the database did not commit" : std::move(error)};
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
