#pragma once

// The one decision of a served run's final status, read by ServeEngine::Execute (a run that
// ran) and by a cancel of a queued run alike. The tests' part of it is already decided, per
// test, by the runner (event/outcome.h); this adds what happened to the run itself.

#include "event/outcome.h"
#include "store/store.h"

namespace handoff {

// What happened to a run apart from its tests' verdicts.
struct RunEnding {
  // The binary could not run the run at all (its suite is gone): the run ends in error.
  bool error = false;
  // A user cancelled the run (its unfinished tests are cancelled).
  bool cancelled = false;
  // The suite failed outside its tests: setup, teardown, or a worker that could not start.
  bool suite_failed = false;
};

// Returns the run's status: error, else cancelled, else failed if a test failed (soft
// failures do not count) or the suite failed outside its tests, else passed.
store::RunStatus DecideRunStatus(const Totals& totals, const RunEnding& ending);

}  // namespace handoff
