// The reports GET /api/v1/runs/{id}/report renders from a stored run must be those `run`
// writes: the same events go once straight to the reporters and once through the
// recorder, the store and the replay, and both reports must be the same bytes (times and
// durations here are whole milliseconds, which the store keeps exactly).

#include "engine/stored_report.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/run_recorder.h"
#include "report/reporters.h"
#include "report/results.h"
#include "store/store.h"
#include "store/open_store.h"
#include "result_testing.h"

namespace handoff {
namespace {

using ::handoff::testing::ValueOf;

constexpr std::int64_t kStart = 1'700'000'000'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

// Builds the events of one run of suite "Shop", each 1ms after the previous one unless
// told otherwise.
class Script {
 public:
  Event& Add(EventKind kind, std::string test = "", int attempt = 0, bool same_time = false) {
    if (!same_time) now_ += kMs;
    Event& e = events_.emplace_back();
    e.kind = kind;
    e.suite = "Shop";
    e.test = std::move(test);
    e.attempt = attempt;
    e.time_ns = now_;
    return e;
  }
  Event& Line(EventKind kind, std::string test, int attempt, std::string text,
              std::string file = "", int line = 0) {
    Event& e = Add(kind, std::move(test), attempt);
    e.text = std::move(text);
    e.file = std::move(file);
    e.line = line;
    return e;
  }
  // Ends what started at `started` (an event's time) with `status`; a test's final end
  // comes with its last attempt's.
  Event& End(EventKind kind, std::string test, int attempt, std::int64_t started, Status status) {
    const bool same_time = kind == EventKind::kTestFinished && !test.empty() &&
                           test.find('/') == std::string::npos;
    Event& e = Add(kind, std::move(test), attempt, same_time);
    e.status = status;
    e.elapsed_ns = e.time_ns - started;
    return e;
  }
  std::int64_t now() const { return now_; }
  const std::vector<Event>& events() const { return events_; }

