// Black-box tests of parametrized suites (handoff/params.h) and fixtures
// (handoff/fixture.h): they run tests/fixtures/params_fixture.cc as a user would and check
// names, selection, listings, instance lifetimes and teardown order.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "blackbox/go_json.h"
#include "blackbox/process.h"

namespace handoff::testing {
namespace {

const std::string kFixtureSource =
    std::string(HANDOFF_SOURCE_DIR) + "/tests/fixtures/params_fixture.cc";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ParamsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs the fixture binary with `args`, with traces written under dir_.
  ProcessResult Fixture(std::vector<std::string> args,
                        std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), PARAMS_FIXTURE);
    env["HANDOFF_FIXTURE_DIR"] = dir_;
    return RunProcess(args, env);
  }

  // Runs with --format json, checks the exit code and parses the stream.
  GoReport FixtureJson(std::vector<std::string> args, int want_exit,
                       std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {"run", "--format", "json"});
    return ExpectGoReport(Fixture(args, std::move(env)), want_exit);
  }

  std::string Trace(const std::string& name) { return ReadFile(dir_ + "/" + name); }

  static std::string Output(const GoReport& r, const std::string& suite, const std::string& test) {
    const GoTest* t = r.Find(suite, test);
    return t == nullptr ? "" : t->output;
  }

  std::string dir_;
};

TEST_F(ParamsTest, EachCombinationIsSuiteParamTest) {
  GoReport r = FixtureJson({"--suite", "^KvStore$"}, 1);
  // 3 parameters x 2 tests, each a subtest of its parameter's test.
  int combinations = 0;
  for (const auto& [key, test] : r.tests) {
    if (key.first == "KvStore" && Contains(key.second, "/")) ++combinations;
  }
  EXPECT_EQ(combinations, 6);
  for (const char* param : {"memory", "files", "lossy"}) {
    EXPECT_NE(r.Find("KvStore", fmt::format("{}/PutThenGet", param)), nullptr) << param;
    EXPECT_NE(r.Find("KvStore", fmt::format("{}/StartsEmpty", param)), nullptr) << param;
  }
  // A failure in one combination fails only it (and its parameter's test).
  EXPECT_EQ(r.FinalOf("KvStore", "memory/PutThenGet"), "pass");
  EXPECT_EQ(r.FinalOf("KvStore", "memory/StartsEmpty"), "pass");
  EXPECT_EQ(r.FinalOf("KvStore", "files/PutThenGet"), "pass");
  EXPECT_EQ(r.FinalOf("KvStore", "files/StartsEmpty"), "pass");
  EXPECT_EQ(r.FinalOf("KvStore", "lossy/PutThenGet"), "fail");
  EXPECT_EQ(r.FinalOf("KvStore", "lossy/StartsEmpty"), "pass");
  EXPECT_EQ(r.FinalOf("KvStore", "memory"), "pass");
  EXPECT_EQ(r.FinalOf("KvStore", "files"), "pass");
  EXPECT_EQ(r.FinalOf("KvStore", "lossy"), "fail");
  EXPECT_TRUE(Contains(Output(r, "KvStore", "lossy/PutThenGet"),
                       "Get(greeting) = <missing>, want hello"))
      << Output(r, "KvStore", "lossy/PutThenGet");
}

