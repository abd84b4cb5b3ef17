#include "workload/metric_wait.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <re2/re2.h>

#include <algorithm>
#include <cmath>

#include "duration/duration.h"
#include "metrics/registry.h"
#include "runner/runner.h"

namespace handoff::workload {
namespace {

using std::chrono::milliseconds;

std::string_view OpText(LabelMatcher::Op op) {
  switch (op) {
    case LabelMatcher::Op::kEqual: return "=";
    case LabelMatcher::Op::kNotEqual: return "!=";
    case LabelMatcher::Op::kRegexMatch: return "=~";
    case LabelMatcher::Op::kRegexNoMatch: return "!~";
  }
  return "=";
}

std::string FormatValue(double v) {
  std::string out;
  metrics::AppendValue(out, v);
  return out;
}

bool NearlyEqual(double a, double b) {
  if (a == b) return true;  // also infinities of the same sign
  return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

const MetricFamily* FindFamily(const std::vector<MetricFamily>& families, std::string_view name) {
  for (const MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  // An OpenMetrics counter family "requests" asked for by its sample name "requests_total".
  for (const MetricFamily& family : families) {
    if (family.type == MetricType::kCounter && name.size() == family.name.size() + 6 &&
        name.starts_with(family.name) && name.ends_with("_total")) {
      return &family;
    }
  }
  return nullptr;
}

// The sample names that carry a family's value: what SumMetric adds up.
bool CountsTowardsSum(const MetricFamily& family, std::string_view sample, bool count_instead_of_sum) {
  std::string_view suffix = sample.substr(std::min(family.name.size(), sample.size()));
  switch (family.type) {
    case MetricType::kCounter:
      return suffix.empty() || suffix == "_total";
    case MetricType::kHistogram:
    case MetricType::kSummary:
      return suffix == (count_instead_of_sum ? "_count" : "_sum");
    case MetricType::kGauge:
    case MetricType::kUntyped:
      return suffix.empty();
  }
  return false;
}

// The message of a wait that gave up, from what it saw last.
class GiveUpMessage {
 public:
  GiveUpMessage(const MetricExpectation& expectation, const std::vector<std::string>& names,
                const SeriesSelector& selector)
      : expectation_(expectation), names_(names), selector_(selector.Describe()) {}

  // "a" or "a{code="200"}"; "a + b" or "a, b" (two-metric forms), then " {code="200"}".
  std::string Subject() const {
    if (names_.size() == 1) return names_[0] + selector_;
    std::string joined = fmt::format("{}", fmt::join(names_, expectation_.ComparesTwo() ? ", " : " + "));
    return selector_.empty() ? joined : joined + " " + selector_;
  }

  std::string Build(const MetricWaitResult& result, bool scraped, const std::string& scrape_error,
                    bool cancelled, std::chrono::nanoseconds elapsed) const {
    std::string seen;
    if (!scraped) {
      seen = "no successful scrape, last error: " + scrape_error;
    } else {
      seen = "last saw " + Values(result.last_values);
      if (!scrape_error.empty()) seen += ", then the scrape failed: " + scrape_error;
    }
    return fmt::format("{}: expected {}, {} ({}after {} poll{} in {})", Subject(),
                       expectation_.Describe(names_), seen, cancelled ? "cancelled " : "",
                       result.polls, result.polls == 1 ? "" : "s",
                       FormatDuration(std::chrono::duration_cast<milliseconds>(elapsed)));
  }

 private:
  // "12"; "12 (a=5, b=7)"; "a=3, b=5" (two-metric forms); a missing metric "b not found".
  std::string Values(const std::vector<std::optional<double>>& values) const {
    std::vector<std::string> each;
    double sum = 0;
    bool any = false;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i]) {
        each.push_back(names_[i] + "=" + FormatValue(*values[i]));
        sum += *values[i];
        any = true;
      } else {
        each.push_back(names_[i] + " not found");
      }
    }
    std::string listed = fmt::format("{}", fmt::join(each, ", "));
    if (expectation_.ComparesTwo()) return listed;
    if (!any) return "nothing (" + listed + ")";
    if (values.size() == 1) return FormatValue(sum);
    return FormatValue(sum) + " (" + listed + ")";
  }

  const MetricExpectation& expectation_;
  const std::vector<std::string>& names_;
  std::string selector_;
};

}  // namespace

