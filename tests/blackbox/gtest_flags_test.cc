// Black-box tests of GoogleTest's command line on a handoff binary (src/cli/gtest_flags.h):
// they run tests/fixtures/gtest_cli_fixture.cc, and every fixture binary for the names, as
// IDEs and CTest do (`binary --gtest_list_tests`, `binary --gtest_filter=... --gtest_output=...`).

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "blackbox/go_json.h"
#include "blackbox/process.h"

namespace handoff::testing {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

ProcessResult Cli(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), GTEST_CLI_FIXTURE);
  return RunProcess(args, env);
}

// Returns the names --gtest_list_tests prints, "Suite.Test" (GoogleTest's format: a suite
// line "Suite." and its tests indented by two spaces).
std::vector<std::string> ListedNames(const std::string& listing) {
  std::vector<std::string> names;
  std::string suite;
  for (const std::string& line : Lines(listing)) {
    if (line.empty()) continue;
    if (line.starts_with("  ")) {
      names.push_back(suite + line.substr(2));
    } else {
      EXPECT_TRUE(line.ends_with(".")) << "a suite line must end with '.': " << line;
      suite = line;
    }
  }
  return names;
}

// One testcase of a GoogleTest JSON report: "Suite.Test", result, failure count.
struct JsonCase {
  std::string name;
  std::string result;
  std::size_t failures = 0;
  bool operator==(const JsonCase&) const = default;
};

std::vector<JsonCase> JsonCases(const std::string& path) {
  std::vector<JsonCase> out;
  const boost::json::value report = boost::json::parse(ReadFile(path));
  for (const auto& suite : report.at("testsuites").as_array()) {
    for (const auto& c : suite.at("testsuite").as_array()) {
      const auto& o = c.as_object();
      JsonCase jc{std::string(suite.at("name").as_string()) + "." +
                      std::string(o.at("name").as_string()),
                  std::string(o.at("result").as_string()),
                  o.contains("failures") ? o.at("failures").as_array().size() : 0};
      out.push_back(jc);
    }
  }
  return out;
}

std::vector<std::string> NamesOf(const std::vector<JsonCase>& cases) {
  std::vector<std::string> names;
  for (const JsonCase& c : cases) names.push_back(c.name);
  return names;
}

class GTestFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(GTestFlagsTest, ListTestsPrintsGoogleTestsFormatWithSubtestsAndParameters) {
  ProcessResult r = Cli({"--gtest_list_tests"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Math.\n"
            "  Adds\n"
            "  Fails\n"
            "  Skips\n"
            "  DISABLED_Later\n"
            "  Subtests\n"
            "DISABLED_Slow.\n"
            "  Soak\n"
            "Store.\n"
            "  memory/Put\n"
            "  memory/Get\n"
            "  files/Put\n"
            "  files/Get\n");
  // Filtered as a run would be.
  r = Cli({"--gtest_list_tests", "--gtest_filter=Store.*/Get:Math.A*"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Math.\n  Adds\nStore.\n  memory/Get\n  files/Get\n");
  // On `list` too.
  EXPECT_EQ(Cli({"list", "--gtest_filter=Math.Adds"}).out, "Math.\n  Adds\n");
}

// IDEs ask for the listing as a report too (--gtest_list_tests with --gtest_output).
TEST_F(GTestFlagsTest, ListTestsWithOutputWritesTheListingAsAReport) {
  const std::string json = dir_ + "/list.json";
  ProcessResult r = Cli({"--gtest_list_tests", "--gtest_filter=Store.memory/*:Math.Adds",
                         "--gtest_output=json:" + json});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const boost::json::object report = boost::json::parse(ReadFile(json)).as_object();
  EXPECT_EQ(report.at("tests").as_int64(), 3);
  std::vector<std::string> names;
  for (const auto& suite : report.at("testsuites").as_array()) {
    for (const auto& test : suite.at("testsuite").as_array()) {
      names.push_back(std::string(suite.at("name").as_string()) + "." +
                      std::string(test.at("name").as_string()));
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Math.Adds", "Store.memory/Put", "Store.memory/Get"}));
  const std::string xml = dir_ + "/list.xml";
  r = Cli({"--gtest_list_tests", "--gtest_filter=Math.Adds", "--gtest_output=xml:" + xml});
  EXPECT_EQ(ReadFile(xml),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites tests=\"1\" name=\"AllTests\">\n"
            "  <testsuite name=\"Math\" tests=\"1\">\n"
            "    <testcase name=\"Adds\" />\n"
            "  </testsuite>\n"
            "</testsuites>\n");
}

// Every name --gtest_list_tests prints, given back to --gtest_filter, selects that test and
// no other: over every fixture binary, whatever characters its names hold.
TEST_F(GTestFlagsTest, EveryListedNameSelectsExactlyThatTest) {
  int checked = 0;
  for (const char* binary : {FIXTURE_SUITES, PARAMS_FIXTURE, GTEST_FIXTURE, GTEST_CLI_FIXTURE,
                             FEATURES_FIXTURE, WORKLOAD_FIXTURE, LEFTOVERS_FIXTURE,
                             REPLAY_FIXTURE, SERVE_FIXTURE, REPLICA_FIXTURE}) {
    ProcessResult all = RunProcess({binary, "--gtest_list_tests"});
    ASSERT_EQ(all.exit_code, 0) << binary << ": " << all.err;
    const std::vector<std::string> names = ListedNames(all.out);
    EXPECT_FALSE(names.empty()) << binary;
    for (const std::string& name : names) {
      ProcessResult one = RunProcess({binary, "--gtest_list_tests", "--gtest_filter=" + name});
      ASSERT_EQ(one.exit_code, 0) << binary << " " << name << ": " << one.err;
      EXPECT_EQ(ListedNames(one.out), std::vector<std::string>{name}) << binary;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

TEST_F(GTestFlagsTest, AListedSubtestRunsAloneInsideItsParent) {
  const std::string json = dir_ + "/r.json";
  ProcessResult r = Cli({"--gtest_filter=Store.files/Get", "--gtest_output=json:" + json});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // The parent first, as results list a test before its subtests; it fails with its subtest.
  EXPECT_EQ(JsonCases(json), (std::vector<JsonCase>{{"Store.files", "COMPLETED", 1},
                                                    {"Store.files/Get", "COMPLETED", 1}}));
  // A dynamic subtest, by its escaped name ('-' is %2D).
  r = Cli({"--gtest_filter=Math.Subtests/two%2Dand%2Da%2Dhalf", "--gtest_output=json:" + json});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(NamesOf(JsonCases(json)),
            (std::vector<std::string>{"Math.Subtests", "Math.Subtests/two%2Dand%2Da%2Dhalf"}));
  r = Cli({"--gtest_filter=Math.Subtests/one", "--gtest_output=json:" + json});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(NamesOf(JsonCases(json)),
            (std::vector<std::string>{"Math.Subtests", "Math.Subtests/one"}));
}

TEST_F(GTestFlagsTest, FilterHasPositiveAndNegativePatterns) {
  const std::string json = dir_ + "/r.json";
  ProcessResult r =
      Cli({"--gtest_filter=Math.*:Store.memory/*-Math.Fails:Math.Subtests/two*",
           "--gtest_output=json:" + json});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(JsonCases(json), (std::vector<JsonCase>{{"Math.Adds", "COMPLETED", 0},
                                                    {"Math.Skips", "SKIPPED", 0},
                                                    {"Math.Subtests", "COMPLETED", 0},
                                                    {"Math.Subtests/one", "COMPLETED", 0},
                                                    {"Store.memory", "COMPLETED", 0},
                                                    {"Store.memory/Put", "COMPLETED", 0},
                                                    {"Store.memory/Get", "COMPLETED", 0}}));
  EXPECT_TRUE(Has(r.out, "Note: Google Test filter = Math.*:Store.memory/*-Math.Fails:"))
      << r.out;
}

TEST_F(GTestFlagsTest, ConsoleOutputIsGoogleTests) {
  ProcessResult r = Cli({"--gtest_filter=Math.*"});
  EXPECT_EQ(r.exit_code, 1);
  for (const char* line : {"[==========] Running 4 tests from 1 test suite.",
                           "[----------] 4 tests from Math\n[ RUN      ] Math.Adds\n"
                           "[       OK ] Math.Adds (",
                           "[  FAILED  ] Math.Fails (", "got 3, want 4",
                           "[  SKIPPED ] Math.Skips (",
                           "[ RUN      ] Math.Subtests/two%2Dand%2Da%2Dhalf\n",
                           "[  FAILED  ] Math.Subtests/two%2Dand%2Da%2Dhalf (",
                           "[==========] 4 tests from 1 test suite ran.",
                           "[  PASSED  ] 1 test.\n",
                           "[  SKIPPED ] 1 test, listed below:\n[  SKIPPED ] Math.Skips\n",
                           "[  FAILED  ] 3 tests, listed below:\n[  FAILED  ] Math.Fails\n"
                           "[  FAILED  ] Math.Subtests\n"
                           "[  FAILED  ] Math.Subtests/two%2Dand%2Da%2Dhalf\n",
                           " 3 FAILED TESTS\n"}) {
    EXPECT_TRUE(Has(r.out, line)) << "no \"" << line << "\" in\n" << r.out;
  }
  EXPECT_FALSE(Has(r.out, "Later")) << "a disabled test ran:\n" << r.out;
  EXPECT_FALSE(Has(r.out, "\033[")) << "colours without a terminal";
}

TEST_F(GTestFlagsTest, BriefPrintsOnlyFailuresAndTheSummary) {
  ProcessResult r = Cli({"--gtest_filter=Math.*", "--gtest_brief=1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(Has(r.out, "[ RUN      ]")) << r.out;
  EXPECT_FALSE(Has(r.out, "[       OK ] Math.Adds")) << r.out;
  EXPECT_TRUE(Has(r.out, "[  FAILED  ] Math.Fails (")) << r.out;
  EXPECT_TRUE(Has(r.out, "[==========] 4 tests from 1 test suite ran.")) << r.out;
}

TEST_F(GTestFlagsTest, ColorYesForcesColours) {
  EXPECT_TRUE(Has(Cli({"--gtest_filter=Math.Adds", "--gtest_color=yes"}).out, "\033[0;32m"));
  EXPECT_FALSE(Has(Cli({"--gtest_filter=Math.Adds", "--gtest_color=no"}).out, "\033["));
}

TEST_F(GTestFlagsTest, DisabledTestsRunOnlyWhenAsked) {
  const std::string json = dir_ + "/r.json";
  ProcessResult r = Cli({"--gtest_filter=*Later:DISABLED_Slow.*", "--gtest_output=json:" + json});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(JsonCases(json).empty());
  r = Cli({"--gtest_filter=*Later:DISABLED_Slow.*", "--gtest_also_run_disabled_tests",
           "--gtest_output=json:" + json});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(NamesOf(JsonCases(json)),
            (std::vector<std::string>{"Math.DISABLED_Later", "DISABLED_Slow.Soak"}));
}

TEST_F(GTestFlagsTest, XmlOutputIsGoogleTestsShape) {
  const std::string xml = dir_ + "/r.xml";
  ProcessResult r = Cli({"--gtest_filter=Math.Adds:Math.Fails:Math.Skips",
                         "--gtest_output=xml:" + xml});
  EXPECT_EQ(r.exit_code, 1);
  // A failure's message is "file:line\nmessage" as GoogleTest writes it; the script prints
  // the file's last component.
  const std::string script = R"(
import sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
print(root.tag, root.get('name'), root.get('tests'), root.get('failures'))
for s in root:
  print(s.tag, s.get('name'), s.get('tests'), s.get('failures'), s.get('skipped'))
  for c in s:
    print(c.tag, c.get('classname'), c.get('name'), c.get('status'), c.get('result'),
          [(f.tag, f.get('message').split('/')[-1]) for f in c])
)";
  ProcessResult p = RunProcess({"/usr/bin/python3", "-c", script, xml});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(p.out,
            "testsuites AllTests 3 1\n"
            "testsuite Math 3 1 1\n"
            "testcase Math Adds run completed []\n"
            "testcase Math Fails run completed [('failure', 'gtest_cli_fixture.cc:" +
                std::to_string(LineOf(std::string(HANDOFF_SOURCE_DIR) +
                                          "/tests/fixtures/gtest_cli_fixture.cc",
                                      "got {}, want {}")) +
                "\\ngot 3, want 4')]\n"
                "testcase Math Skips run skipped [('skipped', 'needs a GPU')]\n");
  const std::string text = ReadFile(xml);
  EXPECT_TRUE(Has(text, "timestamp=\"")) << text;
  EXPECT_TRUE(Has(text, "time=\"")) << text;
}

TEST_F(GTestFlagsTest, OutputToADirectoryIsNamedAfterTheBinary) {
  ProcessResult r = Cli({"--gtest_filter=Math.Adds", "--gtest_output=xml:" + dir_ + "/out/"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/out/gtest_cli_fixture.xml"));
  r = Cli({"--gtest_filter=Math.Adds", "--gtest_output=json:" + dir_ + "/"});
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/gtest_cli_fixture.json"));
}

TEST_F(GTestFlagsTest, JsonOutputIsGoogleTestsSchema) {
  const std::string json = dir_ + "/r.json";
  Cli({"--gtest_filter=Math.Fails", "--gtest_output=json:" + json});
  const boost::json::object report = boost::json::parse(ReadFile(json)).as_object();
  for (const char* key : {"tests", "failures", "disabled", "errors", "timestamp", "time", "name",
                          "testsuites"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_EQ(report.at("tests").as_int64(), 1);
  EXPECT_EQ(report.at("failures").as_int64(), 1);
  const auto& suite = report.at("testsuites").as_array().at(0).as_object();
  EXPECT_EQ(suite.at("name").as_string(), "Math");
  const auto& test = suite.at("testsuite").as_array().at(0).as_object();
  EXPECT_EQ(test.at("name").as_string(), "Fails");
  EXPECT_EQ(test.at("classname").as_string(), "Math");
  EXPECT_EQ(test.at("status").as_string(), "RUN");
  EXPECT_TRUE(std::string(test.at("time").as_string()).ends_with("s"));
  const std::string failure(test.at("failures").as_array().at(0).at("failure").as_string());
  EXPECT_TRUE(Has(failure, "gtest_cli_fixture.cc:")) << failure;
  EXPECT_TRUE(Has(failure, "\ngot 3, want 4")) << failure;
}

TEST_F(GTestFlagsTest, RepeatRunsEverythingNTimes) {
  ProcessResult r = Cli({"run", "--format", "json", "--gtest_filter=Math.Adds",
                         "--gtest_repeat=3"});
  GoReport report = ExpectGoReport(r, 0);
  const GoTest* adds = report.Find("Math", "Adds");
  ASSERT_NE(adds, nullptr);
  EXPECT_EQ(std::count(adds->actions.begin(), adds->actions.end(), "pass"), 3);
}

TEST_F(GTestFlagsTest, ShuffleWithASeedIsRepeatable) {
  const std::string json = dir_ + "/r.json";
  auto order = [&](const std::string& seed) {
    ProcessResult r = Cli({"--gtest_shuffle", "--gtest_random_seed=" + seed,
                           "--gtest_filter=Math.Adds:Math.Skips:Store.*",
                           "--gtest_output=json:" + json});
    EXPECT_TRUE(Has(r.out, "Note: Randomizing tests' orders with a seed of " + seed + " .\n"))
        << r.out;
    return NamesOf(JsonCases(json));
  };
  const std::vector<std::string> first = order("7");
  EXPECT_EQ(order("7"), first);
  // A permutation of the selected tests, and some seed changes the declared order.
  ProcessResult plain = Cli({"--gtest_filter=Math.Adds:Math.Skips:Store.*",
                             "--gtest_output=json:" + json});
  const std::vector<std::string> declared = NamesOf(JsonCases(json));
  EXPECT_TRUE(std::is_permutation(first.begin(), first.end(), declared.begin(), declared.end()));
  bool changed = false;
  for (const char* seed : {"1", "2", "3", "4", "5"}) changed = changed || order(seed) != declared;
  EXPECT_TRUE(changed);
}

TEST_F(GTestFlagsTest, EnvironmentVariablesApplyWithoutACommand) {
  const std::string json = dir_ + "/r.json";
  ProcessResult r = Cli({}, {{"GTEST_FILTER", "Math.Adds"}, {"GTEST_OUTPUT", "json:" + json}});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(NamesOf(JsonCases(json)), std::vector<std::string>{"Math.Adds"});
  // A flag wins over its variable.
  r = Cli({"--gtest_filter=Math.Skips"}, {{"GTEST_FILTER", "Math.Adds"},
                                          {"GTEST_OUTPUT", "json:" + json}});
  EXPECT_EQ(NamesOf(JsonCases(json)), std::vector<std::string>{"Math.Skips"});
  // An explicit `run` ignores them: a variable left in a shell changes nothing.
  r = Cli({"run", "--format", "json"}, {{"GTEST_FILTER", "Math.Adds"}});
  GoReport all = ExpectGoReport(r, 1);
  EXPECT_EQ(all.FinalOf("Math", "Fails"), "fail");
}

TEST_F(GTestFlagsTest, BadUsageExitsTwoNamingTheFlag) {
  ProcessResult r = Cli({"--gtest_bogus=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "unknown flag --gtest_bogus")) << r.err;
  r = Cli({"--gtest_repeat=-1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "--gtest_repeat")) << r.err;
  r = Cli({"--gtest_output=yaml:x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "--gtest_output")) << r.err;
  r = Cli({"--gtest_random_seed=100000"});
  EXPECT_EQ(r.exit_code, 2);
  r = Cli({}, {{"GTEST_REPEAT", "many"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "GTEST_REPEAT")) << r.err;
}

TEST_F(GTestFlagsTest, ExitCodesAreGoogleTests) {
  EXPECT_EQ(Cli({"--gtest_filter=Math.Adds"}).exit_code, 0);
  EXPECT_EQ(Cli({"--gtest_filter=Math.Skips"}).exit_code, 0);
  EXPECT_EQ(Cli({"--gtest_filter=Math.Fails"}).exit_code, 1);
  // Flags tools pass whose request handoff always honours are accepted.
  EXPECT_EQ(Cli({"--gtest_filter=Math.Adds", "--gtest_print_time=1",
                 "--gtest_catch_exceptions=1"})
                .exit_code,
            0);
}

}  // namespace
}  // namespace handoff::testing
