#pragma once

// The store factory: which backend serves a `--db` URL. Each backend is one entry of the
// table in open_store.cc (its URL scheme, the forms it accepts, how it opens a store and
// how a server takes ownership of it), so a new backend (PostgreSQL) adds one entry and
// its callers (`serve`, the tests) do not change.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/ownership.h"
#include "store/store.h"

namespace handoff::store {

// How OpenStore opens a store.
struct OpenOptions {
  // Receives the store's log lines; empty: they go to stderr.
  StoreLog log;
  // The clock that stamps created_at, in nanoseconds since the Unix epoch; empty: the
  // system clock. Tests inject one, whatever the backend.
  std::function<std::int64_t()> now_ns;
  // PostgreSQL: false to send every statement unnamed (PgStoreOptions).
  bool pg_prepared_statements = true;
};

// Opens the store named by `url` ("sqlite:path/to.db", "sqlite::memory:" or a PostgreSQL
// URL, "postgres://user@host/db?sslmode=require"), creating or
// migrating its schema. An error names the database and says why: kUnsupported for a URL
// no backend accepts (naming the accepted forms), kUnavailable for a database that cannot
// be opened or migrated, kCorrupt for one that is not served.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const OpenOptions& options = {});

// Takes ownership of the store named by `url` for this process (store/ownership.h). An
// error says why not: kConflict naming the holder (pid, host, since) when another server
// has it, kUnavailable when it cannot be taken (missing directory, permission),
// kUnsupported for a URL no backend accepts.
Result<std::unique_ptr<StoreOwnership>> AcquireStoreOwnership(const std::string& url);

// Checks what OpenStore and AcquireStoreOwnership would find at `url` without changing
// anything (store_check.h): a description of it ("handoff.db: schema version 9, 12 runs"),
// or the error starting a server on it would meet.
Result<std::string> CheckStore(const std::string& url, const OpenOptions& options = {});

// Returns `url` as messages and logs may show it: a PostgreSQL URL without its password
// (pg_url.h), a SQLite URL as given, and of a URL no backend serves only its scheme.
std::string ShownStoreUrl(const std::string& url);

// Returns true if `url` carries a password (ShownStoreUrl leaves something out).
bool StoreUrlHasPassword(const std::string& url);

// Returns the URL forms every backend accepts, for messages: "sqlite:PATH or sqlite::memory:,
// or postgres://USER@HOST:PORT/DATABASE (or postgresql://...)".
std::string AcceptedStoreUrls();

}  // namespace handoff::store