std::optional<SeriesSelector> SeriesSelector::Compile(std::vector<LabelMatcher> matchers,
                                                      std::string* error) {
  SeriesSelector selector;
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(8 << 20);  // bound what a hostile pattern can take
  for (LabelMatcher& matcher : matchers) {
    if (matcher.name.empty()) {
      *error = "label matcher with an empty label name";
      return std::nullopt;
    }
    std::shared_ptr<const re2::RE2> regex;
    if (matcher.op == LabelMatcher::Op::kRegexMatch || matcher.op == LabelMatcher::Op::kRegexNoMatch) {
      regex = std::make_shared<const re2::RE2>(matcher.value, options);
      if (!regex->ok()) {
        *error = fmt::format("label matcher {}{}\"{}\": invalid regular expression: {}", matcher.name,
                             OpText(matcher.op), matcher.value, regex->error());
        return std::nullopt;
      }
    }
    selector.matchers_.push_back(Compiled{std::move(matcher), std::move(regex)});
  }
  return selector;
}

bool SeriesSelector::Selects(const SeriesLabels& labels) const {
  for (const Compiled& c : matchers_) {
    std::string_view value;  // a missing label is empty, as in PromQL
    for (const auto& [name, v] : labels) {
      if (name == c.matcher.name) value = v;
    }
    bool accepted = false;
    switch (c.matcher.op) {
      case LabelMatcher::Op::kEqual: accepted = value == c.matcher.value; break;
      case LabelMatcher::Op::kNotEqual: accepted = value != c.matcher.value; break;
      case LabelMatcher::Op::kRegexMatch: accepted = RE2::FullMatch(value, *c.regex); break;
      case LabelMatcher::Op::kRegexNoMatch: accepted = !RE2::FullMatch(value, *c.regex); break;
    }
    if (!accepted) return false;
  }
  return true;
}

std::string SeriesSelector::Describe() const {
  if (matchers_.empty()) return "";
  std::vector<std::string> parts;
  for (const Compiled& c : matchers_) {
    std::string value;
    for (char ch : c.matcher.value) {
      if (ch == '\\' || ch == '"') value += '\\';
      if (ch == '\n') {
        value += "\\n";
      } else {
        value += ch;
      }
    }
    parts.push_back(fmt::format("{}{}\"{}\"", c.matcher.name, OpText(c.matcher.op), value));
  }
  return fmt::format("{{{}}}", fmt::join(parts, ","));
}

std::optional<double> SumMetric(const std::vector<MetricFamily>& families, std::string_view name,
                                const SeriesSelector& selector, bool count_instead_of_sum) {
  const MetricFamily* family = FindFamily(families, name);
  if (family == nullptr) return std::nullopt;
  std::optional<double> sum;
  for (const Sample& sample : family->samples) {
    if (!CountsTowardsSum(*family, sample.name, count_instead_of_sum)) continue;
    if (!selector.Selects(sample.labels)) continue;
    sum = sum.value_or(0) + sample.value;
  }
  return sum;
}

bool MetricExpectation::ComparesTwo() const {
  return kind == Kind::kEqualsAmongTwo || kind == Kind::kGreaterAmongTwo ||
         kind == Kind::kLessAmongTwo;
}

bool MetricExpectation::Holds(const std::vector<double>& values) const {
  if (ComparesTwo()) {
    if (values.size() != 2) return false;
    double first = values[0], second = values[1];
    switch (kind) {
      case Kind::kEqualsAmongTwo: return NearlyEqual(first, second);
      case Kind::kGreaterAmongTwo: return first > second;
      case Kind::kLessAmongTwo: return first < second;
      default: return false;
    }
  }
  double sum = 0;
  for (double v : values) sum += v;
  switch (kind) {
    case Kind::kEquals: return NearlyEqual(sum, low);
    case Kind::kGreater: return sum > low;
    case Kind::kGreaterOrEqual: return sum >= low;
    case Kind::kLess: return sum < low;
    case Kind::kBetween: return sum >= low && sum <= high;
    default: return false;
  }
}

