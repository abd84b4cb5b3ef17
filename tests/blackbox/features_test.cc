// Black-box tests of features, environments and their flags: they run
// tests/fixtures/features_fixture.cc as a user would and read the go test -json stream
// and the trace each step and lifecycle function leaves ($FEATURES_TRACE).

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <boost/json.hpp>

#include "blackbox/go_json.h"
#include "blackbox/process.h"

namespace handoff::testing {
namespace {

class FeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string TracePath() const { return dir_ + "/trace"; }
  std::vector<std::string> Trace() const { return Lines(ReadFile(TracePath())); }
  bool Traced(const std::string& line) const {
    std::vector<std::string> lines = Trace();
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  }
  // Position of `line` in the trace (-1 if absent).
  int TraceIndex(const std::string& line) const {
    std::vector<std::string> lines = Trace();
    auto it = std::find(lines.begin(), lines.end(), line);
    return it == lines.end() ? -1 : static_cast<int>(it - lines.begin());
  }

  ProcessResult Fixture(std::vector<std::string> args) {
    std::filesystem::remove(TracePath());
    args.insert(args.begin(), FEATURES_FIXTURE);
    return RunProcess(args, {{"FEATURES_TRACE", TracePath()}});
  }

  // Runs `run --format json <args>`, checks the exit code and parses the stream.
  GoReport Json(std::vector<std::string> args, int want_exit) {
    args.insert(args.begin(), {"run", "--format", "json"});
    return ExpectGoReport(Fixture(args), want_exit);
  }

