#include "http/connection_limits.h"

#include <fmt/format.h>

#include <utility>

namespace handoff::http {

std::string_view LimitReasonName(LimitReason reason) {
  switch (reason) {
    case LimitReason::kPerClientLimit:
      return "per_client_limit";
    case LimitReason::kCapacity:
      return "capacity";
    case LimitReason::kHeaderTimeout:
      return "header_timeout";
    case LimitReason::kEvicted:
      return "evicted";
    case LimitReason::kProbesOnly:
      return "probes_only";
    case LimitReason::kStreamLag:
      return "stream_lag";
  }
  return "unknown";
}

namespace {

// What an operator reads in the log line of each reason.
std::string_view LimitMessage(LimitReason reason) {
  switch (reason) {
    case LimitReason::kPerClientLimit:
      return "connection refused: the client holds too many connections";
    case LimitReason::kCapacity:
      return "connection refused: the server is at its connection limit";
    case LimitReason::kHeaderTimeout:
      return "connection closed: no request header within the header timeout";
    case LimitReason::kEvicted:
      return "connection closed for room: it waited longest for a request header";
    case LimitReason::kProbesOnly:
      return "request refused: the server is at its connection limit (probes only)";
    case LimitReason::kStreamLag:
      return "event stream closed: the client fell too far behind (it can resume with "
             "Last-Event-ID)";
  }
  return "connection limit";
}

}  // namespace

LimitReporter::LimitReporter(metrics::Registry& registry, ServerLog* log,
                             std::chrono::milliseconds interval, Clock clock)
    : rejected_(registry.AddCounter(
          "handoff_http_connections_rejected_total",
          "Connections refused or closed by a connection limit, and requests refused on the "
          "probe reserve, by reason.",
          {"reason"})),
      log_(log),
      throttle_(interval, std::move(clock)) {
  auto& open = registry.AddGauge(
      "handoff_http_connections",
      "Open HTTP connections by pool: general, or the reserve kept for the probes.", {"pool"});
  open_general_ = &open.With({"general"});
  open_reserve_ = &open.With({"reserve"});
  // Every reason shows from the start (at 0), so rate() works from the first hit.
  for (LimitReason reason : {LimitReason::kPerClientLimit, LimitReason::kCapacity,
                             LimitReason::kHeaderTimeout, LimitReason::kEvicted,
                             LimitReason::kProbesOnly, LimitReason::kStreamLag}) {
    rejected_.With({std::string(LimitReasonName(reason))});
  }
}

void LimitReporter::Hit(LimitReason reason, std::string_view client) {
  rejected_.With({std::string(LimitReasonName(reason))}).Inc();
  const std::optional<std::uint64_t> suppressed = throttle_.Pass(static_cast<int>(reason));
  if (!suppressed || log_ == nullptr) return;
  ServerLog::Fields fields = {{"reason", std::string(LimitReasonName(reason))},
                              {"client", std::string(client)}};
  // How many hits of the reason were not logged since the previous line: the line stands
  // for all of them.
  if (*suppressed > 0) fields.emplace_back("not_logged", std::to_string(*suppressed));
  log_->Warn(LimitMessage(reason), fields);
}

double LimitReporter::Count(LimitReason reason) const {
  return rejected_.With({std::string(LimitReasonName(reason))}).Value();
}

ConnectionLimits::ConnectionLimits(Options options, LimitReporter& reporter)
    : options_(options), reporter_(reporter) {}

ConnectionLimits::Admission ConnectionLimits::Admit(std::uint64_t id, const std::string& client) {
  Admission admission;
  std::string evicted_client;
  {
    std::lock_guard lock(mu_);
    std::size_t& held = per_client_[client];
    if (held >= options_.per_client) {
      admission.reason = LimitReason::kPerClientLimit;
    } else if (general_ < options_.max_connections) {
      admission.admitted = true;
    } else if (!awaiting_.empty()) {
      admission.admitted = true;
      admission.evict = awaiting_.front();
      Conn& victim = conns_.at(admission.evict);
      evicted_client = victim.client;
      Uncount(victim);
    } else if (reserve_ < options_.reserved) {
      admission.admitted = true;
      admission.reserve = true;
    } else {
      admission.reason = LimitReason::kCapacity;
    }
    if (admission.admitted) {
      // (`held` may dangle after Uncount erased another client's entry: look it up again.)
      ++per_client_[client];
      Conn& conn = conns_[id];
      conn.client = client;
      conn.reserve = admission.reserve;
      if (admission.reserve) {
        ++reserve_;
        reporter_.open(true).Inc();
      } else {
        ++general_;
        reporter_.open(false).Inc();
        conn.awaiting = true;
        conn.awaiting_at = awaiting_.insert(awaiting_.end(), id);
      }
    } else if (held == 0) {
      per_client_.erase(client);
    }
  }
  if (!admission.admitted) reporter_.Hit(admission.reason, client);
  if (admission.evict != 0) reporter_.Hit(LimitReason::kEvicted, evicted_client);
  return admission;
}

void ConnectionLimits::AwaitingHeader(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.evicted || it->second.reserve || it->second.awaiting) {
    return;
  }
  it->second.awaiting = true;
  it->second.awaiting_at = awaiting_.insert(awaiting_.end(), id);
}

void ConnectionLimits::HeaderReceived(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(id);
  if (it == conns_.end() || !it->second.awaiting) return;
  awaiting_.erase(it->second.awaiting_at);
  it->second.awaiting = false;
}

void ConnectionLimits::Release(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Uncount(it->second);
  conns_.erase(it);
}

void ConnectionLimits::Uncount(Conn& conn) {
  if (conn.evicted) return;
  conn.evicted = true;
  if (conn.awaiting) {
    awaiting_.erase(conn.awaiting_at);
    conn.awaiting = false;
  }
  if (conn.reserve) {
    --reserve_;
    reporter_.open(true).Dec();
  } else {
    --general_;
    reporter_.open(false).Dec();
  }
  auto it = per_client_.find(conn.client);
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}

std::size_t ConnectionLimits::general() const {
  std::lock_guard lock(mu_);
  return general_;
}

std::size_t ConnectionLimits::reserve() const {
  std::lock_guard lock(mu_);
  return reserve_;
}

}  // namespace handoff::http
