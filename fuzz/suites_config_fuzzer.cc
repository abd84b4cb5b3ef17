// --suites-config documents (src/external/suites_config.h), as an operator writes them, and
// the listings external tools print (`go test -list`, `pytest --collect-only -q`): a document
// either declares external suites, each named, with a command and a JUnit report file when it
// reports JUnit, or is refused as kInvalid naming the file; a listing gives names, never
// empty ones, and every name a go or node filter is made of selects only what it names.
// The input is `document\0listing`.

#include <set>
#include <string>

#include "external/external_runner.h"
#include "external/suites_config.h"
#include "fuzz/fuzz_target.h"
#include "handoff/external.h"

HANDOFF_FUZZ_TARGET(suites_config) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  const std::size_t nul = input.find('\0');
  const std::string_view document = input.substr(0, nul);
  const std::string_view listing = nul == std::string_view::npos ? "" : input.substr(nul + 1);

  Result<std::vector<Suite>> suites = external::ParseSuitesConfig(document, "fuzz.json", "/base");
  if (!suites.ok()) {
    FUZZ_CHECK(suites.error().code == ErrorCode::kInvalid);
    FUZZ_CHECK(suites.error().message.starts_with("fuzz.json: "));
  } else {
    std::set<std::string> names;
    for (const Suite& s : *suites) {
      FUZZ_CHECK(!s.name.empty());
      FUZZ_CHECK(names.insert(s.name).second);
      FUZZ_CHECK(s.external != nullptr);
      FUZZ_CHECK(!s.external->command.empty() && !s.external->command[0].empty());
      FUZZ_CHECK(s.external->format != ReportFormat::kJUnitXml || !s.external->report_file.empty());
      FUZZ_CHECK(s.external->working_dir.empty() || s.external->working_dir[0] == '/');
      FUZZ_CHECK(s.max_attempts >= 1 && s.max_attempts <= 100);
    }
  }

  for (ExternalTool tool : {ExternalTool::kGo, ExternalTool::kPytest, ExternalTool::kNode,
                            ExternalTool::kOther}) {
    const std::vector<std::string> names = external::ParseList(tool, listing);
    for (const std::string& name : names) FUZZ_CHECK(!name.empty());
    const std::vector<std::string> args = external::SelectArgs(tool, names, "/nonexistent");
    if (!names.empty() && (tool == ExternalTool::kGo || tool == ExternalTool::kNode)) {
      FUZZ_CHECK(args.size() == (tool == ExternalTool::kGo ? 2u : 1u));
      FUZZ_CHECK(args.back().ends_with(")$"));
    }
  }
  return 0;
}