 private:
  std::int64_t now_ = kStart;
  std::vector<Event> events_;
};

// Every outcome: setup and teardown output, pass with stdout and t.Log, a multi-line
// Errorf, subtests between the parent's own lines, a retry that passes, a skip, a soft
// failure and a crash.
Script EveryOutcome() {
  Script s;
  s.Add(EventKind::kRunStarted);
  s.Add(EventKind::kSuiteStarted).text = "shop";
  const std::int64_t suite_start = s.now();
  s.Add(EventKind::kSetupStarted);
  s.Line(EventKind::kLog, "", 0, "database ready", "/src/shop_test.cc", 10);
  s.Line(EventKind::kOutput, "", 0, "setup stdout");
  s.Add(EventKind::kSetupFinished);

  s.Add(EventKind::kTestStarted, "Passes", 1);
  std::int64_t t = s.now();
  s.Line(EventKind::kOutput, "Passes", 1, "hello from stdout");
  s.Line(EventKind::kLog, "Passes", 1, "logged 3 items", "/src/shop_test.cc", 20);
  s.End(EventKind::kAttemptFinished, "Passes", 1, t, Status::kPassed);
  s.End(EventKind::kTestFinished, "Passes", 1, t, Status::kPassed);

  s.Add(EventKind::kTestStarted, "Fails", 1);
  t = s.now();
  s.Line(EventKind::kFailure, "Fails", 1, "want 200\ngot 503\n  body: {}", "/src/shop_test.cc", 30);
  s.Line(EventKind::kLog, "Fails", 1, "two\nlines", "/src/shop_test.cc", 31);
  s.End(EventKind::kAttemptFinished, "Fails", 1, t, Status::kFailed);
  s.End(EventKind::kTestFinished, "Fails", 1, t, Status::kFailed);

  s.Add(EventKind::kTestStarted, "Table", 1);
  t = s.now();
  s.Line(EventKind::kLog, "Table", 1, "before", "/src/shop_test.cc", 40);
  s.Add(EventKind::kTestStarted, "Table/a", 1);
  std::int64_t sub = s.now();
  s.Line(EventKind::kLog, "Table/a", 1, "in a", "/src/shop_test.cc", 41);
  s.End(EventKind::kTestFinished, "Table/a", 1, sub, Status::kPassed);
  s.Line(EventKind::kLog, "Table", 1, "between", "/src/shop_test.cc", 42);
  s.Add(EventKind::kTestStarted, "Table/b", 1);
  sub = s.now();
  s.Add(EventKind::kTestStarted, "Table/b/deep", 1);
  const std::int64_t deep = s.now();
  s.Line(EventKind::kFailure, "Table/b/deep", 1, "deep failure", "/src/shop_test.cc", 43);
  s.End(EventKind::kTestFinished, "Table/b/deep", 1, deep, Status::kFailed);
  s.End(EventKind::kTestFinished, "Table/b", 1, sub, Status::kFailed);
  s.Add(EventKind::kTestStarted, "Table/quiet", 1);
  sub = s.now();
  s.End(EventKind::kTestFinished, "Table/quiet", 1, sub, Status::kPassed);
  s.Line(EventKind::kLog, "Table", 1, "after", "/src/shop_test.cc", 44);
  s.End(EventKind::kAttemptFinished, "Table", 1, t, Status::kFailed);
  s.End(EventKind::kTestFinished, "Table", 1, t, Status::kFailed);

  s.Add(EventKind::kTestStarted, "Flaky", 1);
  t = s.now();
  s.Line(EventKind::kFailure, "Flaky", 1, "first attempt fails", "/src/shop_test.cc", 50);
  s.End(EventKind::kAttemptFinished, "Flaky", 1, t, Status::kFailed);
  s.Add(EventKind::kTestStarted, "Flaky", 2);
  std::int64_t t2 = s.now();
  s.Line(EventKind::kLog, "Flaky", 2, "attempt 2", "/src/shop_test.cc", 51);
  s.End(EventKind::kAttemptFinished, "Flaky", 2, t2, Status::kPassed);
  s.End(EventKind::kTestFinished, "Flaky", 2, t2, Status::kPassed).flaky = true;

  s.Add(EventKind::kTestStarted, "Skips", 1);
  t = s.now();
  s.Line(EventKind::kSkip, "Skips", 1, "needs docker", "/src/shop_test.cc", 60);
  s.End(EventKind::kAttemptFinished, "Skips", 1, t, Status::kSkipped);
  s.End(EventKind::kTestFinished, "Skips", 1, t, Status::kSkipped);

  s.Add(EventKind::kTestStarted, "Soft", 1);
  t = s.now();
  s.Line(EventKind::kFailure, "Soft", 1, "known issue", "/src/shop_test.cc", 70).soft = true;
  s.End(EventKind::kAttemptFinished, "Soft", 1, t, Status::kFailed);
  s.End(EventKind::kTestFinished, "Soft", 1, t, Status::kFailed).soft = true;

  s.Add(EventKind::kTestStarted, "Crashes", 1);
  t = s.now();
  s.Line(EventKind::kOutput, "Crashes", 1, "about to crash");
  s.Line(EventKind::kFailure, "Crashes", 1, "test crashed: signal 11 (Segmentation fault)").key =
      kCauseCrash;
  s.End(EventKind::kAttemptFinished, "Crashes", 1, t, Status::kFailed);
  s.End(EventKind::kTestFinished, "Crashes", 1, t, Status::kFailed);
  // A fresh worker sets the suite up again.
  s.Add(EventKind::kSetupStarted);
  s.Line(EventKind::kLog, "", 0, "database ready again", "/src/shop_test.cc", 10);
  s.Add(EventKind::kSetupFinished);

  s.Add(EventKind::kTeardownStarted);
  s.Line(EventKind::kLog, "", 0, "dropping the database", "/src/shop_test.cc", 80);
  s.Line(EventKind::kFailure, "", 0, "teardown failed", "/src/shop_test.cc", 81);
  s.Add(EventKind::kTeardownFinished).status = Status::kFailed;
  s.End(EventKind::kSuiteFinished, "", 0, suite_start, Status::kFailed);
  s.End(EventKind::kRunFinished, "", 0, kStart + kMs, Status::kFailed);
  return s;
}

// Runs `events` through the reporters `run` uses, as `format`.
std::string Direct(const std::vector<Event>& events, const std::string& format) {
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* file = ::open_memstream(&buffer, &size);
  {
    ResultCollector results;
    FanOut sinks;
    sinks.Add(&results);
    std::unique_ptr<EventSink> reporter =
        format == "json" ? MakeJsonReporter(file) : MakeJunitReporter(file, results);
    sinks.Add(reporter.get());
    for (const Event& e : events) sinks.OnEvent(e);
    sinks.Flush();
  }
  std::fclose(file);
  std::string out(buffer, size);
  std::free(buffer);
  return out;
}

// Records `events` as `serve` does and renders the stored run as `format`.
std::string Stored(const std::vector<Event>& events, const std::string& format) {
  std::string error;
  std::unique_ptr<store::Store> store = ValueOf(store::OpenStore("sqlite::memory:"));
  EXPECT_NE(store, nullptr) << error;
  store::Run run;
  run.suite = "Shop";
  run.namespace_name = "shop";
  run = ValueOf(store->CreateRun(run, {"Passes", "Fails", "Table", "Flaky", "Skips", "Soft", "Crashes"})).run;
  RunJournal journal(run.id, 0);
  RunRecorder recorder(*store, journal, nullptr);
  for (const Event& e : events) recorder.OnEvent(e);
  store::RunUpdate update;
  update.id = run.id;
  update.status = store::RunStatus::kFailed;
  update.started_at_ns = events.front().time_ns;
  update.finished_at_ns = events.back().time_ns;
  store::Run after = run;
  recorder.UpdateRun(update, after);
  store->Sync();
  std::optional<store::Run> stored = store->GetRun(run.id);
  EXPECT_TRUE(stored);
  std::string out;
  EXPECT_TRUE(RenderStoredReport(*stored, store->GetTests(run.id), store->GetAllAttempts(run.id),
                                 format, &out));
  return out;
}

TEST(StoredReportTest, JsonIsWhatRunWrites) {
  const Script script = EveryOutcome();
  const std::string direct = Direct(script.events(), "json");
  EXPECT_NE(direct.find("    shop_test.cc:20: logged 3 items\\n"), std::string::npos) << direct;
  EXPECT_EQ(Stored(script.events(), "json"), direct);
}

TEST(StoredReportTest, JunitIsWhatRunWrites) {
  const Script script = EveryOutcome();
  const std::string direct = Direct(script.events(), "junit");
  EXPECT_NE(direct.find("teardown failed"), std::string::npos) << direct;
  EXPECT_EQ(Stored(script.events(), "junit"), direct);
}

}  // namespace
}  // namespace handoff
