#pragma once

// A parser of the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for the metrics a test
// scrapes from the services it starts:
//
//   # HELP http_requests_total Requests served.
//   # TYPE http_requests_total counter
//   http_requests_total{code="200",path="/api"} 1027 1395066363000
//
// Samples are grouped under their family: a histogram's `_bucket` (with `le`), `_sum` and
// `_count`, a summary's quantiles (with `quantile`), `_sum` and `_count`. A sample with no
// `# TYPE` before it forms an untyped family of its own name. OpenMetrics habits are
// accepted where they do not conflict: a counter family named without its `_total` suffix,
// `_created` samples, the type `unknown` (untyped), and `# EOF` as the last line.
// The parser runs in time linear in its input and reports the first error it finds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace handoff::workload {

enum class MetricType { kCounter, kGauge, kHistogram, kSummary, kUntyped };

// Returns the name the format uses for `type` ("counter", ..., "untyped").
std::string_view MetricTypeName(MetricType type);

// A series' labels, sorted by name, names unique.
using SeriesLabels = std::vector<std::pair<std::string, std::string>>;

// One line of samples: `name{labels} value [timestamp]`.
struct Sample {
  std::string name;  // as written: "rpc_seconds_bucket" in family "rpc_seconds"
  SeriesLabels labels;
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;

  // Returns the value of label `name`, or nullopt if the sample has no such label.
  std::optional<std::string_view> Label(std::string_view name) const;
};

// A metric family: the samples of one metric, in input order.
struct MetricFamily {
  std::string name;
  MetricType type = MetricType::kUntyped;
  std::string help;
  std::vector<Sample> samples;
};

// Parses `text`. Families come in the order they first appear (by `# HELP`, `# TYPE` or a
// sample). On error returns nullopt and sets *error to a message that names the line
// ("line 7: invalid value \"1,5\" for sample http_requests_total").
std::optional<std::vector<MetricFamily>> ParsePromText(std::string_view text, std::string* error);

}  // namespace handoff::workload
