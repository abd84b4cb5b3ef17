#include "engine/run_status.h"

namespace handoff {

store::RunStatus DecideRunStatus(const Totals& totals, const RunEnding& ending) {
  if (ending.error) return store::RunStatus::kError;
  if (ending.cancelled) return store::RunStatus::kCancelled;
  if (totals.AnyFailed() || ending.suite_failed) return store::RunStatus::kFailed;
  return store::RunStatus::kPassed;
}

}  // namespace handoff
