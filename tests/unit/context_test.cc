#include "handoff/context.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace handoff {
namespace {

const ContextKey<std::string> kName{"name"};
const ContextKey<int> kCount{"count"};
const ContextKey<std::string> kOther{"other"};  // same type as kName, another key

TEST(ContextTest, WithValueReturnsANewContextAndLeavesTheOldOne) {
  Context empty;
  Context a = empty.WithValue(kName, "a");
  Context b = a.WithValue(kName, std::string("b")).WithValue(kCount, 2);
  EXPECT_EQ(empty.Value(kName), nullptr);
  ASSERT_NE(a.Value(kName), nullptr);
  EXPECT_EQ(*a.Value(kName), "a");
  EXPECT_EQ(a.Value(kCount), nullptr);
  EXPECT_EQ(*b.Value(kName), "b");  // the later value shadows the earlier
  EXPECT_EQ(*b.Value(kCount), 2);
  // Keys compare by identity, not by type or name.
  EXPECT_EQ(b.Value(kOther), nullptr);
  EXPECT_EQ(b.ValueOr(kOther, std::string("fallback")), "fallback");
  EXPECT_EQ(b.ValueOr(kCount, 0), 2);
}

TEST(ContextTest, WithCancellationKeepsTheValuesAndTakesTheToken) {
  std::stop_source stop;
  const auto deadline = Context::Clock::now() + std::chrono::hours(1);
  Context test(stop.get_token(), deadline);
  Context values = Context().WithValue(kCount, 7);
  Context both = values.WithCancellation(test);
  EXPECT_EQ(*both.Value(kCount), 7);
  EXPECT_EQ(both.Deadline(), deadline);
  EXPECT_FALSE(both.StopRequested());
  stop.request_stop();
  EXPECT_TRUE(both.StopRequested());
  EXPECT_FALSE(values.StopRequested());
}

TEST(ContextTest, ValuesAreSharedSafelyBetweenThreads) {
  Context base = Context().WithValue(kName, "shared");
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      Context mine = base.WithValue(kCount, i);
      for (int j = 0; j < 1000; ++j) mine = mine.WithValue(kCount, i);
      ok[i] = *mine.Value(kCount) == i && *mine.Value(kName) == "shared";
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(ok[i]) << i;
  EXPECT_EQ(base.Value(kCount), nullptr);
}

// A value that is not copyable still travels (it is stored once, shared).
TEST(ContextTest, HoldsMoveOnlyValues) {
  const ContextKey<std::unique_ptr<int>> kBox{"box"};
  Context c = Context().WithValue(kBox, std::make_unique<int>(5));
  Context copy = c;
  ASSERT_NE(copy.Value(kBox), nullptr);
  EXPECT_EQ(**copy.Value(kBox), 5);
}

}  // namespace
}  // namespace handoff
