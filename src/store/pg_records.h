#pragma once

// How the PostgreSQL store's rows map to the store's records and back: the columns each
// read selects, the readers of a result's rows, and the statements that write a run (a
// batch's rows: pg_batch_writes.h). The SQL that decides what to read or write (and on
// which connection) is PgStore's.

#include <cstdint>
#include <string_view>
#include <vector>

#include "store/pg_db.h"
#include "store/store.h"

namespace handoff::store {

// The columns ReadPgRun reads, in order.
inline constexpr std::string_view kPgRunColumns =
    "id, suite, namespace, status, run_trigger, initiated_by, reference, environment, "
    "schedule, created_at, started_at, finished_at, flaky, resumed, retry_of, error, "
    "test_filter, tests, labels, params, max_attempts, timeout_ms, idempotency_key, "
    "run_values, totals, secret_params, on_behalf_of, replica, hunt_id, hold_on_failure, hold";
// The columns ReadPgTestRow reads, in order.
inline constexpr std::string_view kPgTestColumns =
    "name, status, attempt, soft, flaky, started_at, duration_ms, message, seq, trace_id, "
    "change, since_run, since_reference, since_at";
// How many they are.
inline constexpr int kPgTestColumnCount = 14;
// The columns ReadPgAttempt reads, in order.
inline constexpr std::string_view kPgAttemptColumns =
    "test, attempt, status, soft, started_at, duration_ms, failures, skip_reason, "
    "attempt_values, spans, lines, trace_id";

// Each reads one row of a result of the columns above. A corrupt stored list is logged and
// read as empty.
Run ReadPgRun(const PgResult& r, int row);
// ReadPgTestRow reads its columns from `at` on.
TestRow ReadPgTestRow(const PgResult& r, int row, int at = 0);
Attempt ReadPgAttempt(const PgResult& r, int row);

// Returns every row of `r` read by `read`.
template <typename Read>
auto ReadPgRows(const PgResult& r, Read read) {
  std::vector<decltype(read(r, 0))> records;
  records.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) records.push_back(read(r, row));
  return records;
}

// Inserts `run` (created at `created_at`) unless a run has its non-empty idempotency key,
// or, if `exclusive`, its suite has an unfinished exclusive run; the new run's id, 0 if
// nothing was inserted, or -1 (logged) if the insert failed.
std::int64_t InsertPgRun(PgDb& db, const Run& run, std::int64_t created_at,
                         bool exclusive = false);

// Applies `update` to its run: false (logged) if the statement failed or there is no such
// run.
bool UpdatePgRun(PgDb& db, const RunUpdate& update);

}  // namespace handoff::store
