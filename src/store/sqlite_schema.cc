#include "store/sqlite_schema.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <iterator>

#include "store/store_check.h"

namespace handoff::store {
namespace {

// Step i brings a database from user_version i to i + 1; steps are only ever
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
    // 5: the planned tests move to a table of their own. In the runs row, the list (200 KB
    // for 10,000 tests, kept in overflow pages) stood before `totals`, so every list of
    // runs walked each run's overflow chain to reach its totals: GET /runs?limit=50 took
    // 4 ms instead of a fraction of one.
    R"sql(
CREATE TABLE run_plans (
  run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  planned BLOB NOT NULL
);
INSERT INTO run_plans (run_id, planned) SELECT id, planned FROM runs WHERE length(planned) > 0;
ALTER TABLE runs DROP COLUMN planned;
)sql",
    // 6: the names of a run's secret params (a list), decided when the run is created, so
    // that its params are shown redacted whatever the server's flags are later. Runs
    // stored before have none.
    R"sql(
ALTER TABLE runs ADD COLUMN secret_params BLOB NOT NULL DEFAULT x'';
)sql",
    // 7: who a run was started for, as the request said (`initiated_by` is who the server
    // authenticated; this one is shown, never trusted).
    R"sql(
ALTER TABLE runs ADD COLUMN on_behalf_of TEXT NOT NULL DEFAULT '';
)sql",
    // 8: the outbox of notifications (issue 16): one row per notification to one
    // destination, inserted in the transaction that commits what it tells and kept with the
    // outcome of its attempts. `state` is DeliveryStateName's; times are nanoseconds since the
    // Unix epoch like every other time here. A rowid table: payloads run to kilobytes, and the
    // rowid orders deliveries created in the same nanosecond. Each index is partial where its
    // reader only wants some rows, so it stays as small as the queue: the delivery worker's
    // pending queue per destination, soonest due first (and the counts of the queue depth);
    // the progress a later message of a suite answers (a Slack thread), newest first.
    R"sql(
CREATE TABLE deliveries (
  id TEXT PRIMARY KEY NOT NULL,
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  suite TEXT NOT NULL DEFAULT '',
  destination TEXT NOT NULL,
  plugin TEXT NOT NULL DEFAULT '',
  target TEXT NOT NULL DEFAULT '',
  event TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  progress TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_pending ON deliveries (destination, created_at)
  WHERE state = 'pending';
CREATE INDEX deliveries_by_run ON deliveries (run_id, created_at);
CREATE INDEX deliveries_progress ON deliveries (destination, suite, created_at)
  WHERE state = 'delivered' AND progress <> '';
)sql",
    // 9: a suite's verdict at a reference (GET /suites/{suite}/verdict: its latest finished
    // run triggered with a commit) is one step down this index, however many runs the suite
    // and the reference have; (reference, id) alone walks every suite's runs of a reference,
    // and (suite, status, id) every finished run of the suite.
    R"sql(
CREATE INDEX runs_by_suite_reference ON runs (suite, reference, id);
)sql",
    // 10: each attempt's W3C trace id (issue 19: links to Tempo, Jaeger, Loki, Kibana), on the
    // attempt and on its test's row, which gives back the attempts not stored (quiet passes).
    // Rows written before have none ('').
    R"sql(
ALTER TABLE tests ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';
)sql",
    // 11: how each test compares with the previous run (issue 19: new failure, still failing
    // since run N, fixed, new test), decided when its run finishes; and an index on the test's
    // name, so that a test's history is one walk down it, newest run first. Rows written
    // before have no change ('').
    R"sql(
ALTER TABLE tests ADD COLUMN change TEXT NOT NULL DEFAULT '';
ALTER TABLE tests ADD COLUMN since_run INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tests ADD COLUMN since_reference TEXT NOT NULL DEFAULT '';
ALTER TABLE tests ADD COLUMN since_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tests_by_test ON tests (name, run_id);
)sql",
    // 12: attachments (issue 19: t.Attach), a table of their own: one row per file of a
    // (sub)test's attempt, its bytes in `data`. A rowid table, so a run's files list in the
    // order they were stored; the unique index is the key a download reads (and a resumed
    // attempt's replacement) and the run_id prefix retention deletes by.
    R"sql(
CREATE TABLE attachments (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  test TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  name TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE UNIQUE INDEX attachments_key ON attachments (run_id, test, attempt, name);
)sql",
    // 13: suites created by an ingested report (issue 20: POST /suites/{suite}/ingest of a
    // suite the binary does not declare), listed beside the binary's. Not a child of runs:
    // retention deletes runs, never the suite.
    R"sql(
CREATE TABLE ingested_suites (
  name TEXT PRIMARY KEY NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 14: hunts (issue 21: a series of runs of a suite to provoke a flaky failure), the hunt
    // each run is one of, and schedules that start hunts. A hunt's counts are its runs',
    // read down runs_by_hunt.
    R"sql(
ALTER TABLE runs ADD COLUMN hunt_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_by_hunt ON runs (hunt_id, id) WHERE hunt_id <> 0;
CREATE TABLE hunts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  suite TEXT NOT NULL,
  namespace TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  hunt_trigger TEXT NOT NULL,
  initiated_by TEXT NOT NULL DEFAULT '',
  on_behalf_of TEXT NOT NULL DEFAULT '',
  reference TEXT NOT NULL DEFAULT '',
  schedule TEXT NOT NULL DEFAULT '',
  test_filter TEXT NOT NULL DEFAULT '',
  tests BLOB NOT NULL DEFAULT x'',
  labels BLOB NOT NULL DEFAULT x'',
  params BLOB NOT NULL DEFAULT x'',
  secret_params BLOB NOT NULL DEFAULT x'',
  max_attempts INTEGER NOT NULL DEFAULT 0,
  timeout_ms INTEGER NOT NULL DEFAULT 0,
  hold_on_failure INTEGER NOT NULL DEFAULT 0,
  repeat_count INTEGER NOT NULL DEFAULT 0,
  until_failure INTEGER NOT NULL DEFAULT 0,
  max_duration_ms INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX hunts_by_suite ON hunts (suite, id);
CREATE INDEX hunts_by_status ON hunts (status, id);
ALTER TABLE schedules ADD COLUMN hunt_repeat INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN hunt_until_failure INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN hunt_max_duration_ms INTEGER NOT NULL DEFAULT 0;
)sql",
    // 15: hold on failure (issue 21): whether a run holds its first failing test, and the
    // hold (the store's compact encoding of RunHold: the test, what it keeps open, when and
    // how it ended; empty: none).
    R"sql(
ALTER TABLE runs ADD COLUMN hold_on_failure INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN hold BLOB NOT NULL DEFAULT x'';
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

}  // namespace

int SqliteSchemaVersion() { return kSchemaVersion; }

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
    return fail(NewerSchemaMessage(path, version, kSchemaVersion));
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

}  // namespace handoff::store