  std::string dir_;
};

TEST_F(FeaturesTest, LifecycleRunsInOrderAndTheContextFlows) {
  GoReport report = Json({"--suite", "^Lifecycle$"}, 1);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy/pods_start"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy/serves_traffic"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Table/lists_pods"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Table/reads_logs"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Plain"), "pass");

  // Setup's value reaches every step; each step's return value reaches the next.
  const std::vector<std::string> want = {
      "setup",
      "before-test Deploy",
      "before-feature Deploy assessments=2",
      "Deploy setup cluster=c1 ns=ns-Deploy pod=- checks=0",
      "Deploy assess pods start cluster=c1 ns=ns-Deploy pod=pod-1 checks=0",
      "Deploy assess serves traffic cluster=c1 ns=ns-Deploy pod=pod-1 checks=1",
      "Deploy teardown cluster=c1 ns=ns-Deploy pod=pod-1 checks=2",
      "after-feature Deploy cluster=c1 ns=ns-Deploy pod=pod-1 checks=2",
      "after-test Deploy cluster=c1 ns=ns-Deploy pod=pod-1 checks=2",
  };
  std::vector<std::string> trace = Trace();
  ASSERT_GE(trace.size(), want.size()) << ReadFile(TracePath());
  EXPECT_EQ(std::vector<std::string>(trace.begin(), trace.begin() + want.size()), want);
  // A plain test gets the environment's context and the test functions, not the
  // feature functions; one test's values never reach the next.
  EXPECT_TRUE(Traced("Plain cluster=c1 ns=- pod=- checks=0"));
  EXPECT_TRUE(Traced("after-test Plain cluster=c1 ns=- pod=- checks=0"));
  EXPECT_FALSE(Traced("before-feature Plain assessments=0"));
  // Finish runs once, last, with Setup's context, even though a feature failed.
  EXPECT_EQ(trace.back(), "finish cluster=c1 ns=- pod=- checks=0");
  EXPECT_EQ(std::count(trace.begin(), trace.end(), "setup"), 1);
}

TEST_F(FeaturesTest, TeardownRunsAfterAFatalAssessment) {
  GoReport report = Json({"--suite", "^Lifecycle$", "--run", "Broken"}, 1);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Broken"), "fail");
  const GoTest* fatal = report.Find("Lifecycle", "Broken/fails_fatally");
  ASSERT_NE(fatal, nullptr);
  EXPECT_EQ(fatal->Final(), "fail");
  EXPECT_NE(fatal->output.find("the volume is gone"), std::string::npos) << fatal->output;
  // Fatal stops only its assessment: the next one runs, then every teardown (the second
  // even though the first failed), then the After functions, then Finish.
  EXPECT_EQ(report.FinalOf("Lifecycle", "Broken/runs_after"), "pass");
  EXPECT_FALSE(Traced("Broken after Fatal"));
  int after = TraceIndex("Broken assess runs after");
  int t1 = TraceIndex("Broken teardown 1");
  int t2 = TraceIndex("Broken teardown 2");
  int after_feature = TraceIndex("after-feature Broken cluster=c1 ns=ns-Broken pod=- checks=0");
  ASSERT_GE(after, 0) << ReadFile(TracePath());
  EXPECT_LT(after, t1);
  EXPECT_LT(t1, t2);
  EXPECT_LT(t2, after_feature);
  EXPECT_TRUE(Traced("finish cluster=c1 ns=- pod=- checks=0"));
  const GoTest* broken = report.Find("Lifecycle", "Broken");
  EXPECT_NE(broken->output.find("teardown 1 fails"), std::string::npos) << broken->output;
}

TEST_F(FeaturesTest, FinishRunsAfterAFailedSetupAndTheTestsAreSkipped) {
  GoReport report = Json({"--suite", "^SetupFails$"}, 1);
  EXPECT_EQ(report.FinalOf("SetupFails", "Unreached"), "skip");
  EXPECT_FALSE(Traced("Unreached ran"));
  EXPECT_EQ(Trace(), (std::vector<std::string>{"setup begins",
                                               "finish after failed setup cluster=- ns=- pod=- checks=0"}));
}

TEST_F(FeaturesTest, FailFastLeavesTheFailedFeaturesTeardownUndone) {
  ProcessResult r = Fixture({"run", "--suite", "^Lifecycle$", "--fail-fast", "-v"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Traced("Broken assess fails fatally"));
  // Nothing after the first failure: no later assessment, no teardown, no After
  // functions, no later feature.
  EXPECT_FALSE(Traced("Broken assess runs after"));
  EXPECT_FALSE(Traced("Broken teardown 1"));
  EXPECT_FALSE(Traced("Broken teardown 2"));
  EXPECT_EQ(TraceIndex("after-feature Broken cluster=c1 ns=ns-Broken pod=- checks=0"), -1);
  EXPECT_FALSE(Traced("Table lists pods"));
  // The feature that passed before was torn down as usual.
  EXPECT_TRUE(Traced("Deploy teardown cluster=c1 ns=ns-Deploy pod=pod-1 checks=2"));
  // The line points at the feature's definition, not into the library.
  const int line = LineOf(std::string(HANDOFF_SOURCE_DIR) + "/tests/fixtures/features_fixture.cc",
                          "handoff::Feature(\"Broken\")");
  ASSERT_GT(line, 0);
  EXPECT_NE(r.out.find("features_fixture.cc:" + std::to_string(line) +
                       ": --fail-fast: feature \"Broken\" failed"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("left for debugging"), std::string::npos) << r.out;
}

TEST_F(FeaturesTest, DryRunListsWhatWouldRunAndRunsNoStep) {
  GoReport report = Json({"--dry-run"}, 0);
  for (const char* test : {"Deploy", "Deploy/pods_start", "Deploy/serves_traffic", "Broken",
                           "Broken/fails_fatally", "Table/reads_logs", "Plain"}) {
    EXPECT_EQ(report.FinalOf("Lifecycle", test), "skip") << test;
  }
  EXPECT_EQ(report.FinalOf("Parallel", "Left/meets_right"), "skip");
  EXPECT_EQ(report.FinalOf("PlainSuite", "Standalone/sees_its_setup"), "skip");
  // Not even Setup or Finish ran.
  EXPECT_FALSE(std::filesystem::exists(TracePath())) << ReadFile(TracePath());

  // The selection flags apply as they would to a real run.
  report = Json({"--dry-run", "--suite", "^Lifecycle$", "--assess", "serves", "--skip-features", "Table"}, 0);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy/serves_traffic"), "skip");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy/pods_start"), "absent");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Broken"), "absent");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Table"), "absent");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Plain"), "skip");
  EXPECT_FALSE(std::filesystem::exists(TracePath()));
}

