#pragma once

// Turns a run's events into OTLP spans: each attempt of a test is the root span of a trace
// of its own, its subtests and t.StartSpan spans are children (ids made in the worker and
// carried by kTestStarted and kSpanStarted). An EventSink in the fan-out of `run` and of
// each run `serve` executes.

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "event/event.h"
#include "otlp/span.h"

namespace handoff::otlp {

class TraceRecorder : public EventSink {
 public:
  // Sends the finished spans to `out` (which must outlive the recorder); `run_id` > 0 is
  // put on every span as handoff.run_id (serve's runs; `run` has none).
  TraceRecorder(SpanSink& out, std::int64_t run_id = 0) : out_(out), run_id_(run_id) {}

  // EventSink
  void OnEvent(const Event& event) override;

 private:
  // An attempt or subtest, or a t.StartSpan span, not finished yet.
  struct Open {
    Span span;
    std::string test;  // the test or subtest it belongs to
    bool is_test = false;
  };
  // (suite, top-level test, attempt): one trace.
  using AttemptKey = std::tuple<std::string, std::string, int>;
  struct Trace {
    std::map<std::string, Open> tests;            // by full test name
    std::map<std::uint32_t, Open> spans;          // by the worker's span number
  };

  Open* FindTest(const Event& event);
  void Finish(Open& open, std::int64_t end_ns);
  void FinishAttempt(const AttemptKey& key, const Event& event);

  SpanSink& out_;
  std::int64_t run_id_;
  std::map<AttemptKey, Trace> traces_;
};

}  // namespace handoff::otlp
