#pragma once

// The statements that write the PostgreSQL store's batches: one multi-row statement per
// table (rows sent as arrays in binary and expanded by `unnest`) instead of one statement
// a row, for one batch or for many written as one.

#include <span>
#include <vector>

#include "store/pg_db.h"
#include "store/store.h"

namespace handoff::store {

// Appends to `calls` the statements that write `batches`' tests, attempts (but the quiet
// ones, see quiet_attempts.h), events, attachments and deliveries, in that order, with the outcome of
// writing the batches one after the other: a test or attempt written twice keeps its last
// write, and a test keeps the place of its first (tests.position, the order GetTests shows
// unplanned tests in). Not their run updates. A table with no rows gets no statement.
void AddBatchCalls(std::span<const WriteBatch* const> batches, std::vector<PgCall>& calls);

}  // namespace handoff::store
