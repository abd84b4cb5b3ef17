#pragma once

// The SQL of the SQLite store's hunts (issue 21): the `hunts` table (schema version 14,
// sqlite_schema.cc) and the counts of a hunt's runs, read and written on a connection the
// store hands over. SqliteStore decides which connection: writes commit on their own (the
// writer's task), reads run on a read connection.

#include <cstdint>
#include <optional>
#include <vector>

#include "store/sqlite_db.h"
#include "store/store.h"

namespace handoff::store {

// Inserts `hunt` with `created_at`; its new id, or nullopt (logged) if the insert failed.
std::optional<std::int64_t> InsertHuntRow(SqliteDb& db, const Hunt& hunt, std::int64_t created_at);

// Ends hunt `id` if it is running: whether it was, or nullopt (logged) if the statement
// failed.
std::optional<bool> EndHuntRow(SqliteDb& db, std::int64_t id, HuntStatus status,
                               const std::string& error, std::int64_t finished_at_ns);

std::optional<Hunt> SelectHunt(SqliteDb& db, std::int64_t id);
std::vector<Hunt> SelectHunts(SqliteDb& db, const HuntQuery& query);
std::optional<HuntRuns> CountHuntRunRows(SqliteDb& db, std::int64_t id);

}  // namespace handoff::store
