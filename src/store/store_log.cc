#include "store/store_log.h"

#include <fmt/format.h>

#include <cstdio>
#include <mutex>

namespace handoff::store {

namespace {

// The installed log (store_log.h); null: stderr.
std::mutex log_mutex;
std::shared_ptr<const StoreLog> current_log;

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
  WriteStoreLog(LogLevel::kError, fmt::format("store error: {}", what), detail);
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
