#include "engine/hook_runner.h"

#include <exception>

namespace handoff {

// State shared with the hook's thread, which may outlive the runner when the hook hangs.
struct HookRunner::Shared {
  std::shared_ptr<Hook> hook;
  std::string name;
  ServerLog* log;
  metrics::Counter* errors;
  metrics::Counter* dropped;
  std::size_t max_queue;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::string, std::function<void(Hook&)>>> queue;
  bool stopping = false;
  bool busy = false;
};

HookRunner::HookRunner(std::shared_ptr<Hook> hook, ServerLog& log, metrics::Counter& errors,
                       metrics::Counter& dropped, std::size_t max_queue)
    : shared_(std::make_shared<Shared>()) {
  name_ = hook->Name();
  shared_->hook = std::move(hook);
  shared_->name = name_;
  shared_->log = &log;
  shared_->errors = &errors;
  shared_->dropped = &dropped;
  shared_->max_queue = max_queue;
  thread_ = std::thread([s = shared_] {
    std::unique_lock lock(s->mu);
    while (true) {
      s->cv.wait(lock, [&] { return s->stopping || !s->queue.empty(); });
      if (s->queue.empty()) return;
      auto [what, call] = std::move(s->queue.front());
      s->queue.pop_front();
      s->busy = true;
      lock.unlock();
      try {
        call(*s->hook);
      } catch (const std::exception& e) {
        s->errors->Inc();
        s->log->Error("hook failed", {{"hook", s->name}, {"call", what}, {"error", e.what()}});
      } catch (...) {
        s->errors->Inc();
        s->log->Error("hook failed", {{"hook", s->name}, {"call", what}, {"error", "unknown exception"}});
      }
      lock.lock();
      s->busy = false;
      s->cv.notify_all();
    }
  });
}

HookRunner::~HookRunner() { Stop(std::chrono::seconds(5)); }

void HookRunner::Post(std::string what, std::function<void(Hook&)> call) {
  std::lock_guard lock(shared_->mu);
  if (shared_->stopping) return;
  if (shared_->queue.size() >= shared_->max_queue) {
    shared_->dropped->Inc();
    shared_->log->Warn("hook queue full, notification dropped",
                       {{"hook", name_}, {"call", what}});
    return;
  }
  shared_->queue.emplace_back(std::move(what), std::move(call));
  shared_->cv.notify_all();
}

void HookRunner::Stop(std::chrono::milliseconds timeout) {
  if (!thread_.joinable()) return;
  std::unique_lock lock(shared_->mu);
  shared_->stopping = true;
  shared_->cv.notify_all();
  const bool drained = shared_->cv.wait_for(
      lock, timeout, [&] { return shared_->queue.empty() && !shared_->busy; });
  if (!drained) {
    shared_->log->Warn("hook still running at shutdown; left behind",
                       {{"hook", name_}, {"queued", std::to_string(shared_->queue.size())}});
    shared_->queue.clear();
    lock.unlock();
    thread_.detach();
    return;
  }
  lock.unlock();
  thread_.join();
}

}  // namespace handoff
