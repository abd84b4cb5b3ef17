#include "engine/hunts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace handoff {

HuntStep DecideHuntStep(const store::Hunt& hunt, const store::HuntRuns& runs,
                        std::int64_t now_ns) {
  HuntStep step;
  if (hunt.status != store::HuntStatus::kRunning || runs.unfinished > 0) return step;
  auto end = [&](store::HuntStatus status, std::string why) {
    step.end = status;
    step.why = std::move(why);
    return step;
  };
  if (runs.errors > 0) {
    return end(store::HuntStatus::kError,
               fmt::format("run {} ended in error", runs.last_run));
  }
  if (runs.cancelled > 0) {
    return end(store::HuntStatus::kCancelled,
               fmt::format("run {} was cancelled", runs.last_run));
  }
  if (hunt.until_failure && runs.failed > 0) {
    return end(store::HuntStatus::kFailed,
               fmt::format("run {} failed (run {} of the hunt)", runs.first_failed_run, runs.runs));
  }
  const auto finished = [&](std::string limit) {
    return end(runs.failed > 0 ? store::HuntStatus::kFailed : store::HuntStatus::kPassed,
               fmt::format("{}: {} of {} runs failed", limit, runs.failed, runs.runs));
  };
  if (hunt.repeat > 0 && runs.runs >= hunt.repeat) {
    return finished(fmt::format("{} runs made", runs.runs));
  }
  // A time budget alone does not make a hunt endless on a fast suite.
  if (runs.runs >= kMaxHuntRepeat) {
    return finished(fmt::format("the most runs a hunt makes ({}) made", kMaxHuntRepeat));
  }
  if (hunt.max_duration_ms > 0 &&
      now_ns - hunt.created_at_ns >= hunt.max_duration_ms * 1'000'000) {
    return finished("its time budget is spent");
  }
  step.next_run = true;
  return step;
}

FailureRate HuntFailureRate(const store::HuntRuns& runs) {
  FailureRate rate;
  rate.runs = runs.passed + runs.failed;
  rate.failures = runs.failed;
  if (rate.runs == 0) return rate;
  constexpr double z = 1.959963984540054;  // the 97.5th percentile of the normal law
  const double n = static_cast<double>(rate.runs);
  const double p = static_cast<double>(rate.failures) / n;
  const double z2n = z * z / n;
  const double center = (p + z2n / 2) / (1 + z2n);
  const double half = z * std::sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n);
  rate.observed = p;
  rate.low = std::clamp(center - half, 0.0, 1.0);
  rate.high = std::clamp(center + half, 0.0, 1.0);
  // No failure observed: nothing is below zero; every run failed: nothing above one.
  if (rate.failures == 0) rate.low = 0;
  if (rate.failures == rate.runs) rate.high = 1;
  return rate;
}

}  // namespace handoff
