#include "store/store_log.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace handoff::store {

namespace {

// The installed log (store_log.h); null: stderr.
std::mutex log_mutex;
std::shared_ptr<const StoreLog> current_log;

// The last error logged and how many identical ones followed it unlogged (LogStoreError).
std::mutex repeat_mutex;
std::string last_message;  // empty: none since the last commit
std::string last_detail;
std::int64_t repeats = 0;

}  // namespace

void WriteStoreLog(LogLevel level, std::string_view message, std::string_view detail) {
  std::shared_ptr<const StoreLog> log;
  {
    std::lock_guard lock(log_mutex);
    log = current_log;
  }
  if (log && *log) {
    (*log)(level, message, detail);
    return;
  }
  // Without a log, only what went wrong is worth a line on stderr.
  if (level == LogLevel::kInfo) return;
  std::fprintf(stderr, "handoff: %.*s: %.*s\n", static_cast<int>(message.size()),
               message.data(), static_cast<int>(detail.size()), detail.data());
}

void LogStoreError(std::string_view what, std::string_view detail) {
  std::string message = fmt::format("store error: {}", what);
  {
    // A store that cannot write (a full disk) fails every write, the readiness probe's
    // every few seconds included, with the same error: one line says so, not one a probe.
    std::lock_guard lock(repeat_mutex);
    if (message == last_message && detail == last_detail) {
      ++repeats;
      return;
    }
    last_message = message;
    last_detail = std::string(detail);
    repeats = 0;
  }
  WriteStoreLog(LogLevel::kError, message, detail);
}

void NoteStoreWriteCommitted() {
  std::int64_t repeated = 0;
  std::string detail;
  {
    std::lock_guard lock(repeat_mutex);
    if (last_message.empty()) return;
    repeated = repeats;
    detail = std::move(last_detail);
    last_message.clear();
    last_detail.clear();
    repeats = 0;
  }
  if (repeated > 0) {
    WriteStoreLog(LogLevel::kInfo,
                  fmt::format("the last store error repeated {} more time{} until a write "
                              "committed",
                              repeated, repeated == 1 ? "" : "s"),
                  detail);
  }
}

std::shared_ptr<const StoreLog> InstallStoreLog(const StoreLog& log) {
  auto installed = log ? std::make_shared<const StoreLog>(log) : nullptr;
  std::lock_guard lock(log_mutex);
  current_log = installed;
  return installed;
}

void UninstallStoreLog(const std::shared_ptr<const StoreLog>& installed) {
  if (!installed) return;
  std::lock_guard lock(log_mutex);
  if (current_log == installed) current_log.reset();
}

}  // namespace handoff::store
