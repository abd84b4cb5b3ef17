#include "store/sqlite_files.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

namespace handoff::store {
namespace {

// The directory a file is (or would be) created in.
std::string DirectoryOf(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

}  // namespace

std::string DescribeOpenError(const std::string& path, int err) {
  const std::string dir = DirectoryOf(path);
  if (err == ENOENT || err == ENOTDIR) {
    if (!Exists(dir)) return fmt::format("the directory \"{}\" does not exist", dir);
    if (!std::filesystem::is_directory(dir)) {
      return fmt::format("\"{}\" is not a directory", dir);
    }
  }
  if (err == EROFS) return fmt::format("the file system of \"{}\" is read-only", dir);
  if (err == EACCES || err == EPERM) {
    if (::access(dir.c_str(), X_OK) != 0) {
      return fmt::format("permission denied: this user cannot enter the directory \"{}\"", dir);
    }
    if (Exists(path) && ::access(path.c_str(), R_OK | W_OK) != 0) {
      return fmt::format("permission denied: this user cannot read and write \"{}\"", path);
    }
    if (::access(dir.c_str(), W_OK) != 0) {
      return fmt::format(
          "permission denied: this user cannot create files in the directory \"{}\" (the "
          "database needs its -wal, -shm and .lock files beside it)",
          dir);
    }
    return fmt::format("permission denied ({})", std::strerror(err));
  }
  if (err == EISDIR) return fmt::format("\"{}\" is a directory", path);
  if (err == 0) return "unknown error";
  return std::strerror(err);
}

std::string CheckDatabase(sqlite3* db, const std::string& path, int budget_ms) {
  struct Budget {
    std::chrono::steady_clock::time_point deadline;
    bool spent = false;
  } budget{std::chrono::steady_clock::now() + std::chrono::milliseconds(budget_ms)};
  // Called every 1000 virtual machine instructions: a few microseconds apart.
  sqlite3_progress_handler(
      db, 1000,
      [](void* arg) -> int {
        auto* b = static_cast<Budget*>(arg);
        if (std::chrono::steady_clock::now() < b->deadline) return 0;
        b->spent = true;
        return 1;  // interrupts the check
      },
      &budget);
  std::vector<std::string> problems;
  std::string failure;
  sqlite3_stmt* stmt = nullptr;
  // At most 5 problems: the first say enough, and a badly damaged file yields thousands.
  int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(5)", -1, &stmt, nullptr);
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      const std::string line = text != nullptr ? text : "";
      if (line != "ok") problems.push_back(line);
    }
  }
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW &&
      !((rc & 0xff) == SQLITE_INTERRUPT && budget.spent)) {
    failure = sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_progress_handler(db, 0, nullptr, nullptr);
  if (!failure.empty()) {
    return fmt::format("database \"{}\" is corrupt or not a SQLite database ({})", path,
                       failure);
  }
  if (problems.empty()) return {};
  std::string list;
  for (const std::string& p : problems) {
    if (!list.empty()) list += "; ";
    list += p;
  }
  return fmt::format("database \"{}\" is corrupt (integrity check: {})", path, list);
}

}  // namespace handoff::store