TEST_F(ParamsTest, EachTestGetsAFreshInstanceDestroyedWhenItEnds) {
  ProcessResult r = Fixture({"run", "--suite", "^KvStore$", "--run", "^memory$"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // The factory runs in the subtest; the instance outlives the test's cleanups, dies
  // before the factory's, and all of it before the next subtest starts.
  EXPECT_EQ(Trace("events.txt"),
            "factory memory/PutThenGet\n"
            "create memory #1\n"
            "test memory/PutThenGet on #1\n"
            "test cleanup memory/PutThenGet sees 1 keys\n"
            "destroy memory #1\n"
            "factory cleanup memory/PutThenGet\n"
            "factory memory/StartsEmpty\n"
            "create memory #2\n"
            "test memory/StartsEmpty on #2\n"
            "test cleanup memory/StartsEmpty sees 0 keys\n"
            "destroy memory #2\n"
            "factory cleanup memory/StartsEmpty\n");
}

TEST_F(ParamsTest, FactoryResourcesOutliveTheInstance) {
  ProcessResult r = Fixture({"run", "--suite", "^KvStore$", "--run", "^files$"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // The store's TempDir (taken by the factory) is still there when the store goes.
  EXPECT_EQ(Trace("events.txt"),
            "create files #1\n"
            "test files/PutThenGet on #1\n"
            "test cleanup files/PutThenGet sees 1 keys\n"
            "files #1 dir present: true\n"
            "destroy files #1\n"
            "create files #2\n"
            "test files/StartsEmpty on #2\n"
            "test cleanup files/StartsEmpty sees 0 keys\n"
            "files #2 dir present: true\n"
            "destroy files #2\n");
}

TEST_F(ParamsTest, RunAndSkipSelectLikeGoTest) {
  GoReport one = FixtureJson({"--suite", "^KvStore$", "--run", "memory/Put"}, 0);
  EXPECT_EQ(one.FinalOf("KvStore", "memory/PutThenGet"), "pass");
  EXPECT_EQ(one.Find("KvStore", "memory/StartsEmpty"), nullptr);
  EXPECT_EQ(one.Find("KvStore", "files"), nullptr);
  EXPECT_EQ(one.Find("KvStore", "lossy"), nullptr);

  GoReport every = FixtureJson({"--suite", "^KvStore$", "--run", "/Put"}, 1);
  EXPECT_EQ(every.FinalOf("KvStore", "memory/PutThenGet"), "pass");
  EXPECT_EQ(every.FinalOf("KvStore", "files/PutThenGet"), "pass");
  EXPECT_EQ(every.FinalOf("KvStore", "lossy/PutThenGet"), "fail");
  for (const char* param : {"memory", "files", "lossy"}) {
    EXPECT_EQ(every.Find("KvStore", fmt::format("{}/StartsEmpty", param)), nullptr) << param;
  }
  // Instances are made only for the selected tests.
  EXPECT_EQ(Trace("events.txt").find("StartsEmpty"), std::string::npos) << Trace("events.txt");

  GoReport skipped = FixtureJson({"--suite", "^KvStore$", "--skip", "lossy/PutThenGet"}, 0);
  EXPECT_EQ(skipped.Find("KvStore", "lossy/PutThenGet"), nullptr);
  EXPECT_EQ(skipped.FinalOf("KvStore", "lossy/StartsEmpty"), "pass");

  // A parameter's labels select it.
  GoReport disk = FixtureJson({"--suite", "^KvStore$", "--labels", "backend=disk"}, 0);
  EXPECT_EQ(disk.FinalOf("KvStore", "files/PutThenGet"), "pass");
  EXPECT_EQ(disk.Find("KvStore", "memory"), nullptr);
  GoReport not_disk =
      FixtureJson({"--suite", "^KvStore$", "--skip-labels", "backend=disk", "--run", "memory"}, 0);
  EXPECT_EQ(not_disk.Find("KvStore", "files"), nullptr);
  EXPECT_EQ(not_disk.FinalOf("KvStore", "memory"), "pass");
}

TEST_F(ParamsTest, ListShowsParamsWithTheirTests) {
  ProcessResult text = Fixture({"list", "--suite", "^KvStore$"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(Contains(text.out,
                       "params/KvStore  [tier=unit]\n"
                       "  memory\n"
                       "    PutThenGet\n"
                       "    StartsEmpty\n"
                       "  files  [backend=disk]\n"
                       "    PutThenGet\n"
                       "    StartsEmpty\n"
                       "  lossy\n"
                       "    PutThenGet\n"
                       "    StartsEmpty\n"))
      << text.out;

  ProcessResult json = Fixture({"list", "--format", "json", "--suite", "^KvStore$"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  boost::json::value v = boost::json::parse(json.out);
  const auto& suites = v.at("suites").as_array();
  ASSERT_EQ(suites.size(), 1u);
  const auto& suite = suites[0].as_object();
  EXPECT_EQ(suite.at("name").as_string(), "KvStore");
  EXPECT_EQ(suite.at("namespace").as_string(), "params");
  EXPECT_EQ(suite.at("labels").at("tier").as_string(), "unit");
  const auto& details = suite.at("test_details").as_array();
  ASSERT_EQ(details.size(), 3u);
  EXPECT_EQ(details[0].at("name").as_string(), "memory");
  EXPECT_EQ(details[1].at("name").as_string(), "files");
  EXPECT_EQ(details[1].at("labels").at("backend").as_string(), "disk");
  EXPECT_EQ(details[2].at("name").as_string(), "lossy");
  for (const auto& detail : details) {
    EXPECT_EQ(boost::json::serialize(detail.at("subtests")), R"(["PutThenGet","StartsEmpty"])");
  }
  // Listing runs nothing.
  EXPECT_EQ(Trace("events.txt"), "");

  // --run narrows the listed subtests as it narrows the run.
  ProcessResult narrowed =
      Fixture({"list", "--format", "json", "--suite", "^KvStore$", "--run", "/Empty"});
  ASSERT_EQ(narrowed.exit_code, 0) << narrowed.err;
  const boost::json::value listed = boost::json::parse(narrowed.out);
  for (const auto& detail : listed.at("suites").at(0).at("test_details").as_array()) {
    EXPECT_EQ(boost::json::serialize(detail.at("subtests")), R"(["StartsEmpty"])");
  }
}

TEST_F(ParamsTest, DryRunListsEveryCombinationWithoutMakingInstances) {
  GoReport r = FixtureJson({"--suite", "^KvStore$", "--dry-run"}, 0);
  for (const char* param : {"memory", "files", "lossy"}) {
    EXPECT_EQ(r.FinalOf("KvStore", param), "skip") << param;
    for (const char* test : {"PutThenGet", "StartsEmpty"}) {
      EXPECT_EQ(r.FinalOf("KvStore", fmt::format("{}/{}", param, test)), "skip")
          << param << "/" << test;
    }
  }
  EXPECT_EQ(Trace("events.txt"), "") << "a factory or a test ran in a dry run";
}

TEST_F(ParamsTest, AFailingFactoryFailsOnlyItsSubtest) {
  GoReport r = FixtureJson({"--suite", "^Factories$"}, 1);
  EXPECT_EQ(r.FinalOf("Factories", "ok/A"), "pass");
  EXPECT_EQ(r.FinalOf("Factories", "ok/B"), "pass");
  EXPECT_EQ(r.FinalOf("Factories", "ok"), "pass");
  for (const char* param : {"fatal", "null", "throws"}) {
    // Each subtest calls the factory again, and fails on its own.
    EXPECT_EQ(r.FinalOf("Factories", fmt::format("{}/A", param)), "fail") << param;
    EXPECT_EQ(r.FinalOf("Factories", fmt::format("{}/B", param)), "fail") << param;
    EXPECT_EQ(r.FinalOf("Factories", param), "fail") << param;
  }
  EXPECT_TRUE(Contains(Output(r, "Factories", "fatal/B"), "backend unavailable"))
      << Output(r, "Factories", "fatal/B");
  EXPECT_TRUE(Contains(Output(r, "Factories", "null/A"),
                       "the factory of parameter \"null\" returned null"))
      << Output(r, "Factories", "null/A");
  EXPECT_TRUE(Contains(Output(r, "Factories", "throws/A"), "cannot connect"))
      << Output(r, "Factories", "throws/A");
  // Test functions ran only where there was an instance.
  EXPECT_EQ(Trace("factories.txt"), "ran ok/A\nran ok/B\n");
}

TEST_F(ParamsTest, ValueParametersAreCopiedForEachTest) {
  GoReport r = FixtureJson({"--suite", "^Configs$", "-v"}, 0);
  for (const char* param : {"fast", "slow"}) {
    EXPECT_EQ(r.FinalOf("Configs", fmt::format("{}/Mutates", param)), "pass") << param;
    EXPECT_EQ(r.FinalOf("Configs", fmt::format("{}/SeesOriginal", param)), "pass") << param;
  }
  EXPECT_TRUE(Contains(Output(r, "Configs", "fast/SeesOriginal"), "workers 8"))
      << Output(r, "Configs", "fast/SeesOriginal");
}

TEST_F(ParamsTest, NamesFollowGosRewrite) {
  GoReport r = FixtureJson({"--suite", "^Names$"}, 0);
  EXPECT_EQ(r.FinalOf("Names", "with_space"), "pass");
  EXPECT_EQ(r.FinalOf("Names", "with_space/a_test"), "pass");
  ProcessResult list = Fixture({"list", "--suite", "^Names$"});
  EXPECT_TRUE(Contains(list.out, "Names\n  with_space\n    a_test\n")) << list.out;
}

TEST_F(ParamsTest, InvalidSuitesAreRejectedAtStart) {
  std::map<std::string, std::string> env = {{"HANDOFF_FIXTURE_INVALID", "registration"}};
  ProcessResult r = Fixture({"run"}, env);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  for (const char* problem :
       {"suite \"NoParams\" has no tests", "suite \"NoTests\" has no tests",
        "suite \"DupParam\": duplicate test name \"a\"",
        "suite \"SlashParam\": test name \"a/b\" contains '/'"}) {
    EXPECT_TRUE(Contains(r.err, problem)) << problem << " not in:\n" << r.err;
  }
  EXPECT_EQ(Fixture({"list"}, env).exit_code, 2);
}

TEST_F(ParamsTest, InvalidTestsFailEveryParameterWithTheProblems) {
  GoReport r = FixtureJson({"--suite", "^BadTests$"}, 1,
                           {{"HANDOFF_FIXTURE_INVALID", "definition"}});
  const std::string where =
      fmt::format("params_fixture.cc:{})", LineOf(kFixtureSource, "BadTests is defined here"));
  for (const char* param : {"one", "two"}) {
    EXPECT_EQ(r.FinalOf("BadTests", param), "fail") << param;
    const std::string output = Output(r, "BadTests", param);
    for (const std::string& problem :
         {std::string("invalid ParamSuite \"BadTests\" ("), where,
          std::string("parameter \"two\" has no factory"),
          std::string("test \"Null\" has no function"),
          std::string("duplicate test name \"A\""),
          std::string("test name \"x/y\" contains '/'"),
          std::string("a test has an empty name")}) {
      EXPECT_TRUE(Contains(output, problem)) << problem << " not in:\n" << output;
    }
  }
  EXPECT_EQ(Trace("invalid.txt"), "") << "a factory or a test of an invalid suite ran";
}

TEST_F(ParamsTest, UseTearsDownInReverseWhenALaterStepFails) {
  GoReport r = FixtureJson({"--suite", "^Fixtures$", "--run", "LaterStepFails"}, 1);
  EXPECT_EQ(r.FinalOf("Fixtures", "LaterStepFails"), "fail");
  EXPECT_TRUE(Contains(Output(r, "Fixtures", "LaterStepFails"), "step 4 failed"))
      << Output(r, "Fixtures", "LaterStepFails");
  EXPECT_EQ(Trace("teardown.txt"), "third\nsecond\nfirst\n");
}

TEST_F(ParamsTest, UseTearsDownAfterTheBodyThrows) {
  GoReport r = FixtureJson({"--suite", "^Fixtures$", "--run", "BodyThrows"}, 1);
  EXPECT_EQ(r.FinalOf("Fixtures", "BodyThrows"), "fail");
  EXPECT_TRUE(Contains(Output(r, "Fixtures", "BodyThrows"), "body exploded"))
      << Output(r, "Fixtures", "BodyThrows");
  EXPECT_EQ(Trace("throw.txt"), "using 8080\ntorn down\n");
}

TEST_F(ParamsTest, UseAcceptsEveryShape) {
  GoReport r = FixtureJson({"--suite", "^Fixtures$", "--run", "Forms"}, 0);
  EXPECT_EQ(r.FinalOf("Fixtures", "Forms"), "pass");
  EXPECT_EQ(r.FinalOf("Fixtures", "Forms/sub"), "pass");
  // A subtest's resources go when the subtest ends; the test's, last first, at its end.
  EXPECT_EQ(Trace("forms.txt"), "sub\nafter sub\npair\nowned\n");
}

#if defined(EXAMPLE_PARAMS) && defined(EXAMPLE_FIXTURES)
TEST_F(ParamsTest, ExamplesPass) {
  ProcessResult params = RunProcess({EXAMPLE_PARAMS, "run", "--format", "json"});
  EXPECT_EQ(params.exit_code, 0) << params.out << params.err;
  GoReport p = ParseGoJson(params.out);
  EXPECT_TRUE(p.valid) << p.error;
  // KvStore: 2 stores x 3 tests; Backoff: 3 configurations x 2 tests; plus one test per
  // parameter.
  EXPECT_EQ(p.Count("pass"), 6 + 2 + 6 + 3);
  EXPECT_EQ(p.Find("KvStore", "files/DeleteRemoves")->Final(), "pass");

  ProcessResult fixtures = RunProcess({EXAMPLE_FIXTURES, "run", "--format", "json"});
  EXPECT_EQ(fixtures.exit_code, 0) << fixtures.out << fixtures.err;
  GoReport f = ParseGoJson(fixtures.out);
  EXPECT_TRUE(f.valid) << f.error;
  EXPECT_EQ(f.Find("Fixtures", "EchoesEveryMessage/larger_than_a_read")->Final(), "pass");
  EXPECT_EQ(f.Count("fail"), 0);
}
#endif

}  // namespace
}  // namespace handoff::testing
