#pragma once

// Runs a worker plan in the current process: suite setup, the planned tests (with their
// retries and subtests), teardown, emitting every event to a sink. Used inside worker
// processes and, with --isolation=none, inside the main process.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "event/event.h"
#include "event/wire.h"
#include "handoff/suite.h"
#include "handoff/t.h"
#include "googletest/gtest_filter.h"
#include "runner/name_filter.h"
#include "runner/sweeper.h"

namespace handoff {

class AssessmentFilter;

// Where a test's own stdout/stderr go; the runner tells it which test is current so
// output lines are attributed to the right (sub)test.
class OutputCapture {
 public:
  virtual ~OutputCapture() = default;
  // Output written from now on belongs to `test` (a test or subtest begins).
  virtual void Enter(const std::string& test) = 0;
  // The current (sub)test ends: its pending output is emitted, then output belongs to
  // the enclosing test again.
  virtual void Leave() = 0;
  // Emits the output written so far, before an event that must follow it (a log line).
  virtual void Sync() = 0;
};

namespace internal {

class SuiteRunScope;

// The state behind one handoff::T: a test, a subtest, or suite setup/teardown.
class TestState {
 public:
  TestState(SuiteRunScope* scope, TestState* parent, std::string name, int attempt,
            handoff::Context context);

  SuiteRunScope* scope;
  TestState* parent;
  std::string name;
  int attempt;
  handoff::Context context;
  bool failed = false;
  bool skipped = false;
  bool soft = false;  // meaningful on the root; SoftFailure() marks the root
  std::string first_failure;  // message of the first failure, for setup's skip reason
  std::vector<std::function<void()>> cleanups;
  // The directories t.TempDir() made, for a hold to show (event/hold.h).
  std::vector<std::string> temp_dirs;
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<std::string> subtest_names;  // as given, to make duplicates unique
  // The attachments kept by this (sub)test's attempt, and on the root those of the whole
  // attempt with its subtests (t.Attach's bounds); guarded by SuiteRunScope::attach_mu.
  std::vector<std::string> attachment_names;
  std::size_t attached_bytes = 0;
  int attached_count = 0;
  struct OpenSpan {
    std::uint32_t id;
    std::chrono::steady_clock::time_point start;
    std::vector<std::pair<std::string, std::string>> attributes;
    std::uint64_t trace_span = 0;  // its W3C span id
  };
  std::vector<OpenSpan> spans;
  // The W3C trace context of this attempt or subtest (trace_context.h); empty for setup and
  // teardown, which belong to no attempt.
  std::string trace_id;
  std::uint64_t trace_span = 0;
  std::uint64_t parent_span = 0;

  // Gives this test a span of the trace `trace_id` (a new trace when empty), a child of
  // `parent_span`, and puts its traceparent on the context.
  void StartTrace(std::string trace_id, std::uint64_t parent_span);
  // Returns the span id new spans and subtests are children of: the innermost open span,
  // else this test's own.
  std::uint64_t CurrentSpan() const;
  // Returns kTestStarted with the trace context filled in.
  Event StartedEvent() const;

  // Returns the top-level test (or setup/teardown) this state belongs to.
  TestState* Root();
  // Emits an event for this test with the common fields filled in.
  Event MakeEvent(EventKind kind) const;
};

// The unwinding type of FailNow/SkipNow: not a std::exception, so a test's own
// catch (const std::exception&) does not swallow it.
struct TestAbort {};

// Stops a failed test (Fatal, FailNow): holds it first if it is the run's hold on failure
// (SuiteRunScope::MaybeHold), then unwinds with TestAbort.
[[noreturn]] void AbortFailed(TestState& state);

// Runs fn(t), turning a FailNow/SkipNow unwind into nothing and any other exception
// into a failure of the test with its what() ("unknown exception" otherwise).
void RunGuarded(T& t, TestState& state, const std::function<void(T&)>& fn);

// Go's rewrite of subtest names: spaces become underscores, unprintable bytes are
// escaped, so every name can be selected with --run.
std::string RewriteSubtestName(std::string_view name);

// Runs the cleanups of a test, last registered first; a failing cleanup fails the test
// and the remaining cleanups still run.
void RunCleanups(TestState& state);

// Shared by every T of one suite run in one process.
class SuiteRunScope {
 public:
  SuiteRunScope(const Suite& suite, EventSink& sink, OutputCapture* capture,
                std::shared_ptr<const NameFilter> run, std::shared_ptr<const NameFilter> skip);
  ~SuiteRunScope();

