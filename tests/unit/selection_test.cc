#include "runner/selection.h"

#include <gtest/gtest.h>

namespace handoff {
namespace {

Catalog MakeCatalog() {
  Catalog c;
  auto suite = [](std::string name, std::string ns, std::map<std::string, std::string> labels,
                  std::vector<std::string> tests) {
    Suite s;
    s.name = std::move(name);
    s.namespace_name = std::move(ns);
    s.labels = std::move(labels);
    for (std::string& t : tests) s.tests.push_back(Test{std::move(t), [](T&) {}, {}});
    return s;
  };
  c.suites.push_back(suite("Checkout", "shop", {{"team", "pay"}, {"tier", "smoke"}}, {"Card", "Cash", "Refund"}));
  c.suites.push_back(suite("Search", "shop", {{"team", "find"}}, {"Query", "Empty"}));
  c.suites.push_back(suite("Login", "auth", {{"team", "auth"}, {"tier", "full"}}, {"Password", "Token"}));
  return c;
}

std::vector<std::string> Names(const Catalog& c, SelectionOptions o) {
  std::vector<SelectedSuite> out;
  std::string error;
  EXPECT_TRUE(Select(c, o, &out, &error)) << error;
  std::vector<std::string> names;
  for (const SelectedSuite& s : out) {
    for (const Test* t : s.tests) names.push_back(s.suite->name + "." + t->name);
  }
  return names;
}

TEST(SelectionTest, SuiteRunSkipAndLabels) {
  Catalog c = MakeCatalog();
  using V = std::vector<std::string>;
  EXPECT_EQ(Names(c, {.suite_pattern = "^Se"}), (V{"Search.Query", "Search.Empty"}));
  EXPECT_EQ(Names(c, {.suite_pattern = "^auth/"}), (V{"Login.Password", "Login.Token"}));
  EXPECT_EQ(Names(c, {.run_pattern = "^C"}), (V{"Checkout.Card", "Checkout.Cash"}));
  EXPECT_EQ(Names(c, {.skip_pattern = "a"}), (V{"Checkout.Refund", "Search.Query", "Search.Empty", "Login.Token"}));
  SelectionOptions labels;
  std::string error;
  ASSERT_TRUE(ParseLabels("team=pay,team=auth", &labels.labels, &error));
  EXPECT_EQ(Names(c, labels).size(), 5u);
  ASSERT_TRUE(ParseLabels("tier=full", &labels.labels, &error));
  EXPECT_EQ(Names(c, labels), (V{"Login.Password", "Login.Token"}));
  SelectionOptions skip;
  ASSERT_TRUE(ParseLabels("tier=smoke", &skip.skip_labels, &error));
  EXPECT_EQ(Names(c, skip).size(), 4u);
}

TEST(SelectionTest, ShardsAreDisjointAndComplete) {
  Catalog c = MakeCatalog();
  std::vector<std::string> all;
  for (int i = 0; i < 3; ++i) {
    for (std::string& n : Names(c, {.shard_index = i, .shard_total = 3})) all.push_back(n);
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all.size(), 7u);
  EXPECT_EQ(std::unique(all.begin(), all.end()), all.end());
}

TEST(SelectionTest, BadInputNamesTheFlag) {
  Catalog c = MakeCatalog();
  std::vector<SelectedSuite> out;
  std::string error;
  EXPECT_FALSE(Select(c, {.suite_pattern = "("}, &out, &error));
  EXPECT_NE(error.find("--suite"), std::string::npos);
  EXPECT_FALSE(Select(c, {.run_pattern = "a/["}, &out, &error));
  EXPECT_NE(error.find("--run"), std::string::npos);
  LabelSet labels;
  EXPECT_FALSE(ParseLabels("novalue", &labels, &error));
  EXPECT_FALSE(ParseLabels("a=b,,c=d", &labels, &error));
  EXPECT_FALSE(ParseLabels("=v", &labels, &error));
}

}  // namespace
}  // namespace handoff

