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

#include "workload/prom_text.h"

namespace re2 {
class RE2;
}

namespace handoff::workload {

// Selects series by one label, as a PromQL matcher does: `=`, `!=`, `=~`, `!~`. A series
// without the label has it empty, and regexes are fully anchored.
struct LabelMatcher {
  enum class Op { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

  std::string name;
  Op op = Op::kEqual;
  std::string value;
};

// Label matchers compiled once. A series is selected when every matcher accepts it; no
// matchers select every series.
class SeriesSelector {
 public:
  // Compiles `matchers`. On error (an invalid regex, an empty label name) returns nullopt
  // and sets *error to a message naming the matcher.
  static std::optional<SeriesSelector> Compile(std::vector<LabelMatcher> matchers,
                                               std::string* error);

  // Returns true if and only if every matcher accepts `labels`.
  bool Selects(const Labels& labels) const;

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

// What the metric sums must satisfy. The single-value forms compare the total of every
// named metric; the "AmongTwo" forms need exactly two names and compare the first with the
// second.
struct MetricExpectation {
  enum class Kind {
    kEquals,
    kGreater,
    kGreaterOrEqual,
    kLess,
    kBetween,
    kEqualsAmongTwo,
    kGreaterAmongTwo,
    kLessAmongTwo,
  };

  Kind kind = Kind::kEquals;
  double low = 0;   // the value compared with, or Between's lower bound
  double high = 0;  // Between's upper bound

  // Returns true if the expectation compares two metrics rather than a total.
  bool ComparesTwo() const;

  // Returns true if `values` (the sums of the metrics found, in order) satisfy it. Equality
  // allows a relative difference of 1e-9; NaN satisfies nothing; a two-metric form with
  // other than two values is not satisfied.
  bool Holds(const std::vector<double>& values) const;

  // Describes the expectation: "> 50", "between 1 and 5", or with `names` for the
  // two-metric forms: "hits > misses".
  std::string Describe(const std::vector<std::string>& names) const;
};

// The sum equals `value` (within a relative 1e-9).
MetricExpectation Equals(double value);
// The sum is greater than `value`.
MetricExpectation Greater(double value);
// The sum is greater than or equal to `value`.
MetricExpectation GreaterOrEqual(double value);
// The sum is less than `value`.
MetricExpectation Less(double value);
// The sum is in [low, high].
MetricExpectation Between(double low, double high);
// The first metric equals the second (within a relative 1e-9).
MetricExpectation EqualsAmongTwo();
// The first metric is greater than the second.
MetricExpectation GreaterAmongTwo();
// The first metric is less than the second.
MetricExpectation LessAmongTwo();

// The pauses between scrapes: `initial`, then multiplied by `multiplier` up to `max`.
struct MetricWaitBackoff {
  std::chrono::milliseconds initial{300};
  std::chrono::milliseconds max{600};
  double multiplier = 2;
};

struct MetricWaitOptions {
  // Only series these select count.
  std::vector<LabelMatcher> matchers;
  // Histograms and summaries count observations (`_count`) instead of summing them (`_sum`).
  bool count_instead_of_sum = false;
  // A metric that does not exist yet is waited for instead of failing the wait.
  bool wait_missing = false;
  // A metric that does not exist is left out of the comparison (it wins over wait_missing).
  bool skip_missing = false;
  MetricWaitBackoff backoff;
  // How long to keep scraping; at least one scrape happens.
  std::chrono::milliseconds deadline{std::chrono::seconds(30)};
};

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
