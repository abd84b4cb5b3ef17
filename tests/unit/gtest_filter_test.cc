#include "googletest/gtest_filter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace handoff {
namespace {

std::shared_ptr<const GTestFilter> Must(std::string_view filter, bool run_disabled = false) {
  auto parsed = GTestFilter::Parse(filter, run_disabled);
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? *parsed : nullptr;
}

TEST(GTestNameTest, JoinsSuiteAndTestWithADot) {
  EXPECT_EQ(GTestName("Math", "Adds"), "Math.Adds");
  EXPECT_EQ(GTestName("KvStore", "memory/PutThenGet"), "KvStore.memory/PutThenGet");
  EXPECT_EQ(GTestName("Api", "Get/v1.2"), "Api.Get/v1.2");
}

TEST(GTestNameTest, EscapesWhatTheFilterSyntaxWouldRead) {
  EXPECT_EQ(GTestName("Api", "Get/v1-beta"), "Api.Get/v1%2Dbeta");
  EXPECT_EQ(GTestName("a.b/c", "x:y*z?%"), "a%2Eb%2Fc.x%3Ay%2Az%3F%25");
  EXPECT_EQ(GTestName("S", "with space\t"), "S.with%20space%09");
}

TEST(GTestNameTest, EveryNameRoundTrips) {
  const std::vector<std::pair<std::string, std::string>> names = {
      {"Math", "Adds"},          {"a.b/c", "x:y*z?%"},      {"S", "T/sub-1/deeper"},
      {"", ""},                  {"S", "-"},                {"S%41", "%41"},
      {"DISABLED_S", "a b.c/d"}, {std::string("\x01\x7F", 2), "\xC3\xA9"},
  };
  for (const auto& [suite, test] : names) {
    const std::string gtest = GTestName(suite, test);
    auto back = ParseGTestName(gtest);
    ASSERT_TRUE(back.has_value()) << gtest;
    EXPECT_EQ(back->first, suite) << gtest;
    EXPECT_EQ(back->second, test) << gtest;
    // And the name, given back as a filter, selects that test and no sibling.
    EXPECT_TRUE(Must(gtest, true)->Selects(suite, test)) << gtest;
    EXPECT_FALSE(Must(gtest, true)->Selects(suite, test + "x")) << gtest;
    EXPECT_FALSE(Must(gtest, true)->Selects(suite + "x", test)) << gtest;
  }
}

TEST(GTestNameTest, ParseRefusesNamesGTestNameDoesNotWrite) {
  EXPECT_FALSE(ParseGTestName("NoDot").has_value());
  EXPECT_FALSE(ParseGTestName("S.a-b").has_value());   // '-' is always escaped
  EXPECT_FALSE(ParseGTestName("S.%4").has_value());    // short escape
  EXPECT_FALSE(ParseGTestName("S.%41").has_value());   // 'A' is never escaped
  EXPECT_FALSE(ParseGTestName("S.%2d").has_value());   // lower-case hex
  EXPECT_FALSE(ParseGTestName("S/x.T").has_value());   // '/' in a suite is escaped
}

TEST(GTestPatternTest, MatchesLikeGoogleTest) {
  EXPECT_TRUE(GTestPatternMatches("*", ""));
  EXPECT_TRUE(GTestPatternMatches("Math.*", "Math.Adds"));
  EXPECT_TRUE(GTestPatternMatches("M?th.A*s", "Math.Adds"));
  EXPECT_FALSE(GTestPatternMatches("Math", "Math.Adds"));  // whole names only
  EXPECT_FALSE(GTestPatternMatches("?", ""));
  EXPECT_TRUE(GTestPatternMatches("*a*a*a*b", "aaaaaaaaaaaaaaaaaab"));
  EXPECT_FALSE(GTestPatternMatches("*a*a*a*b", std::string(5000, 'a')));
}

TEST(GTestPatternTest, SelectsBelowWhenALevelBeforeASlashMatches) {
  EXPECT_TRUE(GTestPatternSelectsBelow("S.T/A", "S.T"));
  EXPECT_TRUE(GTestPatternSelectsBelow("S.*/A", "S.T"));
  EXPECT_TRUE(GTestPatternSelectsBelow("S.T/*/B", "S.T/x"));
  EXPECT_FALSE(GTestPatternSelectsBelow("S.*/A", "S.T/x"));  // '*' stays in its level
  EXPECT_FALSE(GTestPatternSelectsBelow("S.*x", "S.T"));     // no '/': no level below
  EXPECT_FALSE(GTestPatternSelectsBelow("S.T", "S.T"));
  EXPECT_FALSE(GTestPatternSelectsBelow("S.U/A", "S.T"));
}

TEST(GTestFilterTest, PositiveAndNegativePatterns) {
  auto f = Must("Math.*:Io.Read-*Fails:Math.Slow");
  EXPECT_TRUE(f->Matches("Math.Adds"));
  EXPECT_TRUE(f->Matches("Io.Read"));
  EXPECT_FALSE(f->Matches("Io.Write"));
  EXPECT_FALSE(f->Matches("Math.Fails"));
  EXPECT_FALSE(f->Matches("Math.Slow"));
  // Only a negative part: everything else.
  auto g = Must("-Math.Fails");
  EXPECT_TRUE(g->Matches("Io.Write"));
  EXPECT_FALSE(g->Matches("Math.Fails"));
  // A second '-' belongs to the negative part, as in GoogleTest.
  auto h = Must("-A.*-B");
  EXPECT_TRUE(h->Matches("A.x"));
  EXPECT_FALSE(h->Matches("A.x-B"));
  EXPECT_TRUE(Must("")->Matches("Any.Thing"));
}

TEST(GTestFilterTest, ASubtestRunsInsideItsSelectedParent) {
  auto f = Must("KvStore.memory/PutThenGet");
  EXPECT_TRUE(f->Selects("KvStore", "memory"));  // the parent runs ...
  EXPECT_TRUE(f->Selects("KvStore", "memory/PutThenGet"));
  EXPECT_FALSE(f->Selects("KvStore", "memory/Delete"));  // ... with that subtest only
  EXPECT_FALSE(f->Selects("KvStore", "files"));
  // Selecting a test selects its subtests.
  auto all = Must("KvStore.memory");
  EXPECT_TRUE(all->Selects("KvStore", "memory/Delete"));
  EXPECT_TRUE(all->Selects("KvStore", "memory/Delete/deeper"));
  // A pattern over subtests runs every parent that could have one.
  auto glob = Must("KvStore.*/Put*");
  EXPECT_TRUE(glob->Selects("KvStore", "files"));
  EXPECT_TRUE(glob->Selects("KvStore", "files/PutThenGet"));
  EXPECT_FALSE(glob->Selects("KvStore", "files/Delete"));
}

TEST(GTestFilterTest, ANegativePatternLeavesOutTheTestAndItsSubtests) {
  auto f = Must("-KvStore.memory");
  EXPECT_FALSE(f->Selects("KvStore", "memory"));
  EXPECT_FALSE(f->Selects("KvStore", "memory/PutThenGet"));
  EXPECT_TRUE(f->Selects("KvStore", "files/PutThenGet"));
  auto sub = Must("-KvStore.memory/Delete");
  EXPECT_TRUE(sub->Selects("KvStore", "memory"));
  EXPECT_FALSE(sub->Selects("KvStore", "memory/Delete"));
}

TEST(GTestFilterTest, DisabledTestsRunOnlyWhenAsked) {
  auto f = Must("*");
  EXPECT_FALSE(f->Selects("Math", "DISABLED_Later"));
  EXPECT_FALSE(f->Selects("DISABLED_Math", "Adds"));
  EXPECT_FALSE(f->Selects("KvStore", "memory/DISABLED_Put"));
  EXPECT_TRUE(f->Selects("Math", "NOT_DISABLED_x"));
  EXPECT_TRUE(Must("*", true)->Selects("Math", "DISABLED_Later"));
}

TEST(GTestFilterTest, RefusesOversizedOrNulInput) {
  EXPECT_FALSE(GTestFilter::Parse(std::string(GTestFilter::kMaxLength + 1, '*')).ok());
  EXPECT_FALSE(GTestFilter::Parse(std::string("a\0b", 3)).ok());
}

}  // namespace
}  // namespace handoff
