#pragma once

// GoogleTest's command line on a handoff binary (docs/command-line.md, "GoogleTest's
// flags"): IDEs and tools that drive GoogleTest binaries run `binary --gtest_list_tests` and
// `binary --gtest_filter=Suite.Test --gtest_output=xml:FILE`. The flags are read here and
// turned into `run` and `list` settings; names and the filter are googletest/gtest_filter.h's.

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "runner/selection.h"

namespace handoff {

// GoogleTest's settings, from --gtest_* flags and GTEST_* environment variables.
struct GTestFlags {
  bool used = false;        // any flag or variable was given: GoogleTest's rules apply
  bool list_tests = false;  // --gtest_list_tests
  std::string filter;       // --gtest_filter ("" is every test)
  std::string output;       // --gtest_output: "xml[:PATH]" or "json[:PATH]"
  std::optional<int> repeat;
  bool shuffle = false;
  std::uint32_t random_seed = 0;  // 0: pick one
  bool brief = false;
  std::optional<std::string> color;  // "always", "never" or "auto", as --color says
  bool also_run_disabled = false;
  bool fail_fast = false;
};

// Takes every --gtest_* argument out of `args` (as GoogleTest, "--gtest_x=value" or
// "-gtest_x=value"; a boolean flag alone means true, "=0", "=f" or "=F" false) and reads it.
// With `read_env`, GoogleTest's GTEST_* variables (and XML_OUTPUT_FILE) are read first and
// the flags override them. Fails with a message naming the flag on an unknown --gtest_ flag
// or a bad value.
Result<GTestFlags> TakeGTestFlags(std::vector<std::string>& args, bool read_env);

// Where --gtest_output writes.
struct GTestOutput {
  bool json = false;
  std::string path;
};

// Reads an --gtest_output value as GoogleTest does: "xml" alone writes test_detail.xml, a
// path ending in '/' is a directory that gets `program`'s base name with the format's
// extension. Fails on a format other than xml and json.
Result<GTestOutput> ParseGTestOutput(std::string_view spec, std::string_view program);

// Opens the file --gtest_output names for writing, creating its directory as GoogleTest
// does. Fails with a message naming the flag and the file.
Result<std::FILE*> OpenGTestOutput(const std::string& path);

// Returns the listing of --gtest_list_tests in GoogleTest's format: each suite as
// "Suite." and below it each test indented by two spaces, a test that lists its subtests
// (a parametrised suite's combinations, a feature's assessments) as those subtests
// ("memory/PutThenGet"). Every name is one --gtest_filter selects.
std::string FormatGTestList(const std::vector<SelectedSuite>& suites,
                            const SelectionOptions& selection);

// Returns the same listing as GoogleTest writes it for --gtest_list_tests with
// --gtest_output (IDEs read it): XML, or with `json` JSON, of suites and test names (handoff
// keeps no file and line for a test, so there are none).
std::string FormatGTestListReport(const std::vector<SelectedSuite>& suites,
                                  const SelectionOptions& selection, bool json);

}  // namespace handoff
