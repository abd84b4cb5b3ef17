#pragma once

// What `serve` would find at its store, found without changing anything (no file, lock,
// table or row is created): for `serve --check-config`, in an init container or CI before a
// server starts. OpenStore (open_store.h) dispatches to these by the URL's scheme.

#include <cstdint>
#include <string>

#include "base/result.h"

namespace handoff::store {

// What a server says of a database whose schema is newer than the `current` this build
// writes (it refuses it), and so what checking it says.
std::string NewerSchemaMessage(const std::string& shown, std::int64_t version, int current);

// The SQLite database at `path` ("" or ":memory:": in memory): held by no other server,
// readable and writable with its directory (SQLite writes its -wal and -shm files there),
// a handoff database whose schema this build serves, or absent from a directory where it
// can be created. Returns a description ("handoff.db: schema version 9, 12 runs"); an error
// as OpenStore or AcquireStoreOwnership would give it.
Result<std::string> CheckSqliteStore(const std::string& path);

// The PostgreSQL database at `url`: reachable with these credentials, a schema this build
// serves (or none yet), and not held by `db migrate` or a server from before replicas.
Result<std::string> CheckPgStore(const std::string& url, bool prepared_statements);

}  // namespace handoff::store
