#pragma once

// The engine of `run`: runs the selected suites (in parallel up to --jobs, each under a
// supervisor), repeats, stops early on --fail-fast, and emits the run's events.

#include <atomic>
#include <chrono>
#include <vector>

#include "runner/selection.h"
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
  std::string assess_pattern;  // --assess / --skip-assessment, applied inside the worker
  std::string skip_assess_pattern;
  bool parallel = false;  // --parallel: features of a suite run concurrently
  // --dry-run: report what would run (features' assessments included) as skipped,
  // without starting a worker or running any step.
  bool dry_run = false;
  // GoogleTest's command line: which subtests run, applied inside the worker (null when
  // no --gtest_ flag is used).
  std::shared_ptr<const GTestFilter> gtest_filter;
  // Hold on failure (issue 21): the first failing test of each suite waits before its
  // cleanups, for at most max_hold; setting *release (optional) releases it.
  bool hold_on_failure = false;
  std::chrono::milliseconds max_hold{std::chrono::minutes(30)};
  std::atomic<bool>* release = nullptr;
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

// --dry-run: emits a run in which every selected test, and every listed subtest that
// `selection` keeps (a feature's assessments), is started and skipped with the reason
// "dry run", so every reporter shows what would run. Starts no worker and runs no code
// of the tests, their suites' setup and teardown included.
void DryRunSuites(const std::vector<SelectedSuite>& suites, const SelectionOptions& selection,
                  EventSink& sink);

}  // namespace handoff