std::string MetricExpectation::Describe(const std::vector<std::string>& names) const {
  std::string first = names.size() > 0 ? names[0] : "first";
  std::string second = names.size() > 1 ? names[1] : "second";
  switch (kind) {
    case Kind::kEquals: return "== " + FormatValue(low);
    case Kind::kGreater: return "> " + FormatValue(low);
    case Kind::kGreaterOrEqual: return ">= " + FormatValue(low);
    case Kind::kLess: return "< " + FormatValue(low);
    case Kind::kBetween: return fmt::format("between {} and {}", FormatValue(low), FormatValue(high));
    case Kind::kEqualsAmongTwo: return first + " == " + second;
    case Kind::kGreaterAmongTwo: return first + " > " + second;
    case Kind::kLessAmongTwo: return first + " < " + second;
  }
  return "";
}

MetricExpectation Equals(double value) { return {MetricExpectation::Kind::kEquals, value}; }
MetricExpectation Greater(double value) { return {MetricExpectation::Kind::kGreater, value}; }
MetricExpectation GreaterOrEqual(double value) {
  return {MetricExpectation::Kind::kGreaterOrEqual, value};
}
MetricExpectation Less(double value) { return {MetricExpectation::Kind::kLess, value}; }
MetricExpectation Between(double low, double high) {
  return {MetricExpectation::Kind::kBetween, low, high};
}
MetricExpectation EqualsAmongTwo() { return {MetricExpectation::Kind::kEqualsAmongTwo}; }
MetricExpectation GreaterAmongTwo() { return {MetricExpectation::Kind::kGreaterAmongTwo}; }
MetricExpectation LessAmongTwo() { return {MetricExpectation::Kind::kLessAmongTwo}; }

MetricWaitResult WaitMetrics(const std::function<Scrape()>& scrape,
                             const MetricExpectation& expectation,
                             const std::vector<std::string>& names,
                             const MetricWaitOptions& options, const WaitClock& clock) {
  MetricWaitResult result;
  result.last_values.assign(names.size(), std::nullopt);
  auto fail = [&](std::string message) {
    result.message = std::move(message);
    return result;
  };
  if (names.empty()) return fail("no metric names to wait for");
  if (expectation.ComparesTwo() && names.size() != 2) {
    return fail(fmt::format("a two-metric expectation ({}) needs exactly two metric names, got {}",
                            expectation.Describe({}), names.size()));
  }
  std::string error;
  std::optional<SeriesSelector> selector = SeriesSelector::Compile(options.matchers, &error);
  if (!selector) return fail(error);
  GiveUpMessage give_up(expectation, names, *selector);

  const auto start = clock.now();
  milliseconds delay = std::max(options.backoff.initial, milliseconds(1));
  bool scraped = false, cancelled = false;
  std::string scrape_error;
  while (true) {
    ++result.polls;
    Scrape answer = scrape();
    scrape_error = answer.error;
    if (answer.error.empty()) {
      std::optional<std::vector<MetricFamily>> families = ParsePromText(answer.body, &error);
      if (!families) return fail(give_up.Subject() + ": the scraped metrics do not parse: " + error);
      scraped = true;
      std::vector<double> present;
      const std::string* missing = nullptr;
      for (std::size_t i = 0; i < names.size(); ++i) {
        result.last_values[i] = SumMetric(*families, names[i], *selector, options.count_instead_of_sum);
        if (result.last_values[i]) {
          present.push_back(*result.last_values[i]);
        } else if (missing == nullptr) {
          missing = &names[i];
        }
      }
      if (missing != nullptr && !options.skip_missing && !options.wait_missing) {
        return fail(fmt::format("metric {}{} not found", *missing, selector->Describe()));
      }
      bool waiting_for_missing = missing != nullptr && !options.skip_missing;
      if (!waiting_for_missing && expectation.Holds(present)) {
        result.ok = true;
        return result;
      }
    }
    auto elapsed = clock.now() - start;
    if (elapsed >= options.deadline) break;
    auto remaining = std::chrono::duration_cast<milliseconds>(options.deadline - elapsed);
    if (!clock.sleep(std::min(delay, std::max(remaining, milliseconds(1))))) {
      cancelled = true;
      break;
    }
    auto next = std::chrono::duration<double, std::milli>(delay) * std::max(options.backoff.multiplier, 1.0);
    delay = std::min(std::chrono::duration_cast<milliseconds>(next), std::max(options.backoff.max, delay));
  }
  return fail(give_up.Build(result, scraped, scrape_error, cancelled, clock.now() - start));
}

}  // namespace handoff::workload
