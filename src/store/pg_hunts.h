#pragma once

// The SQL of the PostgreSQL store's hunts (issue 21): the `hunts` table (schema version 8,
// pg_schema.cc) and the counts of a hunt's runs, on a connection the store hands over (as
// sqlite_hunts.h is SQLite's).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/pg_db.h"
#include "store/store.h"

namespace handoff::store {

// Inserts `hunt` with `created_at`; its new id, or nullopt (logged) if the insert failed.
std::optional<std::int64_t> InsertPgHunt(PgDb& db, const Hunt& hunt, std::int64_t created_at);

// Ends hunt `id` if it is running: whether it was, or nullopt (logged) if the statement
// failed.
std::optional<bool> EndPgHunt(PgDb& db, std::int64_t id, HuntStatus status,
                              const std::string& error, std::int64_t finished_at_ns);

std::optional<Hunt> SelectPgHunt(PgDb& db, std::int64_t id);
std::vector<Hunt> SelectPgHunts(PgDb& db, const HuntQuery& query);
std::optional<HuntRuns> CountPgHuntRuns(PgDb& db, std::int64_t id);

}  // namespace handoff::store
