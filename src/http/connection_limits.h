#pragma once

// Who gets a connection to `serve` when connections run short, in the spirit of nginx's
// limit_conn and client_header_timeout: each client address may hold a bounded number of
// connections; when the general pool is full, the connection that has waited longest for
// its request header is closed to make room (a slow-header client cannot hold a slot a
// prompt client needs); when every connection of the pool is busy, a small reserve still
// answers the probes (/healthz, /readyz, /metrics). Every refusal is counted in the
// server's metrics and logged, at most one line per reason every few seconds.
//
// No sockets here: the server asks Admit on accept and tells what its connections do, so
// the policy is unit-tested on its own.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/server_log.h"
#include "http/log_throttle.h"
#include "metrics/registry.h"

namespace handoff::http {

// Why a connection was refused or closed early; each is a value of the `reason` label of
// handoff_http_connections_rejected_total.
enum class LimitReason {
  kPerClientLimit,  // the client address already holds its share of connections
  kCapacity,        // the pool and the probe reserve are full
  kHeaderTimeout,   // no complete request header within the header deadline
  kEvicted,         // waited longest for its header when the pool was full: closed for room
  kProbesOnly,      // admitted on the probe reserve, asked for something else: 503
  kStreamLag,       // an event stream's client fell too far behind: disconnected
};

// Returns the label value of `reason` ("per_client_limit", ...).
std::string_view LimitReasonName(LimitReason reason);

// Counts and logs the limits hit: a counter per reason, and a log line for the first hit of
// a reason and then at most one per `interval`, telling how many were not logged.
class LimitReporter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // Registers the server's connection metrics in `registry`; logs to `log` (may be null).
  LimitReporter(metrics::Registry& registry, ServerLog* log,
                std::chrono::milliseconds interval = std::chrono::seconds(10),
                Clock clock = [] { return std::chrono::steady_clock::now(); });

  // Counts one hit of `reason` by `client`, and logs it unless a line for the reason was
  // written less than `interval` ago.
  void Hit(LimitReason reason, std::string_view client);

  // The number of hits of `reason` so far.
  double Count(LimitReason reason) const;

  // The gauge of open connections by pool ("general", "reserve").
  metrics::Gauge& open(bool reserve) { return reserve ? *open_reserve_ : *open_general_; }

 private:
  metrics::Family<metrics::Counter>& rejected_;
  metrics::Gauge* open_general_;
  metrics::Gauge* open_reserve_;
  ServerLog* log_;
  LogThrottle throttle_;
};

// The admission policy of the server's connections. Thread-safe.
class ConnectionLimits {
 public:
  struct Options {
    std::size_t max_connections = 1024;  // the general pool
    std::size_t per_client = 64;         // connections one client address may hold
    std::size_t reserved = 8;            // beyond the pool, for the probes only
  };

  // What to do with a new connection.
  struct Admission {
    bool admitted = false;
    bool reserve = false;       // admitted on the probe reserve: probes only, then close
    LimitReason reason{};       // why not admitted
    std::uint64_t evict = 0;    // when not 0: close this connection to make room
  };

  ConnectionLimits(Options options, LimitReporter& reporter);

  // Decides for connection `id` (unique, not 0) from `client`; an admitted one counts until
  // Release(id). An admitted connection starts waiting for its header (see AwaitingHeader).
  // A refusal is reported.
  Admission Admit(std::uint64_t id, const std::string& client);

  // Connection `id` waits for a request header again (a kept-alive connection after its
  // answer): it may be evicted, oldest first.
  void AwaitingHeader(std::uint64_t id);
  // Connection `id` has its request header: it may no longer be evicted.
  void HeaderReceived(std::uint64_t id);
  // Connection `id` is gone; a no-op for an unknown id.
  void Release(std::uint64_t id);

  // Connections admitted and not released (general pool, reserve).
  std::size_t general() const;
  std::size_t reserve() const;

 private:
  struct Conn {
    std::string client;
    bool reserve = false;
    bool evicted = false;  // no longer counted in the pool (its close is under way)
    bool awaiting = false;
    std::list<std::uint64_t>::iterator awaiting_at;
  };
  void Uncount(Conn& conn);

  const Options options_;
  LimitReporter& reporter_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Conn> conns_;
  std::unordered_map<std::string, std::size_t> per_client_;
  std::list<std::uint64_t> awaiting_;  // general-pool connections waiting for a header, oldest first
  std::size_t general_ = 0;
  std::size_t reserve_ = 0;
};

}  // namespace handoff::http
