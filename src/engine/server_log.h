#pragma once

// The log of `serve`: one line per event on stderr, as text
//   2026-11-23T10:00:00.123Z INFO run started run=12 suite=Checkout
// or, with --log-format json, as one JSON object per line (time, level, msg, fields), the
// shape log collectors (Loki, Elasticsearch) read without parsing rules.

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace handoff {

class ServerLog {
 public:
  enum class Level { kInfo, kWarn, kError };
  using Fields = std::vector<std::pair<std::string_view, std::string>>;

  // Writes to `out` (stderr by default); json selects the JSON lines format.
  explicit ServerLog(bool json = false, std::FILE* out = stderr) : json_(json), out_(out) {}

  // Writes one line. Thread-safe.
  void Write(Level level, std::string_view message, const Fields& fields = {});
  void Info(std::string_view message, const Fields& fields = {}) {
    Write(Level::kInfo, message, fields);
  }
  void Warn(std::string_view message, const Fields& fields = {}) {
    Write(Level::kWarn, message, fields);
  }
  void Error(std::string_view message, const Fields& fields = {}) {
    Write(Level::kError, message, fields);
  }

 private:
  bool json_;
  std::FILE* out_;
  std::mutex mu_;
};

}  // namespace handoff
