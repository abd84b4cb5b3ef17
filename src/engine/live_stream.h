#pragma once

// The live stream of served runs: clients subscribed to a run (the API's event stream)
// receive its journal entries once committed.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/commit_observer.h"
#include "engine/serve_api.h"

namespace handoff {

class LiveStream : public CommitObserver {
 public:
  // Calls `callback` with every committed journal entry of `run_id` until the returned
  // handle is released.
  std::shared_ptr<void> Subscribe(std::int64_t run_id, RunEventCallback callback);

  // Sends committed entries to the run's subscribers (entries written outside a recorder).
  void Publish(std::int64_t run_id, const std::vector<store::RunEvent>& events);

  // The runs with subscribers now.
  std::vector<std::int64_t> Runs();

  // CommitObserver
  void OnCommitted(const RunKey& run, const Committed& committed) override;

 private:
  struct Subscribers {
    std::mutex mu;
    std::uint64_t next_id = 0;
    std::map<std::uint64_t, RunEventCallback> callbacks;
  };
  std::mutex mu_;
  std::unordered_map<std::int64_t, std::shared_ptr<Subscribers>> subscribers_;
};

}  // namespace handoff
