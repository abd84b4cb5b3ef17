#pragma once

// Tells the user's hooks about served runs, from committed results only: a run that
// started, every test that finished for good (cancelled ones too), and the run's end with
// its stored totals.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/commit_observer.h"
#include "engine/hook_runner.h"
#include "handoff/serve.h"

namespace handoff {

// Returns the run as hooks see it; the tests_* fields are `totals`.
RunInfo MakeRunInfo(const store::Run& run, const Totals& totals);

// Returns a finished test as hooks see it.
TestInfo MakeTestInfo(const FinishedTest& test);

class HookObserver : public CommitObserver {
 public:
  // Attaches a value to a run (AttachValue of OnRunFinished).
  using Attach = std::function<void(std::int64_t run_id, std::string key, std::string value)>;

  // `hooks` must outlive this.
  HookObserver(const std::vector<std::unique_ptr<HookRunner>>& hooks, Attach attach);

  // CommitObserver
  void OnCommitted(const RunKey& run, const Committed& committed) override;

 private:
  // What the hooks have been told of one run so far.
  struct RunState {
    store::Run run;
    Totals totals;  // of the tests finished so far (since this server started the run)
    std::vector<TestInfo> tests;
  };

  const std::vector<std::unique_ptr<HookRunner>>& hooks_;
  Attach attach_;
  std::mutex mu_;
  std::unordered_map<std::int64_t, RunState> runs_;
};

}  // namespace handoff
