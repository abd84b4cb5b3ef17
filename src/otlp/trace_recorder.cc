#include "otlp/trace_recorder.h"

#include <utility>

#include "event/trace_context.h"

namespace handoff::otlp {
namespace {

std::string TopLevel(const std::string& test) { return test.substr(0, test.find('/')); }

}  // namespace

TraceRecorder::Open* TraceRecorder::FindTest(const Event& event) {
  auto trace = traces_.find(AttemptKey{event.suite, TopLevel(event.test), event.attempt});
  if (trace == traces_.end()) return nullptr;
  auto it = trace->second.tests.find(event.test);
  return it == trace->second.tests.end() ? nullptr : &it->second;
}

void TraceRecorder::Finish(Open& open, std::int64_t end_ns) {
  open.span.end_ns = end_ns > open.span.start_ns ? end_ns : open.span.start_ns;
  out_.Export(std::move(open.span));
}

void TraceRecorder::OnEvent(const Event& event) {
  switch (event.kind) {
    case EventKind::kTestStarted:
    case EventKind::kSpanStarted: {
      if (!IsTraceId(event.trace_id) || event.trace_span == 0) return;
      Open open;
      open.test = event.test;
      open.is_test = event.kind == EventKind::kTestStarted;
      Span& span = open.span;
      span.trace_id = event.trace_id;
      span.span_id = event.trace_span;
      span.parent_span_id = event.parent_span;
      span.name = open.is_test ? event.test : event.key;
      span.start_ns = event.time_ns;
      span.attributes.push_back(StringAttribute("handoff.suite", event.suite));
      span.attributes.push_back(StringAttribute("handoff.test", event.test));
      span.attributes.push_back(IntAttribute("handoff.attempt", event.attempt));
      if (run_id_ > 0) span.attributes.push_back(IntAttribute("handoff.run_id", run_id_));
      Trace& trace = traces_[AttemptKey{event.suite, TopLevel(event.test), event.attempt}];
      if (open.is_test) {
        trace.tests[event.test] = std::move(open);
      } else {
        trace.spans[event.span_id] = std::move(open);
      }
      return;
    }
    case EventKind::kFailure: {
      if (event.test.empty()) return;
      // The first failure explains the (sub)test's error status, and its attempt's.
      for (const std::string& name : {event.test, TopLevel(event.test)}) {
        Event at = event;
        at.test = name;
        if (Open* open = FindTest(at); open != nullptr && open->span.status_message.empty()) {
          open->span.status_message = event.text.empty() ? "failed" : event.text;
        }
      }
      return;
    }
    case EventKind::kSpanEnded: {
      auto trace = traces_.find(AttemptKey{event.suite, TopLevel(event.test), event.attempt});
      if (trace == traces_.end()) return;
      auto it = trace->second.spans.find(event.span_id);
      if (it == trace->second.spans.end()) return;
      for (const auto& [key, value] : event.attributes) {
        it->second.span.attributes.push_back(StringAttribute(key, value));
      }
      Finish(it->second, event.time_ns);
      trace->second.spans.erase(it);
      return;
    }
    case EventKind::kTestFinished:
      // A top-level test's span ended with its attempt (kAttemptFinished, just before).
      if (event.test.find('/') == std::string::npos) return;
      [[fallthrough]];
    case EventKind::kAttemptFinished: {
      AttemptKey key{event.suite, TopLevel(event.test), event.attempt};
      auto trace = traces_.find(key);
      if (trace == traces_.end()) return;
      const bool attempt_ends = event.kind == EventKind::kAttemptFinished;
      if (attempt_ends) {
        // A worker that crashed left spans and subtests open: they end with the attempt.
        for (auto& [id, open] : trace->second.spans) Finish(open, event.time_ns);
        trace->second.spans.clear();
      }
      auto& tests = trace->second.tests;
      for (auto it = tests.begin(); it != tests.end();) {
        const bool is_this = it->first == event.test;
        if (!is_this && !attempt_ends) {
          ++it;
          continue;
        }
        Span& span = it->second.span;
        if (is_this) {
          span.attributes.push_back(StringAttribute("handoff.status", StatusName(event.status)));
          if (event.status == Status::kFailed) {
            span.status = StatusCode::kError;
            if (span.status_message.empty()) span.status_message = "failed";
          } else {
            span.status_message.clear();
          }
        }
        Finish(it->second, event.time_ns);
        it = tests.erase(it);
      }
      if (attempt_ends) traces_.erase(trace);
      return;
    }
    default:
      return;
  }
}

}  // namespace handoff::otlp
