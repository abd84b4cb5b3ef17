#pragma once

// Where a store's log lines go (OpenOptions::log): the log of the last store opened with
// one (`serve` has one store per process), else stderr, warnings and errors only. It is
// process-wide because the helpers that report (statements, decoders of stored values) have
// no store at hand; any backend uses it the same way: install at open, uninstall when the
// store is destroyed or its open failed.

#include <memory>
#include <string_view>
#include <utility>

#include "store/store.h"

namespace handoff::store {

// Writes one line to the installed log, or (none) a warning or error to stderr.
void WriteStoreLog(LogLevel level, std::string_view message, std::string_view detail);

// Logs that `what` (a statement's SQL, or what was being done) failed because of `detail`.
// The same error again is counted, not logged, until NoteStoreWriteCommitted.
void LogStoreError(std::string_view what, std::string_view detail);

// Says that a write committed: the next error is logged even if it is the last one again,
// and a line says how many times that one repeated unlogged, if it did.
void NoteStoreWriteCommitted();

// Returns a value read back from the database, or (a corrupt stored value, logged) an
// empty one.
template <typename T>
T ValueOrLogged(Result<T> decoded) {
  if (decoded.ok()) return std::move(decoded).value();
  LogStoreError("corrupt stored value", decoded.error().message);
  return T{};
}

// Makes `log` the process's store log (an empty one: none, lines go to stderr) and returns
// it, for UninstallStoreLog.
std::shared_ptr<const StoreLog> InstallStoreLog(const StoreLog& log);

// Uninstalls `installed` if it is still the process's store log (another store opened
// since keeps its own).
void UninstallStoreLog(const std::shared_ptr<const StoreLog>& installed);

}  // namespace handoff::store
