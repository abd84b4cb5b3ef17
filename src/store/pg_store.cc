#include "store/pg_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "store/journal.h"
#include "store/pg_db.h"
#include "store/pg_deliveries.h"
#include "store/pg_hunts.h"
#include "store/pg_holder.h"
#include "store/pg_read_lease.h"
#include "store/pg_records.h"
#include "store/pg_schema.h"
#include "store/pg_url.h"
#include "store/planned_tests.h"
#include "store/quiet_attempts.h"
#include "store/run_json.h"
#include "store/sql_where.h"
#include "store/store_log.h"
#include "store/value_encoding.h"

namespace handoff::store {
namespace {

// Retention deletes at most this many runs, and stops after about this many rows, per
// transaction so that the writer commits test results in between.
constexpr int kDeleteRunsPerTransaction = 100;
constexpr std::int64_t kDeleteRowsPerTransaction = 20000;

constexpr const char* kUpsertProbe =
    "INSERT INTO handoff_probe (id, probed_at) VALUES (1, $1) "
    "ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at";

// A shared run's journal starts with the run, queued (CreateSharedRun).
constexpr const char* kInsertFirstEvent =
    "INSERT INTO run_events (run_id, seq, type, data) VALUES ($1, 1, 'run', $2)";

constexpr const char* kInsertPlan = "INSERT INTO run_plans (run_id, planned) VALUES ($1, $2)";
constexpr const char* kSelectPlanned = "SELECT planned FROM run_plans WHERE run_id = $1";

// The last journal seqs of a run: one statement, so one snapshot.
constexpr const char* kLastEventSeqs =
    "SELECT (SELECT max(seq) FROM run_events WHERE run_id = $1), "
    "(SELECT max(seq) FROM tests WHERE run_id = $1)";
constexpr const char* kSelectEvents =
    "SELECT seq, type, data FROM run_events WHERE run_id = $1 AND seq > $2 "
    "ORDER BY seq LIMIT $3";

constexpr const char* kSelectAttachments =
    "SELECT test, attempt, name, media_type, size FROM attachments "
    "WHERE run_id = $1 AND ($2::bytea IS NULL OR test = $2) ORDER BY test, attempt, seq";
constexpr const char* kSelectAttachment =
    "SELECT media_type, size, data FROM attachments "
    "WHERE run_id = $1 AND test = $2 AND attempt = $3 AND name = $4";

constexpr const char* kInsertSchedule =
    "INSERT INTO schedules (name, suite, spec, time_zone, test_filter, paused, created_at, "
    "hunt_repeat, hunt_until_failure, hunt_max_duration_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (name) DO NOTHING";
constexpr const char* kPauseSchedule = "UPDATE schedules SET paused = $2 WHERE name = $1";
constexpr const char* kDeleteSchedule = "DELETE FROM schedules WHERE name = $1";
// By name as SQLite orders it (bytes), whatever the database's collation.
constexpr const char* kSelectSchedules =
    "SELECT name, suite, spec, time_zone, test_filter, paused, created_at, hunt_repeat, "
    "hunt_until_failure, hunt_max_duration_ms FROM schedules "
    "ORDER BY name COLLATE \"C\"";
constexpr const char* kInsertIngestedSuite =
    "INSERT INTO ingested_suites (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
// By name as SQLite orders it, like the schedules.
constexpr const char* kSelectIngestedSuites =
    "SELECT name, created_at FROM ingested_suites ORDER BY name COLLATE \"C\"";

// The oldest first, along runs_by_created_at.
constexpr const char* kPickExpiredRuns =
    "SELECT id FROM runs WHERE created_at < $1 "
    "AND status IN ('passed', 'failed', 'cancelled', 'error') "
    "AND (hunt_id = 0 OR hunt_id NOT IN (SELECT id FROM hunts WHERE status = 'running')) "
    "ORDER BY created_at, id LIMIT $2";
// Children first, each by its run_id index; the foreign keys then find nothing left.
constexpr const char* kDeleteRunRows[] = {
    "DELETE FROM attachments WHERE run_id = $1",
    "DELETE FROM run_events WHERE run_id = $1",
    "DELETE FROM attempts WHERE run_id = $1",
    "DELETE FROM tests WHERE run_id = $1",
    "DELETE FROM run_plans WHERE run_id = $1",
    kPgDeleteRunDeliveries,
    "DELETE FROM runs WHERE id = $1",
};


std::int64_t SystemNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---------------------------------------------------------------------------------------


int PgStore::SchemaVersion() { return PgSchemaVersion(); }

Result<std::unique_ptr<PgStore>> PgStore::Open(std::string_view url,
                                               const PgStoreOptions& options) {
  if (!IsPostgresUrl(url)) {
    return Error{ErrorCode::kUnsupported,
                 fmt::format("unsupported database URL \"{}\": use postgres://USER@HOST/DATABASE",
                             PostgresUrlWithoutPassword(url))};
  }
  const std::string shown_url = PostgresUrlWithoutPassword(url);
  // From now on the store's lines go to this opener's log (those of a failed open too),
  // until the store is destroyed or another is opened.
  std::shared_ptr<const StoreLog> log = InstallStoreLog(options.log);
  struct LogGuard {
    std::shared_ptr<const StoreLog> log;
    bool opened = false;
    ~LogGuard() {
      if (!opened) UninstallStoreLog(log);
    }
  } guard{log};
  Result<std::unique_ptr<PgDb>> writer =
      PgDb::Connect(std::string(url), shown_url, options.prepared_statements);
  if (!writer.ok()) return std::move(writer).error();
  Result<void> migrated = MigratePgSchema(**writer);
  if (!migrated.ok()) return std::move(migrated).error();
  auto store = std::unique_ptr<PgStore>(
      new PgStore(std::string(url), shown_url, options, std::move(writer).value()));
  store->log_ = std::move(log);
  guard.opened = true;
  return store;
}

PgStore::PgStore(std::string url, std::string shown_url, const PgStoreOptions& options,
                 std::unique_ptr<PgDb> writer)
    : url_(std::move(url)), holder_(MakeHolder(HostName())), shown_url_(std::move(shown_url)),
      options_(options),
      writer_(std::move(writer)) {
  writer_thread_ = std::thread([this] { WriterLoop(); });
}

PgStore::~PgStore() {
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

void PgStore::SetCommitError(std::string error) {
  std::lock_guard lock(commit_error_mutex_);
  commit_error_ = std::move(error);
}

std::string PgStore::CommitError() {
  std::lock_guard lock(commit_error_mutex_);
  return commit_error_;
}

Error PgStore::NotCommitted(std::string_view what) {
  return Error{ErrorCode::kUnavailable,
               fmt::format("{} could not be stored: the database did not commit the write", what)};
}

std::int64_t PgStore::Now() const { return options_.now_ns ? options_.now_ns() : SystemNowNs(); }

Result<CreatedRun> PgStore::CreateRun(Run run, const std::vector<std::string>& test_names) {
  return InsertRun(std::move(run), test_names, false, false);
}

Result<CreatedRun> PgStore::CreateSharedRun(Run run, const std::vector<std::string>& test_names,
                                            bool exclusive) {
  return InsertRun(std::move(run), test_names, true, exclusive);
}

Result<CreatedRun> PgStore::InsertRun(Run run, const std::vector<std::string>& test_names,
                                      bool shared, bool exclusive) {
  CreatedRun result;
  const bool ok = RunTask(1, [&](PgDb& db) {
    const std::int64_t created_at = Now();
    static const std::string kFindByKey = fmt::format(
        "SELECT {} FROM runs WHERE idempotency_key = $1 AND idempotency_key <> ''",
        kPgRunColumns);
    constexpr const char* kFindBusy =
        "SELECT id FROM runs WHERE suite = $1 AND exclusive "
        "AND status IN ('queued', 'running', 'held') ORDER BY id LIMIT 1";
    std::int64_t id = 0;
    for (int attempt = 0;; ++attempt) {
      id = InsertPgRun(db, run, created_at, exclusive);
      if (id != 0) break;  // inserted, or failed (-1)
      // Nothing inserted: a run with this idempotency key exists (committed: the insert
      // waited for it), or, for an exclusive run, the suite has an unfinished one.
      if (!run.idempotency_key.empty()) {
        PgParams key;
        key.Add(run.idempotency_key);
        PgResult found = db.Exec(kFindByKey, key);
        if (!found.ok()) return false;
        if (found.rows() == 1) {
          result.run = ReadPgRun(found, 0);
          result.created = false;
          return true;
        }
      }
      if (exclusive) {
        PgParams suite;
        suite.Add(run.suite);
        PgResult busy = db.Exec(kFindBusy, suite);
        if (!busy.ok()) return false;
        if (busy.rows() == 1) {
          result.created = false;
          result.busy_with = busy.Int(0, 0);
          return true;
        }
      }
      // The run that kept this one out finished before it was looked for: an exclusive run
      // has room now, and goes again (a few times at most).
      if (!exclusive || attempt == 3) {
        LogStoreError("idempotent create",
                      "the run that kept this one from being created vanished");
        return false;
      }
    }
    if (id < 0) return false;
    if (!test_names.empty()) {
      PgParams plan;
      plan.Add(id).AddBytes(EncodeStrings(test_names));
      if (!db.Exec(kInsertPlan, plan).ok()) return false;
    }
    result.run = run;
    result.run.id = id;
    result.run.created_at_ns = created_at;
    result.created = true;
    if (shared) {
      std::string data;
      AppendRunJson(data, result.run, nullptr);
      PgParams first;
      first.Add(id).AddBytes(data);
      if (!db.Exec(kInsertFirstEvent, first).ok()) return false;
    }
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("a new run of suite \"{}\"", run.suite));
  return result;
}

std::optional<Run> PgStore::GetRun(std::int64_t id) {
  static const std::string kSql = fmt::format("SELECT {} FROM runs WHERE id = $1", kPgRunColumns);
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  PgParams params;
  params.Add(id);
  PgResult r = lease.db()->Exec(kSql, params);
  if (r.rows() == 0) return std::nullopt;
  return ReadPgRun(r, 0);
}

std::vector<Run> PgStore::ListRuns(const RunQuery& query) {
  if (query.limit <= 0) return {};
  // Every combination of filters is an index range ((suite, id), (suite, status, id),
  // (status, id), (reference, id) or the primary key) read backwards from before_id.
  std::string sql = fmt::format("SELECT {} FROM runs", kPgRunColumns);
  PgParams params;
  WhereClause clause(sql);
  auto where = [&](std::string_view column) {
    clause.Add(fmt::format("{} = ${}", column, params.size()));
  };
  if (!query.suite.empty()) {
    params.Add(query.suite);
    where("suite");
  }
  if (query.status) {
    params.Add(RunStatusName(*query.status));
    where("status");
  }
  if (!query.reference.empty()) {
    params.Add(query.reference);
    where("reference");
  }
  if (query.hunt_id != 0) {
    params.Add(query.hunt_id);
    where("hunt_id");
  }
  if (query.before_id > 0) {
    params.Add(query.before_id);
    clause.Add(fmt::format("id < ${}", params.size()));
  }
  params.Add(query.limit);
  sql += fmt::format(" ORDER BY id DESC LIMIT ${}", params.size());
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return ReadPgRows(lease.db()->Exec(sql, params), ReadPgRun);
}

std::vector<Run> PgStore::RunsWithStatus(const std::vector<RunStatus>& statuses) {
  if (statuses.empty()) return {};
  std::string sql = fmt::format("SELECT {} FROM runs WHERE status IN (", kPgRunColumns);
  PgParams params;
  for (RunStatus status : statuses) {
    params.Add(RunStatusName(status));
    sql += fmt::format("{}${}", params.size() == 1 ? "" : ", ", params.size());
  }
  sql += ") ORDER BY id";
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return ReadPgRows(lease.db()->Exec(sql, params), ReadPgRun);
}

std::optional<Run> PgStore::PreviousFullRun(const Run& run) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM runs WHERE suite = $1 AND id < $2 AND namespace = $3 "
      "AND environment = $4 AND test_filter = '' AND octet_length(tests) = 0 "
      "AND status IN ('passed', 'failed', 'error') ORDER BY id DESC LIMIT 1",
      kPgRunColumns);
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  PgParams params;
  params.Add(run.suite).Add(run.id).Add(run.namespace_name).Add(run.environment);
  PgResult r = lease.db()->Exec(kSql, params);
  if (r.rows() == 0) return std::nullopt;
  return ReadPgRun(r, 0);
}

ReferenceRuns PgStore::RunsOfReference(const std::string& suite,
                                       const std::string& reference) {
  // One statement, so one moment: the finished run, then the unfinished one newer than it,
  // each one step down runs_by_suite_reference (suite, reference, id), read backwards; only
  // runs of the whole suite (no filter, no list of tests) decide a verdict.
  static const std::string kSql = fmt::format(
      "SELECT {0} FROM runs WHERE id = (SELECT id FROM runs WHERE suite = $1 "
      "AND reference = $2 AND test_filter = '' AND octet_length(tests) = 0 AND status IN ('passed', 'failed', 'cancelled', 'error') "
      "ORDER BY id DESC LIMIT 1) "
      "UNION ALL "
      "SELECT {0} FROM runs WHERE id = (SELECT id FROM runs WHERE suite = $1 "
      "AND reference = $2 AND test_filter = '' AND octet_length(tests) = 0 AND status IN ('queued', 'running', 'held') AND id > coalesce(("
      "SELECT id FROM runs WHERE suite = $1 AND reference = $2 "
      "AND test_filter = '' AND octet_length(tests) = 0 AND status IN ('passed', 'failed', 'cancelled', 'error') ORDER BY id DESC LIMIT 1), 0) "
      "ORDER BY id DESC LIMIT 1)",
      kPgRunColumns);
  ReferenceRuns found;
  ReadLease lease(*this);
  if (!lease.db()) return found;
  PgParams params;
  params.Add(suite).Add(reference);
  for (Run& run : ReadPgRows(lease.db()->Exec(kSql, params), ReadPgRun)) {
    (IsFinished(run.status) ? found.finished : found.unfinished) = std::move(run);
  }
  return found;
}

std::vector<Run> PgStore::LastRuns(const std::string& suite, int limit) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM runs WHERE suite = $1 "
      "AND status IN ('passed', 'failed', 'cancelled', 'error') ORDER BY id DESC LIMIT $2",
      kPgRunColumns);
  if (limit <= 0) return {};
  ReadLease lease(*this);
  if (!lease.db()) return {};
  PgParams params;
  params.Add(suite).Add(limit);
  return ReadPgRows(lease.db()->Exec(kSql, params), ReadPgRun);
}

