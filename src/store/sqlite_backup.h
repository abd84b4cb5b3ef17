#pragma once

// Online backups of a SQLite store with SQLite's backup API (sqlite3_backup_*): a
// consistent snapshot copied page by page while the server keeps reading and writing.
//
// The copy runs inside one read transaction on the source, so every step copies pages of
// the same snapshot and the backup never restarts because the server wrote meanwhile. In
// WAL mode a reader never blocks the writer: the server's commits go on during the copy
// (the WAL only cannot be checkpointed past the snapshot until the copy ends). The copy
// goes in steps of `pages_per_step` pages with a short pause between them, so it shares
// the disk with the server instead of saturating it. It is written to a temporary file
// beside `path`, checked, then renamed over `path`: a backup file is whole or absent.

#include <sqlite3.h>

#include <chrono>
#include <string>

#include "base/result.h"
#include "store/store.h"

namespace handoff::store {

// How a backup is paced.
struct BackupPacing {
  int pages_per_step = 1024;  // 4 MiB of 4 KiB pages
  std::chrono::milliseconds pause{1};
  // Time the integrity check of the copy may take (see CheckDatabase).
  int check_budget_ms = 10'000;
};

// Copies the database open on `source` (a connection no other thread uses meanwhile) to
// `path`. `in_memory`: the source is an in-memory database, copied in one step. Returns what
// was written, or why not: kUnavailable (the copy could not be written), kCorrupt (the copy
// failed its check).
Result<BackupInfo> BackupDatabase(sqlite3* source, bool in_memory, const std::string& path,
                                  const BackupPacing& pacing = {});

// Backs up the database file at `db_path` (which must exist) to `path`, beside a server
// that may be using it: opens its own connection and reads only. Errors as BackupDatabase's,
// and kNotFound when there is no database at `db_path`, kInvalid when `path` is the
// database itself.
Result<BackupInfo> BackupDatabaseFile(const std::string& db_path, const std::string& path,
                                      const BackupPacing& pacing = {});

}  // namespace handoff::store
