#include "cli/backup_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/open_store.h"
#include "store/pg_url.h"
#include "store/sqlite_backup.h"

namespace handoff {

struct BackupCommand {
  CLI::App* cmd = nullptr;
  std::string db = "sqlite:handoff.db";
  std::string to;
};

namespace {

constexpr int kExitFailed = 2;

}  // namespace

BackupCommand* AddBackupCommand(CLI::App& app) {
  static BackupCommand command;
  BackupCommand& c = command;
  c.cmd = app.add_subcommand(
      "backup", "Copy a consistent snapshot of a serve store to a file, even while it serves");
  c.cmd->add_option("--db", c.db, "The store to back up: sqlite:PATH")->envname("HANDOFF_DB");
  c.cmd->add_option("--to", c.to, "The backup file to write (replaced if it exists)")
      ->required();
  return &command;
}

bool BackupParsed(const BackupCommand& command) {
  return command.cmd != nullptr && command.cmd->parsed();
}

int RunBackup(const BackupCommand& command) {
  constexpr std::string_view kScheme = "sqlite:";
  const std::string& db = command.db;
  if (store::IsPostgresUrl(db)) {
    std::fprintf(stderr,
                 "handoff: --db: \"%s\" is a PostgreSQL database: back it up with PostgreSQL's "
                 "own tools (pg_dump, or your provider's snapshots)\n",
                 store::ShownStoreUrl(db).c_str());
    return kExitFailed;
  }
  if (!db.starts_with(kScheme) || db.size() == kScheme.size() || db == "sqlite::memory:") {
    std::fprintf(stderr,
                 "handoff: --db: cannot back up \"%s\": use sqlite:PATH (an in-memory store "
                 "lives inside its server: use POST /api/v1/admin/backup)\n",
                 db.c_str());
    return kExitFailed;
  }
  const Result<store::BackupInfo> result =
      store::BackupDatabaseFile(db.substr(kScheme.size()), command.to);
  if (!result.ok()) {
    std::fprintf(stderr, "handoff: %s\n", result.error().message.c_str());
    return kExitFailed;
  }
  std::printf("handoff: backed up %s to %s (%lld bytes, %lld pages, %lld ms)\n", db.c_str(),
              result->path.c_str(), static_cast<long long>(result->bytes),
              static_cast<long long>(result->pages),
              static_cast<long long>(result->duration_ms));
  return 0;
}

}  // namespace handoff
