#pragma once

// One finished span, as the OTLP exporter sends it: built from a run's events by
// TraceRecorder (trace_recorder.h), encoded by EncodeTraces (otlp_json.h).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace handoff::otlp {

// An attribute value: OTLP's AnyValue, reduced to what handoff sends.
struct AttributeValue {
  enum class Type { kString, kInt };
  Type type = Type::kString;
  std::string string_value;
  std::int64_t int_value = 0;
};

struct Attribute {
  std::string key;
  AttributeValue value;
};

// Returns a string attribute.
inline Attribute StringAttribute(std::string key, std::string value) {
  return Attribute{std::move(key), {AttributeValue::Type::kString, std::move(value), 0}};
}
// Returns an integer attribute.
inline Attribute IntAttribute(std::string key, std::int64_t value) {
  return Attribute{std::move(key), {AttributeValue::Type::kInt, {}, value}};
}

// OTLP's Status.code: unset (the test passed, was skipped or cancelled) or error.
enum class StatusCode : int { kUnset = 0, kOk = 1, kError = 2 };

struct Span {
  std::string trace_id;        // 32 hex digits
  std::uint64_t span_id = 0;   // never 0
  std::uint64_t parent_span_id = 0;  // 0: the root of its trace (an attempt)
  std::string name;
  std::int64_t start_ns = 0;  // Unix nanoseconds
  std::int64_t end_ns = 0;
  std::vector<Attribute> attributes;
  StatusCode status = StatusCode::kUnset;
  std::string status_message;
};

// Where finished spans go (the exporter, or a test's list).
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  // Takes one finished span. Must not block: it is called on the thread that drives a run.
  virtual void Export(Span span) = 0;
};

}  // namespace handoff::otlp
