#include "store/pg_records.h"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <utility>

#include "store/output_lines.h"
#include "store/store_log.h"
#include "store/value_encoding.h"

namespace handoff::store {
namespace {

// A run with the idempotency key of an earlier one inserts nothing (the unique partial
// index runs_by_idempotency_key): of concurrent creates with one key, on any replica, one
// inserts and the others wait for its commit, then find its run.
constexpr const char* kInsertRun =
    "INSERT INTO runs (suite, namespace, status, run_trigger, initiated_by, reference, "
    "environment, schedule, created_at, started_at, finished_at, flaky, resumed, retry_of, "
    "error, test_filter, tests, labels, params, max_attempts, timeout_ms, idempotency_key, "
    "run_values, secret_params, on_behalf_of, hunt_id, hold_on_failure) VALUES ($1, $2, $3, $4, "
    "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, "
    "$24, $25, $26, $27) "
    "ON CONFLICT (idempotency_key) WHERE idempotency_key <> '' DO NOTHING RETURNING id";
// A run of a suite that skips new runs while one is in progress: nothing is inserted either
// when the suite has an unfinished exclusive run (the unique index runs_one_exclusive).
constexpr const char* kInsertExclusiveRun =
    "INSERT INTO runs (suite, namespace, status, run_trigger, initiated_by, reference, "
    "environment, schedule, created_at, started_at, finished_at, flaky, resumed, retry_of, "
    "error, test_filter, tests, labels, params, max_attempts, timeout_ms, idempotency_key, "
    "run_values, secret_params, on_behalf_of, hunt_id, hold_on_failure, exclusive) VALUES ($1, "
    "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, "
    "$22, $23, $24, $25, $26, $27, TRUE) ON CONFLICT DO NOTHING RETURNING id";
// Unset fields are sent as NULL and keep their value (no column is ever NULL).
constexpr const char* kUpdateRun =
    "UPDATE runs SET status = coalesce($2, status), started_at = coalesce($3, started_at), "
    "finished_at = coalesce($4, finished_at), flaky = coalesce($5, flaky), "
    "resumed = coalesce($6, resumed), error = coalesce($7, error), "
    "run_values = coalesce($8, run_values), totals = coalesce($9, totals), "
    "hold = coalesce($10, hold), "
    // A release asked for (RequestRelease) is of the hold it saw: a new hold, or the end of
    // this one, clears it.
    "release_requested = release_requested AND $10 IS NULL WHERE id = $1";

}  // namespace

Run ReadPgRun(const PgResult& r, int row) {
  Run run;
  run.id = r.Int(row, 0);
  run.suite = r.Text(row, 1);
  run.namespace_name = r.Text(row, 2);
  ParseRunStatus(r.View(row, 3), &run.status);
  ParseTrigger(r.View(row, 4), &run.trigger);
  run.initiated_by = r.Text(row, 5);
  run.reference = r.Text(row, 6);
  run.environment = r.Text(row, 7);
  run.schedule = r.Text(row, 8);
  run.created_at_ns = r.Int(row, 9);
  run.started_at_ns = r.Int(row, 10);
  run.finished_at_ns = r.Int(row, 11);
  run.flaky = r.Bool(row, 12);
  run.resumed = static_cast<int>(r.Int(row, 13));
  run.retry_of = r.Int(row, 14);
  run.error = r.Text(row, 15);
  run.filter = r.Text(row, 16);
  run.tests = ValueOrLogged(DecodeStrings(r.View(row, 17)));
  run.labels = ValueOrLogged(DecodeKeyValues(r.View(row, 18)));
  run.params = ValueOrLogged(DecodeKeyValues(r.View(row, 19)));
  run.max_attempts = static_cast<int>(r.Int(row, 20));
  run.timeout_ms = r.Int(row, 21);
  run.idempotency_key = r.Text(row, 22);
  run.values = ValueOrLogged(DecodeKeyValues(r.View(row, 23)));
  run.totals = DecodeTotals(r.View(row, 24));
  run.secret_params = ValueOrLogged(DecodeStrings(r.View(row, 25)));
  run.on_behalf_of = r.Text(row, 26);
  run.replica = r.Text(row, 27);
  run.hunt_id = r.Int(row, 28);
  run.hold_on_failure = r.Bool(row, 29);
  run.hold = ValueOrLogged(DecodeHold(r.View(row, 30)));
  return run;
}

TestRow ReadPgTestRow(const PgResult& r, int row, int at) {
  TestRow t;
  t.name = r.Text(row, at + 0);
  ParseTestStatus(r.View(row, at + 1), &t.status);
  t.attempt = static_cast<int>(r.Int(row, at + 2));
  t.soft_failure = r.Bool(row, at + 3);
  t.flaky = r.Bool(row, at + 4);
  t.started_at_ns = r.Int(row, at + 5);
  t.duration_ms = r.Int(row, at + 6);
  t.message = r.Text(row, at + 7);
  t.seq = r.Int(row, at + 8);
  t.trace_id = r.Text(row, at + 9);
  ParseTestChange(r.View(row, at + 10), &t.change);
  t.failing_since.run_id = r.Int(row, at + 11);
  t.failing_since.reference = r.Text(row, at + 12);
  t.failing_since.created_at_ns = r.Int(row, at + 13);
  return t;
}

Attempt ReadPgAttempt(const PgResult& r, int row) {
  Attempt a;
  a.test = r.Text(row, 0);
  a.attempt = static_cast<int>(r.Int(row, 1));
  ParseTestStatus(r.View(row, 2), &a.status);
  a.soft_failure = r.Bool(row, 3);
  a.started_at_ns = r.Int(row, 4);
  a.duration_ms = r.Int(row, 5);
  a.failures = ValueOrLogged(DecodeFailures(r.View(row, 6)));
  a.skip_reason = r.Text(row, 7);
  a.values = ValueOrLogged(DecodeKeyValues(r.View(row, 8)));
  a.spans = ValueOrLogged(DecodeSpans(r.View(row, 9)));
  if (!r.IsNull(row, 10)) {
    if (auto lines = DecodeOutputLines(r.View(row, 10), a.started_at_ns)) {
      a.lines = std::move(*lines);
    } else {
      LogStoreError("corrupt stored value", "output lines");
    }
  }
  a.trace_id = r.Text(row, 11);
  return a;
}

std::int64_t InsertPgRun(PgDb& db, const Run& run, std::int64_t created_at, bool exclusive) {
  PgParams params;
  params.Add(run.suite).Add(run.namespace_name).Add(RunStatusName(run.status))
      .Add(TriggerName(run.trigger)).Add(run.initiated_by).Add(run.reference)
      .Add(run.environment).Add(run.schedule).Add(created_at).Add(run.started_at_ns)
      .Add(run.finished_at_ns).Add(run.flaky).Add(run.resumed).Add(run.retry_of)
      .AddBytes(run.error).Add(run.filter).AddBytes(EncodeStrings(run.tests))
      .AddBytes(EncodeKeyValues(run.labels)).AddBytes(EncodeKeyValues(run.params))
      .Add(run.max_attempts).Add(run.timeout_ms).Add(run.idempotency_key)
      .AddBytes(EncodeKeyValues(run.values)).AddBytes(EncodeStrings(run.secret_params))
      .Add(run.on_behalf_of).Add(run.hunt_id).Add(run.hold_on_failure);
  PgResult inserted = db.Exec(exclusive ? kInsertExclusiveRun : kInsertRun, params);
  if (!inserted.ok()) return -1;
  return inserted.rows() == 1 ? inserted.Int(0, 0) : 0;
}

bool UpdatePgRun(PgDb& db, const RunUpdate& u) {
  PgParams params;
  params.Add(u.id);
  if (u.status) {
    params.Add(RunStatusName(*u.status));
  } else {
    params.AddNullText();
  }
  params.Add(u.started_at_ns).Add(u.finished_at_ns).Add(u.flaky).Add(u.resumed);
  if (u.error) {
    params.AddBytes(*u.error);
  } else {
    params.AddNullBytes();
  }
  if (u.values) {
    params.AddBytes(EncodeKeyValues(*u.values));
  } else {
    params.AddNullBytes();
  }
  if (u.totals) {
    params.Add(EncodeTotals(*u.totals));
  } else {
    params.AddNullText();
  }
  if (u.hold) {
    params.AddBytes(EncodeHold(*u.hold));
  } else {
    params.AddNullBytes();
  }
  PgResult updated = db.Exec(kUpdateRun, params);
  if (!updated.ok()) return false;
  if (updated.Affected() == 0) {
    LogStoreError("update of run", fmt::format("run {} does not exist", u.id));
    return false;
  }
  return true;
}

}  // namespace handoff::store
