#include "cli/gtest_flags.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <cstdlib>

#include <fmt/format.h>

#include "googletest/gtest_filter.h"
#include "json/json_writer.h"
#include "report/xml_escape.h"

namespace handoff {
namespace {

constexpr std::string_view kPrefix = "gtest_";

// GoogleTest's ParseBoolFlag: anything but "0", "f" and "F" is true.
bool BoolValue(std::string_view value) { return !(value == "0" || value == "f" || value == "F"); }

Result<int> IntValue(std::string_view flag, std::string_view value, int min, int max) {
  int out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size() || out < min || out > max) {
    return Error{ErrorCode::kInvalid,
                 fmt::format("--{}: want a whole number from {} to {}, got \"{}\"", flag, min,
                             max, value)};
  }
  return out;
}

// Applies one flag (name without "--", value; `has_value` false for a bare boolean flag).
Result<bool> Apply(GTestFlags& flags, std::string_view name, std::string_view value,
                   bool has_value) {
  const std::string flag(name);
  auto need_value = [&]() -> Result<bool> {
    if (has_value) return true;
    return Error{ErrorCode::kInvalid, fmt::format("--{} needs a value: --{}=VALUE", flag, flag)};
  };
  const bool on = !has_value || BoolValue(value);
  if (name == "gtest_filter") {
    if (auto ok = need_value(); !ok.ok()) return ok;
    flags.filter = std::string(value);
  } else if (name == "gtest_output") {
    if (auto ok = need_value(); !ok.ok()) return ok;
    flags.output = std::string(value);
  } else if (name == "gtest_list_tests") {
    flags.list_tests = on;
  } else if (name == "gtest_repeat") {
    if (auto ok = need_value(); !ok.ok()) return ok;
    Result<int> n = IntValue(flag, value, 1, 1'000'000);
    if (!n.ok()) {
      return Error{ErrorCode::kInvalid,
                   n.error().message + " (a negative count, GoogleTest's \"forever\", is not "
                                       "supported)"};
    }
    flags.repeat = *n;
  } else if (name == "gtest_shuffle") {
    flags.shuffle = on;
  } else if (name == "gtest_random_seed") {
    if (auto ok = need_value(); !ok.ok()) return ok;
    Result<int> n = IntValue(flag, value, 0, 99999);
    if (!n.ok()) return n.error();
    flags.random_seed = static_cast<std::uint32_t>(*n);
  } else if (name == "gtest_brief") {
    flags.brief = on;
  } else if (name == "gtest_color") {
    if (auto ok = need_value(); !ok.ok()) return ok;
    // GoogleTest's words: yes, true, t or 1 force colours; auto decides; anything else is no.
    if (value == "auto") {
      flags.color = "auto";
    } else if (value == "yes" || value == "true" || value == "t" || value == "1") {
      flags.color = "always";
    } else {
      flags.color = "never";
    }
  } else if (name == "gtest_also_run_disabled_tests") {
    flags.also_run_disabled = on;
  } else if (name == "gtest_fail_fast") {
    flags.fail_fast = on;
  } else if (name == "gtest_print_time" || name == "gtest_catch_exceptions" ||
             name == "gtest_print_utf8" || name == "gtest_death_test_style" ||
             name == "gtest_recreate_environments_when_repeating") {
    // Tools pass these; what they ask is what handoff always does (times printed,
    // exceptions caught and reported, UTF-8 kept) or does not apply (no death tests).
  } else {
    return Error{ErrorCode::kInvalid,
                 fmt::format("unknown flag --{} (GoogleTest flags of a handoff binary: "
                             "gtest_list_tests, gtest_filter, gtest_output, gtest_repeat, "
                             "gtest_shuffle, gtest_random_seed, gtest_brief, gtest_color, "
                             "gtest_also_run_disabled_tests, gtest_fail_fast)",
                             flag)};
  }
  flags.used = true;
  return true;
}

}  // namespace

Result<GTestFlags> TakeGTestFlags(std::vector<std::string>& args, bool read_env) {
  GTestFlags flags;
  if (read_env) {
    // GoogleTest's variables: GTEST_ plus the flag's name in upper case.
    static constexpr const char* kVariables[][2] = {
        {"GTEST_FILTER", "gtest_filter"},
        {"GTEST_OUTPUT", "gtest_output"},
        {"GTEST_REPEAT", "gtest_repeat"},
        {"GTEST_SHUFFLE", "gtest_shuffle"},
        {"GTEST_RANDOM_SEED", "gtest_random_seed"},
        {"GTEST_BRIEF", "gtest_brief"},
        {"GTEST_COLOR", "gtest_color"},
        {"GTEST_ALSO_RUN_DISABLED_TESTS", "gtest_also_run_disabled_tests"},
        {"GTEST_FAIL_FAST", "gtest_fail_fast"},
    };
    for (const auto& [variable, flag] : kVariables) {
      const char* value = std::getenv(variable);
      if (value == nullptr) continue;
      Result<bool> applied = Apply(flags, flag, value, true);
      if (!applied.ok()) {
        return Error{ErrorCode::kInvalid,
                     std::string(variable) + ": " + applied.error().message};
      }
    }
    // Bazel asks for the XML report with XML_OUTPUT_FILE, which GoogleTest honours when
    // GTEST_OUTPUT is not set.
    if (const char* xml = std::getenv("XML_OUTPUT_FILE"); xml != nullptr && flags.output.empty()) {
      flags.output = std::string("xml:") + xml;
      flags.used = true;
    }
  }
  std::vector<std::string> rest;
  for (std::string& arg : args) {
    std::string_view a = arg;
    if (a.starts_with("--")) {
      a.remove_prefix(2);
    } else if (a.starts_with("-")) {
      a.remove_prefix(1);
    }
    if (!a.starts_with(kPrefix) || a.size() == arg.size()) {
      rest.push_back(std::move(arg));
      continue;
    }
    const std::size_t eq = a.find('=');
    Result<bool> applied = eq == std::string_view::npos
                               ? Apply(flags, a, {}, false)
                               : Apply(flags, a.substr(0, eq), a.substr(eq + 1), true);
    if (!applied.ok()) return applied.error();
  }
  args = std::move(rest);
  return flags;
}

