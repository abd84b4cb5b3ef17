#include "runner/registry.h"

#include <gtest/gtest.h>

#include "handoff/handoff.h"

// Macro-registered suites in this test binary: options applied, declaration order kept.
HANDOFF_SUITE(RegistryMacroSuite) {
  suite.namespace_name = "ns";
  suite.max_attempts = 2;
  suite.labels = {{"k", "v"}};
}
HANDOFF_TEST(RegistryMacroSuite, Second) {}
HANDOFF_TEST(RegistryMacroSuite, First) {}

namespace handoff {
namespace {

Suite Make(std::string name, std::vector<std::string> tests) {
  Suite s;
  s.name = std::move(name);
  for (std::string& t : tests) s.tests.push_back(Test{std::move(t), [](T&) {}, {}});
  return s;
}

TEST(RegistryTest, MacroSuitesGetTheirOptionsAndKeepOrder) {
  Catalog c = BuildCatalog({});
  ASSERT_TRUE(c.errors.empty());
  const Suite* s = c.Find("RegistryMacroSuite");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->namespace_name, "ns");
  EXPECT_EQ(s->max_attempts, 2);
  EXPECT_EQ(s->labels.at("k"), "v");
  ASSERT_EQ(s->tests.size(), 2u);
  EXPECT_EQ(s->tests[0].name, "Second");
  EXPECT_EQ(s->tests[1].name, "First");
}

TEST(RegistryTest, MainOptionSuitesAreAdded) {
  Catalog c = BuildCatalog({Make("Extra", {"A"})});
  EXPECT_TRUE(c.errors.empty());
  EXPECT_NE(c.Find("Extra"), nullptr);
}

TEST(RegistryTest, EveryProblemIsReported) {
  Suite no_fn = Make("NoFn", {"A"});
  no_fn.tests[0].fn = nullptr;
  Suite bad_attempts = Make("Attempts", {"A"});
  bad_attempts.max_attempts = 0;
  Suite bad_secret = Make("Secret", {"A"});
  bad_secret.secret_params = {"TOKEN", ""};
  Catalog c = BuildCatalog({Make("", {"A"}), Make("Empty", {}), Make("Dup", {"A"}),
                            Make("Dup", {"B"}), Make("Twice", {"A", "A"}),
                            Make("Slash", {"a/b"}), no_fn, bad_attempts, bad_secret,
                            Make("RegistryMacroSuite", {"X"})});
  std::string all;
  for (const std::string& e : c.errors) all += e + "\n";
  for (const char* want : {"empty name", "\"Empty\" has no tests", "duplicate suite name \"Dup\"",
                           "duplicate test name \"A\"", "contains '/'", "has no function",
                           "max_attempts must be at least 1",
                           "suite \"Secret\": secret_params has an empty name",
                           "duplicate suite name \"RegistryMacroSuite\""}) {
    EXPECT_NE(all.find(want), std::string::npos) << want << " missing from:\n" << all;
  }
  EXPECT_EQ(c.errors.size(), 9u) << all;
}

}  // namespace
}  // namespace handoff