TEST_F(FeaturesTest, FeatureAndAssessmentFlagsSelect) {
  // --feature selects features; tests that are not features are not affected.
  GoReport report = Json({"--suite", "^Lifecycle$", "--feature", "^Dep"}, 0);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Broken"), "absent");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Table"), "absent");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Plain"), "pass");

  report = Json({"--suite", "^Lifecycle$", "--skip-features", "Broken|Table"}, 0);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Broken"), "absent");

  // --assess runs only the matching assessments (the description as written or as
  // reported), with the feature's setup and teardown around them.
  report = Json({"--suite", "^Lifecycle$", "--feature", "Deploy", "--assess", "serves traffic"}, 0);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy/serves_traffic"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy/pods_start"), "absent");
  EXPECT_TRUE(Traced("Deploy setup cluster=c1 ns=ns-Deploy pod=- checks=0"));
  EXPECT_FALSE(Traced("Deploy assess pods start cluster=c1 ns=ns-Deploy pod=pod-1 checks=0"));
  EXPECT_TRUE(Traced("Deploy teardown cluster=c1 ns=ns-Deploy pod=pod-1 checks=1"));

  // (Broken's first teardown fails on purpose, so the run fails.)
  report = Json({"--suite", "^Lifecycle$", "--skip-assessment", "fatally"}, 1);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Broken/runs_after"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Broken/fails_fatally"), "absent");

  // --run reaches assessments as subtests.
  report = Json({"--suite", "^Lifecycle$", "--run", "Table/reads"}, 0);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Table/reads_logs"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Table/lists_pods"), "absent");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy"), "absent");
}

