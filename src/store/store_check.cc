#include "store/store_check.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <filesystem>
#include <memory>

#include "store/pg_db.h"
#include "store/pg_ownership.h"
#include "store/pg_schema.h"
#include "store/pg_url.h"
#include "store/sqlite_files.h"
#include "store/sqlite_lock.h"
#include "store/sqlite_schema.h"

namespace handoff::store {
namespace {

std::string Plural(std::int64_t n, const char* one) {
  return fmt::format("{} {}{}", n, one, n == 1 ? "" : "s");
}

// The schema a database has, against this build's: refused when newer.
Result<std::string> SchemaState(const std::string& shown, std::int64_t version,
                                int current) {
  if (version > current) {
    return Error{ErrorCode::kUnavailable, NewerSchemaMessage(shown, version, current)};
  }
  if (version == current) return fmt::format("schema version {}", version);
  if (version == 0) return fmt::format("no schema yet: version {} is created at start", current);
  return fmt::format("schema version {}: migrated to {} at start", version, current);
}

}  // namespace

std::string NewerSchemaMessage(const std::string& shown, std::int64_t version, int current) {
  return fmt::format("database \"{}\" has schema version {}, newer than the {} this handoff "
                     "knows: upgrade handoff or use another database",
                     shown, version, current);
}

Result<std::string> CheckSqliteStore(const std::string& path) {
  if (path.empty() || path == ":memory:") {
    return std::string("in memory: every run is lost when the server stops");
  }
  if (Result<void> free = CheckSqliteOwnership(path); !free.ok()) return std::move(free).error();
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err != ENOENT) {
      return Error{ErrorCode::kUnavailable, fmt::format("cannot open database \"{}\": {}", path,
                                                        DescribeOpenError(path, err))};
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      return Error{ErrorCode::kUnavailable,
                   fmt::format("cannot open database \"{}\": {}", path,
                               DescribeOpenError(path, errno))};
    }
    return fmt::format("{} does not exist yet: created at start with schema version {}", path,
                       SqliteSchemaVersion());
  }
  // The server writes the database, its journal (-wal, -shm) and its lock file beside it
  // (the lock file: CheckSqliteOwnership).
  for (const std::string& writable : {dir, path, path + "-wal", path + "-shm"}) {
    if (writable != dir && writable != path && ::access(writable.c_str(), F_OK) != 0) continue;
    if (::access(writable.c_str(), W_OK) != 0) {
      return Error{ErrorCode::kUnavailable,
                   fmt::format("cannot open database \"{}\": {}", path,
                               DescribeOpenError(path, errno))};
    }
  }
  // Read-only, creating nothing beside it. With its last server's WAL left beside it, SQLite
  // reads that too (the schema may be there alone) and needs the -shm index, which it makes
  // if missing: that one is removed again below (no server holds the database). Without a
  // WAL, the file is the whole database: it is opened immutable, which creates nothing.
  struct stat wal {};
  const bool has_wal = ::stat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0;
  const bool had_shm = ::access((path + "-shm").c_str(), F_OK) == 0;
  sqlite3* handle = nullptr;
  struct Closer {
    sqlite3*& handle;
    std::string shm;  // the -shm file to remove once closed ("" to keep it)
    ~Closer() {
      sqlite3_close_v2(handle);
      if (!shm.empty()) ::unlink(shm.c_str());
    }
  } closer{handle, has_wal && !had_shm ? path + "-shm" : std::string()};
  std::string uri = "file:";
  for (const char c : path) {
    if (c == '?' || c == '#' || c == '%') {
      uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      uri += c;
    }
  }
  uri += has_wal ? "?mode=ro" : "?mode=ro&immutable=1";
  if (const int rc = sqlite3_open_v2(uri.c_str(), &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                                     nullptr);
      rc != SQLITE_OK) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot open database \"{}\": {}", path,
                             handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc))};
  }
  sqlite3_busy_timeout(handle, 5000);
  // The first read finds out whether it is a database at all.
  auto query_int = [&](const char* sql, std::int64_t* out) -> int {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(stmt, 0);
        rc = SQLITE_OK;
      }
    }
    sqlite3_finalize(stmt);
    return rc;
  };
  std::int64_t version = 0;
  if (const int rc = query_int("PRAGMA user_version", &version); rc != SQLITE_OK) {
    if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT) {
      return Error{ErrorCode::kCorrupt,
                   fmt::format("database \"{}\" is not a SQLite database or is corrupt: {}",
                               path, sqlite3_errmsg(handle))};
    }
    return Error{ErrorCode::kUnavailable, fmt::format("cannot read database \"{}\": {}", path,
                                                      sqlite3_errmsg(handle))};
  }
  Result<std::string> schema = SchemaState(path, version, SqliteSchemaVersion());
  if (!schema.ok()) return schema;
  std::int64_t tables = 0;
  if (version == 0 && query_int("SELECT count(*) FROM sqlite_master", &tables) == SQLITE_OK &&
      tables > 0) {
    return Error{ErrorCode::kCorrupt,
                 fmt::format("database \"{}\" is a SQLite database of something else ({}, and "
                             "no handoff schema version): use another --db",
                             path, Plural(tables, "schema object"))};
  }
  std::int64_t runs = 0;
  if (version > 0 && query_int("SELECT count(*) FROM runs", &runs) != SQLITE_OK) {
    return Error{ErrorCode::kCorrupt,
                 fmt::format("database \"{}\" has schema version {} but its runs cannot be "
                             "read: {}",
                             path, version, sqlite3_errmsg(handle))};
  }
  return fmt::format("{}: {}, {}", path, *schema, Plural(runs, "run"));
}