namespace {

// Every test row of a run, in the order the tests were first recorded (by position).
// Ordered here rather than by the server: the planner reads a run's rows through an index
// on run_id then sorts them whole, which takes longer than the rest of the read for 10,000
// tests, while they come mostly in position order already (rows are only appended).
std::vector<TestRow> SelectTestRows(PgDb& db, std::int64_t run_id) {
  static const std::string kSql =
      fmt::format("SELECT {}, position FROM tests WHERE run_id = $1", kPgTestColumns);
  constexpr int kPosition = kPgTestColumnCount;  // the column after kPgTestColumns
  PgParams params;
  params.Add(run_id);
  const PgResult r = db.Exec(kSql, params);
  std::vector<std::pair<std::int64_t, int>> order;  // (position, row)
  order.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) order.emplace_back(r.Int(row, kPosition), row);
  if (!std::is_sorted(order.begin(), order.end())) std::sort(order.begin(), order.end());
  std::vector<TestRow> rows;
  rows.reserve(order.size());
  for (const auto& [position, row] : order) rows.push_back(ReadPgTestRow(r, row));
  return rows;
}

}  // namespace

std::vector<TestRow> PgStore::GetTests(std::int64_t run_id) {
  // The plan never changes once the run is created: two statements see one run.
  ReadLease lease(*this);
  if (!lease.db()) return {};
  std::vector<std::string> planned;
  {
    PgParams params;
    params.Add(run_id);
    PgResult p = lease.db()->Exec(kSelectPlanned, params);
    if (p.rows() == 1) {
      Result<std::vector<std::string>> decoded = DecodeStrings(p.View(0, 0));
      if (decoded.ok()) {
        planned = std::move(decoded).value();
      } else {
        LogStoreError("corrupt stored value", decoded.error().message);
      }
    }
  }
  return MergePlannedTests(planned, SelectTestRows(*lease.db(), run_id));
}

