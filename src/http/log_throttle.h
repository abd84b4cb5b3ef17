#pragma once

// One log line per kind of event per interval: the connection limits and the TLS handshake
// failures log the first of each reason, then at most a line every interval that tells how
// many it stands for (a port scanner or a thousand slow clients must not flood the log).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace handoff::http {

// Decides, per key, which events get a log line; safe to call from any thread.
class LogThrottle {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit LogThrottle(std::chrono::milliseconds interval,
                       Clock clock = [] { return std::chrono::steady_clock::now(); })
      : interval_(interval), clock_(std::move(clock)) {}

  // Returns nullopt when a line for `key` was written less than the interval ago (this event
  // is counted), else how many events of `key` were held back since that line.
  std::optional<std::uint64_t> Pass(int key) {
    std::lock_guard lock(mu_);
    Pending& p = pending_[key];
    const auto now = clock_();
    if (p.logged_once && now - p.last_line < interval_) {
      ++p.suppressed;
      return std::nullopt;
    }
    p.logged_once = true;
    p.last_line = now;
    return std::exchange(p.suppressed, 0);
  }

 private:
  struct Pending {
    bool logged_once = false;
    std::chrono::steady_clock::time_point last_line;
    std::uint64_t suppressed = 0;
  };
  const std::chrono::milliseconds interval_;
  Clock clock_;
  std::mutex mu_;
  std::map<int, Pending> pending_;
};

}  // namespace handoff::http
