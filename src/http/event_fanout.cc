#include "http/event_fanout.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

#include "http/router.h"

namespace handoff::http {

SseBatch::Slice SseBatch::After(std::int64_t after_seq) const {
  Slice slice;
  const auto first = std::upper_bound(seqs.begin(), seqs.end(), after_seq);
  if (first == seqs.end()) return slice;
  const std::size_t i = static_cast<std::size_t>(first - seqs.begin());
  if (finish_index >= 0 && i > static_cast<std::size_t>(finish_index)) return slice;
  const std::size_t last =
      finish_index >= 0 ? static_cast<std::size_t>(finish_index) : seqs.size() - 1;
  slice.begin = i == 0 ? 0 : ends[i - 1];
  slice.end = ends[last];
  slice.last_seq = seqs[last];
  slice.finishes = finish_index >= 0;
  return slice;
}

std::shared_ptr<const SseBatch> RenderSseBatch(const std::vector<store::RunEvent>& events) {
  auto batch = std::make_shared<SseBatch>();
  batch->seqs.reserve(events.size());
  batch->ends.reserve(events.size());
  std::string& out = batch->text;
  for (const store::RunEvent& event : events) {
    // Events arrive in seq order; one out of order (never expected) is left out rather
    // than break the binary search of After.
    if (!batch->seqs.empty() && event.seq <= batch->seqs.back()) continue;
    fmt::format_to(std::back_inserter(out), "id: {}\nevent: {}\n", event.seq, event.type);
    std::string_view data = event.data;
    while (true) {
      const std::size_t newline = data.find('\n');
      out += "data: ";
      out.append(data.substr(0, newline));
      out += '\n';
      if (newline == std::string_view::npos) break;
      data.remove_prefix(newline + 1);
    }
    out += '\n';
    batch->seqs.push_back(event.seq);
    batch->ends.push_back(out.size());
    if (batch->finish_index < 0 && IsRunFinishedEvent(event)) {
      batch->finish_index = static_cast<int>(batch->seqs.size()) - 1;
    }
  }
  batch->text.shrink_to_fit();
  return batch;
}

std::shared_ptr<void> EventFanout::Subscribe(std::int64_t run_id, SseBatchCallback callback) {
  std::lock_guard lock(mu_);
  std::shared_ptr<Hub>& slot = hubs_[run_id];
  if (!slot) {
    auto hub = std::make_shared<Hub>();
    std::weak_ptr<Hub> weak = hub;
    // Subscribed under mu_: the engine calls back under its own lock, and the callback
    // takes only hub->mu, never mu_.
    hub->subscription = api_.Subscribe(run_id, [weak](const std::vector<store::RunEvent>& events) {
      const std::shared_ptr<Hub> hub = weak.lock();
      if (!hub || events.empty()) return;
      std::shared_ptr<const SseBatch> batch = RenderSseBatch(events);
      std::lock_guard hub_lock(hub->mu);
      for (const auto& [id, cb] : hub->callbacks) cb(batch);
    });
    slot = std::move(hub);
  }
  std::shared_ptr<Hub> hub = slot;
  std::uint64_t id;
  {
    std::lock_guard hub_lock(hub->mu);
    id = hub->next_id++;
    hub->callbacks.emplace(id, std::move(callback));
  }
  return std::shared_ptr<void>(nullptr, [this, run_id, hub, id](void*) {
    Unsubscribe(run_id, hub, id);
  });
}

void EventFanout::Unsubscribe(std::int64_t run_id, const std::shared_ptr<Hub>& hub,
                              std::uint64_t id) {
  std::shared_ptr<void> subscription;
  {
    std::lock_guard lock(mu_);
    {
      std::lock_guard hub_lock(hub->mu);
      hub->callbacks.erase(id);
      if (!hub->callbacks.empty()) return;
    }
    auto it = hubs_.find(run_id);
    if (it != hubs_.end() && it->second == hub) hubs_.erase(it);
    subscription = std::move(hub->subscription);
  }
  // Released without our locks: the engine's release waits for a delivery in progress,
  // which takes hub->mu.
  subscription.reset();
}

std::size_t EventFanout::runs() const {
  std::lock_guard lock(mu_);
  return hubs_.size();
}

}  // namespace handoff::http