namespace {

// A test's rows with their runs: the run's columns, then kPgTestColumns (prefixed t.).
const std::string& TestInRunSelect() {
  static const std::string kSql = [] {
    std::string test_columns;
    for (std::string_view rest = kPgTestColumns; !rest.empty();) {
      const std::size_t comma = rest.find(',');
      std::string_view column = rest.substr(0, comma);
      while (!column.empty() && column.front() == ' ') column.remove_prefix(1);
      if (!test_columns.empty()) test_columns += ", ";
      test_columns += "t.";
      test_columns += column;
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    return fmt::format("SELECT r.id, r.suite, r.reference, r.environment, r.status, "
                       "r.created_at, {} FROM tests t JOIN runs r ON r.id = t.run_id ",
                       test_columns);
  }();
  return kSql;
}
constexpr int kTestInRunOffset = 6;

std::vector<TestInRun> ReadTestsInRuns(const PgResult& r) {
  return ReadPgRows(r, [](const PgResult& result, int row) {
    TestInRun t;
    t.run_id = result.Int(row, 0);
    t.suite = result.Text(row, 1);
    t.reference = result.Text(row, 2);
    t.environment = result.Text(row, 3);
    ParseRunStatus(result.View(row, 4), &t.run_status);
    t.run_created_at_ns = result.Int(row, 5);
    t.test = ReadPgTestRow(result, row, kTestInRunOffset);
    return t;
  });
}

}  // namespace

std::vector<TestInRun> PgStore::TestHistory(const TestHistoryQuery& query) {
  // Down tests_by_test (name, run_id), newest run first.
  static const std::string kSql =
      TestInRunSelect() +
      "WHERE t.name = $1 AND r.suite = $2 AND ($3 = 0 OR t.run_id < $3) "
      "ORDER BY t.run_id DESC LIMIT $4";
  if (query.limit <= 0) return {};
  ReadLease lease(*this);
  if (!lease.db()) return {};
  PgParams params;
  params.AddBytes(query.test).Add(query.suite).Add(query.before_id).Add(query.limit);
  return ReadTestsInRuns(lease.db()->Exec(kSql, params));
}

std::optional<TestInRun> PgStore::FirstFailure(const std::string& suite,
                                               const std::string& test) {
  static const std::string kSql =
      TestInRunSelect() +
      "WHERE t.name = $1 AND r.suite = $2 AND t.status = 'failed' AND NOT t.soft "
      "ORDER BY t.run_id LIMIT 1";
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  PgParams params;
  params.AddBytes(test).Add(suite);
  std::vector<TestInRun> found = ReadTestsInRuns(lease.db()->Exec(kSql, params));
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::vector<TestInRun> PgStore::SearchTests(const TestSearch& search) {
  // Names and messages are BYTEA: compared in encode(…, 'escape') form on both sides, where
  // ASCII stays itself (lower() folds its letters, as SQLite's does) and other bytes are
  // escaped alike, so that any text matches itself.
  static const std::string kSql =
      TestInRunSelect() +
      "WHERE ($1 = '' OR r.suite = $1) AND (length($2) = 0 OR "
      "strpos(lower(encode(t.name, 'escape')), lower(encode($2, 'escape'))) > 0) "
      "AND (length($3) = 0 OR (t.status = 'failed' AND "
      "strpos(lower(encode(t.message, 'escape')), lower(encode($3, 'escape'))) > 0)) "
      "AND ($4 = 0 OR t.run_id < $4) ORDER BY t.run_id DESC, t.position LIMIT $5";
  if (search.limit <= 0) return {};
  ReadLease lease(*this);
  if (!lease.db()) return {};
  PgParams params;
  params.Add(search.suite).AddBytes(search.test).AddBytes(search.failure)
      .Add(search.before_id).Add(search.limit);
  return ReadTestsInRuns(lease.db()->Exec(kSql, params));
}

std::vector<Attempt> PgStore::GetAttempts(std::int64_t run_id, const std::string& test) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM attempts WHERE run_id = $1 AND test = $2 ORDER BY attempt",
      kPgAttemptColumns);
  static const std::string kSelectTest =
      fmt::format("SELECT {} FROM tests WHERE run_id = $1 AND name = $2", kPgTestColumns);
  // The attempts and the row in one snapshot: a quiet attempt is put back from a row only
  // when its own attempt is not stored, which a row newer than the attempts would fake.
  ReadLease lease(*this, /*snapshot=*/true);
  if (!lease.db()) return {};
  PgParams params;
  params.Add(run_id).AddBytes(test);
  std::vector<Attempt> attempts = ReadPgRows(lease.db()->Exec(kSql, params), ReadPgAttempt);
  PgResult row = lease.db()->Exec(kSelectTest, params);
  if (row.rows() == 1) {
    if (auto quiet = QuietAttempt(ReadPgTestRow(row, 0), attempts)) {
      attempts.push_back(std::move(*quiet));
    }
  }
  return attempts;
}

