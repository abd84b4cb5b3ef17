#pragma once

// `go test -json` (the test2json stream, also what `go tool test2json` makes of a compiled
// test binary's -test.v output) as handoff events.
//
// Names: a test is Go's name (`TestCharge`), a subtest Go's full name
// (`TestCharge/declined_card`), so that `-run '^TestCharge$'` selects it again. A stream of
// several packages names each test `<package>.<test>` with the package's '/' as '.'
// (`shop.payments.TestCharge`), since a top-level name holds no '/'.
//
// A test's outcome is Go's (pass, fail, skip). Go has no failure message apart from the
// test's output: a failed test's kFailure holds its output lines without go test's own
// "=== RUN" and "--- FAIL" lines, at the file and line of the first `name_test.go:12:` line.
// A package that fails without a failed test (a build error, a panic in TestMain, a test
// binary killed by -timeout) is a failure of the suite with the package's output.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ingest/report_events.h"

namespace handoff::ingest {

// Returns how many packages a whole `go test -json` stream has events of (malformed lines
// are not counted).
int CountGoPackages(std::string_view stream);

class GoTestJsonReader {
 public:
  // `qualify_with_package`: name tests `<package>.<test>` (a stream of several packages,
  // see CountGoPackages). `attempt`: the attempt the events carry.
  GoTestJsonReader(EventCallback emit, int attempt, bool qualify_with_package);

  // Reads one line of the stream (without its '\n'). Returns an error saying what is wrong
  // with it; the caller names the line. Blank lines are skipped.
  Result<void> ReadLine(std::string_view line);

  // The stream ended. Tests that started and never ended failed ("the report ended before
  // the test did"); `why` says why the stream ended early if it did (the command was killed
  // at its timeout), else empty.
  void Finish(const std::string& why = {});

  // True once a package or a test failed.
  bool failed() const { return failed_; }
  // The packages (by import path; "" for a test binary's stream through test2json) that
  // had events and no result of their own yet (the package's pass, fail or skip): a stream
  // cut short before go test ended them. Empty once every package ended.
  std::vector<std::string> UnendedPackages() const;
  // The top-level tests that ended, by outcome.
  const std::map<std::string, Status>& outcomes() const { return outcomes_; }

 private:
  struct Open {
    std::int64_t started_ns = 0;
    std::vector<std::string> output;  // the test's own lines
    std::string partial;              // a line not ended yet
  };
  std::string NameOf(std::string_view package, std::string_view test) const;
  void Output(const std::string& name, std::string_view package, std::string_view text,
              std::int64_t time_ns);
  void End(const std::string& name, Status status, std::int64_t elapsed_ns, std::int64_t time_ns,
           const std::string& why = {});
  Event Make(EventKind kind, std::string test, std::int64_t time_ns) const;

  EventCallback emit_;
  int attempt_;
  bool qualify_;
  bool failed_ = false;
  std::map<std::string, Open> open_;                 // tests started and not ended
  std::map<std::string, std::vector<std::string>> package_output_;
  std::set<std::string> packages_seen_;
  std::set<std::string> packages_ended_;
  std::set<std::string> package_failed_tests_;       // packages with a failed test
  std::map<std::string, Status> outcomes_;
  std::vector<std::string> failed_names_;            // tests and subtests that failed
};

}  // namespace handoff::ingest
