#include "runner/runner.h"

#include "duration/duration.h"
#include "event/hold.h"
#include "event/trace_context.h"
#include "runner/live_runnables.h"
#include "runner/selection.h"
#include "runner/throw_site.h"
#include "handoff/internal/hooks.h"

#include <fmt/format.h>

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace handoff {
namespace internal {

TestState::TestState(SuiteRunScope* scope_in, TestState* parent_in, std::string name_in,
                     int attempt_in, handoff::Context context_in)
    : scope(scope_in),
      parent(parent_in),
      name(std::move(name_in)),
      attempt(attempt_in),
      context(std::move(context_in)) {}

TestState* TestState::Root() {
  TestState* s = this;
  while (s->parent != nullptr) s = s->parent;
  return s;
}

Event TestState::MakeEvent(EventKind kind) const {
  Event e;
  e.kind = kind;
  e.time_ns = NowNs();
  e.suite = scope->suite.name;
  e.test = name;
  e.attempt = attempt;
  return e;
}

void TestState::StartTrace(std::string trace_id_in, std::uint64_t parent) {
  trace_id = trace_id_in.empty() ? NewTraceId() : std::move(trace_id_in);
  trace_span = NewSpanId();
  parent_span = parent;
  context = context.WithValue(kTraceParent, FormatTraceParent(trace_id, trace_span));
}

std::uint64_t TestState::CurrentSpan() const {
  return spans.empty() ? trace_span : spans.back().trace_span;
}

Event TestState::StartedEvent() const {
  Event e = MakeEvent(EventKind::kTestStarted);
  e.trace_id = trace_id;
  e.trace_span = trace_span;
  e.parent_span = parent_span;
  return e;
}

namespace {
thread_local T* current_test = nullptr;
}  // namespace

T* CurrentTest() { return current_test; }

void RunGuarded(T& t, TestState& state, const std::function<void(T&)>& fn) {
  T* const outer = current_test;
  current_test = &t;
  struct Restore {
    T* outer;
    ~Restore() { current_test = outer; }
  } restore{outer};
  auto fail = [&](std::string message) {
    state.failed = true;
    if (state.first_failure.empty()) state.first_failure = message;
    Event e = state.MakeEvent(EventKind::kFailure);
    e.text = std::move(message);
    e.soft = state.Root()->soft;
    state.scope->Emit(e, true);
  };
  // Where an exception that escapes was thrown (runner/throw_site.h), after the message.
  auto thrown_at = [](std::string message, const void* object) {
    if (std::string site = ThrowSiteOfCurrentException(object); !site.empty()) {
      message += "\n\nthrown at:\n" + site;
    }
    return message;
  };
  ForgetThrowSite();  // one of an earlier test on this thread
  try {
    fn(t);
  } catch (const TestAbort&) {
    // FailNow/SkipNow: already recorded.
  } catch (const std::exception& ex) {
    fail(thrown_at(fmt::format("unexpected exception: {}", ex.what()), dynamic_cast<const void*>(&ex)));
  } catch (...) {
    fail(thrown_at("unexpected exception: unknown exception", nullptr));
  }
}

void RunCleanups(TestState& state) {
  T t(&state);
  while (!state.cleanups.empty()) {
    std::function<void()> fn = std::move(state.cleanups.back());
    state.cleanups.pop_back();
    RunGuarded(t, state, [&](T&) { fn(); });
  }
  // Spans left open end with the test.
  while (!state.spans.empty()) {
    TestState::OpenSpan& span = state.spans.back();
    Event e = state.MakeEvent(EventKind::kSpanEnded);
    e.span_id = span.id;
    e.elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - span.start)
                       .count();
    e.attributes = std::move(span.attributes);
    state.spans.pop_back();
    state.scope->Emit(e, false);
  }
}

SuiteRunScope::SuiteRunScope(const Suite& suite_in, EventSink& sink_in,
                             OutputCapture* capture_in, std::shared_ptr<const NameFilter> run,
                             std::shared_ptr<const NameFilter> skip)
    : suite(suite_in),
      sink(sink_in),
      capture(capture_in),
      run_filter(std::move(run)),
      skip_filter(std::move(skip)),
      watchdog_([this] { Watch(); }) {}

SuiteRunScope::~SuiteRunScope() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  watchdog_.join();
}

