// Hold on failure (issue 21): the runner holds the first failing test before its cleanups
// until it is released, cancelled or its max hold passes; the hold's events travel the
// worker pipe; serve turns them into the run's hold and stores it.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/run_hold.h"
#include "event/hold.h"
#include "event/wire.h"
#include "handoff/handoff.h"
#include "runner/live_runnables.h"
#include "runner/runner.h"
#include "store/run_json.h"
#include "store/value_encoding.h"

namespace handoff {
namespace {

using namespace std::chrono_literals;

Hold SampleHold() {
  Hold hold;
  hold.pid = 4242;
  hold.temp_dirs = {"/tmp/handoff-Test-abc", "/tmp/handoff-Test_Sub-def"};
  hold.runnables = {
      HeldRunnable{"web", "/tmp/env/web", "", 777, {{"http", "127.0.0.1:4000"}, {"admin", "127.0.0.1:4001"}}},
      HeldRunnable{"db", "/tmp/env/db", "0123456789abcdef", 0, {}}};
  hold.max_hold_ns = 30LL * 60 * 1'000'000'000;
  return hold;
}

TEST(HoldEventTest, HoldRoundTripsThroughAnEventAndTheWire) {
  Event held;
  held.kind = EventKind::kHeld;
  held.suite = "S";
  held.test = "Test/Sub";
  held.attempt = 2;
  PutHold(SampleHold(), held);
  std::string buf;
  wire::AppendEvent(buf, held);
  wire::FrameReader frames;
  frames.Feed(buf);
  auto payload = frames.Next();
  ASSERT_TRUE(payload);
  std::optional<Event> decoded = wire::DecodeEvent(*payload);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->kind, EventKind::kHeld);
  EXPECT_EQ(GetHold(*decoded), SampleHold());
  EXPECT_STREQ(EventKindName(EventKind::kHeld), "held");
  EXPECT_STREQ(EventKindName(EventKind::kReleased), "released");
}

TEST(HoldEventTest, AHoldWithNothingOpenSaysSo) {
  Event held;
  held.kind = EventKind::kHeld;
  Hold empty;
  empty.pid = 1;
  PutHold(empty, held);
  const Hold back = GetHold(held);
  EXPECT_EQ(back.pid, 1);
  EXPECT_TRUE(back.temp_dirs.empty());
  EXPECT_TRUE(back.runnables.empty());
}

TEST(HoldEventTest, EndNamesRoundTrip) {
  for (HoldEnd end :
       {HoldEnd::kReleased, HoldEnd::kTimedOut, HoldEnd::kCancelled, HoldEnd::kWorkerGone}) {
    HoldEnd back = HoldEnd::kReleased;
    ASSERT_TRUE(ParseHoldEnd(HoldEndName(end), &back)) << HoldEndName(end);
    EXPECT_EQ(back, end);
  }
  HoldEnd ignored;
  EXPECT_FALSE(ParseHoldEnd("later", &ignored));
}

TEST(HoldEventTest, PlanCarriesHoldOnFailureAndMaxHold) {
  wire::WorkerPlan plan;
  plan.suite = "S";
  plan.hold_on_failure = true;
  plan.max_hold_ms = 90'000;
  plan.gtest_run_disabled = true;
  wire::FrameReader frames;
  frames.Feed(wire::EncodePlan(plan));
  auto payload = frames.Next();
  ASSERT_TRUE(payload);
  std::optional<wire::WorkerPlan> back = wire::DecodePlan(*payload);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->hold_on_failure);
  EXPECT_EQ(back->max_hold_ms, 90'000);
  EXPECT_TRUE(back->gtest_run_disabled);

  plan.hold_on_failure = false;
  frames.Feed(wire::EncodePlan(plan));
  back = wire::DecodePlan(*frames.Next());
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->hold_on_failure);
}

// --- The runner -----------------------------------------------------------------------------

// Records the events of a run; calls `on_held` (on the test's thread) when a test is held.
class Recorder : public EventSink {
 public:
  std::function<void()> on_held;

  void OnEvent(const Event& e) override {
    {
      std::lock_guard lock(mu_);
      events_.push_back(e);
    }
    if (e.kind == EventKind::kHeld && on_held) on_held();
  }

  std::vector<Event> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

