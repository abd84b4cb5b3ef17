#pragma once

// What the engine keeps of a run it executes (serve_engine.cc and serve_replicas.cc): the
// run, its journal and recorder, and the gate that stops it at a test boundary.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/run_recorder.h"
#include "engine/serve_engine.h"
#include "store/store.h"

namespace handoff {

// The steady clock, in nanoseconds: what lease and lead deadlines are kept in.
inline std::int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Sits between a run's supervisor and its recorder to stop a run at a test boundary when
// the server shuts down: the test that is running may finish; the next one that starts is
// stopped, not recorded, and runs again when the run resumes.
class DrainGate : public EventSink {
 public:
  DrainGate(RunRecorder& recorder, std::atomic<bool>& cancel)
      : recorder_(recorder), cancel_(cancel) {}

  // Asks the run to stop at the next test boundary (now, if no test is running).
  void RequestDrain() {
    std::lock_guard lock(mu_);
    drain_ = true;
    if (!in_test_) StopLocked();
  }
  // Stops now: the running test is killed and not recorded.
  void StopNow() {
    std::lock_guard lock(mu_);
    drain_ = true;
    StopLocked();
  }
  bool stopped() const {
    std::lock_guard lock(mu_);
    return stopped_;
  }

  // EventSink
  void OnEvent(const Event& event) override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      if (event.kind == EventKind::kTestStarted && store::IsTopLevel(event.test)) {
        if (drain_) {
          StopLocked();
          return;
        }
        in_test_ = true;
      }
    }
    recorder_.OnEvent(event);
    if (event.kind == EventKind::kTestFinished && store::IsTopLevel(event.test)) {
      std::lock_guard lock(mu_);
      in_test_ = false;
      if (drain_) StopLocked();
    }
  }
  void Flush() override { recorder_.Flush(); }

 private:
  void StopLocked() {
    if (stopped_) return;
    stopped_ = true;
    recorder_.Flush();
    recorder_.StopRecording();
    cancel_.store(true);
  }

  RunRecorder& recorder_;
  std::atomic<bool>& cancel_;
  mutable std::mutex mu_;
  bool drain_ = false;
  bool in_test_ = false;
  bool stopped_ = false;
};

struct ServeEngine::ActiveRun {
  std::mutex mu;  // run
  store::Run run;
  std::unique_ptr<RunJournal> journal;
  std::unique_ptr<RunRecorder> recorder;
  std::unique_ptr<DrainGate> gate;
  std::atomic<bool> cancel{false};
  std::atomic<bool> user_cancelled{false};
  // Set to release the test the run holds (the supervisor passes it on: SuiteJob::release).
  std::atomic<bool> release{false};
  bool running = false;  // guarded by the engine's mu_
  bool resuming = false;
  // On a shared store: the fencing token of this replica's lease on the run, and whether
  // another replica has taken it over since.
  std::int64_t lease_token = 0;
  std::atomic<bool> lease_lost{false};
  // The journal's last seq when this replica claimed the run: entries up to it were written
  // elsewhere, and reach this replica's live streams by reading the journal.
  std::int64_t claimed_seq = 0;
  RunKey key;  // for the observers
  // Keeps the run alive from its final update until that update's commit callback, which
  // may come after the run's thread has ended (then reset, breaking the cycle).
  std::shared_ptr<ActiveRun> self;
  // An ingested run's commits, held from the observers until its final state commits (a
  // run whose writes fail is deleted, and nothing may have reported it); nullopt: passed
  // on as they commit.
  std::mutex held_mu;
  std::optional<std::vector<Committed>> held;
};

}  // namespace handoff
