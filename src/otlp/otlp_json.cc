#include "otlp/otlp_json.h"

#include <fmt/format.h>

#include "event/trace_context.h"
#include "json/json_writer.h"

namespace handoff::otlp {
namespace {

// SPAN_KIND_INTERNAL: a test's steps happen inside the test, neither client nor server.
constexpr int kSpanKindInternal = 1;

void AppendAttributes(std::string& out, const std::vector<Attribute>& attributes) {
  out += '[';
  for (std::size_t i = 0; i < attributes.size(); ++i) {
    const Attribute& a = attributes[i];
    if (i > 0) out += ',';
    out += "{\"key\":";
    AppendJsonString(out, a.key);
    out += ",\"value\":{";
    if (a.value.type == AttributeValue::Type::kInt) {
      fmt::format_to(std::back_inserter(out), "\"intValue\":\"{}\"", a.value.int_value);
    } else {
      out += "\"stringValue\":";
      AppendJsonString(out, a.value.string_value);
    }
    out += "}}";
  }
  out += ']';
}

void AppendSpan(std::string& out, const Span& span) {
  out += "{\"traceId\":";
  AppendJsonString(out, span.trace_id);
  out += ",\"spanId\":";
  AppendJsonString(out, SpanIdHex(span.span_id));
  if (span.parent_span_id != 0) {
    out += ",\"parentSpanId\":";
    AppendJsonString(out, SpanIdHex(span.parent_span_id));
  }
  out += ",\"name\":";
  AppendJsonString(out, span.name);
  fmt::format_to(std::back_inserter(out),
                 ",\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\"",
                 kSpanKindInternal, span.start_ns, span.end_ns);
  out += ",\"attributes\":";
  AppendAttributes(out, span.attributes);
  out += ",\"status\":{";
  if (span.status != StatusCode::kUnset) {
    fmt::format_to(std::back_inserter(out), "\"code\":{}", static_cast<int>(span.status));
    if (!span.status_message.empty()) {
      out += ",\"message\":";
      AppendJsonString(out, span.status_message);
    }
  }
  out += "}}";
}

}  // namespace

std::string EncodeTraces(const std::vector<Attribute>& resource, const std::vector<Span>& spans) {
  std::string out = "{\"resourceSpans\":[{\"resource\":{\"attributes\":";
  AppendAttributes(out, resource);
  out += "},\"scopeSpans\":[{\"scope\":{\"name\":\"handoff\"},\"spans\":[";
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i > 0) out += ',';
    AppendSpan(out, spans[i]);
  }
  out += "]}]}]}";
  return out;
}

}  // namespace handoff::otlp
