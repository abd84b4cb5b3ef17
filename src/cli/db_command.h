#pragma once

// `db`: work on a serve store that is not being served.
//   db migrate --from sqlite:FILE --to postgres://USER@HOST:PORT/DB
// copies every run (with its id), test, attempt, journal entry, schedule and delivery of a
// SQLite store into an empty PostgreSQL database in one transaction, checks that every
// table holds as many rows as the source, and prints the counts (store/store_migrate.h).
// --to also reads HANDOFF_DB (the URL the servers will use), and a password in it is taken
// only from there or from libpq's usual places (PGPASSWORD, ~/.pgpass): never from argv.
// Exit codes: 0 copied and checked, 2 bad usage or the copy failed (nothing committed).

namespace CLI {
class App;
}

namespace handoff {

struct DbCommand;

// Declares `db` and its subcommands on `app`; returns the state RunDb needs.
DbCommand* AddDbCommand(CLI::App& app);

// Returns true if the user chose `db`.
bool DbParsed(const DbCommand& command);

// Runs the parsed `db` subcommand and returns its exit code.
int RunDb(const DbCommand& command);

}  // namespace handoff
