#pragma once

// The SQLite plumbing of the SQLite store: a connection with its cached statements, and one
// use of a statement (bind, step, read columns). Errors are logged through the store log
// (store/store_log.h) as they happen.

#include <sqlite3.h>

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/sqlite_files.h"
#include "store/store_log.h"

namespace handoff::store {

// Every write waits this long for a lock held by another process before failing.
inline constexpr int kBusyTimeoutMs = 5000;

// Looks std::string keys up by std::string_view without building a string.
struct SqlHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view sql) const {
    return std::hash<std::string_view>{}(sql);
  }
};

// One connection with its prepared statements. Used by one thread at a time.
class SqliteDb {
 public:
  // Opens `path` ("" for a private in-memory database) with `flags`.
  static std::unique_ptr<SqliteDb> Open(const std::string& path, int flags,
                                        std::string* error) {
    // Memory statistics take a global lock on every allocation; nothing reads them.
    // (Refused, harmlessly, if the program initialised SQLite before us.)
    [[maybe_unused]] static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3* handle = nullptr;
    const char* name = path.empty() ? ":memory:" : path.c_str();
    const int rc = sqlite3_open_v2(name, &handle, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      // SQLite says "unable to open database file"; errno says why.
      const int err = handle != nullptr ? sqlite3_system_errno(handle) : 0;
      *error = fmt::format("cannot open database \"{}\": {}", path.empty() ? name : path,
                           err != 0 && !path.empty()
                               ? DescribeOpenError(path, err)
                               : std::string(handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc)));
      sqlite3_close_v2(handle);
      return nullptr;
    }
    sqlite3_extended_result_codes(handle, 1);
    sqlite3_busy_timeout(handle, kBusyTimeoutMs);
    return std::unique_ptr<SqliteDb>(new SqliteDb(handle));
  }

  ~SqliteDb() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  sqlite3* handle() const { return db_; }
  std::string ErrorMessage() const { return sqlite3_errmsg(db_); }

  // Returns the statement for `sql`, prepared on first use; nullptr (logged) if it does not
  // compile.
  sqlite3_stmt* Prepare(std::string_view sql) {
    if (auto it = statements_.find(sql); it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      LogStoreError(sql, sqlite3_errmsg(db_));
      return nullptr;
    }
    statements_.emplace(std::string(sql), stmt);
    return stmt;
  }

  // Runs `sql` (several statements, no results) without caching it; false (and *error)
  // on failure.
  bool ExecScript(const char* sql, std::string* error) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return true;
    *error = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return false;
  }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> statements_;
};

// One use of a cached statement: binds parameters in order, steps, and resets the
// statement when it goes out of scope. Bound strings must outlive the last Step().
class Stmt {
 public:
  Stmt(SqliteDb& db, std::string_view sql) : db_(db), stmt_(db.Prepare(sql)) {
    failed_ = stmt_ == nullptr;
  }
  ~Stmt() {
    if (stmt_) sqlite3_reset(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // False once preparing, binding or stepping failed (the error is logged).
  bool ok() const { return !failed_; }

  // Makes the statement ready to be bound and run again.
  void Reset() {
    if (stmt_) sqlite3_reset(stmt_);
    index_ = 0;
  }

  Stmt& Bind(std::int64_t value) {
    if (stmt_) Check(sqlite3_bind_int64(stmt_, ++index_, value));
    return *this;
  }
  Stmt& Bind(int value) { return Bind(static_cast<std::int64_t>(value)); }
  Stmt& Bind(bool value) { return Bind(static_cast<std::int64_t>(value ? 1 : 0)); }
  Stmt& Bind(std::string_view text) {
    if (stmt_) {
      Check(sqlite3_bind_text64(stmt_, ++index_, text.data(), text.size(), SQLITE_STATIC,
                                SQLITE_UTF8));
    }
    return *this;
  }
  Stmt& Bind(const std::string& text) { return Bind(std::string_view(text)); }
  Stmt& Bind(const char* text) { return Bind(std::string_view(text)); }
  Stmt& BindBlob(std::string_view bytes) {
    // A non-null pointer with size 0 binds an empty BLOB, not NULL.
    if (stmt_) {
      Check(sqlite3_bind_blob64(stmt_, ++index_, bytes.data() ? bytes.data() : "",
                                bytes.size(), SQLITE_STATIC));
    }
    return *this;
  }
  Stmt& BindNull() {
    if (stmt_) Check(sqlite3_bind_null(stmt_, ++index_));
    return *this;
  }
  template <typename T>
  Stmt& Bind(const std::optional<T>& value) {
    return value ? Bind(*value) : BindNull();
  }

  // Returns true when a row is ready, false when done or failed (see ok()).
  bool Step() {
    if (failed_) return false;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) {
      failed_ = true;
      LogStoreError(sqlite3_sql(stmt_), sqlite3_errmsg(db_.handle()));
    }
    return false;
  }

  // Runs a statement that returns no rows; true on success.
  bool Run() {
    while (Step()) {
    }
    return ok();
  }

  std::int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool Bool(int column) const { return Int(column) != 0; }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  // TEXT or BLOB bytes, valid until the next Step() or Reset().
  std::string_view View(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return data ? std::string_view(static_cast<const char*>(data), size) : std::string_view();
  }
  std::string Text(int column) const { return std::string(View(column)); }

 private:
  void Check(int rc) {
    if (rc == SQLITE_OK || failed_) return;
    failed_ = true;
    LogStoreError(sqlite3_sql(stmt_), sqlite3_errstr(rc));
  }

  SqliteDb& db_;
  sqlite3_stmt* stmt_;
  int index_ = 0;
  bool failed_ = false;
};

// Runs a statement without parameters or results (transaction control).
inline bool Exec(SqliteDb& db, const char* sql) { return Stmt(db, sql).Run(); }

}  // namespace handoff::store
