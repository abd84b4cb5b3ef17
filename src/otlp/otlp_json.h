#pragma once

// The OTLP/HTTP JSON encoding of spans: an ExportTraceServiceRequest
// (opentelemetry-proto, collector/trace/v1) as the protobuf JSON mapping writes it, with
// OTLP's exceptions: trace and span ids as hex (not base64), enums as integers, 64-bit
// integers (the times, intValue) as decimal strings.

#include <string>
#include <vector>

#include "otlp/span.h"

namespace handoff::otlp {

// Returns {"resourceSpans":[{resource, scopeSpans:[{scope, spans}]}]} for `spans`, with
// `resource` as the resource's attributes (service.name among them).
std::string EncodeTraces(const std::vector<Attribute>& resource, const std::vector<Span>& spans);

}  // namespace handoff::otlp