std::vector<Attempt> PgStore::GetAllAttempts(std::int64_t run_id) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM attempts WHERE run_id = $1 ORDER BY test, attempt", kPgAttemptColumns);
  ReadLease lease(*this, /*snapshot=*/true);
  if (!lease.db()) return {};
  PgParams params;
  params.Add(run_id);
  std::vector<Attempt> stored = ReadPgRows(lease.db()->Exec(kSql, params), ReadPgAttempt);
  return AttemptsInReportOrder(SelectTestRows(*lease.db(), run_id), std::move(stored));
}

std::vector<RunEvent> PgStore::GetEvents(std::int64_t run_id, std::int64_t after_seq,
                                         int limit) {
  static const std::string kSelectTestEvents = fmt::format(
      "SELECT {} FROM tests WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
      kPgTestColumns);
  if (limit <= 0) return {};
  // Both lists from one snapshot: a commit between them would show a test's entry while
  // hiding an event before it, which a reader catching up would then skip for good.
  ReadLease lease(*this, /*snapshot=*/true);
  if (!lease.db()) return {};
  PgParams params;
  params.Add(run_id).Add(after_seq).Add(limit);
  std::vector<RunEvent> written;
  {
    PgResult r = lease.db()->Exec(kSelectEvents, params);
    written.reserve(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) {
      RunEvent& e = written.emplace_back();
      e.seq = r.Int(row, 0);
      e.type = r.Text(row, 1);
      e.data = r.Text(row, 2);
    }
  }
  std::vector<TestRow> tests =
      ReadPgRows(lease.db()->Exec(kSelectTestEvents, params),
                 [](const PgResult& r, int row) { return ReadPgTestRow(r, row); });
  return MergeJournal(std::move(written), tests, limit);
}

