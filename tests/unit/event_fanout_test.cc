#include "http/event_fanout.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "serve_fakes.h"

namespace handoff::http {
namespace {

store::RunEvent TestEvent(std::int64_t seq) {
  return {seq, "test", R"({"name":"Card","status":"running"})"};
}

TEST(SseBatchTest, RendersEachEventAndSlicesAfterASeq) {
  const auto batch = RenderSseBatch(
      {TestEvent(3), {4, "test", "line one\nline two"}, {5, "run", R"({"status":"passed"})"},
       TestEvent(6)});
  const std::string first = "id: 3\nevent: test\ndata: {\"name\":\"Card\",\"status\":\"running\"}\n\n";
  const std::string second = "id: 4\nevent: test\ndata: line one\ndata: line two\n\n";
  const std::string third = "id: 5\nevent: run\ndata: {\"status\":\"passed\"}\n\n";
  EXPECT_EQ(batch->text.substr(0, first.size() + second.size() + third.size()),
            first + second + third);
  EXPECT_EQ(batch->finish_index, 2);

  // Everything up to the run's end, which stops the stream.
  SseBatch::Slice all = batch->After(0);
  EXPECT_EQ(batch->text.substr(all.begin, all.end - all.begin), first + second + third);
  EXPECT_EQ(all.last_seq, 5);
  EXPECT_TRUE(all.finishes);
  // What a subscriber that already sent event 3 still needs.
  SseBatch::Slice rest = batch->After(3);
  EXPECT_EQ(batch->text.substr(rest.begin, rest.end - rest.begin), second + third);
  EXPECT_TRUE(batch->After(5).empty());
  EXPECT_TRUE(batch->After(9).empty());
}

TEST(EventFanoutTest, OneEngineSubscriptionAndOneRenderedBufferForAllFollowersOfARun) {
  testing::FakeStore store;
  testing::FakeApi api(store);
  EventFanout fanout(api);
  std::vector<std::shared_ptr<const SseBatch>> a, b;
  auto first = fanout.Subscribe(7, [&](const auto& batch) { a.push_back(batch); });
  auto second = fanout.Subscribe(7, [&](const auto& batch) { b.push_back(batch); });
  EXPECT_EQ(api.Subscribers(7), 1);
  EXPECT_EQ(fanout.runs(), 1u);

  api.Publish(7, {TestEvent(1), TestEvent(2)});
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].get(), b[0].get()) << "every follower writes from the same buffer";
  EXPECT_EQ(a[0]->seqs, (std::vector<std::int64_t>{1, 2}));

  first.reset();
  api.Publish(7, {TestEvent(3)});
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(b.size(), 2u);
  second.reset();
  EXPECT_EQ(api.Subscribers(7), 0) << "the last follower gone, the engine is unsubscribed";
  EXPECT_EQ(fanout.runs(), 0u);
}

}  // namespace
}  // namespace handoff::http
