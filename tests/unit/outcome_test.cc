#include "event/outcome.h"

#include <gtest/gtest.h>

namespace handoff {
namespace {

Event Finished(Status status, bool soft, bool flaky) {
  Event e;
  e.kind = EventKind::kTestFinished;
  e.status = status;
  e.soft = soft;
  e.flaky = flaky;
  return e;
}

TEST(VerdictTest, OnlyAHardFailureFailsTheRun) {
  EXPECT_TRUE(VerdictOf(Finished(Status::kFailed, false, false)).FailsRun());
  EXPECT_FALSE(VerdictOf(Finished(Status::kFailed, true, false)).FailsRun());
  EXPECT_FALSE(VerdictOf(Finished(Status::kCancelled, false, false)).FailsRun());
  EXPECT_FALSE(VerdictOf(Finished(Status::kSkipped, false, false)).FailsRun());
  EXPECT_FALSE(VerdictOf(Finished(Status::kCancelled, false, false)).Ran());
}

TEST(VerdictTest, FlagsAreNormalisedToTheOutcomesTheyBelongTo) {
  // A soft flag on a pass and a flaky flag on a failure mean nothing.
  EXPECT_EQ(VerdictOf(Finished(Status::kPassed, true, false)), (Verdict{Status::kPassed}));
  EXPECT_EQ(VerdictOf(Finished(Status::kFailed, false, true)), (Verdict{Status::kFailed}));
  EXPECT_STREQ(VerdictOf(Finished(Status::kFailed, true, false)).Label(), "soft failed");
  EXPECT_STREQ(VerdictOf(Finished(Status::kPassed, false, true)).Label(), "flaky");
  EXPECT_STREQ(VerdictOf(Finished(Status::kCancelled, false, false)).Label(), "cancelled");
}

TEST(TotalsTest, FailedNeverIncludesSoftFailuresAndFlakyPassesArePasses) {
  Totals totals;
  totals.Add({Status::kPassed});
  totals.Add({Status::kPassed, false, true});
  totals.Add({Status::kFailed});
  totals.Add({Status::kFailed, true});
  totals.Add({Status::kSkipped});
  totals.Add({Status::kCancelled});
  totals.Add({Status::kCancelled});
  EXPECT_EQ(totals, (Totals{.total = 7,
                            .passed = 2,
                            .failed = 1,
                            .soft_failed = 1,
                            .skipped = 1,
                            .cancelled = 2,
                            .flaky = 1}));
  EXPECT_TRUE(totals.AnyFailed());
  Totals soft_only;
  soft_only.Add({Status::kFailed, true});
  EXPECT_FALSE(soft_only.AnyFailed());
}

}  // namespace
}  // namespace handoff