Result<std::string> CheckPgStore(const std::string& url, bool prepared_statements) {
  const std::string shown = PostgresUrlWithoutPassword(url);
  Result<std::unique_ptr<PgDb>> connected = PgDb::Connect(url, shown, prepared_statements);
  if (!connected.ok()) return std::move(connected).error();
  PgDb& db = **connected;
  PgResult server = db.Exec(
      "SELECT current_setting('server_version'), to_regclass('handoff_schema') IS NOT NULL");
  if (!server.ok() || server.rows() != 1) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("database \"{}\": cannot read it: {}", shown, server.error())};
  }
  std::int64_t version = 0, runs = 0;
  if (server.Bool(0, 1)) {
    PgResult current = db.Exec("SELECT coalesce(max(version), 0)::bigint FROM handoff_schema");
    if (!current.ok() || current.rows() != 1) {
      return Error{ErrorCode::kUnavailable, fmt::format("database \"{}\": cannot read its "
                                                        "schema version: {}",
                                                        shown, current.error())};
    }
    version = current.Int(0, 0);
  }
  Result<std::string> schema = SchemaState(shown, version, PgSchemaVersion());
  if (!schema.ok()) return schema;
  if (version < PgSchemaVersion()) {
    // The server creates or migrates the schema at start: it needs to create in it.
    PgResult can = db.Exec("SELECT has_schema_privilege(current_schema(), 'CREATE')");
    if (!can.ok() || can.rows() != 1 || !can.Bool(0, 0)) {
      return Error{ErrorCode::kUnavailable,
                   fmt::format("database \"{}\": this user cannot create tables in its schema, "
                               "and the server must {} the handoff schema at start{}",
                               shown, version == 0 ? "create" : "migrate",
                               can.ok() ? "" : ": " + can.error())};
    }
  }
  if (version > 0) {
    PgResult count = db.Exec("SELECT count(*) FROM runs");
    if (!count.ok() || count.rows() != 1) {
      return Error{ErrorCode::kUnavailable,
                   fmt::format("database \"{}\": cannot read its runs: {}", shown,
                               count.error())};
    }
    runs = count.Int(0, 0);
  }
  if (Result<void> free = CheckNoPgOwner(url, prepared_statements); !free.ok()) {
    return std::move(free).error();
  }
  return fmt::format("{}: PostgreSQL {}, {}, {}", shown, server.Text(0, 0), *schema,
                     Plural(runs, "run"));
}

}  // namespace handoff::store