std::int64_t PgStore::LastEventSeq(std::int64_t run_id) {
  ReadLease lease(*this);
  if (!lease.db()) return 0;
  PgParams params;
  params.Add(run_id);
  PgResult r = lease.db()->Exec(kLastEventSeqs, params);
  if (r.rows() == 0) return 0;
  return LastJournalSeq(r.Int(0, 0), r.Int(0, 1));  // NULL (no rows) reads as 0
}

Result<std::vector<AttachmentInfo>> PgStore::ListAttachments(
    std::int64_t run_id, const std::optional<std::string>& test) {
  ReadLease lease(*this);
  if (!lease.db()) return Unreadable("the attachments of a run");
  PgParams params;
  params.Add(run_id);
  if (test) {
    params.AddBytes(*test);
  } else {
    params.AddNullBytes();
  }
  PgResult r = lease.db()->Exec(kSelectAttachments, params);
  if (!r.ok()) return Unreadable("the attachments of a run");
  std::vector<AttachmentInfo> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    out.push_back(AttachmentInfo{r.Text(row, 0), static_cast<int>(r.Int(row, 1)),
                                 r.Text(row, 2), r.Text(row, 3), r.Int(row, 4)});
  }
  return out;
}

Result<std::optional<StoredAttachment>> PgStore::GetAttachment(std::int64_t run_id,
                                                               const std::string& test,
                                                               int attempt,
                                                               const std::string& name) {
  ReadLease lease(*this);
  if (!lease.db()) return Unreadable("an attachment");
  PgParams params;
  params.Add(run_id).AddBytes(test).Add(attempt).AddBytes(name);
  PgResult r = lease.db()->Exec(kSelectAttachment, params);
  if (!r.ok()) return Unreadable("an attachment");
  if (r.rows() == 0) return std::optional<StoredAttachment>{};
  return std::optional<StoredAttachment>(
      StoredAttachment{AttachmentInfo{test, attempt, name, r.Text(0, 0), r.Int(0, 1)},
                       r.Text(0, 2)});
}

