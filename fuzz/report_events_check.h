#pragma once

// What every reader of another tool's report (src/ingest/) promises about the events it
// makes, whatever its input: each test starts before anything else of it, a subtest only
// inside its running parent, and ends once; every test started has ended when the reader
// has finished; a name has no empty part.

#include <set>
#include <string>

#include "event/event.h"
#include "fuzz/fuzz_target.h"

namespace handoff::fuzz {

class ReportEventsCheck {
 public:
  void OnEvent(const Event& e) {
    if (e.test.empty()) {
      FUZZ_CHECK(e.kind == EventKind::kOutput || e.kind == EventKind::kFailure);
      return;
    }
    FUZZ_CHECK(e.test.front() != '/' && e.test.back() != '/' &&
               e.test.find("//") == std::string::npos);
    const std::size_t slash = e.test.rfind('/');
    const bool top_level = slash == std::string::npos;
    if (e.kind == EventKind::kTestStarted) {
      // A first attempt, or another after the last one ended.
      FUZZ_CHECK(running_.count(e.test) == 0);
      if (!top_level) FUZZ_CHECK(running_.count(e.test.substr(0, slash)) == 1);
      between_.erase(e.test);
      running_.insert(e.test);
      return;
    }
    if (e.kind == EventKind::kTestFinished && top_level && between_.count(e.test) == 1) {
      between_.erase(e.test);
      return;
    }
    FUZZ_CHECK(running_.count(e.test) == 1);
    if (e.kind == EventKind::kTestFinished || e.kind == EventKind::kAttemptFinished) {
      // A test ends after its subtests.
      for (const std::string& other : running_) {
        FUZZ_CHECK(!(other.size() > e.test.size() && other.starts_with(e.test + "/")));
      }
      running_.erase(e.test);
    }
    if (e.kind == EventKind::kAttemptFinished) {
      FUZZ_CHECK(top_level);
      between_.insert(e.test);
    }
  }
  // Called once the reader has finished: every test has ended for good.
  void Finished() { FUZZ_CHECK(running_.empty() && between_.empty()); }

 private:
  std::set<std::string> running_;  // started, its attempt not ended
  std::set<std::string> between_;  // a top-level test whose attempt ended, not yet the test
};

}  // namespace handoff::fuzz