void SuiteRunScope::Emit(const Event& event, bool sync_output) {
  if (sync_output && capture != nullptr) capture->Sync();
  // Tests may run on several threads (--parallel); sinks see one event at a time.
  std::lock_guard lock(emit_mu_);
  sink.OnEvent(event);
}

SuiteRunScope::Armed* SuiteRunScope::FindArmed(const TestState* root) {
  for (auto& [r, a] : armed_) {
    if (r == root) return &a;
  }
  return nullptr;
}

void SuiteRunScope::Arm(const TestState* root, std::chrono::steady_clock::time_point deadline,
                        std::stop_source stop) {
  {
    std::lock_guard lock(mu_);
    Armed* found = FindArmed(root);
    Armed& a = found != nullptr ? *found : armed_.emplace_back(root, Armed{}).second;
    a = Armed{deadline, std::move(stop), false};
    if (cancelled_) a.stop.request_stop();
    // A watchdog already waiting for an earlier instant re-reads the deadlines then;
    // waking it for every test would cost a context switch each.
    if (deadline >= wake_at_) return;
  }
  cv_.notify_all();
}

void SuiteRunScope::Rearm(const TestState* root, std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard lock(mu_);
    Armed* a = FindArmed(root);
    if (a == nullptr) return;
    a->deadline = deadline;
    if (deadline >= wake_at_) return;
  }
  cv_.notify_all();
}

bool SuiteRunScope::Disarm(const TestState* root) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(armed_.begin(), armed_.end(),
                         [&](const auto& entry) { return entry.first == root; });
  if (it == armed_.end()) return false;
  const bool fired = it->second.fired;
  armed_.erase(it);
  return fired;
}

void SuiteRunScope::Cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    for (auto& [root, a] : armed_) a.stop.request_stop();
  }
  cv_.notify_all();
  // A held test goes on with its cleanups (taken so that a hold about to wait sees it).
  { std::lock_guard lock(hold_mu_); }
  hold_cv_.notify_all();
}

void SuiteRunScope::MaybeHold(TestState& state) {
  using Clock = std::chrono::steady_clock;
  TestState* root = state.Root();
  // A soft failure is a known issue, and a cancelled test failed for being cancelled:
  // neither is worth keeping a world open for.
  if (!hold_on_failure || !state.failed || root->soft || cancelled_.load()) return;
  if (state.name.empty()) return;  // setup and teardown: the suite's, not a test's
  {
    std::lock_guard lock(mu_);
    // Past its timeout: the timeout's failure follows, and the supervisor's kill with it.
    if (Armed* a = FindArmed(root); a != nullptr && a->fired) return;
  }
  {
    std::lock_guard lock(hold_mu_);
    if (held_once_) return;  // one hold a run: the first failure's
    held_once_ = true;
    release_ = false;
  }
  // The test's timeout stands still while it is held.
  Clock::time_point paused = Clock::time_point::max();
  {
    std::lock_guard lock(mu_);
    if (Armed* a = FindArmed(root)) paused = std::exchange(a->deadline, Clock::time_point::max());
  }
  Hold hold;
  hold.pid = static_cast<int>(::getpid());
  std::vector<const TestState*> chain;
  for (const TestState* s = &state; s != nullptr; s = s->parent) chain.push_back(s);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    hold.temp_dirs.insert(hold.temp_dirs.end(), (*it)->temp_dirs.begin(), (*it)->temp_dirs.end());
  }
  hold.runnables = LiveRunnables();
  hold.max_hold_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(max_hold).count();
  Event held = state.MakeEvent(EventKind::kHeld);
  PutHold(hold, held);
  const Clock::time_point start = Clock::now();
  Emit(held, true);
  // The supervisor is told at once: it pauses its own deadline and shows the hold.
  sink.Flush();

  HoldEnd end = HoldEnd::kTimedOut;
  {
    std::unique_lock lock(hold_mu_);
    hold_cv_.wait_until(lock, start + max_hold, [&] { return release_ || cancelled_.load(); });
    if (cancelled_.load()) {
      end = HoldEnd::kCancelled;
    } else if (release_) {
      end = HoldEnd::kReleased;
    }
  }
  if (paused != Clock::time_point::max()) Rearm(root, paused + (Clock::now() - start));
  Event released = state.MakeEvent(EventKind::kReleased);
  released.text = HoldEndName(end);
  Emit(released, true);
  sink.Flush();
}

