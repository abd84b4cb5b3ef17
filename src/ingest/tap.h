#pragma once

// TAP (the Test Anything Protocol, versions 12 to 14) as handoff events, as Node's test
// runner writes it (`node --test --test-reporter=tap`) and other TAP producers do.
//
// A test is a test point's description (`ok 3 - charges a card`), or its number when it has
// none; an indented block announced by `# Subtest: name` (TAP 14, Node) holds subtests, named
// `parent/child`. `not ok` failed, unless `# TODO`; `# SKIP` skipped. A test point's YAML
// block gives the failure: its `error`/`message` (with `stack`) and `location`
// (`file:line:column`) or `at`, and its `duration_ms`. Lines that are not TAP are the output
// of the test whose subtest block holds them, else of the suite. `Bail out!` fails the suite.
// A plan (`1..N`) with fewer test points than it promises fails the suite.
//
// Read line by line, so that a test that is running shows as it runs.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/report_events.h"

namespace handoff::ingest {

class TapReader {
 public:
  TapReader(EventCallback emit, int attempt);

  // Reads one line (without its '\n').
  Result<void> ReadLine(std::string_view line);
  // The stream ended (`why`: it was cut short, e.g. by a timeout).
  void Finish(const std::string& why = {});
  // Ends the test point read last, whose YAML block could still follow: the stream has
  // ended, and what it said is told apart from what Finish(why) makes of a cut-short stream.
  void EndPendingPoint() {
    if (point_) EndPoint();
  }

  bool failed() const { return failed_; }
  // True once the top level's plan (`1..N`) was read: a TAP stream without one was cut
  // short (a plan may come first or last, but must come).
  bool has_plan() const { return levels_[0].plan.has_value(); }
  // The tests announced (`# Subtest:`) and not ended yet, by full name.
  std::vector<std::string> OpenTests() const;
  // The top-level tests that ended, by outcome.
  const std::map<std::string, Status>& outcomes() const { return outcomes_; }

 private:
  struct Level {
    int indent = 0;
    std::string name;                   // the subtest this level belongs to ("" at the top)
    std::vector<std::string> announced;  // full names announced here by "# Subtest:"
    int points = 0;
    std::optional<int> plan;
  };
  struct Point {
    std::string name;
    Status status = Status::kPassed;
    std::string directive;  // the SKIP or TODO reason
    int indent = 0;
    std::vector<std::string> yaml;
  };
  void EndPoint();
  std::string OpenAbove(std::size_t depth) const;
  std::string Qualified(const std::string& leaf, std::size_t depth) const;
  Event Make(EventKind kind, std::string test) const;
  void Started(const std::string& full);
  void CloseLevelsBelow(int indent);

  EventCallback emit_;
  int attempt_;
  bool failed_ = false;
  std::vector<Level> levels_;           // levels_[0] is the top
  std::optional<Point> point_;          // a test point whose YAML block may follow
  bool in_yaml_ = false;
  std::map<std::string, std::int64_t> started_;  // full names started and not ended
  std::map<std::string, Status> outcomes_;
  int line_number_ = 0;
};

}  // namespace handoff::ingest
