#pragma once

// Runs one user hook on its own thread, from a bounded queue: a slow hook (an HTTP call)
// delays only its own notifications, a hook that throws is logged, and a hook that hangs
// is reported and left behind at shutdown instead of holding the server.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/server_log.h"
#include "handoff/serve.h"
#include "metrics/registry.h"

namespace handoff {

class HookRunner {
 public:
  // `errors` counts failed calls and `dropped` notifications lost to a full queue.
  HookRunner(std::shared_ptr<Hook> hook, ServerLog& log, metrics::Counter& errors,
             metrics::Counter& dropped, std::size_t max_queue = 10000);
  ~HookRunner();

  // The hook's name.
  const std::string& name() const { return name_; }

  // Queues a call; drops it (logged, counted) when the queue is full.
  void Post(std::string what, std::function<void(Hook&)> call);

  // Lets queued calls finish for up to `timeout`, then leaves a hanging hook behind.
  void Stop(std::chrono::milliseconds timeout);

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
  std::string name_;
  std::thread thread_;
};

}  // namespace handoff
