#pragma once

// Suites written in other languages: a suite whose tests are a command (`go test -json`,
// `pytest --junitxml`, `node --test --test-reporter=tap`) and whose results are read from
// the report that command writes. Such a suite runs under the same supervisor as a C++
// suite (its timeout and grace, cancel, the whole process tree killed, output capped), gets
// the run's params in its environment (HANDOFF_PARAM_<KEY>) with its trace context
// (TRACEPARENT), and its tests go through the same reports, store, API, UI, metrics,
// notifications and flaky tracking as C++ tests. See docs/external-suites.md.
//
//   static const bool kRegistered = handoff::Register(handoff::ExternalSuite{
//       .name = "payments-go",
//       .command = {"go", "test", "-json", "-count=1", "./..."},
//       .working_dir = "services/payments",
//       .format = handoff::ReportFormat::kGoTestJson,
//       .tool = handoff::ExternalTool::kGo,
//   });

#include <chrono>
#include <map>
#include <source_location>
#include <string>
#include <vector>

#include "handoff/suite.h"

namespace handoff {

// What an external suite's command reports in.
enum class ReportFormat {
  // go test's JSON stream on stdout: `go test -json`, or a compiled test binary's `-test.v`
  // output through `go tool test2json`.
  kGoTestJson,
  // JUnit XML, in the file `report_file` the command writes (pytest --junitxml, Surefire,
  // gotestsum --junitfile, ...); read when the command has ended.
  kJUnitXml,
  // TAP on stdout (`node --test --test-reporter=tap`, prove, tap-producing runners).
  kTap,
};

// The tool behind the command, which says how to run only some of its tests: a retry runs
// only the tests that failed, `run --run PATTERN` (and serve's "filter") narrows a run, and
// `list` reads `list_command`'s output.
enum class ExternalTool {
  // Any command: a retry runs the whole command again (only the failed tests' results are
  // taken from it); --run is refused.
  kOther,
  // go test: `-run '^(TestA|TestB)$'`; --run's pattern is go test's own -run.
  kGo,
  // pytest: the failed tests' node ids (`tests/test_cart.py::test_add[2]`); --run's pattern
  // goes to -k.
  kPytest,
  // Node's test runner: `--test-name-pattern '^(?:a|b)$'`; --run's pattern goes to
  // --test-name-pattern.
  kNode,
};

// The command of an external suite, as the worker runs it.
struct ExternalCommand {
  std::vector<std::string> command;  // argv; argv[0] is looked up in PATH
  std::string working_dir;           // empty: the binary's working directory
  std::map<std::string, std::string> env;  // added to the binary's environment
  ReportFormat format = ReportFormat::kGoTestJson;
  // kJUnitXml: the report's path, relative to working_dir unless absolute. It is removed
  // before each attempt, so a report left by an earlier run is never read as this one's.
  std::string report_file;
  ExternalTool tool = ExternalTool::kOther;
  // Prints the suite's tests, for `list` (`go test -list .`, `pytest --collect-only -q`);
  // empty: `list` shows the suite without its tests.
  std::vector<std::string> list_command;
};

// An external suite: the fields of handoff::Suite that apply (see suite.h) and its command.
struct ExternalSuite {
  std::string name;
  std::string namespace_name;
  std::string description;
  std::map<std::string, std::string> labels = {};
  // A retry runs only the failed tests again, with the tool's own filter (ExternalTool); a
  // test that passes on a later attempt is flaky, as for C++ tests.
  int max_attempts = 1;
  // Timeout of the whole command (each attempt); zero means the command line's --timeout
  // or its default. At the timeout the command's process group gets SIGINT (as ^C), then SIGKILL
  // after the grace period, and the tests still running fail.
  std::chrono::milliseconds timeout{0};
  Suite::Concurrency concurrency = Suite::Concurrency::kQueue;
  std::vector<std::string> secret_params = {};

  std::vector<std::string> command;
  std::string working_dir;
  std::map<std::string, std::string> env = {};
  ReportFormat format = ReportFormat::kGoTestJson;
  std::string report_file;
  ExternalTool tool = ExternalTool::kOther;
  std::vector<std::string> list_command = {};
};

// Returns the Suite that runs `suite`'s command (Suite::external set, no tests), for
// handoff::WithSuites.
Suite MakeSuite(ExternalSuite suite);

// Registers an external suite, like Register(Suite); an invalid one (no command, JUnit
// without a report file) is reported when the program starts.
bool Register(ExternalSuite suite, std::source_location where = std::source_location::current());

}  // namespace handoff
