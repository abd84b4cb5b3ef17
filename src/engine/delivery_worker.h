#pragma once

// Sends the notifications of the store's outbox (issue 16). Each destination has a thread of
// its own that takes its pending deliveries, soonest due first, renders them through its
// plugin, sends them, and commits every attempt's outcome before the next: delivered, retried
// later with exponential backoff (or after the receiver's Retry-After), given up as failed
// once `give_up_after` has passed since the notification was decided, or disabled when the
// receiver asked never to be called again (410). A slow or failing receiver delays only its
// own deliveries; a server stopped before an attempt committed sends it again at its next
// start, under the same id, so receivers that de-duplicate see it once.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/server_log.h"
#include "metrics/registry.h"
#include "notify/plugin.h"
#include "notify/registry.h"
#include "store/store.h"

namespace handoff {

// A configured destination: its name, plugin and routing.
struct NotifyDestination {
  notify::PluginConfig config;  // name, kind, route (settings may hold secrets: never shown)
  std::shared_ptr<const notify::Plugin> plugin;
};

struct DeliveryOptions {
  std::chrono::milliseconds first_backoff{std::chrono::seconds(2)};
  std::chrono::milliseconds max_backoff{std::chrono::minutes(10)};
  // A delivery still failing this long after it was decided is given up (failed).
  std::chrono::milliseconds give_up_after{std::chrono::hours(24)};
  // Bounds each request (connect, send, answer).
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
  // How often an idle destination looks at the store anyway.
  std::chrono::milliseconds idle_poll{std::chrono::seconds(30)};
  // Whether this server sends now (replicas on a shared store: only the one that leads,
  // store::Store::Lead); empty: always. While it answers false the destinations wait, and
  // look again when woken (Wake) or after idle_poll.
  std::function<bool()> may_send;
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
};

// Returns the wait before retry number `attempt` (1 for the first retry): first_backoff
// doubled each time, capped at max_backoff, at least the receiver's Retry-After.
std::chrono::milliseconds RetryDelay(const DeliveryOptions& options, int attempt,
                                     std::optional<std::chrono::seconds> retry_after);

class DeliveryWorker {
 public:
  // `store`, `log` and `metrics` must outlive the worker.
  DeliveryWorker(store::Store& store, std::vector<NotifyDestination> destinations,
                 ServerLog& log, metrics::Registry& metrics, DeliveryOptions options = {});
  ~DeliveryWorker();

  // Starts a thread per destination; they send what is pending at once.
  void Start();
  // Wakes the destinations: new deliveries were committed.
  void Wake();
  // Stops after the attempts in flight (each bounded by request_timeout).
  void Stop();

  const std::vector<NotifyDestination>& destinations() const { return destinations_; }

 private:
  struct Lane;
  void Loop(Lane& lane);
  // Sends one delivery until it is done with or must wait; false when the store failed.
  void Attempt(Lane& lane, store::Delivery delivery);
  void UpdateQueueDepth();

  store::Store& store_;
  std::vector<NotifyDestination> destinations_;
  ServerLog& log_;
  DeliveryOptions options_;
  metrics::Family<metrics::Counter>& outcomes_;
  metrics::Family<metrics::Histogram>& latency_;
  metrics::Family<metrics::Gauge>& queue_depth_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::uint64_t generation_ = 0;  // bumped by Wake
  bool stopping_ = false;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::vector<std::thread> threads_;
};

}  // namespace handoff
