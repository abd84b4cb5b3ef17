#pragma once

// Runs an external suite's command (include/handoff/external.h) inside a worker and turns
// what it reports into the suite's events: go test's JSON stream and TAP are read from its
// stdout line by line as the tests run, JUnit XML from its report file when it ends
// (src/ingest/ has the readers). Everything else it prints is the suite's output.
//
// - Environment: the binary's, the suite's `env`, then HANDOFF_PARAM_<KEY> for each run
//   param (KEY upper-cased, other than [A-Z0-9] as '_') and TRACEPARENT of the attempt's trace.
// - Timeout: the plan's hook_timeout_ms is the whole command's; at it the command's process
//   group gets SIGINT (as ^C), then SIGKILL after the grace, and the tests still running fail with
//   key "timeout". A cancel does the same and the tests still running are cancelled.
// - Retries: the failed top-level tests run again with the tool's filter (SelectArgs) until
//   they pass (then they are flaky) or max_attempts is reached; a retry's results of other
//   tests are not taken.
// - Output is capped per test as a C++ test's is: the first 512 KiB and the last 512 KiB.

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "event/event.h"
#include "event/wire.h"
#include "handoff/external.h"

namespace handoff::external {

// Runs `plan.external` for suite `plan.suite` and emits its events (kTestStarted through
// kTestFinished, suite-level kOutput and kFailure) to `sink`. `stop` asks it to end.
void RunCommand(const wire::WorkerPlan& plan, EventSink& sink, const std::atomic<bool>& stop);

// Returns the arguments that make `tool` run only `tests` (top-level names as its reader
// names them), or nothing when the tool cannot select tests (kOther, or a pytest name whose
// file is not found under `working_dir`): then the whole command runs again.
std::vector<std::string> SelectArgs(ExternalTool tool, const std::vector<std::string>& tests,
                                    const std::string& working_dir);

// Returns the arguments that give `pattern` (run's --run, serve's "filter") to `tool`'s own
// filter, or an error for a tool that has none.
Result<std::vector<std::string>> PatternArgs(ExternalTool tool, const std::string& pattern);

// Returns `command` with `args` placed where the tool reads them: after `--test` for node
// (which takes what follows its files as the script's), else at the end.
std::vector<std::string> WithArgs(ExternalTool tool, std::vector<std::string> command,
                                  const std::vector<std::string>& args);

// Reads the test names `list_command` printed: go test -list's names, pytest
// --collect-only -q's node ids (`tests/test_cart.py::test_add[2]` as
// `tests.test_cart.test_add[2]`, the name its JUnit report gives), else every non-empty line.
std::vector<std::string> ParseList(ExternalTool tool, std::string_view output);

// Runs `command.list_command` and returns the tests it lists.
Result<std::vector<std::string>> ListTests(const ExternalCommand& command);

// The names a format and a tool have in serve's API and --suites-config: "go-test-json",
// "junit", "tap"; "go", "pytest", "node", "other".
const char* ReportFormatName(ReportFormat format);
const char* ExternalToolName(ExternalTool tool);
std::optional<ReportFormat> ParseReportFormat(std::string_view name);
std::optional<ExternalTool> ParseExternalTool(std::string_view name);

// Returns the environment variable that carries run param `key`: HANDOFF_PARAM_<KEY>.
std::string ParamVariable(std::string_view key);

}  // namespace handoff::external