TEST_F(FeaturesTest, LabelsMatchEveryGivenKeyAndAnyOfItsValues) {
  // Feature labels add to the suite's (team=platform).
  GoReport report = Json({"--labels", "type=apps"}, 0);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Broken"), "absent");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Plain"), "absent");
  EXPECT_EQ(report.FinalOf("Parallel", "Left"), "absent");

  report = Json({"--labels", "type=apps,type=observability,team=platform"}, 0);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Table"), "pass");  // a table row's label
  EXPECT_EQ(report.FinalOf("Lifecycle", "Broken"), "absent");

  report = Json({"--labels", "type=apps,team=other"}, 0);
  EXPECT_EQ(report.Count("pass") + report.Count("fail"), 0);

  report = Json({"--suite", "^Lifecycle$", "--skip-labels", "type=storage,type=observability"}, 0);
  EXPECT_EQ(report.FinalOf("Lifecycle", "Deploy"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Plain"), "pass");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Broken"), "absent");
  EXPECT_EQ(report.FinalOf("Lifecycle", "Table"), "absent");

  ProcessResult bad = Fixture({"run", "--labels", "type"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--labels"), std::string::npos) << bad.err;
}

TEST_F(FeaturesTest, ParallelRunsTheFeaturesOfASuiteAtOnce) {
  // Left and Right each wait for the other: they pass only when they overlap.
  GoReport report = Json({"--suite", "^Parallel$", "--parallel"}, 0);
  EXPECT_EQ(report.FinalOf("Parallel", "Left/meets_right"), "pass");
  EXPECT_EQ(report.FinalOf("Parallel", "Right/meets_left"), "pass");
  std::vector<std::string> trace = Trace();
  EXPECT_EQ(std::count(trace.begin(), trace.end(), "Parallel setup"), 1);
  EXPECT_EQ(trace.back(), "Parallel finish cluster=shared ns=- pod=- checks=0");

  // In-process too (--isolation=none).
  report = Json({"--suite", "^Parallel$", "--parallel", "--isolation", "none"}, 0);
  EXPECT_EQ(report.FinalOf("Parallel", "Left"), "pass");
  EXPECT_EQ(report.FinalOf("Parallel", "Right"), "pass");
}

TEST_F(FeaturesTest, AParallelCrashFailsEveryFeatureInFlightAndNothingElse) {
  // Crashes and Bystander meet, then Crashes aborts the worker under Bystander.
  GoReport report = Json({"--suite", "^ParallelDoomed$", "--run", "Crashes|Bystander", "--parallel"}, 1);
  const GoTest* crashed = report.Find("ParallelDoomed", "Crashes/aborts");
  const GoTest* bystander = report.Find("ParallelDoomed", "Bystander/waits");
  ASSERT_NE(crashed, nullptr);
  ASSERT_NE(bystander, nullptr);
  EXPECT_EQ(crashed->Final(), "fail");
  EXPECT_EQ(bystander->Final(), "fail");
  EXPECT_NE(crashed->output.find("crashed"), std::string::npos) << crashed->output;
  EXPECT_NE(bystander->output.find("crashed"), std::string::npos) << bystander->output;
  EXPECT_EQ(report.FinalOf("ParallelDoomed", "Crashes"), "fail");
  EXPECT_EQ(report.FinalOf("ParallelDoomed", "Bystander"), "fail");
  EXPECT_TRUE(Traced("Crashes aborts"));
}

TEST_F(FeaturesTest, AParallelTimeoutNamesTheTestThatHung) {
  GoReport report = Json({"--suite", "^ParallelDoomed$", "--run", "Hangs|Bystander", "--parallel",
                          "--grace", "200ms"},
                         1);
  const GoTest* hung = report.Find("ParallelDoomed", "Hangs/ignores_its_context");
  const GoTest* bystander = report.Find("ParallelDoomed", "Bystander/waits");
  ASSERT_NE(hung, nullptr);
  ASSERT_NE(bystander, nullptr);
  EXPECT_EQ(hung->Final(), "fail");
  EXPECT_NE(hung->output.find("timed out after 300ms"), std::string::npos) << hung->output;
  EXPECT_EQ(bystander->Final(), "fail");
  EXPECT_NE(bystander->output.find("killed: Hangs timed out in the same worker"), std::string::npos)
      << bystander->output;
}

TEST_F(FeaturesTest, ParallelRefusesFailFast) {
  ProcessResult r = Fixture({"run", "--parallel", "--fail-fast"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--parallel and --fail-fast cannot be used together"), std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(TracePath()));
}

TEST_F(FeaturesTest, BadPatternsAreUsageErrors) {
  for (const char* flag : {"--feature", "--assess", "--skip-features", "--skip-assessment"}) {
    ProcessResult r = Fixture({"run", flag, "(unclosed"});
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(TracePath()));
}

TEST_F(FeaturesTest, ListShowsFeaturesLabelsAndAssessments) {
  ProcessResult r = Fixture({"list", "--suite", "^Lifecycle$", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::json::value v = boost::json::parse(r.out);
  const boost::json::array& details = v.at("suites").at(0).at("test_details").as_array();
  ASSERT_EQ(details.size(), 4u);
  EXPECT_EQ(details[0].at("name").as_string(), "Deploy");
  EXPECT_TRUE(details[0].at("feature").as_bool());
  EXPECT_EQ(details[0].at("labels").at("type").as_string(), "apps");
  EXPECT_EQ(details[0].at("labels").at("team").as_string(), "platform");
  EXPECT_EQ(details[0].at("subtests").as_array().size(), 2u);
  EXPECT_EQ(details[0].at("subtests").at(1).as_string(), "serves_traffic");
  EXPECT_FALSE(details[3].at("feature").as_bool());

  r = Fixture({"list", "--suite", "^Lifecycle$", "--assess", "logs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("  Table  (feature)  [type=observability]\n    reads_logs\n"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("lists_pods"), std::string::npos) << r.out;
}

TEST_F(FeaturesTest, AFeatureWithoutAnEnvironmentRunsInAPlainSuite) {
  GoReport report = Json({"--suite", "^PlainSuite$"}, 0);
  EXPECT_EQ(report.FinalOf("PlainSuite", "Standalone/sees_its_setup"), "pass");
  EXPECT_TRUE(Traced("Standalone cluster=- ns=- pod=solo checks=0"));
}

#ifdef EXAMPLE_SHOP_FEATURES
// The example of docs/writing-tests.md runs and passes, one feature after the other and
// all at once, and --dry-run starts no shop.
TEST(FeaturesExampleTest, ShopFeaturesPass) {
  for (std::vector<std::string> extra : {std::vector<std::string>{}, {"--parallel"}}) {
    std::vector<std::string> argv = {EXAMPLE_SHOP_FEATURES, "run", "--format", "json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ProcessResult r = RunProcess(argv);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    GoReport report = ParseGoJson(r.out);
    ASSERT_TRUE(report.valid) << report.error;
    EXPECT_EQ(report.Count("pass"), 6) << r.out;
    const GoTest* stock = report.Find("ShopFeatures", "Orders/the_stock_went_down");
    ASSERT_NE(stock, nullptr);
    EXPECT_EQ(stock->Final(), "pass");
  }
  ProcessResult dry = RunProcess({EXAMPLE_SHOP_FEATURES, "run", "--dry-run", "-v"});
  EXPECT_EQ(dry.exit_code, 0);
  EXPECT_EQ(dry.out.find("shop stopped"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("SKIP  ShopFeatures/Orders/the_stock_went_down (0ms)\n          dry run"),
            std::string::npos)
      << dry.out;
}
#endif

}  // namespace
}  // namespace handoff::testing
