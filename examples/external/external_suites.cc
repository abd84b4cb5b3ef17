// Suites written in Go, Python and JavaScript, run and reported by handoff like its C++
// suites (docs/external-suites.md). Each is a command and the format it reports in; the
// tool says how a retry runs only the failed tests again.
//
//   external_suites run                      # all three, with a text report
//   external_suites run --suite go --run 'TestTotal'
//   EXAMPLE_HANG=1 external_suites run --timeout 5s
//   external_suites list
//   external_suites serve --listen 127.0.0.1:8080

#include <cstdlib>
#include <string>

#include "handoff/handoff.h"

namespace {

// Where the example's sources are: $EXTERNAL_EXAMPLES_DIR, else where CMake saw them.
std::string Dir(const char* sub) {
  const char* dir = std::getenv("EXTERNAL_EXAMPLES_DIR");
  return std::string(dir != nullptr ? dir : HANDOFF_EXTERNAL_EXAMPLES_DIR) + "/" + sub;
}

// [docs:external-go]
const bool kGo = handoff::Register(handoff::ExternalSuite{
    .name = "go",
    .namespace_name = "cart",
    .description = "go test -json of a Go package",
    .max_attempts = 2,
    .command = {"go", "test", "-json", "-count=1", "-timeout", "5m", "."},
    .working_dir = Dir("go"),
    .format = handoff::ReportFormat::kGoTestJson,
    .tool = handoff::ExternalTool::kGo,
    .list_command = {"go", "test", "-list", "."},
});
// [docs:end]

const bool kPytest = handoff::Register(handoff::ExternalSuite{
    .name = "pytest",
    .namespace_name = "cart",
    .description = "a pytest suite reporting JUnit XML",
    .max_attempts = 2,
    .command = {"python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "--junitxml=.handoff-report.xml"},
    .working_dir = Dir("pytest"),
    .env = {{"PYTHONDONTWRITEBYTECODE", "1"}},
    .format = handoff::ReportFormat::kJUnitXml,
    .report_file = ".handoff-report.xml",
    .tool = handoff::ExternalTool::kPytest,
    .list_command = {"python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only"},
});

const bool kNode = handoff::Register(handoff::ExternalSuite{
    .name = "node",
    .namespace_name = "cart",
    .description = "Node's test runner reporting TAP",
    .max_attempts = 2,
    .command = {"node", "--test", "--test-reporter=tap", "cart.test.mjs"},
    .working_dir = Dir("node"),
    .format = handoff::ReportFormat::kTap,
    .tool = handoff::ExternalTool::kNode,
});

}  // namespace
