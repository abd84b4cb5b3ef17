#include "store/pg_schema.h"

#include <fmt/format.h>

#include <iterator>
#include <string>

#include "store/store_check.h"
#include "store/store_log.h"

namespace handoff::store {
namespace {

// Step i brings a database from version i to i + 1; steps are only ever appended, and each
// applied one is a row of handoff_schema. The tables are SQLite's (sqlite_schema.cc) at its
// version 8, with PostgreSQL's types:
// - Times are BIGINT nanoseconds since the Unix epoch, flags BOOLEAN.
// - Lists (a run's tests, labels, params, values and secret params; an attempt's failures,
//   values, spans and output lines; a run's planned tests) are BYTEA in the compact
//   encoding (store/compact_encoding.h), as in SQLite.
// - What a test or a receiver wrote is BYTEA, because it may be any bytes (NUL, invalid
//   UTF-8) and TEXT takes neither: test names, messages, skip reasons, a run's error, the
//   journal's data, a delivery's payload, last error and progress. What comes from the API
//   or the configuration (suite, schedule and destination names, references, filters) is
//   TEXT, readable with psql.
// - Ids are identities, never reused (even after retention); a test's position and a
//   delivery's `seq` only grow, so they order rows as SQLite's rowid does.
// handoff_probe is the row ProbeWrite writes.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE runs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  suite TEXT NOT NULL,
  namespace TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  run_trigger TEXT NOT NULL,
  initiated_by TEXT NOT NULL DEFAULT '',
  on_behalf_of TEXT NOT NULL DEFAULT '',
  reference TEXT NOT NULL DEFAULT '',
  environment TEXT NOT NULL DEFAULT '',
  schedule TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  started_at BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0,
  flaky BOOLEAN NOT NULL DEFAULT FALSE,
  resumed BIGINT NOT NULL DEFAULT 0,
  retry_of BIGINT NOT NULL DEFAULT 0,
  error BYTEA NOT NULL DEFAULT '',
  test_filter TEXT NOT NULL DEFAULT '',
  tests BYTEA NOT NULL DEFAULT '',
  labels BYTEA NOT NULL DEFAULT '',
  params BYTEA NOT NULL DEFAULT '',
  secret_params BYTEA NOT NULL DEFAULT '',
  max_attempts BIGINT NOT NULL DEFAULT 0,
  timeout_ms BIGINT NOT NULL DEFAULT 0,
  idempotency_key TEXT NOT NULL DEFAULT '',
  run_values BYTEA NOT NULL DEFAULT '',
  totals TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_suite ON runs (suite, id);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE INDEX runs_by_suite_status ON runs (suite, status, id);
CREATE INDEX runs_by_reference ON runs (reference, id);
CREATE INDEX runs_by_created_at ON runs (created_at);
CREATE UNIQUE INDEX runs_by_idempotency_key ON runs (idempotency_key)
  WHERE idempotency_key <> '';

CREATE TABLE run_plans (
  run_id BIGINT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  planned BYTEA NOT NULL
);

CREATE TABLE tests (
  position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name BYTEA NOT NULL,
  status TEXT NOT NULL,
  attempt BIGINT NOT NULL DEFAULT 0,
  soft BOOLEAN NOT NULL DEFAULT FALSE,
  flaky BOOLEAN NOT NULL DEFAULT FALSE,
  started_at BIGINT NOT NULL DEFAULT 0,
  duration_ms BIGINT NOT NULL DEFAULT 0,
  message BYTEA NOT NULL DEFAULT '',
  seq BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX tests_by_name ON tests (run_id, name);
CREATE INDEX tests_by_position ON tests (run_id, position);
CREATE INDEX tests_by_seq ON tests (run_id, seq);

CREATE TABLE attempts (
  run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  test BYTEA NOT NULL,
  attempt BIGINT NOT NULL,
  status TEXT NOT NULL,
  soft BOOLEAN NOT NULL DEFAULT FALSE,
  started_at BIGINT NOT NULL DEFAULT 0,
  duration_ms BIGINT NOT NULL DEFAULT 0,
  failures BYTEA NOT NULL DEFAULT '',
  skip_reason BYTEA NOT NULL DEFAULT '',
  attempt_values BYTEA NOT NULL DEFAULT '',
  spans BYTEA NOT NULL DEFAULT '',
  lines BYTEA,
  PRIMARY KEY (run_id, test, attempt)
);

CREATE TABLE run_events (
  run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE schedules (
  name TEXT PRIMARY KEY,
  suite TEXT NOT NULL,
  spec TEXT NOT NULL,
  time_zone TEXT NOT NULL DEFAULT '',
  test_filter TEXT NOT NULL DEFAULT '',
  paused BOOLEAN NOT NULL DEFAULT FALSE,
  created_at BIGINT NOT NULL
);

CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  suite TEXT NOT NULL DEFAULT '',
  destination TEXT NOT NULL,
  plugin TEXT NOT NULL DEFAULT '',
  target TEXT NOT NULL DEFAULT '',
  event TEXT NOT NULL DEFAULT '',
  payload BYTEA NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0,
  last_error BYTEA NOT NULL DEFAULT '',
  progress BYTEA NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_pending ON deliveries (destination, created_at, seq)
  WHERE state = 'pending';
CREATE INDEX deliveries_by_run ON deliveries (run_id, created_at, seq);
CREATE INDEX deliveries_progress ON deliveries (destination, suite, created_at, seq)
  WHERE state = 'delivered' AND progress <> '';

CREATE TABLE handoff_probe (
  id INTEGER PRIMARY KEY,
  probed_at BIGINT NOT NULL
);
)sql",
    // 2: replicas (issue 17). A run is executed by the replica that holds its lease: `replica`
    // names it, `lease_token` is the fencing token (it grows by one at each claim) and
    // `lease_expires_at` the end of the lease by the database's clock (NULL: never claimed),
    // `lease_holder` the process holding it (pg_holder.h: one that is gone from this machine
    // holds nothing).
    // `cancel_requested` is how a cancel reaches the replica executing the run. A suite that
    // skips new runs while one is in progress has its runs marked `exclusive`, and the unique
    // index lets one of them at a time be unfinished, whichever replica creates it.
    // `schedule_firings` holds one row per schedule and due time: the replica that inserts it
    // fires it, and notes the run it started (0: none, the previous run was unfinished). `replica_lead` is the one replica that sends notifications;
    // `code_schedule_pauses` whether a schedule declared in code is paused (on every replica). handoff_fence() fails a write whose run is leased with another token now,
    // and keeps the lease from changing until the write commits (FOR SHARE).
    R"sql(
ALTER TABLE runs ADD COLUMN replica TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_expires_at TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE runs ADD COLUMN exclusive BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX runs_unfinished ON runs (id) WHERE status IN ('queued', 'running');
CREATE UNIQUE INDEX runs_one_exclusive ON runs (suite)
  WHERE exclusive AND status IN ('queued', 'running');
CREATE INDEX runs_by_schedule ON runs (schedule, id) WHERE schedule <> '';

CREATE TABLE schedule_firings (
  schedule TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  replica TEXT NOT NULL,
  run_id BIGINT NOT NULL DEFAULT 0,
  fired_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (schedule, due_at)
);

CREATE TABLE code_schedule_pauses (
  name TEXT PRIMARY KEY,
  paused BOOLEAN NOT NULL
);

CREATE TABLE replica_lead (
  singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
  holder TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION handoff_fence(run_ids BIGINT[], tokens BIGINT[]) RETURNS void
LANGUAGE plpgsql AS $fence$
DECLARE
  held BIGINT;
  wanted BIGINT;
BEGIN
  SELECT count(*) INTO held FROM (
    SELECT 1 FROM runs r JOIN unnest(run_ids, tokens) AS f(id, token)
      ON r.id = f.id AND r.lease_token = f.token
    FOR SHARE OF r) AS leased;
  SELECT count(*) INTO wanted FROM unnest(run_ids, tokens);
  IF held <> wanted THEN
    RAISE EXCEPTION 'a run of this write is leased by another replica now: its fencing token is stale'
      USING ERRCODE = 'HF001';
  END IF;
END
$fence$;
)sql",
    // 3: a suite's verdict at a reference (GET /suites/{suite}/verdict: its latest finished
    // run triggered with a commit) is one step down this index, however many runs the suite
    // and the reference have (SQLite's version 9).
    R"sql(
CREATE INDEX runs_by_suite_reference ON runs (suite, reference, id);
)sql",
    // 4: each attempt's W3C trace id, on the attempt and on its test's row (SQLite's
    // version 10). TEXT: the worker writes 32 hex digits or nothing.
    R"sql(
ALTER TABLE tests ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';
)sql",
    // 5: how each test compares with the previous run, and since which run it has been
    // failing; an index on the test's name for its history (SQLite's version 11).
    R"sql(
ALTER TABLE tests ADD COLUMN change TEXT NOT NULL DEFAULT '';
ALTER TABLE tests ADD COLUMN since_run BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tests ADD COLUMN since_reference TEXT NOT NULL DEFAULT '';
ALTER TABLE tests ADD COLUMN since_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tests_by_test ON tests (name, run_id);
)sql",
    // 6: attachments (issue 19: t.Attach; SQLite's version 12), a table of their own: one
    // row per file of a (sub)test's attempt. The test and the name are BYTEA as test names
    // are elsewhere; `seq` orders a run's files as they were stored (SQLite's rowid).
    R"sql(
