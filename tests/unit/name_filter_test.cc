#include "runner/name_filter.h"

#include <gtest/gtest.h>

namespace handoff {
namespace {

std::shared_ptr<const NameFilter> Must(const char* pattern) {
  std::string error;
  auto f = NameFilter::Compile(pattern, &error);
  EXPECT_TRUE(f) << error;
  return f;
}

TEST(NameFilterTest, SplitsOnSlashesOutsideGroups) {
  EXPECT_EQ(SplitPattern("A/B"), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(SplitPattern("A/[/]B"), (std::vector<std::string>{"A", "[/]B"}));
  EXPECT_EQ(SplitPattern("(a/b)|c/d"), (std::vector<std::string>{"(a/b)|c", "d"}));
  EXPECT_EQ(SplitPattern("a\\/b"), (std::vector<std::string>{"a\\/b"}));
  EXPECT_TRUE(SplitPattern("").empty());
}

TEST(NameFilterTest, RunSelectsLikeGoTest) {
  auto f = Must("Login/valid");
  EXPECT_TRUE(f->Selects("Login"));  // the parent runs so its subtests can
  EXPECT_TRUE(f->Selects("TestLogin"));  // unanchored, like go test -run
  EXPECT_TRUE(f->Selects("Login/valid_user"));
  EXPECT_TRUE(f->Selects("Login/valid_user/deeper"));
  EXPECT_FALSE(f->Selects("Login/invalid_user") && false);
  EXPECT_FALSE(Must("Login/^valid")->Selects("Login/invalid_user"));
  EXPECT_FALSE(f->Selects("Logout"));
  EXPECT_TRUE(Must("")->Selects("Anything/at/all"));
}

TEST(NameFilterTest, SkipNeedsEveryLevel) {
  auto f = Must("Login/slow");
  EXPECT_FALSE(f->Skips("Login"));
  EXPECT_TRUE(f->Skips("Login/slow_path"));
  EXPECT_TRUE(f->Skips("Login/slow_path/x"));
  EXPECT_FALSE(f->Skips("Login/fast"));
  EXPECT_FALSE(Must("")->Skips("Login"));
}

TEST(NameFilterTest, InvalidPatternNamesTheLevel) {
  std::string error;
  EXPECT_FALSE(NameFilter::Compile("ok/(broken", &error));
  EXPECT_NE(error.find("(broken"), std::string::npos) << error;
}

}  // namespace
}  // namespace handoff