Result<GTestOutput> ParseGTestOutput(std::string_view spec, std::string_view program) {
  const std::size_t colon = spec.find(':');
  const std::string_view format = spec.substr(0, colon);
  GTestOutput out;
  if (format == "json") {
    out.json = true;
  } else if (format != "xml") {
    return Error{ErrorCode::kInvalid,
                 fmt::format("--gtest_output: want xml[:PATH] or json[:PATH], got \"{}\"", spec)};
  }
  const std::string extension = out.json ? ".json" : ".xml";
  std::string path = colon == std::string_view::npos ? "" : std::string(spec.substr(colon + 1));
  if (path.empty()) {
    path = "test_detail" + extension;
  } else if (path.back() == '/') {
    std::string_view base = program.substr(program.rfind('/') + 1);
    path += std::string(base) + extension;
  }
  out.path = std::move(path);
  return out;
}

Result<std::FILE*> OpenGTestOutput(const std::string& path) {
  std::error_code ignored;  // a directory that cannot be made fails the open below
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    return Error{ErrorCode::kInvalid,
                 fmt::format("--gtest_output: cannot write {}: {}", path, std::strerror(errno))};
  }
  return file;
}

namespace {

// A suite as --gtest_list_tests shows it: its GoogleTest name and its tests' (the part after
// the dot).
struct ListedSuite {
  std::string name;
  std::vector<std::string> tests;
};

std::vector<ListedSuite> Listed(const std::vector<SelectedSuite>& suites,
                                const SelectionOptions& selection) {
  const SubtestSelector subtests(selection);
  std::vector<ListedSuite> out;
  for (const SelectedSuite& selected : suites) {
    const Suite& suite = *selected.suite;
    // The suite's part of a name, with the dot, as GTestName writes it.
    const std::string header = GTestName(suite.name, "");
    ListedSuite listed{header.substr(0, header.size() - 1), {}};
    for (const Test* test : selected.tests) {
      std::vector<std::string> leaves = subtests.Of(*test, suite.name);
      // A test selected only for subtests it does not list ("Store.memory/Nope") has
      // nothing to show.
      if (leaves.empty() && !test->subtests.empty() && selection.gtest_filter &&
          !selection.gtest_filter->Matches(GTestName(suite.name, test->name))) {
        continue;
      }
      if (leaves.empty()) {
        listed.tests.push_back(GTestName(suite.name, test->name).substr(header.size()));
        continue;
      }
      for (const std::string& sub : leaves) {
        listed.tests.push_back(
            GTestName(suite.name, test->name + "/" + sub).substr(header.size()));
      }
    }
    if (!listed.tests.empty()) out.push_back(std::move(listed));
  }
  return out;
}

}  // namespace

std::string FormatGTestList(const std::vector<SelectedSuite>& suites,
                            const SelectionOptions& selection) {
  std::string out;
  for (const ListedSuite& suite : Listed(suites, selection)) {
    out += suite.name + ".\n";
    for (const std::string& test : suite.tests) out += "  " + test + "\n";
  }
  return out;
}

std::string FormatGTestListReport(const std::vector<SelectedSuite>& suites,
                                  const SelectionOptions& selection, bool json) {
  const std::vector<ListedSuite> listed = Listed(suites, selection);
  std::size_t total = 0;
  for (const ListedSuite& suite : listed) total += suite.tests.size();
  std::string out;
  if (!json) {
    out = fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"{}\" "
        "name=\"AllTests\">\n",
        total);
    for (const ListedSuite& suite : listed) {
      out += "  <testsuite name=\"";
      AppendXmlEscaped(out, suite.name, /*attribute=*/true);
      out += fmt::format("\" tests=\"{}\">\n", suite.tests.size());
      for (const std::string& test : suite.tests) {
        out += "    <testcase name=\"";
        AppendXmlEscaped(out, test, /*attribute=*/true);
        out += "\" />\n";
      }
      out += "  </testsuite>\n";
    }
    out += "</testsuites>\n";
    return out;
  }
  out = fmt::format("{{\n  \"tests\": {},\n  \"name\": \"AllTests\",\n  \"testsuites\": [", total);
  for (std::size_t i = 0; i < listed.size(); ++i) {
    out += i == 0 ? "\n    {\n      \"name\": " : ",\n    {\n      \"name\": ";
    AppendJsonString(out, listed[i].name);
    out += fmt::format(",\n      \"tests\": {},\n      \"testsuite\": [", listed[i].tests.size());
    for (std::size_t j = 0; j < listed[i].tests.size(); ++j) {
      out += j == 0 ? "\n        {\n          \"name\": " : ",\n        {\n          \"name\": ";
      AppendJsonString(out, listed[i].tests[j]);
      out += "\n        }";
    }
    out += "\n      ]\n    }";
  }
  out += "\n  ]\n}\n";
  return out;
}

}  // namespace handoff
