#include "engine/run_status.h"

#include <gtest/gtest.h>

namespace handoff {
namespace {

using store::RunStatus;

TEST(RunStatusTest, SoftFailuresSkipsAndCancelledTestsDoNotFailARun) {
  EXPECT_EQ(DecideRunStatus(Totals{.total = 4, .passed = 1, .soft_failed = 1, .skipped = 1,
                                   .cancelled = 1},
                            RunEnding{}),
            RunStatus::kPassed);
  EXPECT_EQ(DecideRunStatus(Totals{}, RunEnding{}), RunStatus::kPassed);
}

TEST(RunStatusTest, AFailedTestOrAFailedSuiteFailsTheRun) {
  EXPECT_EQ(DecideRunStatus(Totals{.total = 2, .passed = 1, .failed = 1}, RunEnding{}),
            RunStatus::kFailed);
  EXPECT_EQ(DecideRunStatus(Totals{.total = 1, .passed = 1}, RunEnding{.suite_failed = true}),
            RunStatus::kFailed);
}

TEST(RunStatusTest, ACancelOverridesTheTestsAndAnErrorOverridesEverything) {
  const Totals failed{.total = 1, .failed = 1};
  EXPECT_EQ(DecideRunStatus(failed, RunEnding{.cancelled = true}), RunStatus::kCancelled);
  EXPECT_EQ(DecideRunStatus(failed, RunEnding{.error = true, .cancelled = true}),
            RunStatus::kError);
}

}  // namespace
}  // namespace handoff
