#include "engine/selection.h"

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
