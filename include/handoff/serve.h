#pragma once

// What `serve` adds to a handoff binary: schedules declared in code and hooks (plugins that
// react to runs). Both are options of handoff::Main:
//
//   int main(int argc, char** argv) {
//     return handoff::Main(argc, argv,
//                          handoff::Schedule{.name = "checkout-hourly", .suite = "Checkout",
//                                            .spec = "@hourly"},
//                          handoff::WithHook(std::make_shared<MyHook>()));
//   }

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace handoff {

struct MainConfig;
// An option of handoff::Main (see handoff/main.h).
using Option = std::function<void(MainConfig&)>;

// A schedule declared in code: `serve` starts a run of `suite` whenever `spec` fires.
// Passed to handoff::Main directly, it is an option.
struct Schedule {
  // Unique among schedules; shown in the API and stored on every run it starts.
  std::string name;
  std::string suite;
  // Cron ("*/15 * * * *", with an optional leading seconds field), "@hourly", "@daily",
  // ..., or "@every 30s".
  std::string spec;
  // go test -run regex selecting the suite's tests; empty runs them all.
  std::string filter = {};
  // IANA time zone the cron spec is read in ("Europe/Paris"); empty means UTC.
  std::string time_zone = {};

  // Makes a Schedule usable wherever an Option is expected.
  operator Option() const;  // NOLINT(google-explicit-constructor)
};

// Returns an option that adds a schedule (the same as passing the Schedule itself).
Option WithSchedule(Schedule schedule);

using KeyValueList = std::vector<std::pair<std::string, std::string>>;

// A run as hooks see it. Statuses and triggers are the API's lower-case names.
struct RunInfo {
  std::int64_t id = 0;
  std::string suite;
  std::string namespace_name;
  std::string status;   // "running", then "passed", "failed", "cancelled" or "error"
  std::string trigger;  // "api", "schedule", "ui", "retry" or "cli"
  std::string initiated_by;
  std::string reference;
  std::string environment;
  std::string schedule;
  std::int64_t started_at_ns = 0;
  std::int64_t finished_at_ns = 0;
  bool flaky = false;
  // The run's tests, top-level tests and subtests alike, by verdict: in OnTestFinished
  // those finished so far, in OnRunFinished all of them (the API's `totals`). total =
  // passed + failed + soft_failed + skipped + cancelled. tests_failed never includes soft
  // failures (tests_soft_failed); tests_flaky passed after a failed attempt and are also
  // counted in tests_passed; tests_cancelled were stopped or never started by a cancel.
  // (Servers before 0.2 counted top-level tests only, and soft failures as failed.)
  int tests_total = 0, tests_passed = 0, tests_failed = 0, tests_skipped = 0;
  int tests_soft_failed = 0, tests_cancelled = 0, tests_flaky = 0;
  std::string error;  // why it was cancelled or ended in error
  KeyValueList labels;
  KeyValueList params;
  KeyValueList values;  // attached by hooks so far
};

// A finished test (or subtest) as hooks see it.
struct TestInfo {
  std::string name;    // "Test" or "Test/Sub"
  // "passed", "failed", "skipped" or "cancelled" (stopped, or never started, by a cancel
  // of the run); a soft failure is "failed" with soft_failure set.
  std::string status;
  int attempt = 1;
  bool soft_failure = false;
  bool flaky = false;
  std::int64_t duration_ms = 0;
  std::string message;  // first failure or skip reason, "file.cc:12: message"
  KeyValueList values;  // set by the test with t.SetValue
};

// Attaches key=value to a run (shown in the API and UI, stored with the run). Safe to call
// from any thread, at any time, also after the hook call returned.
using AttachValue = std::function<void(std::string key, std::string value)>;

// A plugin that reacts to runs of `serve`. Each hook has its own thread and queue: a slow
// hook (an HTTP call) delays only itself, never a run, and a hook that throws is logged.
// Override the calls you need.
class Hook {
 public:
  virtual ~Hook() = default;
  // A short name for logs and metrics ("slack", "webhook").
  virtual std::string Name() const = 0;
  // Called when a run starts (also when a resumed run starts again).
  virtual void OnRunStarted(const RunInfo& run) { (void)run; }
  // Called when a test or subtest has finished for good (after its last attempt).
  virtual void OnTestFinished(const RunInfo& run, const TestInfo& test) {
    (void)run;
    (void)test;
  }
  // Called when a run has finished, with every test's final state (cancelled ones too).
  virtual void OnRunFinished(const RunInfo& run, const std::vector<TestInfo>& tests,
                             const AttachValue& attach) {
    (void)run;
    (void)tests;
    (void)attach;
  }
};

// Returns an option that adds a hook to `serve`.
Option WithHook(std::shared_ptr<Hook> hook);

}  // namespace handoff