  // "kind:test[:text]" of each event of a test (not output), in order.
  std::vector<std::string> Trace() {
    std::vector<std::string> out;
    for (const Event& e : events()) {
      if (e.test.empty() || e.kind == EventKind::kOutput) continue;
      std::string line = std::string(EventKindName(e.kind)) + ":" + e.test;
      if (e.kind == EventKind::kReleased || e.kind == EventKind::kLog) line += ":" + e.text;
      if (e.kind == EventKind::kTestFinished) line += std::string(":") + StatusName(e.status);
      out.push_back(line);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<Event> events_;
};

wire::WorkerPlan HoldPlan(const Suite& suite, std::chrono::milliseconds max_hold,
                          std::int64_t timeout_ms = 0) {
  wire::WorkerPlan plan;
  plan.suite = suite.name;
  for (const handoff::Test& t : suite.tests) plan.tests.push_back({t.name, 1, timeout_ms});
  plan.hold_on_failure = true;
  plan.max_hold_ms = max_hold.count();
  return plan;
}

// Runs `plan` in this process; `with_runner` is called with the runner before it runs.
void RunPlan(const Suite& suite, const wire::WorkerPlan& plan, Recorder& sink,
             const std::function<void(SuiteRunner&)>& with_runner = {}) {
  SuiteRunner runner(suite, plan, sink, nullptr);
  ASSERT_EQ(runner.Prepare(), "");
  if (with_runner) with_runner(runner);
  runner.Run();
}

Suite FailingSuite(std::filesystem::path* temp_dir) {
  Suite suite;
  suite.name = "Holds";
  suite.tests.push_back(handoff::Test{"Fails", [temp_dir](T& t) {
                               *temp_dir = t.TempDir();
                               t.Cleanup([&t] { t.Log("cleanup ran"); });
                               t.Fatal("broken");
                             }});
  suite.tests.push_back(handoff::Test{"FailsToo", [](T& t) {
                               t.Cleanup([&t] { t.Log("second cleanup ran"); });
                               t.Error("also broken");
                             }});
  return suite;
}

TEST(RunnerHoldTest, AReleaseLetsTheCleanupsRunAfterTheHoldAndHoldsOnlyOnce) {
  std::filesystem::path temp_dir;
  const Suite suite = FailingSuite(&temp_dir);
  Recorder sink;
  bool dir_existed_while_held = false;
  RunPlan(suite, HoldPlan(suite, 1h), sink, [&](SuiteRunner& runner) {
    sink.on_held = [&] {
      dir_existed_while_held = std::filesystem::exists(temp_dir);
      // From another thread, as the worker's signal handling does.
      std::thread([&runner] { runner.ReleaseHold(); }).join();
    };
  });
  EXPECT_TRUE(dir_existed_while_held);
  EXPECT_FALSE(std::filesystem::exists(temp_dir)) << "the cleanups did not run after the hold";
  const std::vector<std::string> want = {
      "test_started:Fails",      "failure:Fails",
      "held:Fails",              "released:Fails:released",
      "log:Fails:cleanup ran",   "attempt_finished:Fails",
      "test_finished:Fails:failed",
      // The second failure is not held: one hold a run.
      "test_started:FailsToo",   "failure:FailsToo",
      "log:FailsToo:second cleanup ran", "attempt_finished:FailsToo",
      "test_finished:FailsToo:failed"};
  EXPECT_EQ(sink.Trace(), want);
  for (const Event& e : sink.events()) {
    if (e.kind != EventKind::kHeld) continue;
    const Hold hold = GetHold(e);
    EXPECT_EQ(hold.pid, static_cast<int>(::getpid()));
    EXPECT_EQ(hold.temp_dirs, std::vector<std::string>{temp_dir.string()});
    EXPECT_EQ(hold.max_hold_ns, std::chrono::nanoseconds(1h).count());
  }
}

TEST(RunnerHoldTest, AHoldEndsByItselfAfterTheMaxHold) {
  std::filesystem::path temp_dir;
  const Suite suite = FailingSuite(&temp_dir);
  Recorder sink;
  RunPlan(suite, HoldPlan(suite, 20ms), sink);
  const std::vector<std::string> trace = sink.Trace();
  ASSERT_GE(trace.size(), 4u);
  EXPECT_EQ(trace[2], "held:Fails");
  EXPECT_EQ(trace[3], "released:Fails:timed_out");
  EXPECT_EQ(trace[4], "log:Fails:cleanup ran");
}

TEST(RunnerHoldTest, ACancelEndsTheHoldAndTheTestIsCancelled) {
  std::filesystem::path temp_dir;
  const Suite suite = FailingSuite(&temp_dir);
  Recorder sink;
  RunPlan(suite, HoldPlan(suite, 1h), sink, [&](SuiteRunner& runner) {
    sink.on_held = [&runner] { std::thread([&runner] { runner.Cancel(); }).join(); };
  });
  const std::vector<std::string> trace = sink.Trace();
  ASSERT_GE(trace.size(), 5u);
  EXPECT_EQ(trace[3], "released:Fails:cancelled");
  EXPECT_EQ(trace[4], "log:Fails:cleanup ran");
  EXPECT_EQ(trace.back(), "test_finished:Fails:cancelled");
  EXPECT_FALSE(std::filesystem::exists(temp_dir));
}

TEST(RunnerHoldTest, TheTestsTimeoutStandsStillWhileItIsHeld) {
  Suite suite;
  suite.name = "Slow";
  suite.tests.push_back(handoff::Test{"Fails", [](T& t) { t.Fatal("broken"); }});
  Recorder sink;
  // Held for 300ms (its max hold) with a timeout of 50ms: a timeout that ran on would fail
  // the test as timed out.
  RunPlan(suite, HoldPlan(suite, 300ms, /*timeout_ms=*/50), sink);
  for (const Event& e : sink.events()) {
    EXPECT_FALSE(e.kind == EventKind::kFailure && e.key == kCauseTimeout) << e.text;
  }
  const std::vector<std::string> trace = sink.Trace();
  ASSERT_GE(trace.size(), 4u);
  EXPECT_EQ(trace[3], "released:Fails:timed_out");
}

TEST(RunnerHoldTest, NothingIsHeldWithoutHoldOnFailureOrWhenTestsPass) {
  std::filesystem::path temp_dir;
  const Suite failing = FailingSuite(&temp_dir);
  wire::WorkerPlan plan = HoldPlan(failing, 1h);
  plan.hold_on_failure = false;
  Recorder sink;
  RunPlan(failing, plan, sink);
  Suite passing;
  passing.name = "Passes";
  passing.tests.push_back(handoff::Test{"Ok", [](T& t) { t.Log("fine"); }});
  RunPlan(passing, HoldPlan(passing, 1h), sink);
  for (const Event& e : sink.events()) {
    EXPECT_NE(e.kind, EventKind::kHeld) << e.test;
  }
}

TEST(RunnerHoldTest, AFailingSubtestIsHeldBeforeItsOwnCleanupsWithItsParentsTempDir) {
  Suite suite;
  suite.name = "Subtests";
  std::filesystem::path parent_dir;
  suite.tests.push_back(handoff::Test{"Parent", [&parent_dir](T& t) {
                               parent_dir = t.TempDir();
                               t.Cleanup([&t] { t.Log("parent cleanup"); });
                               t.Run("child", [](T& t) {
                                 t.Cleanup([&t] { t.Log("child cleanup"); });
                                 t.Fatal("child broken");
                               });
                             }});
  Recorder sink;
  RunPlan(suite, HoldPlan(suite, 1h), sink, [&](SuiteRunner& runner) {
    sink.on_held = [&runner] { std::thread([&runner] { runner.ReleaseHold(); }).join(); };
  });
  const std::vector<std::string> trace = sink.Trace();
  const std::vector<std::string> want = {
      "test_started:Parent",          "test_started:Parent/child",
      "failure:Parent/child",         "held:Parent/child",
      "released:Parent/child:released", "log:Parent/child:child cleanup",
      "test_finished:Parent/child:failed", "log:Parent:parent cleanup",
      "attempt_finished:Parent",      "test_finished:Parent:failed"};
  EXPECT_EQ(trace, want);
  for (const Event& e : sink.events()) {
    if (e.kind == EventKind::kHeld) {
      EXPECT_EQ(GetHold(e).temp_dirs, std::vector<std::string>{parent_dir.string()});
    }
  }
}

std::vector<HeldRunnable> OneRunnable() {
  return {HeldRunnable{"web", "/w", "", 99, {{"http", "127.0.0.1:1"}}}};
}

TEST(RunnerHoldTest, AHoldShowsTheRunnablesTheWorkloadRegistered) {
  internal::SetLiveRunnablesSource(&OneRunnable);
  std::filesystem::path temp_dir;
  const Suite suite = FailingSuite(&temp_dir);
  Recorder sink;
  RunPlan(suite, HoldPlan(suite, 10ms), sink);
  internal::SetLiveRunnablesSource(nullptr);
  bool seen = false;
  for (const Event& e : sink.events()) {
    if (e.kind != EventKind::kHeld) continue;
    seen = true;
    EXPECT_EQ(GetHold(e).runnables, OneRunnable());
  }
  EXPECT_TRUE(seen);
}

// --- serve: the run's hold ------------------------------------------------------------------

TEST(RunHoldSinkTest, TurnsHeldAndReleasedIntoTheRunsHold) {
  std::vector<store::RunHold> changes;
  RunHoldSink sink([&](const store::RunHold& h) { changes.push_back(h); });
  Event held;
  held.kind = EventKind::kHeld;
  held.test = "Fails";
  held.attempt = 1;
  held.time_ns = 1'000;
  PutHold(SampleHold(), held);
  sink.OnEvent(held);
  Event released;
  released.kind = EventKind::kReleased;
  released.test = "Fails";
  released.time_ns = 5'000;
  released.text = "timed_out";
  sink.OnEvent(released);
  sink.CloseOpenHold(9'000);  // ended already: nothing more
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].test, "Fails");
  EXPECT_EQ(changes[0].hold, SampleHold());
  EXPECT_EQ(changes[0].held_at_ns, 1'000);
  EXPECT_EQ(changes[0].release_at_ns, 1'000 + SampleHold().max_hold_ns);
  EXPECT_EQ(changes[0].ended, "");
  EXPECT_EQ(changes[1].released_at_ns, 5'000);
  EXPECT_EQ(changes[1].ended, "timed_out");
}

TEST(RunHoldSinkTest, AHoldItsWorkerLeftOpenEndsWorkerGone) {
  std::vector<store::RunHold> changes;
  RunHoldSink sink([&](const store::RunHold& h) { changes.push_back(h); });
  Event held;
  held.kind = EventKind::kHeld;
  held.test = "Fails";
  sink.OnEvent(held);
  sink.CloseOpenHold(7);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].ended, "worker_gone");
  EXPECT_EQ(changes[1].released_at_ns, 7);
}

TEST(RunHoldStoreTest, HoldRoundTripsThroughTheStoreEncoding) {
  store::RunHold hold;
  hold.test = "Fails";
  hold.attempt = 3;
  hold.hold = SampleHold();
  hold.held_at_ns = 11;
  hold.release_at_ns = 22;
  hold.released_at_ns = 33;
  hold.ended = "released";
  Result<std::optional<store::RunHold>> back = store::DecodeHold(store::EncodeHold(hold));
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ(**back, hold);
  EXPECT_EQ(store::EncodeHold(std::nullopt), "");
  Result<std::optional<store::RunHold>> none = store::DecodeHold("");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(store::DecodeHold("\x01\x05").ok());
}

TEST(RunHoldStoreTest, RunJsonShowsTheHoldOfARunThatHolds) {
  store::Run run;
  run.id = 7;
  run.status = store::RunStatus::kHeld;
  std::string plain;
  store::AppendRunJson(plain, run, nullptr);
  EXPECT_EQ(plain.find("hold"), std::string::npos) << plain;

  run.hold_on_failure = true;
  store::RunHold& hold = run.hold.emplace();
  hold.test = "Fails";
  hold.attempt = 1;
  hold.hold = SampleHold();
  hold.held_at_ns = 1'700'000'000'000'000'000;
  hold.release_at_ns = hold.held_at_ns + hold.hold.max_hold_ns;
  std::string out;
  store::AppendRunJson(out, run, nullptr);
  EXPECT_NE(out.find("\"status\":\"held\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"hold_on_failure\":true,\"hold\":{\"test\":\"Fails\",\"attempt\":1,"
                     "\"pid\":4242,\"temp_dir\":\"/tmp/handoff-Test-abc\""),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"endpoints\":[{\"runnable\":\"web\",\"port\":\"http\",\"endpoint\":"
                     "\"127.0.0.1:4000\",\"pid\":777,\"dir\":\"/tmp/env/web\"},"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"held_at\":\"2023-11-14T22:13:20.000Z\",\"release_at\":"
                     "\"2023-11-14T22:43:20.000Z\",\"released_at\":null,\"ended\":null}"),
            std::string::npos)
      << out;
}

TEST(RunHoldStoreTest, HeldIsAnUnfinishedStatus) {
  store::RunStatus status = store::RunStatus::kQueued;
  ASSERT_TRUE(store::ParseRunStatus("held", &status));
  EXPECT_EQ(status, store::RunStatus::kHeld);
  EXPECT_STREQ(store::RunStatusName(store::RunStatus::kHeld), "held");
  EXPECT_FALSE(store::IsFinished(store::RunStatus::kHeld));
}

}  // namespace
}  // namespace handoff
