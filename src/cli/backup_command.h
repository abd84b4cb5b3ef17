#pragma once

// `backup`: an online backup of a server's SQLite store, safe while the server runs.
//   backup --db sqlite:PATH --to FILE
// It reads only (it takes no ownership of the store: see store/ownership.h), copies a
// consistent snapshot with SQLite's backup API in steps, checks the copy and renames it to
// FILE. Exit codes: 0 written, 2 bad usage or the backup failed (the message says why).

namespace CLI {
class App;
}

namespace handoff {

struct BackupCommand;

// Declares `backup` on `app`; returns the state RunBackup needs.
BackupCommand* AddBackupCommand(CLI::App& app);

// Returns true if the user chose `backup`.
bool BackupParsed(const BackupCommand& command);

// Runs the parsed `backup` and returns its exit code.
int RunBackup(const BackupCommand& command);

}  // namespace handoff
