#pragma once

// The PostgreSQL store's schema and its migrations (versioned in `handoff_schema`).

#include "base/result.h"
#include "store/pg_db.h"

namespace handoff::store {

// The schema version this build writes; a database with a newer one is refused.
int PgSchemaVersion();

// The advisory lock every handoff transaction that creates tables holds
// (pg_advisory_xact_lock: released at the transaction's end, so it works behind PgBouncer's
// transaction pooling), so that servers opening one database at once change it one at a time.
inline constexpr long long kPgSchemaLock = 0x68616e646f6666;  // "handoff"

// The advisory lock a claim of runs holds for its transaction (Store::ClaimRuns): claims of
// several replicas are made one at a time, so that no two claim runs of one suite at once.
inline constexpr long long kPgClaimLock = 0x68616e646f6667;

// Creates or migrates the schema on `db` in one transaction holding kPgSchemaLock: of
// several servers opening at once, the first migrates and the others find it done. A
// database with a newer schema is refused; an error names the database (its URL without
// the password) and says why (kUnavailable).
Result<void> MigratePgSchema(PgDb& db);

}  // namespace handoff::store