  const Suite& suite;
  EventSink& sink;
  OutputCapture* capture;  // may be null (in-process: output goes to the terminal)
  std::shared_ptr<const NameFilter> run_filter;
  std::shared_ptr<const NameFilter> skip_filter;
  std::atomic<std::uint32_t> next_span_id{1};
  // --timeout: the longest timeout a test may set for itself (zero: no cap).
  std::chrono::milliseconds timeout_cap{0};
  // Run parameters (serve's "params"), read by t.Value after the test's own values.
  std::vector<std::pair<std::string, std::string>> params;
  // --fail-fast: features leave their teardown undone after a failure.
  bool fail_fast = false;
  // --assess and --skip-assessment: which assessments of features run.
  std::unique_ptr<const AssessmentFilter> assessments;
  // GoogleTest's command line: which subtests run (null when it is not used).
  std::shared_ptr<const GTestFilter> gtest_filter;
  // Hold on failure (issue 21): the first test or subtest that fails is held before its
  // cleanups for at most max_hold.
  bool hold_on_failure = false;
  std::chrono::milliseconds max_hold{0};

  // Emits an event, syncing captured output first so lines stay in order.
  void Emit(const Event& event, bool sync_output);

  // Guards the attachment fields of every TestState of this scope (t.Attach may be called
  // from any thread of a test).
  std::mutex attach_mu;

  // Arms the watchdog for the top-level test (or hook) `root`: at `deadline` it asks
  // it to stop through `stop`. Several tests may be armed at once (--parallel).
  void Arm(const TestState* root, std::chrono::steady_clock::time_point deadline,
           std::stop_source stop);
  // Moves the deadline of `root` (t.SetTimeout).
  void Rearm(const TestState* root, std::chrono::steady_clock::time_point deadline);
  // Disarms the watchdog for `root`; returns true if it fired.
  bool Disarm(const TestState* root);
  // Asks the running tests to stop and no further test to start; ends a hold. Thread-safe.
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }

  // Holds `state`, a failed test or subtest, before its cleanups run, if hold_on_failure is
  // set and no test of this scope was held before: emits kHeld, waits (its timeout paused)
  // until ReleaseHold, Cancel or max_hold, then emits kReleased. Returns at once otherwise.
  // Called at a fatal failure (before the unwind destroys the test's locals) and when a
  // body ends failed (an escaping exception, or failures without a fatal one).
  void MaybeHold(TestState& state);
  // Ends the hold in progress, or the next one should it not have begun yet. Thread-safe.
  void ReleaseHold();

 private:
  std::mutex emit_mu_;
  struct Armed {
    std::chrono::steady_clock::time_point deadline;
    std::stop_source stop;
    bool fired = false;
  };
  void Watch();
  std::mutex mu_;
  std::condition_variable cv_;
  bool quit_ = false;
  // Usually one entry (more under --parallel): a vector, not a map, so arming a test
  // allocates nothing once the first test has run.
  std::vector<std::pair<const TestState*, Armed>> armed_;
  Armed* FindArmed(const TestState* root);
  // The instant the watchdog is sleeping until (max when it waits for Arm).
  std::chrono::steady_clock::time_point wake_at_ = std::chrono::steady_clock::time_point::max();
  std::atomic<bool> cancelled_{false};
  // The hold: whether one happened, and a release asked for.
  std::mutex hold_mu_;
  std::condition_variable hold_cv_;
  bool held_once_ = false;
  bool release_ = false;
  std::thread watchdog_;
};

}  // namespace internal

// Runs `plan` for `suite`, sending events to `sink`. `cancel` (optional) is polled to
// stop early; returns when teardown has finished.
class SuiteRunner {
 public:
  SuiteRunner(const Suite& suite, const wire::WorkerPlan& plan, EventSink& sink,
              OutputCapture* capture);
  ~SuiteRunner();

  // Returns an error message if the plan's patterns do not compile.
  std::string Prepare();
  // Runs setup, tests and teardown.
  void Run();
  // Asks the current test to stop and no further test to start. Thread-safe.
  void Cancel();
  // Releases a held test (hold on failure). Thread-safe.
  void ReleaseHold();
  // Kills what each test leaves running, with `sweeper` (none by default: in-process).
  void set_sweeper(ProcessSweeper* sweeper) { sweeper_ = sweeper; }

 private:
  bool RunHook(const TestFunc& fn, EventKind started, EventKind finished,
               std::string* first_failure);
  void RunTest(const Test& test, const wire::PlannedTest& planned, bool* failed_hard);
  void SkipTest(const Test& test, const wire::PlannedTest& planned, const std::string& why);

  const Suite& suite_;
  const wire::WorkerPlan& plan_;
  EventSink& sink_;
  OutputCapture* capture_;
  ProcessSweeper* sweeper_ = nullptr;
  // True while features run together (--parallel): one sweep after the batch, since
  // the processes of tests that share the worker cannot be told apart.
  bool concurrent_ = false;
  std::unique_ptr<internal::SuiteRunScope> scope_;
};

}  // namespace handoff