CREATE TABLE attachments (
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  test BYTEA NOT NULL,
  attempt BIGINT NOT NULL,
  name BYTEA NOT NULL,
  media_type TEXT NOT NULL,
  size BIGINT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (run_id, test, attempt, name)
);
)sql",
    // 7: suites created by an ingested report (issue 20; SQLite's version 13). The name is
    // TEXT like every suite name.
    R"sql(
CREATE TABLE ingested_suites (
  name TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL
);
)sql",
    // 8: hunts (issue 21; SQLite's version 14), the hunt each run is one of, and schedules
    // that start hunts.
    R"sql(
ALTER TABLE runs ADD COLUMN hunt_id BIGINT NOT NULL DEFAULT 0;
CREATE INDEX runs_by_hunt ON runs (hunt_id, id) WHERE hunt_id <> 0;
CREATE TABLE hunts (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  suite TEXT NOT NULL,
  namespace TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  hunt_trigger TEXT NOT NULL,
  initiated_by TEXT NOT NULL DEFAULT '',
  on_behalf_of TEXT NOT NULL DEFAULT '',
  reference TEXT NOT NULL DEFAULT '',
  schedule TEXT NOT NULL DEFAULT '',
  test_filter TEXT NOT NULL DEFAULT '',
  tests BYTEA NOT NULL DEFAULT '',
  labels BYTEA NOT NULL DEFAULT '',
  params BYTEA NOT NULL DEFAULT '',
  secret_params BYTEA NOT NULL DEFAULT '',
  max_attempts BIGINT NOT NULL DEFAULT 0,
  timeout_ms BIGINT NOT NULL DEFAULT 0,
  hold_on_failure BOOLEAN NOT NULL DEFAULT FALSE,
  repeat_count BIGINT NOT NULL DEFAULT 0,
  until_failure BOOLEAN NOT NULL DEFAULT FALSE,
  max_duration_ms BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL DEFAULT 0,
  error BYTEA NOT NULL DEFAULT ''
);
CREATE INDEX hunts_by_suite ON hunts (suite, id);
CREATE INDEX hunts_by_status ON hunts (status, id);
ALTER TABLE schedules ADD COLUMN hunt_repeat BIGINT NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN hunt_until_failure BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE schedules ADD COLUMN hunt_max_duration_ms BIGINT NOT NULL DEFAULT 0;
)sql",
    // 9: hold on failure (issue 21; SQLite's version 15): whether a run holds its first
    // failing test, the hold (the store's compact encoding of RunHold), and a release asked
    // for on a replica that does not execute the run (RequestRelease). A held run is
    // unfinished like a running one: the partial indexes of unfinished runs take it in.
    R"sql(
