#include "engine/delivery_worker.h"

#include <algorithm>
#include <map>
#include <utility>

#include "http_client/http_client.h"
#include "notify/notification.h"

namespace handoff {
namespace {

using Clock = std::chrono::system_clock;

std::int64_t ToNs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Clock::time_point FromNs(std::int64_t ns) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

// The most of a receiver's answer a delivery reads (Slack's and GitHub's JSON answers are
// far smaller).
constexpr std::uint64_t kMaxAnswer = 64 * 1024;

const char* OutcomeName(store::DeliveryState state) {
  switch (state) {
    case store::DeliveryState::kDelivered: return "delivered";
    case store::DeliveryState::kFailed: return "failed";
    case store::DeliveryState::kDisabled: return "disabled";
    case store::DeliveryState::kPending: return "retried";
  }
  return "failed";
}

}  // namespace

std::chrono::milliseconds RetryDelay(const DeliveryOptions& options, int attempt,
                                     std::optional<std::chrono::seconds> retry_after) {
  std::chrono::milliseconds delay = options.first_backoff;
  for (int i = 1; i < attempt && delay < options.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, options.max_backoff);
  if (retry_after) delay = std::max<std::chrono::milliseconds>(delay, *retry_after);
  return delay;
}

// One destination's thread and what it keeps between attempts.
struct DeliveryWorker::Lane {
  const NotifyDestination* destination = nullptr;
  // Open connections by scheme, host and port, kept alive between deliveries.
  std::map<std::string, std::unique_ptr<http::Client>> clients;
  std::shared_ptr<const http::ClientTls> tls;
  bool disabled = false;  // a 410: nothing more is sent until the server restarts
};

DeliveryWorker::DeliveryWorker(store::Store& store, std::vector<NotifyDestination> destinations,
                               ServerLog& log, metrics::Registry& metrics,
                               DeliveryOptions options)
    : store_(store),
      destinations_(std::move(destinations)),
      log_(log),
      options_(std::move(options)),
      outcomes_(metrics.AddCounter("handoff_notifications_total",
                                   "Attempts at delivering notifications, by plugin, destination "
                                   "and outcome (delivered, retried, failed, disabled).",
                                   {"plugin", "destination", "outcome"})),
      latency_(metrics.AddHistogram(
          "handoff_notification_delivery_seconds",
          "Time from a notification's decision (its run's commit) to its delivery.",
          {"plugin", "destination"},
          {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600})),
      queue_depth_(metrics.AddGauge("handoff_notification_queue_depth",
                                    "Notifications waiting to be delivered, by destination.",
                                    {"destination"})) {
  for (const NotifyDestination& d : destinations_) {
    queue_depth_.With({d.config.name}).Set(0);
    for (const char* outcome : {"delivered", "retried", "failed", "disabled"}) {
      outcomes_.With({std::string(d.plugin->kind()), d.config.name, outcome});
    }
  }
}

DeliveryWorker::~DeliveryWorker() { Stop(); }

void DeliveryWorker::Start() {
  Result<std::shared_ptr<const http::ClientTls>> tls = http::LoadClientTls({});
  UpdateQueueDepth();
  for (const NotifyDestination& d : destinations_) {
    auto lane = std::make_unique<Lane>();
    lane->destination = &d;
    if (tls.ok()) lane->tls = *tls;
    lanes_.push_back(std::move(lane));
  }
  if (!tls.ok()) {
    log_.Error("notifications: the system's CA certificates could not be loaded; https "
               "destinations will fail",
               {{"error", tls.error().message}});
  }
  for (auto& lane : lanes_) {
    threads_.emplace_back([this, l = lane.get()] { Loop(*l); });
  }
}

void DeliveryWorker::Wake() {
  {
    std::lock_guard lock(mu_);
    ++generation_;
  }
  wake_.notify_all();
}

void DeliveryWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void DeliveryWorker::UpdateQueueDepth() {
  const std::map<std::string, std::int64_t> counts = store_.PendingDeliveryCounts();
  for (const NotifyDestination& d : destinations_) {
    auto it = counts.find(d.config.name);
    queue_depth_.With({d.config.name}).Set(it == counts.end() ? 0 : static_cast<double>(it->second));
  }
}

void DeliveryWorker::Loop(Lane& lane) {
  const std::string& name = lane.destination->config.name;
  std::uint64_t seen = 0;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      seen = generation_;
    }
    std::vector<store::Delivery> pending;
    if (!options_.may_send || options_.may_send()) pending = store_.PendingDeliveries(name, 1);
    Clock::time_point wake_at = options_.now() + options_.idle_poll;
    if (!pending.empty()) {
      const Clock::time_point due = FromNs(pending.front().next_attempt_at_ns);
      if (due <= options_.now()) {
        Attempt(lane, std::move(pending.front()));
        continue;
      }
      wake_at = std::min(wake_at, due);
    }
    std::unique_lock lock(mu_);
    // The injected clock may differ from the steady one: wait the difference.
    const auto wait = wake_at - options_.now();
    wake_.wait_for(lock, std::max(wait, Clock::duration::zero()),
                   [&] { return stopping_ || generation_ != seen; });
  }
}

