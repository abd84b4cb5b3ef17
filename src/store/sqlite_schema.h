#pragma once

// The SQLite store's schema: its migrations, one per version, only ever appended, and the
// set-up of the write connection (WAL, synchronous=NORMAL) that brings a database to the
// version this build writes.

#include <string>

#include "store/sqlite_db.h"

namespace handoff::store {

// The schema version this build writes; a database with a newer one is refused.
int SqliteSchemaVersion();

// Sets the write connection up (journal mode, pragmas) and migrates its schema to
// SqliteSchemaVersion() in one transaction; false (and *error naming `path`) on failure,
// a database newer than this build included.
bool PrepareWriter(SqliteDb& db, bool in_memory, const std::string& path, std::string* error);

}  // namespace handoff::store
