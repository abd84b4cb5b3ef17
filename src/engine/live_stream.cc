#include "engine/live_stream.h"

#include <utility>

namespace handoff {

void LiveStream::OnCommitted(const RunKey& run, const Committed& committed) {
  Publish(run.id, committed.events);
}

void LiveStream::Publish(std::int64_t run_id, const std::vector<store::RunEvent>& events) {
  if (events.empty()) return;
  std::shared_ptr<Subscribers> subs;
  {
    std::lock_guard lock(mu_);
    auto it = subscribers_.find(run_id);
    if (it == subscribers_.end()) return;
    subs = it->second;
  }
  std::lock_guard lock(subs->mu);
  for (const auto& [id, callback] : subs->callbacks) callback(events);
}

std::vector<std::int64_t> LiveStream::Runs() {
  std::lock_guard lock(mu_);
  std::vector<std::int64_t> runs;
  runs.reserve(subscribers_.size());
  for (const auto& [id, subs] : subscribers_) runs.push_back(id);
  return runs;
}

std::shared_ptr<void> LiveStream::Subscribe(std::int64_t run_id, RunEventCallback callback) {
  std::shared_ptr<Subscribers> subs;
  {
    std::lock_guard lock(mu_);
    auto& slot = subscribers_[run_id];
    if (!slot) slot = std::make_shared<Subscribers>();
    subs = slot;
  }
  std::uint64_t id;
  {
    std::lock_guard lock(subs->mu);
    id = subs->next_id++;
    subs->callbacks[id] = std::move(callback);
  }
  return std::shared_ptr<void>(nullptr, [this, run_id, id](void*) {
    std::lock_guard lock(mu_);
    auto it = subscribers_.find(run_id);
    if (it == subscribers_.end()) return;
    {
      std::lock_guard sub_lock(it->second->mu);
      it->second->callbacks.erase(id);
      if (!it->second->callbacks.empty()) return;
    }
    subscribers_.erase(it);
  });
}

}  // namespace handoff
