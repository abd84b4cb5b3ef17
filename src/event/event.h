#pragma once

// The one vocabulary of handoff: everything that happens in a run is an Event, and every
// part (worker pipe, reporters, later the store, metrics and live stream) consumes the
// same type through EventSink.

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace handoff {

// Final state of a test, an attempt or a suite: the outcome of the one result model
// (src/event/outcome.h). kCancelled: stopped, or never started, by a cancel, a shutdown or
// --fail-fast; it says nothing about the code under test.
enum class Status : std::uint8_t { kPassed, kFailed, kSkipped, kCancelled };

// Returns "passed", "failed", "skipped" or "cancelled".
const char* StatusName(Status status);

// What happened; declared in the order they fire during a run.
enum class EventKind : std::uint8_t {
  kRunStarted,        // once, before any suite
  kSuiteStarted,      // a suite run begins (suite, text = namespace)
  kSetupStarted,      // suite setup begins (in each worker)
  kSetupFinished,     // status; failures of setup arrive as kFailure with empty test
  kTestStarted,       // a test or subtest attempt begins (test = "Test/Sub", attempt)
  kOutput,            // a line the test wrote to stdout/stderr (text, without '\n')
  kLog,               // t.Log (text, file, line)
  kFailure,           // a failure (text, file, line, key = cause); soft if the test is soft
  kSkip,              // the test was skipped (text = reason, file, line)
  kValue,             // t.SetValue (key, text)
  kAttachment,        // t.Attach (key = name, file = media type, text = the bytes)
  kSpanStarted,       // span_id, key = span name
  kSpanEnded,         // span_id, attributes, elapsed_ns
  kTimeoutChanged,    // t.SetTimeout: elapsed_ns = new timeout from time_ns
  kHeld,              // hold on failure: a failed test waits before its cleanups (event/hold.h)
  kReleased,          // the held test goes on with its cleanups (text = why, event/hold.h)
  kAttemptFinished,   // a top-level test's attempt ended (status, elapsed_ns)
  kTestFinished,      // a test or subtest ended for good (status, elapsed_ns, soft, flaky)
  kTeardownStarted,   // suite teardown begins
  kTeardownFinished,  // status
  kSuiteFinished,     // status, elapsed_ns
  kRunFinished,       // status, elapsed_ns; text says why if the run stopped early
  // Between a worker and its supervisor only, never given to a sink: the raw stacks of a
  // crashed or hung worker (text, in the format of src/stack/raw_stacks.h).
  kStacks,
};

// Returns the lower-case name of an event kind ("test_started").
const char* EventKindName(EventKind kind);

// The `key` of a kFailure that did not come from an assertion (t.Error, t.Fatal, a thrown
// exception): the test's process crashed (a signal, exit(), std::terminate) or it ran past
// its timeout. JUnit writes these as <error type="...">, not <failure>.
inline constexpr const char* kCauseCrash = "crash";
inline constexpr const char* kCauseTimeout = "timeout";

// One event. Fields not used by a kind are left empty.
struct Event {
  EventKind kind = EventKind::kRunStarted;
  std::int64_t time_ns = 0;  // wall clock, nanoseconds since the Unix epoch
  std::string suite;
  std::string test;  // full name, "Test/Sub"; empty for suite-level events
  int attempt = 0;
  Status status = Status::kPassed;
  std::int64_t elapsed_ns = 0;
  std::string text;
  std::string key;
  std::string file;
  int line = 0;
  bool soft = false;
  bool flaky = false;
  std::uint32_t span_id = 0;
  std::vector<std::pair<std::string, std::string>> attributes;
  // W3C trace context (src/event/trace_context.h), set on kTestStarted (the attempt's or
  // subtest's span) and kSpanStarted (the span's): the trace id as 32 hex digits, the
  // span's own 8-byte id and its parent's (0 for an attempt, the root of its trace).
  std::string trace_id;
  std::uint64_t trace_span = 0;
  std::uint64_t parent_span = 0;
};

// Returns the current wall-clock time in nanoseconds since the Unix epoch.
std::int64_t NowNs();

// Receives the events of a run, in order. Implementations must not block for long:
// they are called on the thread that drives a run.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Called once per event, in the order the events fire.
  virtual void OnEvent(const Event& event) = 0;
  // Called when the stream pauses (no event for a moment, or regularly under a steady
  // stream): output buffered so far should be written now, so live readers keep up
  // without a write per event.
  virtual void Flush() {}
};

// A sink that ignores every event; derive from it to handle only some.
class EmptyEventSink : public EventSink {
 public:
  void OnEvent(const Event&) override {}
};

// Feeds every event to each of its sinks, in the order they were added. Thread-safe:
// suites running in parallel share one fan-out, and each event reaches the sinks whole.
class FanOut : public EventSink {
 public:
  // Adds a sink; it must outlive the fan-out's use.
  void Add(EventSink* sink) { sinks_.push_back(sink); }

  // EventSink
  void OnEvent(const Event& event) override {
    std::lock_guard lock(mu_);
    for (EventSink* sink : sinks_) sink->OnEvent(event);
  }
  void Flush() override {
    std::lock_guard lock(mu_);
    for (EventSink* sink : sinks_) sink->Flush();
  }

 private:
  std::mutex mu_;
  std::vector<EventSink*> sinks_;
};

}  // namespace handoff
