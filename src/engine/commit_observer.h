#pragma once

// What `serve` tells the world after the store committed part of a run. The RunRecorder
// hands each commit to the engine, which passes it to every CommitObserver registered with
// it (the live stream, the metrics, the hooks): each reads the same committed verdicts and
// nothing that a crash could still lose.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace handoff {

// A test that finished for good, with the values it set (for hooks and metrics).
struct FinishedTest {
  store::TestRow row;
  store::KeyValues values;
  bool top_level = true;
};

// What one commit made visible.
struct Committed {
  std::int64_t run_id = 0;
  std::vector<store::RunEvent> events;
  std::vector<FinishedTest> finished;
  // The run as it stands after this commit, when the commit changed it (queued, started,
  // finished); nullopt when the commit holds only tests.
  std::optional<store::Run> run;
  bool run_finished = false;  // the run's final state is part of this commit
  bool deliveries = false;    // notifications were committed to the outbox
};

// Which run a commit belongs to: fixed for the run's life.
struct RunKey {
  std::int64_t id = 0;
  std::string namespace_name;
  std::string suite;
};

// Receives every commit of every served run.
class CommitObserver {
 public:
  virtual ~CommitObserver() = default;
  // Called on the store's writer thread after each commit, in commit order: must return
  // quickly (queue slow work) and must not read the store.
  virtual void OnCommitted(const RunKey& run, const Committed& committed) = 0;
};

}  // namespace handoff
