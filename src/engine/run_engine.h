#pragma once

// The engine of `run`: runs the selected suites (in parallel up to --jobs, each under a
// supervisor), repeats, stops early on --fail-fast, and emits the run's events.

#include <atomic>
#include <chrono>
#include <vector>

#include "engine/selection.h"
#include "event/event.h"
#include "worker/supervisor.h"

namespace handoff {

struct RunOptions {
  int repeat = 1;
  bool fail_fast = false;
  int jobs = 1;
  std::chrono::milliseconds timeout{0};  // overrides every test's timeout when set
  std::chrono::milliseconds default_timeout{std::chrono::minutes(10)};
  int attempts = 0;  // overrides suites' max attempts when set
  std::chrono::milliseconds grace{std::chrono::seconds(5)};
  bool isolated = true;
  std::string run_pattern;   // for subtests, applied inside the worker
  std::string skip_pattern;
};

// Returns the supervisor's job for `tests` of `suite` under `options`: attempts and
// timeouts resolved (options first, then the test's, then the suite's, then the default),
// every test starting at attempt 1. Shared by `run` and `serve`.
SuiteJob MakeSuiteJob(const Suite& suite, const std::vector<const Test*>& tests,
                      const RunOptions& options);

// Runs `suites`, emitting kRunStarted..kRunFinished to `sink`. Returns kFailed if any
// suite failed (soft failures do not count). Setting `cancel` stops the run early. With
// jobs > 1, suites call `sink` from several threads: pass a FanOut, which serialises them.
Status RunSuites(const std::vector<SelectedSuite>& suites, const RunOptions& options,
                 EventSink& sink, const std::atomic<bool>& cancel);

}  // namespace handoff
