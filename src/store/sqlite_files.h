#pragma once

// Checks of the files behind a SQLite store, shared by the store, its lock and its
// backup: why a file cannot be opened, and whether a database is intact.

#include <sqlite3.h>

#include <string>

namespace handoff::store {

// Returns why `path` (a database or a file beside it) could not be opened or created, given
// the errno of the failure, in words a user acts on: "the directory \"/x\" does not exist",
// "permission denied: ...". Never empty.
std::string DescribeOpenError(const std::string& path, int err);

// Returns "" if the database open on `db` is intact as far as a bounded check can tell,
// else what is wrong, starting with the first problem SQLite reports. `path` names the
// file in the message.
//
// The check is PRAGMA quick_check (every page of every table and index is read and its
// structure verified, without comparing indexes to their tables) under a time budget of
// `budget_ms`: a progress handler interrupts it when the budget is spent, so a small
// database is checked whole and a big one (gigabytes) only its first part, and start-up
// stays quick. Corruption beyond the checked part is still found by SQLite when a query
// reads it (SQLITE_CORRUPT, logged by the store). A file that is not a database at all
// (garbage or overwritten header) fails on its first page, within any budget.
std::string CheckDatabase(sqlite3* db, const std::string& path, int budget_ms);

}  // namespace handoff::store
