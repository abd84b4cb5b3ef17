#pragma once

// Reads a `go test -json` stream the way Go tools do: per package and test, the final
// action and the concatenated output.

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace handoff::testing {

struct GoTest {
  std::vector<std::string> actions;  // run, pass, fail, skip (in order)
  std::string output;
  double elapsed = -1;
  // Returns the last pass/fail/skip action, or "" if none.
  std::string Final() const;
};

struct GoReport {
  // (package, test) -> test; test "" is the package itself.
  std::map<std::pair<std::string, std::string>, GoTest> tests;
  bool valid = true;
  std::string error;

  const GoTest* Find(const std::string& package, const std::string& test) const;
  // Returns the final action of `test` in `package`, or "absent" if it never ran.
  std::string FinalOf(const std::string& package, const std::string& test) const;
  // Number of tests (not packages) whose final action is `action`.
  int Count(const std::string& action) const;
};

// Parses the stream; sets valid=false with an error on a line that is not a JSON object
// with the fields Go's test2json writes.
GoReport ParseGoJson(const std::string& stream);

struct ProcessResult;

// Checks a finished `run --format json` process: its exit code is `want_exit` and its
// stdout a valid stream (GoogleTest EXPECTs, with the output on failure); returns the
// parsed report.
GoReport ExpectGoReport(const ProcessResult& r, int want_exit);

}  // namespace handoff::testing