void SuiteRunScope::ReleaseHold() {
  {
    std::lock_guard lock(hold_mu_);
    // Only a hold that began is released: a late release must not cut a later one short.
    if (!held_once_) return;
    release_ = true;
  }
  hold_cv_.notify_all();
}

void SuiteRunScope::Watch() {
  // Named so that a dump of a hung test's threads leaves it out (worker/stack_dump.h).
  ::pthread_setname_np(::pthread_self(), "handoff-watch");
  using Clock = std::chrono::steady_clock;
  std::unique_lock lock(mu_);
  while (!quit_) {
    Clock::time_point earliest = Clock::time_point::max();
    for (const auto& [root, a] : armed_) {
      if (!a.fired) earliest = std::min(earliest, a.deadline);
    }
    wake_at_ = earliest;
    if (earliest == Clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, earliest);
    }
    wake_at_ = Clock::time_point::max();
    // Deadlines may have moved (a later test, SetTimeout) while we waited.
    const Clock::time_point now = Clock::now();
    for (auto& [root, a] : armed_) {
      if (!a.fired && now >= a.deadline) {
        a.fired = true;
        a.stop.request_stop();
      }
    }
  }
}

}  // namespace internal

using internal::SuiteRunScope;
using internal::TestState;

SuiteRunner::SuiteRunner(const Suite& suite, const wire::WorkerPlan& plan, EventSink& sink,
                         OutputCapture* capture)
    : suite_(suite), plan_(plan), sink_(sink), capture_(capture) {}

SuiteRunner::~SuiteRunner() = default;

std::string SuiteRunner::Prepare() {
  std::string error;
  auto run = NameFilter::Compile(plan_.run_pattern, &error);
  if (!run) return "--run: " + error;
  auto skip = NameFilter::Compile(plan_.skip_pattern, &error);
  if (!skip) return "--skip: " + error;
  scope_ = std::make_unique<SuiteRunScope>(suite_, sink_, capture_, std::move(run),
                                           std::move(skip));
  scope_->timeout_cap = std::chrono::milliseconds(plan_.timeout_cap_ms);
  scope_->params = plan_.params;
  scope_->fail_fast = plan_.fail_fast;
  scope_->hold_on_failure = plan_.hold_on_failure;
  scope_->max_hold = std::chrono::milliseconds(plan_.max_hold_ms);
  auto assessments =
      std::make_unique<const AssessmentFilter>(plan_.assess_pattern, plan_.skip_assess_pattern);
  if (!assessments->error().empty()) return assessments->error();
  scope_->assessments = std::move(assessments);
  if (plan_.gtest) {
    auto gtest = GTestFilter::Parse(plan_.gtest_filter, plan_.gtest_run_disabled);
    if (!gtest.ok()) return "--gtest_filter: " + gtest.error().message;
    scope_->gtest_filter = *gtest;
  }
  return {};
}

void SuiteRunner::Cancel() {
  if (scope_) scope_->Cancel();
}

void SuiteRunner::ReleaseHold() {
  if (scope_) scope_->ReleaseHold();
}

