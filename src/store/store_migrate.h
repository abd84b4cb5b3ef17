#pragma once

// `handoff db migrate`: copies a SQLite store into an empty PostgreSQL database, row for
// row (every run with its id, plan, tests, attempts and journal; every schedule, delivery,
// ingested suite and hunt), in one PostgreSQL transaction, and checks that each table holds
// as many rows as the source before it commits. Neither store may be served meanwhile: the copy takes
// both stores' ownership (store/ownership.h) for its duration.
//
// The PostgreSQL tables are SQLite's with PostgreSQL's types (pg_schema.cc), so each row
// is copied column by column; attempts that SQLite still holds as text (schema 3 and
// older) are converted to typed lines on the way, as SQLite's own reads would.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace handoff::store {

// How many rows of a table were copied (and found in the target).
struct TableCopied {
  std::string table;
  std::int64_t rows = 0;
};

struct MigrationReport {
  std::vector<TableCopied> tables;
  std::int64_t duration_ms = 0;
};

// Copies the store at `from` ("sqlite:PATH") into the one at `to` (postgres:// or
// postgresql://). `progress` (optional) hears of each table as it is done. Errors:
// kInvalid for URLs of the wrong kinds; kConflict when a server holds either store, or
// when the target already holds runs, schedules, deliveries, ingested suites or hunts
// (migrate into an empty database); kUnavailable when a database cannot be read or written; kCorrupt when the
// counts differ (nothing is committed then). Messages never show a password.
Result<MigrationReport> MigrateSqliteToPostgres(
    const std::string& from, const std::string& to,
    const std::function<void(const TableCopied&)>& progress = nullptr);

}  // namespace handoff::store
