#pragma once

// The one result model of handoff. A test ends with an outcome (Status: passed, failed,
// skipped, cancelled) and two flags:
//   soft   failed, but the failure is a known issue (T::SoftFailure): it does not fail the
//          run, is never retried, and CI formats show it as an expected failure;
//   flaky  failed, then passed on a retry (the outcome is passed).
// The worker's runner decides them once, in the test's kTestFinished event; everything else
// (reporters, the store, the API, metrics, hooks, remote, stability, the UI) reads that
// decision through Verdict and adds it up with Totals, and never recounts on its own.

#include <cstdint>
#include <string_view>

#include "event/event.h"

namespace handoff {

// How one test (or subtest) ended for good.
struct Verdict {
  Status outcome = Status::kPassed;
  bool soft = false;
  bool flaky = false;

  // Returns true if and only if this test fails its run (a failure that is not soft).
  bool FailsRun() const { return outcome == Status::kFailed && !soft; }
  // Returns true if the test's code ran to an outcome (not cancelled).
  bool Ran() const { return outcome != Status::kCancelled; }
  // The label every surface shows: "passed", "failed", "soft failed", "skipped",
  // "cancelled" or "flaky" (a pass after a failed attempt).
  const char* Label() const;
  bool operator==(const Verdict&) const = default;
};

// Returns the verdict a kTestFinished event carries. The flags are normalised: soft only on
// a failure, flaky only on a pass.
Verdict VerdictOf(const Event& finished);

// Counts over a set of tests. `failed` never includes soft failures; `flaky` tests are also
// counted in `passed`. total = passed + failed + soft_failed + skipped + cancelled.
struct Totals {
  int total = 0;
  int passed = 0;
  int failed = 0;
  int soft_failed = 0;
  int skipped = 0;
  int cancelled = 0;
  int flaky = 0;

  // Counts one test.
  void Add(const Verdict& verdict);
  // Returns true if any test counted fails the run.
  bool AnyFailed() const { return failed > 0; }
  bool operator==(const Totals&) const = default;
};

}  // namespace handoff