bool SuiteRunner::RunHook(const TestFunc& fn, EventKind started, EventKind finished,
                          std::string* first_failure) {
  if (!fn) return true;
  std::stop_source stop;
  auto deadline = plan_.hook_timeout_ms > 0
                      ? std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(plan_.hook_timeout_ms)
                      : std::chrono::steady_clock::time_point::max();
  TestState state(scope_.get(), nullptr, "", 1, Context(stop.get_token(), deadline));
  T t(&state);
  scope_->Emit(state.MakeEvent(started), true);
  scope_->Arm(&state, deadline, stop);
  internal::RunGuarded(t, state, fn);
  internal::RunCleanups(state);
  if (scope_->Disarm(&state)) {
    state.failed = true;
    Event e = state.MakeEvent(EventKind::kFailure);
    e.text = "timed out after " + FormatDuration(std::chrono::milliseconds(plan_.hook_timeout_ms));
    e.key = kCauseTimeout;
    if (state.first_failure.empty()) state.first_failure = e.text;
    scope_->Emit(e, true);
  }
  // What setup started (a service, a suite-level environment) lives until the suite ends.
  if (started == EventKind::kSetupStarted && sweeper_ != nullptr) sweeper_->AdoptRunning();
  if (first_failure != nullptr) *first_failure = state.first_failure;
  if (capture_ != nullptr) capture_->Sync();
  Event done = state.MakeEvent(finished);
  done.status = state.failed ? Status::kFailed : Status::kPassed;
  scope_->Emit(done, false);
  return !state.failed;
}

void SuiteRunner::RunTest(const Test& test, const wire::PlannedTest& planned, bool* failed_hard) {
  const int max_attempts = std::max(plan_.max_attempts, planned.first_attempt);
  bool failed_before = planned.first_attempt > 1;
  const auto timeout = std::chrono::milliseconds(planned.timeout_ms);
  for (int attempt = planned.first_attempt; attempt <= max_attempts; ++attempt) {
    std::stop_source stop;
    auto start = std::chrono::steady_clock::now();
    auto deadline = timeout.count() > 0 ? start + timeout : std::chrono::steady_clock::time_point::max();
    TestState state(scope_.get(), nullptr, test.name, attempt, Context(stop.get_token(), deadline));
    // Each attempt is a trace of its own (docs/writing-tests.md says why).
    state.StartTrace({}, 0);
    T t(&state);
    scope_->Emit(state.StartedEvent(), false);
    if (scope_->capture != nullptr) scope_->capture->Enter(test.name);
    scope_->Arm(&state, deadline, stop);
    internal::RunGuarded(t, state, test.fn);
    scope_->MaybeHold(state);
    internal::RunCleanups(state);
    const bool timed_out = scope_->Disarm(&state);
    if (timed_out) {
      state.failed = true;
      Event e = state.MakeEvent(EventKind::kFailure);
      auto effective = state.context.Deadline() - start;
      e.text = "timed out after " +
               FormatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(effective));
      e.key = kCauseTimeout;
      e.soft = state.soft;
      scope_->Emit(e, true);
    }
    // Cut short by a cancelled run: whatever it did, it neither passed nor failed.
    const bool cancelled = scope_->cancelled() && state.context.StopRequested() &&
                           !state.skipped && !timed_out;
    if (cancelled) {
      Event e = state.MakeEvent(EventKind::kSkip);
      e.text = "cancelled: the run was interrupted while the test ran";
      scope_->Emit(e, true);
    }
    // After the cleanups: they stop what the test started gracefully; what is left dies.
    if (sweeper_ != nullptr && !concurrent_) sweeper_->SweepTest();
    if (scope_->capture != nullptr) scope_->capture->Leave();
    const Status status = cancelled       ? Status::kCancelled
                          : state.failed  ? Status::kFailed
                          : state.skipped ? Status::kSkipped
                                          : Status::kPassed;
    const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count();
    Event attempt_done = state.MakeEvent(EventKind::kAttemptFinished);
    attempt_done.status = status;
    attempt_done.elapsed_ns = elapsed;
    scope_->Emit(attempt_done, false);
    // A soft failure is a known issue: running it again would change nothing.
    const bool retry = status == Status::kFailed && !state.soft && attempt < max_attempts &&
                       !scope_->cancelled();
    if (retry) {
      failed_before = true;
      continue;
    }
    Event done = state.MakeEvent(EventKind::kTestFinished);
    done.status = status;
    done.elapsed_ns = elapsed;
    done.soft = status == Status::kFailed && state.soft;
    done.flaky = status == Status::kPassed && failed_before;
    scope_->Emit(done, false);
    *failed_hard = status == Status::kFailed && !state.soft;
    return;
  }
}