ALTER TABLE runs ADD COLUMN hold_on_failure BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE runs ADD COLUMN hold BYTEA NOT NULL DEFAULT ''::bytea;
ALTER TABLE runs ADD COLUMN release_requested BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX runs_unfinished;
CREATE INDEX runs_unfinished ON runs (id) WHERE status IN ('queued', 'running', 'held');
DROP INDEX runs_one_exclusive;
CREATE UNIQUE INDEX runs_one_exclusive ON runs (suite)
  WHERE exclusive AND status IN ('queued', 'running', 'held');
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr const char* kCreateVersions =
    "CREATE TABLE IF NOT EXISTS handoff_schema (version INTEGER PRIMARY KEY, "
    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";

}  // namespace

int PgSchemaVersion() { return kSchemaVersion; }

Result<void> MigratePgSchema(PgDb& db) {
  const std::string& name = db.shown_url();
  auto fail = [&](std::string message) -> Result<void> {
    if (db.InTransaction()) db.ExecScript("ROLLBACK");
    return Error{ErrorCode::kUnavailable, std::move(message)};
  };
  PgResult begun = db.ExecScript(
      fmt::format("BEGIN; SELECT pg_advisory_xact_lock({}); {}", kPgSchemaLock, kCreateVersions));
  if (!begun.ok()) {
    return fail(fmt::format("database \"{}\": cannot prepare its schema: {}", name,
                            begun.error()));
  }
  PgResult current = db.ExecScript("SELECT coalesce(max(version), 0) FROM handoff_schema");
  if (!current.ok() || current.rows() != 1) {
    return fail(fmt::format("database \"{}\": cannot read schema version: {}", name,
                            current.error()));
  }
  const std::int64_t version = current.Int(0, 0);
  if (version > kSchemaVersion) {
    return fail(NewerSchemaMessage(name, version, kSchemaVersion));
  }
  for (int step = static_cast<int>(version); step < kSchemaVersion; ++step) {
    PgResult migrated = db.ExecScript(kMigrations[step]);
    if (!migrated.ok()) {
      return fail(fmt::format("database \"{}\": migration to schema version {} failed: {}",
                              name, step + 1, migrated.error()));
    }
    PgResult noted = db.ExecScript(
        fmt::format("INSERT INTO handoff_schema (version) VALUES ({})", step + 1));
    if (!noted.ok()) {
      return fail(fmt::format("database \"{}\": migration to schema version {} failed: {}",
                              name, step + 1, noted.error()));
    }
  }
  PgResult committed = db.ExecScript("COMMIT");
  if (!committed.ok()) {
    return fail(fmt::format("database \"{}\": migration did not commit: {}", name,
                            committed.error()));
  }
  if (version == 0) {
    WriteStoreLog(LogLevel::kInfo, "new store: created the schema in the database", name);
  } else if (version < kSchemaVersion) {
    WriteStoreLog(LogLevel::kInfo,
                  fmt::format("store: migrated the schema from version {} to {}", version,
                              kSchemaVersion),
                  name);
  }
  return {};
}

}  // namespace handoff::store
