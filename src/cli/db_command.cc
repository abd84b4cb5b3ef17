#include "cli/db_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "base/result.h"
#include "cli/db_url_flag.h"
#include "store/open_store.h"
#include "store/store_migrate.h"

namespace handoff {

struct DbCommand {
  CLI::App* cmd = nullptr;
  CLI::App* migrate = nullptr;
  std::string from;
  std::string to;
};

namespace {

constexpr int kExitFailed = 2;

int Failed(const std::string& message) {
  std::fprintf(stderr, "handoff: db migrate: %s\n", message.c_str());
  return kExitFailed;
}

}  // namespace

DbCommand* AddDbCommand(CLI::App& app) {
  static DbCommand command;
  DbCommand& c = command;
  c.cmd = app.add_subcommand("db", "Work on a store that is not being served");
  c.cmd->require_subcommand(1, 1);
  c.migrate = c.cmd->add_subcommand(
      "migrate",
      "Copy a SQLite store into an empty PostgreSQL database, every run with its id, and "
      "check the counts (stop the server first)");
  c.migrate->add_option("--from", c.from, "The SQLite store: sqlite:PATH")->required();
  c.migrate->add_option("--to", c.to,
                        "The PostgreSQL database: postgres://USER@HOST:PORT/DB (a URL with a "
                        "password only in HANDOFF_DB)")
      ->envname("HANDOFF_DB")
      ->required();
  return &command;
}

bool DbParsed(const DbCommand& command) {
  return command.cmd != nullptr && command.cmd->parsed();
}

int RunDb(const DbCommand& command) {
  // A password on the command line is visible to every user (ps): as for serve's --db.
  if (const std::string error = PasswordOnCommandLine("--to", command.to); !error.empty()) {
    return Failed(error);
  }
  std::printf("handoff: copying %s to %s\n", command.from.c_str(),
              store::ShownStoreUrl(command.to).c_str());
  std::fflush(stdout);
  const Result<store::MigrationReport> report = store::MigrateSqliteToPostgres(
      command.from, command.to, [](const store::TableCopied& table) {
        std::printf("  %-11s %lld rows\n", table.table.c_str(),
                    static_cast<long long>(table.rows));
        std::fflush(stdout);
      });
  if (!report.ok()) return Failed(report.error().message);
  std::printf("handoff: copied and checked in %lld ms: every table holds as many rows as %s\n",
              static_cast<long long>(report->duration_ms), command.from.c_str());
  return 0;
}

}  // namespace handoff