void DeliveryWorker::Attempt(Lane& lane, store::Delivery delivery) {
  const NotifyDestination& destination = *lane.destination;
  const std::string kind(destination.plugin->kind());
  store::DeliveryUpdate update;
  update.id = delivery.id;
  update.attempts = delivery.attempts;
  update.progress = delivery.progress;
  update.state = store::DeliveryState::kPending;
  const auto finish = [&](store::DeliveryState state, std::string error) {
    update.state = state;
    update.finished_at_ns = ToNs(options_.now());
    update.last_error = std::move(error);
  };

  Result<notify::Notification> notification = notify::FromJson(delivery.payload);
  if (lane.disabled) {
    finish(store::DeliveryState::kDisabled,
           "the destination answered 410 Gone to an earlier delivery and is disabled until "
           "the server restarts");
  } else if (!notification.ok()) {
    finish(store::DeliveryState::kFailed,
           "the stored notification cannot be read: " + notification.error().message);
  } else {
    notify::RenderContext context;
    context.progress = delivery.progress;
    context.suite_reply = store_.LastDeliveryProgress(delivery.destination, delivery.suite);
    Result<notify::Request> request = destination.plugin->Render(*notification, context);
    if (!request.ok()) {
      finish(store::DeliveryState::kFailed, "cannot render: " + request.error().message);
    } else {
      ++update.attempts;
      notify::Response response;
      std::string url_error;
      std::optional<http::Url> url = http::ParseUrl(request->url, &url_error);
      if (!url) {
        // The URL may hold a secret (a Slack webhook's path): never repeat it.
        response.error = "the destination's URL is not an http:// or https:// URL";
      } else if (url->https && !lane.tls) {
        response.error = "https needs the system's CA certificates, which could not be loaded";
      } else {
        const std::string key = (url->https ? "https://" : "http://") + url->host + ":" +
                                std::to_string(url->port);
        std::unique_ptr<http::Client>& client = lane.clients[key];
        if (!client) {
          client = std::make_unique<http::Client>(url->host, url->port,
                                                  url->https ? lane.tls : nullptr);
          // Receivers answer a few hundred bytes of JSON: a huge answer is not kept.
          client->SetMaxResponseBody(kMaxAnswer);
        }
        notify::Headers headers = request->headers;
        headers.emplace_back("User-Agent", "handoff-notify/1");
        http::ClientResult result =
            client->Request(request->method, url->base.empty() ? "/" : url->base, request->body,
                            headers, options_.request_timeout);
        response.status = result.status;
        response.headers = std::move(result.headers);
        response.body = std::move(result.body);
        response.error = std::move(result.error);
        if (!response.error.empty()) client.reset();  // its connection's state is unknown
      }
      const notify::Outcome outcome =
          destination.plugin->Classify(*notification, *request, response);
      switch (outcome.verdict) {
        case notify::Verdict::kDelivered:
          update.progress = outcome.progress;
          finish(store::DeliveryState::kDelivered, "");
          break;
        case notify::Verdict::kNext:
          update.progress = outcome.progress;
          update.next_attempt_at_ns = ToNs(options_.now());
          break;
        case notify::Verdict::kRetry: {
          const Clock::time_point now = options_.now();
          if (now - FromNs(delivery.created_at_ns) >= options_.give_up_after) {
            finish(store::DeliveryState::kFailed,
                   "gave up after " + std::to_string(update.attempts) + " attempts: " +
                       outcome.error);
          } else {
            update.last_error = outcome.error;
            update.next_attempt_at_ns =
                ToNs(now + RetryDelay(options_, update.attempts, outcome.retry_after));
          }
          break;
        }
        case notify::Verdict::kFailed:
          finish(store::DeliveryState::kFailed, outcome.error);
          break;
        case notify::Verdict::kDisabled:
          lane.disabled = true;
          finish(store::DeliveryState::kDisabled, outcome.error);
          break;
      }
    }
  }

  Result<void> stored = store_.UpdateDelivery(update);
  if (!stored.ok()) {
    // Not committed: the delivery stays as it was and is tried again after a pause.
    log_.Error("notification attempt not stored; it is tried again",
               {{"destination", destination.config.name},
                {"delivery", delivery.id},
                {"error", stored.error().message}});
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, options_.first_backoff, [&] { return stopping_; });
    return;
  }
  const bool pending_step = update.state == store::DeliveryState::kPending;
  if (pending_step && update.last_error.empty()) return;  // the next step of a delivery
  outcomes_.With({kind, destination.config.name, OutcomeName(update.state)}).Inc();
  const ServerLog::Fields fields = {{"destination", destination.config.name},
                                    {"plugin", kind},
                                    {"delivery", delivery.id},
                                    {"run", std::to_string(delivery.run_id)},
                                    {"event", delivery.event},
                                    {"attempts", std::to_string(update.attempts)},
                                    {"error", update.last_error}};
  switch (update.state) {
    case store::DeliveryState::kDelivered: {
      const double seconds =
          std::chrono::duration<double>(FromNs(update.finished_at_ns) - FromNs(delivery.created_at_ns))
              .count();
      latency_.With({kind, destination.config.name}).Observe(std::max(0.0, seconds));
      log_.Info("notification delivered", {{"destination", destination.config.name},
                                           {"delivery", delivery.id},
                                           {"run", std::to_string(delivery.run_id)},
                                           {"event", delivery.event}});
      break;
    }
    case store::DeliveryState::kPending:
      log_.Warn("notification not delivered; retrying later", fields);
      break;
    case store::DeliveryState::kFailed:
      log_.Error("notification failed for good", fields);
      break;
    case store::DeliveryState::kDisabled:
      log_.Error("notification destination disabled", fields);
      break;
  }
  UpdateQueueDepth();
}

}  // namespace handoff
