#pragma once

// Waiting until a service's Prometheus metrics reach a value, the core of the workload API's
// WaitSumMetrics (after Go's efficientgo/e2e WaitSumMetricsWithOptions): scrape, sum each
// named metric over the series the label matchers select, compare the sums with an
// expectation, back off and scrape again until it holds or the deadline passes. A wait that
// gives up says what it saw last.
//
// Errors: a bad call (no names, a two-metric expectation without two names, an invalid
// regex), a scrape that does not parse, or a missing metric without wait_missing or
// skip_missing fail at once; a scrape that fails (connection refused while the service
// starts) is retried until the deadline.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "handoff/workload.h"
#include "workload/prom_text.h"

namespace re2 {
class RE2;
}

namespace handoff::workload {

// Label matchers compiled once. A series is selected when every matcher accepts it; no
// matchers select every series.
class SeriesSelector {
 public:
  // Compiles `matchers`. On error (an invalid regex, an empty label name) returns nullopt
  // and sets *error to a message naming the matcher.
  static std::optional<SeriesSelector> Compile(std::vector<LabelMatcher> matchers,
                                               std::string* error);

  // Returns true if and only if every matcher accepts `labels`.
  bool Selects(const SeriesLabels& labels) const;

  // Returns the matchers as PromQL writes them (`{code=~"5..",method!="GET"}`), "" for none.
  std::string Describe() const;

 private:
  struct Compiled {
    LabelMatcher matcher;
    std::shared_ptr<const re2::RE2> regex;  // for kRegexMatch and kRegexNoMatch
  };
  std::vector<Compiled> matchers_;
};

// Returns the sum of metric `name` over the series `selector` selects, or nullopt if the
// metric does not exist or no series of it is selected. Counters (`name` or `name_total`),
// gauges and untyped metrics sum their values; histograms and summaries sum their `_sum`
// samples, or their `_count` samples when `count_instead_of_sum`.
std::optional<double> SumMetric(const std::vector<MetricFamily>& families, std::string_view name,
                                const SeriesSelector& selector, bool count_instead_of_sum);

// The answer of one scrape of a metrics endpoint.
struct Scrape {
  std::string body;   // the exposition text
  std::string error;  // empty when `body` holds the answer ("connection refused", "HTTP 503")
};

// Time for WaitMetrics; tests inject their own so that waits are instant and deterministic.
struct WaitClock {
  std::function<std::chrono::steady_clock::time_point()> now = [] {
    return std::chrono::steady_clock::now();
  };
  // Pauses for the given time; returns false to stop waiting (the test was cancelled).
  std::function<bool(std::chrono::milliseconds)> sleep = [](std::chrono::milliseconds pause) {
    std::this_thread::sleep_for(pause);
    return true;
  };
};

struct MetricWaitResult {
  bool ok = false;
  // The sums of the last successful scrape, one per name; nullopt for a missing metric.
  std::vector<std::optional<double>> last_values;
  // Why the wait failed, "" when ok: "requests_total: expected > 50, last saw 12 (after
  // 30 polls in 10s)".
  std::string message;
  int polls = 0;
};

// Scrapes with `scrape` until the sums of `names` satisfy `expectation` or the wait fails
// (see the error policy at the top of this file).
MetricWaitResult WaitMetrics(const std::function<Scrape()>& scrape,
                             const MetricExpectation& expectation,
                             const std::vector<std::string>& names,
                             const MetricWaitOptions& options = {}, const WaitClock& clock = {});

}  // namespace handoff::workload
