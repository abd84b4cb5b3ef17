#include "event/event.h"

#include <chrono>

namespace handoff {

const char* StatusName(Status status) {
  switch (status) {
    case Status::kPassed: return "passed";
    case Status::kFailed: return "failed";
    case Status::kSkipped: return "skipped";
    case Status::kCancelled: return "cancelled";
  }
  return "unknown";
}

const char* EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kRunStarted: return "run_started";
    case EventKind::kSuiteStarted: return "suite_started";
    case EventKind::kSetupStarted: return "setup_started";
    case EventKind::kSetupFinished: return "setup_finished";
    case EventKind::kTestStarted: return "test_started";
    case EventKind::kOutput: return "output";
    case EventKind::kLog: return "log";
    case EventKind::kFailure: return "failure";
    case EventKind::kSkip: return "skip";
    case EventKind::kValue: return "value";
    case EventKind::kAttachment: return "attachment";
    case EventKind::kSpanStarted: return "span_started";
    case EventKind::kSpanEnded: return "span_ended";
    case EventKind::kTimeoutChanged: return "timeout_changed";
    case EventKind::kHeld: return "held";
    case EventKind::kReleased: return "released";
    case EventKind::kAttemptFinished: return "attempt_finished";
    case EventKind::kTestFinished: return "test_finished";
    case EventKind::kTeardownStarted: return "teardown_started";
    case EventKind::kTeardownFinished: return "teardown_finished";
    case EventKind::kSuiteFinished: return "suite_finished";
    case EventKind::kRunFinished: return "run_finished";
    case EventKind::kStacks: return "stacks";
  }
  return "unknown";
}

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace handoff
