#pragma once

// Store ownership for SQLite: an exclusive lock on `<db>.lock` (see store/ownership.h).

#include <memory>
#include <string>

#include "base/result.h"
#include "store/ownership.h"

namespace handoff::store {

// Takes ownership of the SQLite database at `path` ("" or ":memory:": an in-memory store,
// which nothing shares, so nothing is locked). kConflict naming the holder when another
// process has it; kUnavailable when the lock file cannot be created or locked.
Result<std::unique_ptr<StoreOwnership>> AcquireSqliteOwnership(const std::string& path);

// Checks, without taking it or creating anything, that AcquireSqliteOwnership would get the
// database at `path` now: kConflict naming the holder as it does. (It holds a shared lock
// for an instant, so a server starting in that instant is refused: for checks before one
// starts, such as `serve --check-config` in an init container.)
Result<void> CheckSqliteOwnership(const std::string& path);

}  // namespace handoff::store
