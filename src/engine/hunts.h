#pragma once

// Hunts (issue 21): what a hunt does next when one of its runs ends, and what its runs say
// of the failure rate. Decided here once; the engine acts on it and every surface (API, UI,
// remote) shows what these return.

#include <cstdint>
#include <optional>
#include <string>

#include "store/store.h"

namespace handoff {

// Bounds of what a hunt may ask: a few thousand runs, a week.
inline constexpr int kMaxHuntRepeat = 10000;
inline constexpr std::int64_t kMaxHuntDurationMs = 7LL * 24 * 3600 * 1000;

// What a running hunt does once none of its runs is unfinished: start another run, or end
// with `status` because of `why`. A hunt that is not running, or has a run unfinished, does
// nothing (neither set).
struct HuntStep {
  bool next_run = false;
  std::optional<store::HuntStatus> end;
  std::string why;
};

// Decides the next step of `hunt` from its runs at `now_ns`:
// - a run ended in error (its suite is gone): error; one was cancelled: cancelled;
// - until_failure and a run failed: failed, at the first failure;
// - `repeat` runs made, kMaxHuntRepeat runs made (whatever the hunt asked), or
//   max_duration_ms passed since the hunt began: failed if any run failed, else passed;
// - else another run.
HuntStep DecideHuntStep(const store::Hunt& hunt, const store::HuntRuns& runs,
                        std::int64_t now_ns);

// The observed failure rate of a hunt's runs, with its 95% confidence interval (Wilson's
// score interval, which stays inside [0, 1] and says something after 0 failures in n runs:
// the rate is below `high`). Over runs that passed or failed; cancelled runs and errors say
// nothing of the test. All zero, with `runs` 0, before any run ended.
struct FailureRate {
  std::int64_t runs = 0;
  std::int64_t failures = 0;
  double observed = 0;
  double low = 0;
  double high = 0;
};

FailureRate HuntFailureRate(const store::HuntRuns& runs);

}  // namespace handoff