namespace handoff {
namespace {

// A suite with a plain test and two features, each with labels of its own.
Catalog MakeFeatureCatalog() {
  Catalog c;
  Suite s;
  s.name = "Cluster";
  s.labels = {{"team", "platform"}, {"env", "staging"}};
  s.tests.push_back(Test{.name = "Plain", .fn = [](T&) {}});
  s.tests.push_back(Test{.name = "Deploy",
                         .fn = [](T&) {},
                         .labels = {{"type", "apps"}, {"env", "prod"}},
                         .subtests = {"creates_pods", "serves_traffic", "scales_up"},
                         .feature = true});
  s.tests.push_back(Test{.name = "Backup",
                         .fn = [](T&) {},
                         .labels = {{"type", "storage"}},
                         .subtests = {"writes_snapshot"},
                         .feature = true});
  c.suites.push_back(std::move(s));
  return c;
}

TEST(SelectionTest, TestLabelsOverrideAndExtendTheSuites) {
  Catalog c = MakeFeatureCatalog();
  using V = std::vector<std::string>;
  auto with = [](const char* labels, const char* skip) {
    SelectionOptions o;
    std::string error;
    EXPECT_TRUE(ParseLabels(labels, &o.labels, &error)) << error;
    EXPECT_TRUE(ParseLabels(skip, &o.skip_labels, &error)) << error;
    return o;
  };
  // A suite label applies to every test; a test's own label replaces the suite's value.
  EXPECT_EQ(Names(c, with("team=platform", "")), (V{"Cluster.Plain", "Cluster.Deploy", "Cluster.Backup"}));
  EXPECT_EQ(Names(c, with("env=staging", "")), (V{"Cluster.Plain", "Cluster.Backup"}));
  EXPECT_EQ(Names(c, with("env=prod", "")), (V{"Cluster.Deploy"}));
  // Every given key must match; one key may list several values.
  EXPECT_EQ(Names(c, with("type=apps,type=storage", "")), (V{"Cluster.Deploy", "Cluster.Backup"}));
  EXPECT_EQ(Names(c, with("type=apps,type=storage,env=staging", "")), (V{"Cluster.Backup"}));
  EXPECT_EQ(Names(c, with("type=nope", "")), V{});
  // Any matching pair skips.
  EXPECT_EQ(Names(c, with("", "type=storage,env=prod")), (V{"Cluster.Plain"}));
}

TEST(SelectionTest, LabelsMayBeWrittenWithSpacesAsInE2eFramework) {
  LabelSet labels;
  std::string error;
  ASSERT_TRUE(ParseLabels("k0=v0, k0=v01, k1 = v1 ", &labels, &error)) << error;
  EXPECT_EQ(labels, (LabelSet{{"k0", {"v0", "v01"}}, {"k1", {"v1"}}}));
  LabelSet none;
  EXPECT_TRUE(ParseLabels("  ", &none, &error));
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(ParseLabels("k0=v0, ,k1=v1", &none, &error));
  EXPECT_FALSE(ParseLabels(" =v", &none, &error));
  EXPECT_NE(error.find("not of the form key=value"), std::string::npos) << error;
}

TEST(SelectionTest, FeatureFlagsApplyOnlyToFeatures) {
  Catalog c = MakeFeatureCatalog();
  using V = std::vector<std::string>;
  EXPECT_EQ(Names(c, {.feature_pattern = "^Dep"}), (V{"Cluster.Plain", "Cluster.Deploy"}));
  EXPECT_EQ(Names(c, {.skip_feature_pattern = "Dep"}), (V{"Cluster.Plain", "Cluster.Backup"}));
  // A feature none of whose listed assessments is kept has nothing to run.
  EXPECT_EQ(Names(c, {.assess_pattern = "traffic"}), (V{"Cluster.Plain", "Cluster.Deploy"}));
  EXPECT_EQ(Names(c, {.skip_assess_pattern = "snapshot"}), (V{"Cluster.Plain", "Cluster.Deploy"}));

  const handoff::Test& deploy = c.suites[0].tests[1];
  EXPECT_EQ(SubtestSelector({.assess_pattern = "s_"}).Of(deploy), (V{"creates_pods", "serves_traffic", "scales_up"}));
  EXPECT_EQ(SubtestSelector({.skip_assess_pattern = "^s"}).Of(deploy), (V{"creates_pods"}));
  // The description as written (spaces) matches too.
  EXPECT_EQ(SubtestSelector({.assess_pattern = "serves traffic"}).Of(deploy), (V{"serves_traffic"}));
  // --run and --skip reach listed subtests of every test.
  EXPECT_EQ(SubtestSelector({.run_pattern = "Deploy/creates"}).Of(deploy), (V{"creates_pods"}));
  EXPECT_EQ(SubtestSelector({.skip_pattern = "Deploy/creates"}).Of(deploy), (V{"serves_traffic", "scales_up"}));
  EXPECT_TRUE(AssessmentFilter("", "").Selects("a b"));
  EXPECT_FALSE(AssessmentFilter("x", "").Selects("a_b"));
  EXPECT_NE(AssessmentFilter("", "(").error().find("--skip-assessment"), std::string::npos);

  std::vector<SelectedSuite> out;
  std::string error;
  EXPECT_FALSE(Select(c, {.assess_pattern = "("}, &out, &error));
  EXPECT_NE(error.find("--assess"), std::string::npos) << error;
  EXPECT_FALSE(Select(c, {.feature_pattern = "["}, &out, &error));
  EXPECT_NE(error.find("--feature"), std::string::npos) << error;
}

}  // namespace
}  // namespace handoff