void SuiteRunner::SkipTest(const Test& test, const wire::PlannedTest& planned,
                           const std::string& why) {
  TestState state(scope_.get(), nullptr, test.name, planned.first_attempt, Context());
  scope_->Emit(state.MakeEvent(EventKind::kTestStarted), false);
  Event skip = state.MakeEvent(EventKind::kSkip);
  skip.text = why;
  scope_->Emit(skip, false);
  for (EventKind kind : {EventKind::kAttemptFinished, EventKind::kTestFinished}) {
    Event done = state.MakeEvent(kind);
    done.status = Status::kSkipped;
    scope_->Emit(done, false);
  }
}

namespace {

// Under --parallel the captured stdout and stderr cannot tell which of the running
// tests wrote a line: they go to the suite, and only t.Log lines name their test.
class SuiteLevelCapture : public OutputCapture {
 public:
  explicit SuiteLevelCapture(OutputCapture* inner) : inner_(inner) {}
  void Enter(const std::string&) override { inner_->Sync(); }
  void Leave() override { inner_->Sync(); }
  void Sync() override { inner_->Sync(); }

 private:
  OutputCapture* inner_;
};

}  // namespace

void SuiteRunner::Run() {
  std::string setup_failure;
  bool setup_ok = true;
  if (suite_.setup) {
    setup_ok = RunHook(suite_.setup, EventKind::kSetupStarted, EventKind::kSetupFinished,
                       &setup_failure);
  }
  if (!plan_.run_teardown_only) {
    std::unordered_map<std::string_view, const Test*> by_name;
    by_name.reserve(suite_.tests.size());
    for (const Test& t : suite_.tests) by_name.emplace(t.name, &t);
    // --parallel: features wait here and run together after the other tests.
    std::vector<std::pair<const Test*, const wire::PlannedTest*>> concurrent;
    for (const wire::PlannedTest& planned : plan_.tests) {
      if (scope_->cancelled()) break;
      auto found = by_name.find(planned.name);
      if (found == by_name.end()) continue;
      const Test* test = found->second;
      if (!setup_ok) {
        SkipTest(*test, planned,
                 "setup failed: " + (setup_failure.empty() ? std::string("setup failed")
                                                           : setup_failure));
        continue;
      }
      if (plan_.parallel && test->feature) {
        concurrent.emplace_back(test, &planned);
        continue;
      }
      bool failed_hard = false;
      RunTest(*test, planned, &failed_hard);
      if (failed_hard && plan_.fail_fast) break;
    }
    if (!concurrent.empty() && !scope_->cancelled()) {
      std::unique_ptr<SuiteLevelCapture> suite_level;
      if (capture_ != nullptr) {
        suite_level = std::make_unique<SuiteLevelCapture>(capture_);
        scope_->capture = suite_level.get();
      }
      std::vector<std::thread> threads;
      threads.reserve(concurrent.size());
      concurrent_ = true;
      for (const auto& [test, planned] : concurrent) {
        threads.emplace_back([this, test, planned] {
          bool failed_hard = false;
          RunTest(*test, *planned, &failed_hard);
        });
      }
      for (std::thread& t : threads) t.join();
      concurrent_ = false;
      if (sweeper_ != nullptr) sweeper_->SweepTest();
      scope_->capture = capture_;
    }
  }
  if (suite_.teardown) {
    RunHook(suite_.teardown, EventKind::kTeardownStarted, EventKind::kTeardownFinished, nullptr);
  }
}

}  // namespace handoff
