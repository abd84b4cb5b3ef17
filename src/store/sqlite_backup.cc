#include "store/sqlite_backup.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <thread>

#include "store/sqlite_files.h"

namespace handoff::store {
namespace {

// Runs a statement without results on `db`; false (and *error) on failure.
bool Exec(sqlite3* db, const char* sql, std::string* error) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) == SQLITE_OK) return true;
  *error = message != nullptr ? message : sqlite3_errmsg(db);
  sqlite3_free(message);
  return false;
}

// A backup that failed: most often the disk or the database could not do it now.
Error Fail(std::string message, ErrorCode code = ErrorCode::kUnavailable) {
  return Error{code, std::move(message)};
}

// Copies every page of `source` into `dest` in steps; returns "" or the error.
std::string CopyPages(sqlite3* source, sqlite3* dest, bool in_memory, const BackupPacing& pacing,
                      std::int64_t* pages) {
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", source, "main");
  if (backup == nullptr) return sqlite3_errmsg(dest);
  const int step = in_memory ? -1 : std::max(1, pacing.pages_per_step);
  int rc = SQLITE_OK;
  for (;;) {
    rc = sqlite3_backup_step(backup, step);
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      std::this_thread::sleep_for(pacing.pause);
      continue;
    }
    break;
  }
  *pages = sqlite3_backup_pagecount(backup);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return sqlite3_errstr(rc);
  return {};
}

}  // namespace

Result<BackupInfo> BackupDatabase(sqlite3* source, bool in_memory, const std::string& path,
                            const BackupPacing& pacing) {
  const auto start = std::chrono::steady_clock::now();
  const std::string temp = fmt::format("{}.tmp-{}", path, ::getpid());
  std::error_code ec;
  std::filesystem::remove(temp, ec);
  sqlite3* dest = nullptr;
  if (sqlite3_open_v2(temp.c_str(), &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    const int err = dest != nullptr ? sqlite3_system_errno(dest) : 0;
    sqlite3_close_v2(dest);
    return Fail(fmt::format("cannot create the backup \"{}\": {}", path,
                            DescribeOpenError(temp, err)));
  }
  auto discard = [&](std::string message, ErrorCode code = ErrorCode::kUnavailable) {
    sqlite3_close_v2(dest);
    std::filesystem::remove(temp, ec);
    return Fail(std::move(message), code);
  };

  // One read transaction for the whole copy: every step sees the same snapshot. (An
  // in-memory source is copied in one step under the store's lock instead.)
  std::string error;
  if (!in_memory) {
    if (!Exec(source, "BEGIN", &error) ||
        !Exec(source, "SELECT count(*) FROM sqlite_master", &error)) {
      if (sqlite3_get_autocommit(source) == 0) Exec(source, "ROLLBACK", &error);
      return discard(fmt::format("backup to \"{}\": cannot read the database: {}", path, error));
    }
  }
  BackupInfo info;
  error = CopyPages(source, dest, in_memory, pacing, &info.pages);
  if (!in_memory) {
    std::string ignored;
    Exec(source, "COMMIT", &ignored);
  }
  if (!error.empty()) {
    return discard(fmt::format("backup to \"{}\" failed: {}", path, error));
  }
  // The copy must open as an intact database before it takes the backup's name.
  const std::string problem = CheckDatabase(dest, path, pacing.check_budget_ms);
  if (!problem.empty()) {
    return discard("the backup failed its check: " + problem, ErrorCode::kCorrupt);
  }
  if (sqlite3_close(dest) != SQLITE_OK) {
    return discard(fmt::format("backup to \"{}\": cannot close the copy", path));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::filesystem::remove(temp, ec);
    return Fail(fmt::format("cannot create the backup \"{}\": {}", path,
                            DescribeOpenError(path, err)));
  }
  info.path = path;
  info.bytes = static_cast<std::int64_t>(std::filesystem::file_size(path, ec));
  info.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
  return info;
}

Result<BackupInfo> BackupDatabaseFile(const std::string& db_path, const std::string& path,
                                const BackupPacing& pacing) {
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    return Fail(fmt::format("cannot open database \"{}\": it does not exist", db_path),
                ErrorCode::kNotFound);
  }
  const auto a = std::filesystem::weakly_canonical(db_path, ec);
  const auto b = std::filesystem::weakly_canonical(path, ec);
  if (!ec && a == b) {
    return Fail(fmt::format("the backup \"{}\" would replace the database itself", path),
                ErrorCode::kInvalid);
  }
  sqlite3* source = nullptr;
  // Read-write without create: a WAL database needs its shared-memory index, which a
  // read-only connection may not be able to set up; query_only keeps it from writing.
  if (sqlite3_open_v2(db_path.c_str(), &source, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    const int err = source != nullptr ? sqlite3_system_errno(source) : 0;
    sqlite3_close_v2(source);
    return Fail(fmt::format("cannot open database \"{}\": {}", db_path,
                            DescribeOpenError(db_path, err)));
  }
  sqlite3_busy_timeout(source, 5000);
  std::string error;
  if (!Exec(source, "PRAGMA query_only=ON", &error)) {
    sqlite3_close_v2(source);
    return Fail(fmt::format("cannot open database \"{}\": {}", db_path, error));
  }
  Result<BackupInfo> result = BackupDatabase(source, false, path, pacing);
  sqlite3_close_v2(source);
  return result;
}

}  // namespace handoff::store
