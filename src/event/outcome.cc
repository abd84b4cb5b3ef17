#include "event/outcome.h"

namespace handoff {

const char* Verdict::Label() const {
  switch (outcome) {
    case Status::kPassed: return flaky ? "flaky" : "passed";
    case Status::kFailed: return soft ? "soft failed" : "failed";
    case Status::kSkipped: return "skipped";
    case Status::kCancelled: return "cancelled";
  }
  return "unknown";
}

Verdict VerdictOf(const Event& finished) {
  Verdict v;
  v.outcome = finished.status;
  v.soft = finished.soft && finished.status == Status::kFailed;
  v.flaky = finished.flaky && finished.status == Status::kPassed;
  return v;
}

void Totals::Add(const Verdict& v) {
  ++total;
  switch (v.outcome) {
    case Status::kPassed: ++passed; break;
    case Status::kFailed: v.soft ? ++soft_failed : ++failed; break;
    case Status::kSkipped: ++skipped; break;
    case Status::kCancelled: ++cancelled; break;
  }
  if (v.flaky) ++flaky;
}

}  // namespace handoff
