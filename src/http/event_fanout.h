#pragma once

// The live stream as the HTTP server sends it: the events of a committed batch rendered
// once as Server-Sent Events text into one immutable buffer that every subscriber of the
// run writes from (1,000 followers of a run hold one copy of each batch, not 1,000), and
// one engine subscription per followed run however many clients follow it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/serve_api.h"
#include "store/store.h"

namespace handoff::http {

// Events rendered as Server-Sent Events text, with where each one ends, so that a
// subscriber that already sent some of them writes only the rest.
struct SseBatch {
  std::string text;
  std::vector<std::int64_t> seqs;  // of each event, ascending
  std::vector<std::size_t> ends;   // offset in text just past each event
  int finish_index = -1;           // the event that ends the run, if the batch has it

  // The part of the text to send after event `after_seq` was sent: [begin, end); empty
  // when nothing is left. The part stops after the run's final event.
  struct Slice {
    std::size_t begin = 0;
    std::size_t end = 0;
    std::int64_t last_seq = 0;  // the last event in the slice
    bool finishes = false;      // it holds the run's final event
    bool empty() const { return begin == end; }
  };
  Slice After(std::int64_t after_seq) const;
};

// Renders `events` (one "id:", "event:" and "data:" lines each; a newline in the data makes
// a data line per line).
std::shared_ptr<const SseBatch> RenderSseBatch(const std::vector<store::RunEvent>& events);

// Called with every batch committed for the run, on an engine thread: must not block.
using SseBatchCallback = std::function<void(const std::shared_ptr<const SseBatch>&)>;

// Shares one engine subscription per run among the server's followers of that run, and
// renders each batch once for all of them. Thread-safe.
class EventFanout {
 public:
  // Subscribes through `api`, which must outlive this.
  explicit EventFanout(ServeApi& api) : api_(api) {}

  // Calls `callback` with every batch of `run_id` committed from now on, until the returned
  // handle is destroyed (as ServeApi::Subscribe).
  std::shared_ptr<void> Subscribe(std::int64_t run_id, SseBatchCallback callback);

  // Runs followed now (for tests).
  std::size_t runs() const;

 private:
  struct Hub {
    std::mutex mu;  // guards callbacks; taken on engine threads, never with mu_ wanted after
    std::uint64_t next_id = 0;
    std::unordered_map<std::uint64_t, SseBatchCallback> callbacks;
    std::shared_ptr<void> subscription;  // the engine's; guarded by EventFanout::mu_
  };
  void Unsubscribe(std::int64_t run_id, const std::shared_ptr<Hub>& hub, std::uint64_t id);

  ServeApi& api_;
  mutable std::mutex mu_;  // guards hubs_ and each Hub::subscription
  std::unordered_map<std::int64_t, std::shared_ptr<Hub>> hubs_;
};

}  // namespace handoff::http
