#pragma once

// How each test of a finished run compares with the same test in the run before it (issue
// 19: new failure, still failing since run N, fixed, new test), decided here once when the
// run finishes and stored on the test's row, which the API, the UI, `remote` and the
// notifications read.

#include <optional>
#include <vector>

#include "store/store.h"

namespace handoff {

// Sets `change` and `failing_since` on every current row of `rows` (the finished run `run`)
// that has one, comparing it with `previous` (Store::PreviousFullRun: the suite's previous
// run of the whole suite in its namespace and environment) and `previous_rows`, that run's
// rows. Returns the rows it changed. Nothing to compare with (no previous run): nothing set.
//
//   failed now,  failed before           still_failing, since the previous row's failing_since
//                                        (or the previous run, which had none: rows written
//                                        before schema 11, or its first run)
//   failed now,  ran before and did not  new_failure, since this run
//   passed now,  failed before           fixed, failing_since as it was before
//   any outcome, absent before           new_test (failing since this run if it failed)
//
// "Failed" is a failure that fails the run: a soft failure is not one. A test that did not
// run (skipped, cancelled, or pending in a run that failed in its setup or ended in error)
// is neither failing nor fixed: a failure it had before is carried on its row (its
// failing_since, no change), so the run after it compares with the last run it ran in. A
// subtest absent before is new only if its top-level test ran then.
std::vector<store::TestRow> DecideTestChanges(const store::Run& run,
                                              std::vector<store::TestRow>& rows,
                                              const std::optional<store::Run>& previous,
                                              const std::vector<store::TestRow>& previous_rows);

}  // namespace handoff
