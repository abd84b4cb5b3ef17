#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

namespace handoff {

class T;
struct ExternalCommand;  // handoff/external.h

// A test function: receives the test's T.
using TestFunc = std::function<void(T&)>;

// One test of a suite.
struct Test {
  std::string name;
  TestFunc fn;
  // Per-test timeout; zero means the suite's (or the command line's) timeout.
  std::chrono::milliseconds timeout{0};
  // Labels of this test, over its suite's (a test's value wins for the same key):
  // --labels and --skip-labels match them, and CTest gets them as LABELS.
  std::map<std::string, std::string> labels = {};
  // Subtests known before the test runs (a feature's assessments, a parametrized
  // suite's tests): `list` and `run --dry-run` show them, handoff_discover_tests makes
  // each a CTest test. A test may still run subtests it does not list.
  std::vector<std::string> subtests = {};
  // True for a feature (handoff::Feature): --feature, --assess, --skip-features and
  // --skip-assessment apply to it and to its subtests; other tests ignore those flags.
  bool feature = false;
};

// A suite: a named group of tests sharing setup, teardown and options. Tests run in
// the order they are listed.
struct Suite {
  std::string name;
  // A grouping above suites (a team, a service); shown in listings and reports.
  std::string namespace_name;
  std::string description;
  // Labels select suites on the command line (--labels team=payments).
  std::map<std::string, std::string> labels = {};
  // A failed test is run again up to this many attempts in all (1 = no retries).
  int max_attempts = 1;
  // Default timeout of each test; zero means the command line's default.
  std::chrono::milliseconds timeout{0};
  // What `serve` does with a new run of this suite while one is running: queue it behind
  // the running one (the default), or skip it (the trigger gets 409 Conflict; a schedule
  // firing is dropped).
  enum class Concurrency { kQueue, kSkip };
  Concurrency concurrency = Concurrency::kQueue;
  // Run parameters (serve's "params") that are secrets: names, or globs where '*' stands
  // for any characters and '?' for one ("*_TOKEN"), matched regardless of case. The tests
  // read them with t.Value like any other; serve stores them and reuses them for a retry,
  // but shows "[redacted]" instead of their values everywhere (the API, the live stream,
  // the web UI, logs, reports and hooks).
  std::vector<std::string> secret_params = {};
  // Runs before the suite's tests in each worker; a failure skips every test.
  TestFunc setup;
  // Runs after the suite's tests, always, even after failures.
  TestFunc teardown;
  std::vector<Test> tests;
  // Set for a suite written in another language (handoff/external.h): the command that
  // runs its tests and reports them. Such a suite has no tests, setup or teardown of its own.
  std::shared_ptr<const ExternalCommand> external = nullptr;
};

// Registers a suite to be run by handoff::Main. Call it from a static initializer of
// any library linked into the binary:
//   static const bool kRegistered = handoff::Register(MakeCheckoutSuite());
// Invalid suites (empty name, no tests, duplicate names) are reported together when
// the program starts, never thrown here. Always returns true.
bool Register(Suite suite, std::source_location where = std::source_location::current());

}  // namespace handoff