Result<void> PgStore::PutSchedule(const StoredSchedule& schedule) {
  bool inserted = false;
  const bool ok = RunTask(1, [&](PgDb& db) {
    PgParams params;
    params.Add(schedule.name).Add(schedule.suite).Add(schedule.spec).Add(schedule.time_zone)
        .Add(schedule.filter).Add(schedule.paused).Add(schedule.created_at_ns)
        .Add(schedule.hunt_repeat).Add(schedule.hunt_until_failure)
        .Add(schedule.hunt_max_duration_ms);
    PgResult r = db.Exec(kInsertSchedule, params);
    if (!r.ok()) return false;
    inserted = r.Affected() > 0;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("schedule \"{}\"", schedule.name));
  if (!inserted) {
    return Error{ErrorCode::kConflict,
                 fmt::format("a schedule named \"{}\" already exists", schedule.name)};
  }
  return {};
}

Result<void> PgStore::UpdateSchedulePaused(const std::string& name, bool paused) {
  bool found = false;
  const bool ok = RunTask(1, [&](PgDb& db) {
    PgParams params;
    params.Add(name).Add(paused);
    PgResult r = db.Exec(kPauseSchedule, params);
    if (!r.ok()) return false;
    found = r.Affected() > 0;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("the pause of schedule \"{}\"", name));
  if (!found) return Error{ErrorCode::kNotFound, fmt::format("no schedule named \"{}\"", name)};
  return {};
}

Result<void> PgStore::DeleteSchedule(const std::string& name) {
  bool found = false;
  const bool ok = RunTask(1, [&](PgDb& db) {
    PgParams params;
    params.Add(name);
    PgResult r = db.Exec(kDeleteSchedule, params);
    if (!r.ok()) return false;
    found = r.Affected() > 0;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("the deletion of schedule \"{}\"", name));
  if (!found) return Error{ErrorCode::kNotFound, fmt::format("no schedule named \"{}\"", name)};
  return {};
}

std::vector<StoredSchedule> PgStore::ListSchedules() {
  return TryListSchedules().value_or(std::vector<StoredSchedule>{});
}

std::optional<std::vector<StoredSchedule>> PgStore::TryListSchedules() {
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  PgResult r = lease.db()->Exec(kSelectSchedules);
  if (!r.ok()) return std::nullopt;
  std::vector<StoredSchedule> schedules;
  for (int row = 0; row < r.rows(); ++row) {
    StoredSchedule& schedule = schedules.emplace_back();
    schedule.name = r.Text(row, 0);
    schedule.suite = r.Text(row, 1);
    schedule.spec = r.Text(row, 2);
    schedule.time_zone = r.Text(row, 3);
    schedule.filter = r.Text(row, 4);
    schedule.paused = r.Bool(row, 5);
    schedule.created_at_ns = r.Int(row, 6);
    schedule.hunt_repeat = static_cast<int>(r.Int(row, 7));
    schedule.hunt_until_failure = r.Bool(row, 8);
    schedule.hunt_max_duration_ms = r.Int(row, 9);
  }
  return schedules;
}

std::int64_t PgStore::DeleteRunsBefore(std::int64_t cutoff_ns) {
  std::int64_t total = 0;
  for (;;) {
    std::int64_t deleted = 0;
    bool more = false;
    // Weighted as a full transaction so that it commits on its own, between batches.
    const bool ok = RunTask(options_.max_transaction_ops, [&](PgDb& db) {
      deleted = 0;
      PgParams pick;
      pick.Add(cutoff_ns).Add(kDeleteRunsPerTransaction);
      PgResult ids = db.Exec(kPickExpiredRuns, pick);
      if (!ids.ok()) return false;
      more = ids.rows() == kDeleteRunsPerTransaction;
      std::int64_t rows = 0;
      for (int i = 0; i < ids.rows(); ++i) {
        if (rows >= kDeleteRowsPerTransaction) {
          more = true;
          break;
        }
        PgParams id;
        id.Add(ids.Int(i, 0));
        for (const char* sql : kDeleteRunRows) {
          PgResult r = db.Exec(sql, id);
          if (!r.ok()) return false;
          rows += r.Affected();
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

Result<void> PgStore::DeleteRun(std::int64_t run_id) {
  const bool ok = RunTask(1, [&](PgDb& db) {
    PgParams id;
    id.Add(run_id);
    for (const char* sql : kDeleteRunRows) {
      if (!db.Exec(sql, id).ok()) return false;
    }
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("the deletion of run {}", run_id));
  return {};
}

Result<void> PgStore::AddIngestedSuite(const IngestedSuite& suite) {
  const bool ok = RunTask(1, [&](PgDb& db) {
    PgParams params;
    params.Add(suite.name).Add(suite.created_at_ns);
    return db.Exec(kInsertIngestedSuite, params).ok();
  });
  if (!ok) return NotCommitted(fmt::format("suite \"{}\"", suite.name));
  return {};
}

std::vector<IngestedSuite> PgStore::ListIngestedSuites() {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  PgResult r = lease.db()->Exec(kSelectIngestedSuites);
  if (!r.ok()) return {};
  std::vector<IngestedSuite> suites;
  for (int row = 0; row < r.rows(); ++row) {
    suites.push_back(IngestedSuite{r.Text(row, 0), r.Int(row, 1)});
  }
  return suites;
}

Result<Hunt> PgStore::CreateHunt(Hunt hunt) {
  const std::int64_t created_at = Now();
  std::optional<std::int64_t> id;
  const bool ok = RunTask(1, [&](PgDb& db) {
    id = InsertPgHunt(db, hunt, created_at);
    return id.has_value();
  });
  if (!ok || !id) return NotCommitted(fmt::format("a new hunt of suite \"{}\"", hunt.suite));
  hunt.id = *id;
  hunt.created_at_ns = created_at;
  return hunt;
}

std::optional<Hunt> PgStore::GetHunt(std::int64_t id) {
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  return SelectPgHunt(*lease.db(), id);
}

std::vector<Hunt> PgStore::ListHunts(const HuntQuery& query) {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return SelectPgHunts(*lease.db(), query);
}

Result<bool> PgStore::EndHunt(std::int64_t id, HuntStatus status, const std::string& error,
                              std::int64_t finished_at_ns) {
  bool ended = false;
  const bool ok = RunTask(1, [&](PgDb& db) {
    const std::optional<bool> updated = EndPgHunt(db, id, status, error, finished_at_ns);
    if (!updated) return false;
    ended = *updated;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("the end of hunt {}", id));
  return ended;
}

std::optional<HuntRuns> PgStore::CountHuntRuns(std::int64_t id) {
  ReadLease lease(*this);
  if (!lease.db()) return std::nullopt;
  return CountPgHuntRuns(*lease.db(), id);
}

std::vector<Delivery> PgStore::PendingDeliveries(const std::string& destination, int limit) {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return SelectPgPendingDeliveries(*lease.db(), destination, limit);
}

Result<void> PgStore::UpdateDelivery(const DeliveryUpdate& update) {
  bool found = false;
  const bool ok = RunTask(1, [&](PgDb& db) {
    const std::optional<bool> updated = UpdatePgDeliveryRow(db, update);
    if (!updated) return false;
    found = *updated;
    return true;
  });
  if (!ok) return NotCommitted(fmt::format("the outcome of delivery \"{}\"", update.id));
  if (!found) return Error{ErrorCode::kNotFound, fmt::format("no delivery \"{}\"", update.id)};
  return {};
}

std::vector<Delivery> PgStore::RunDeliveries(std::int64_t run_id) {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return SelectPgRunDeliveries(*lease.db(), run_id);
}

std::string PgStore::LastDeliveryProgress(const std::string& destination,
                                          const std::string& suite) {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return SelectPgLastDeliveryProgress(*lease.db(), destination, suite);
}

std::map<std::string, std::int64_t> PgStore::PendingDeliveryCounts() {
  ReadLease lease(*this);
  if (!lease.db()) return {};
  return CountPgPendingDeliveries(*lease.db());
}

Result<void> PgStore::ProbeWrite() {
  std::string error;
  const bool ok = RunTask(1, [&](PgDb& db) {
    PgParams params;
    params.Add(Now());
    PgResult r = db.Exec(kUpsertProbe, params);
    if (r.ok()) return true;
    error = fmt::format("database \"{}\": {}", shown_url_, r.error());
    return false;
  });
  if (ok) return {};
  // The task's own error, or (it never ran, or its transaction did not commit) the
  // connection's or the commit's.
  if (error.empty()) error = CommitError();
  return Error{ErrorCode::kUnavailable,
               error.empty() ? fmt::format("a write to database \"{}\" did not commit", shown_url_)
                             : std::move(error)};
}

Result<BackupInfo> PgStore::Backup(const std::string& path) {
  return Error{ErrorCode::kUnsupported,
               fmt::format("handoff does not back up a PostgreSQL store (database \"{}\") to "
                           "\"{}\": use pg_dump, or the server's own backups",
                           shown_url_, path)};
}

}  // namespace handoff::store
