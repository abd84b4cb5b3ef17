#pragma once

// W3C Trace Context ids for test attempts, subtests and spans
// (https://www.w3.org/TR/trace-context/): a trace id of 16 random bytes and span ids of 8,
// written as lower-case hex. They are made in the worker, where the test runs, and travel
// to the parent on kTestStarted and kSpanStarted (event.h), where the OTLP exporter and the
// store read them.

#include <cstdint>
#include <string>
#include <string_view>

namespace handoff {

// Returns a new random trace id: 32 lower-case hex digits, never all zeros. Drawn from a
// per-thread generator seeded once from getrandom(2), so an attempt costs no system call.
std::string NewTraceId();

// Returns a new random span id, never zero.
std::uint64_t NewSpanId();

// Returns `span_id` as 16 lower-case hex digits, the form OTLP/JSON and traceparent use.
std::string SpanIdHex(std::uint64_t span_id);

// Returns the traceparent header value "00-<trace_id>-<span id>-01" (version 00, sampled).
std::string FormatTraceParent(std::string_view trace_id, std::uint64_t span_id);

// Returns true if and only if `trace_id` is 32 lower-case hex digits, not all zeros.
bool IsTraceId(std::string_view trace_id);

}  // namespace handoff
