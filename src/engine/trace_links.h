#pragma once

// Links from an attempt to where its traces and logs are (serve --traces-link-template and
// --logs-link-template; docs/serve.md, Traces and logs): URL templates whose placeholders
// are replaced by the attempt's facts, each URL-encoded. Grafana Explore (Tempo, Loki),
// Jaeger and Kibana all take a trace id and a time range in their URLs.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace handoff {

// What a template may name: {trace_id}, {suite}, {test}, the attempt's start and end as
// RFC 3339 UTC times with milliseconds ({start}, {end}), and as Unix milliseconds
// ({start_ms}, {end_ms}).
struct AttemptFacts {
  std::string trace_id;
  std::string suite;
  std::string test;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
};

// A checked link template.
class LinkTemplate {
 public:
  // Checks `text` (named `flag` in errors): placeholders are {name} with name of lower-case
  // letters and '_', each one of AttemptFacts'; other braces (a Grafana URL's JSON) are
  // kept. An empty `text` makes a template that renders nothing. kInvalid when a placeholder
  // is unknown or the result for sample facts is not an http(s) URL with a host.
  static Result<LinkTemplate> Parse(std::string_view flag, std::string text);

  LinkTemplate() = default;
  bool empty() const { return text_.empty(); }
  const std::string& text() const { return text_; }

  // Returns the link for `facts`, or "" when the template is empty or the attempt has no
  // trace id (it ran before the server kept them, or never started).
  std::string Render(const AttemptFacts& facts) const;

 private:
  explicit LinkTemplate(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

}  // namespace handoff
