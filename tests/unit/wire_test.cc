#include "event/wire.h"

#include <gtest/gtest.h>

#include <cstring>

namespace handoff {
namespace {

Event Sample() {
  Event e;
  e.kind = EventKind::kSpanEnded;
  e.time_ns = 1'700'000'000'123'456'789;
  e.suite = "Suite";
  e.test = "Test/Sub with\nnewline";
  e.attempt = 2;
  e.status = Status::kSkipped;
  e.elapsed_ns = 42;
  e.text = std::string("bytes\0and\xff", 10);
  e.key = "k";
  e.file = "file.cc";
  e.line = 17;
  e.soft = true;
  e.flaky = true;
  e.span_id = 9;
  e.attributes = {{"a", "1"}, {"b", ""}};
  e.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  e.trace_span = 0xfedcba9876543210ULL;  // the high bit survives the signed encoding
  e.parent_span = 0x00f067aa0ba902b7ULL;
  return e;
}

TEST(WireTest, EventRoundTrips) {
  std::string buf;
  wire::AppendEvent(buf, Sample());
  wire::FrameReader frames;
  frames.Feed(buf);
  auto payload = frames.Next();
  ASSERT_TRUE(payload);
  std::optional<Event> e = wire::DecodeEvent(*payload);
  ASSERT_TRUE(e);
  Event want = Sample();
  EXPECT_EQ(e->kind, want.kind);
  EXPECT_EQ(e->time_ns, want.time_ns);
  EXPECT_EQ(e->test, want.test);
  EXPECT_EQ(e->text, want.text);
  EXPECT_EQ(e->attempt, 2);
  EXPECT_EQ(e->status, Status::kSkipped);
  EXPECT_EQ(e->line, 17);
  EXPECT_TRUE(e->soft);
  EXPECT_TRUE(e->flaky);
  EXPECT_EQ(e->attributes, want.attributes);
  EXPECT_EQ(e->trace_id, want.trace_id);
  EXPECT_EQ(e->trace_span, want.trace_span);
  EXPECT_EQ(e->parent_span, want.parent_span);
  EXPECT_FALSE(frames.Next());
}

TEST(WireTest, FramesArriveInPieces) {
  std::string buf;
  for (int i = 0; i < 3; ++i) wire::AppendEvent(buf, Sample());
  wire::FrameReader frames;
  int decoded = 0;
  for (char c : buf) {
    frames.Feed(std::string_view(&c, 1));
    while (auto p = frames.Next()) decoded += wire::DecodeEvent(*p).has_value();
  }
  EXPECT_EQ(decoded, 3);
  EXPECT_EQ(frames.pending(), 0u);
}

TEST(WireTest, RejectsTruncatedAndOversizedInput) {
  std::string buf;
  wire::AppendEvent(buf, Sample());
  std::string payload = buf.substr(4);
  EXPECT_FALSE(wire::DecodeEvent(payload.substr(0, payload.size() - 1)));
  EXPECT_FALSE(wire::DecodeEvent(payload + "x"));
  std::string bad_kind = payload;
  bad_kind[0] = static_cast<char>(200);
  EXPECT_FALSE(wire::DecodeEvent(bad_kind));

  wire::FrameReader frames;
  frames.Feed(std::string("\xff\xff\xff\x7f", 4));
  EXPECT_FALSE(frames.Next());
  EXPECT_TRUE(frames.corrupt());
}

TEST(WireTest, PlanRoundTrips) {
  wire::WorkerPlan plan;
  plan.suite = "S";
  plan.tests = {{"A", 1, 100}, {"B", 3, 0}};
  plan.max_attempts = 3;
  plan.hook_timeout_ms = 5000;
  plan.run_pattern = "A/x";
  plan.skip_pattern = "B";
  plan.fail_fast = true;
  plan.parallel = true;
  plan.assess_pattern = "creates";
  plan.skip_assess_pattern = "slow";
  plan.params = {{"k", "v"}};
  plan.gtest = true;
  plan.gtest_run_disabled = true;
  plan.gtest_filter = "S.A/*-S.A/slow";
  std::string buf = wire::EncodePlan(plan);
  std::optional<wire::WorkerPlan> got = wire::DecodePlan(std::string_view(buf).substr(4));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->suite, "S");
  ASSERT_EQ(got->tests.size(), 2u);
  EXPECT_EQ(got->tests[1].name, "B");
  EXPECT_EQ(got->tests[1].first_attempt, 3);
  EXPECT_EQ(got->tests[0].timeout_ms, 100);
  EXPECT_EQ(got->hook_timeout_ms, 5000);
  EXPECT_EQ(got->run_pattern, "A/x");
  EXPECT_TRUE(got->fail_fast);
  EXPECT_FALSE(got->run_teardown_only);
  EXPECT_TRUE(got->parallel);
  EXPECT_EQ(got->assess_pattern, "creates");
  EXPECT_EQ(got->skip_assess_pattern, "slow");
  ASSERT_EQ(got->params.size(), 1u);
  EXPECT_EQ(got->params[0].second, "v");
  EXPECT_TRUE(got->gtest);
  EXPECT_TRUE(got->gtest_run_disabled);
  EXPECT_EQ(got->gtest_filter, "S.A/*-S.A/slow");

  // A worker started again for what a dead one left: the plan's settings, other tests.
  const std::vector<wire::PlannedTest> left = {{"B", 2, 0}};
  buf = wire::EncodePlan(plan, left, /*run_teardown_only=*/true);
  got = wire::DecodePlan(std::string_view(buf).substr(4));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->tests.size(), 1u);
  EXPECT_EQ(got->tests[0].name, "B");
  EXPECT_EQ(got->tests[0].first_attempt, 2);
  EXPECT_TRUE(got->run_teardown_only);
  EXPECT_EQ(got->gtest_filter, "S.A/*-S.A/slow");
  EXPECT_EQ(plan.tests.size(), 2u);
}

TEST(WireTest, APlanClaimingMoreTestsThanItHoldsIsMalformedWithoutReservingForThem) {
  wire::WorkerPlan plan;
  plan.suite = "S";
  std::string buf = wire::EncodePlan(plan);
  std::string payload = buf.substr(4);
  // The test count follows the suite name (4 + 1 bytes): claim four billion.
  const std::uint32_t many = 0xffffffffu;
  std::memcpy(payload.data() + 5, &many, 4);
  EXPECT_FALSE(wire::DecodePlan(payload));
}

}  // namespace
}  // namespace handoff
