#include "workload/metric_wait.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace handoff::workload {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Op = LabelMatcher::Op;

constexpr std::string_view kExposition = R"(# TYPE http_requests_total counter
http_requests_total{code="200",handler="/api"} 1990
http_requests_total{code="404",handler="/api"} 9
http_requests_total{code="503",handler="/api"} 4
http_requests_total{code="200",handler="/metrics"} 120
# TYPE queue_depth gauge
queue_depth{queue="a"} 3
queue_depth{queue="b"} 4.5
loose_metric 7
# TYPE latency_seconds histogram
latency_seconds_bucket{handler="/api",le="0.1"} 1990
latency_seconds_bucket{handler="/api",le="+Inf"} 2003
latency_seconds_sum{handler="/api"} 21.733
latency_seconds_count{handler="/api"} 2003
latency_seconds_bucket{handler="/metrics",le="0.1"} 120
latency_seconds_bucket{handler="/metrics",le="+Inf"} 120
latency_seconds_sum{handler="/metrics"} 0.367
latency_seconds_count{handler="/metrics"} 120
# TYPE gc_seconds summary
gc_seconds{quantile="0.5"} 0.0001
gc_seconds{quantile="1"} 0.002
gc_seconds_sum 0.079
gc_seconds_count 711
# TYPE never_observed_seconds histogram
# TYPE jobs counter
jobs_total 5
jobs_created 1.7e9
)";

std::vector<MetricFamily> Families(std::string_view text = kExposition) {
  std::string error;
  auto families = ParsePromText(text, &error);
  EXPECT_TRUE(families) << error;
  return families.value_or(std::vector<MetricFamily>{});
}

SeriesSelector Selector(std::vector<LabelMatcher> matchers = {}) {
  std::string error;
  auto selector = SeriesSelector::Compile(std::move(matchers), &error);
  EXPECT_TRUE(selector) << error;
  return selector.value_or(SeriesSelector{});
}

std::optional<double> Sum(std::string_view name, std::vector<LabelMatcher> matchers = {},
                          bool count = false) {
  return SumMetric(Families(), name, Selector(std::move(matchers)), count);
}

// A clock that only moves when WaitMetrics sleeps, and a scripted endpoint.
class FakeEndpoint {
 public:
  explicit FakeEndpoint(std::vector<Scrape> answers) : answers_(std::move(answers)) {}

  // Answers in order, then repeats the last answer.
  std::function<Scrape()> Scraper() {
    return [this] {
      ++scrapes;
      return answers_[std::min(next_++, answers_.size() - 1)];
    };
  }

  WaitClock Clock() {
    WaitClock clock;
    clock.now = [this] { return now_; };
    clock.sleep = [this](milliseconds pause) {
      sleeps.push_back(pause);
      now_ += pause;
      return !cancel_at_first_sleep;
    };
    return clock;
  }

  MetricWaitResult Wait(const MetricExpectation& expectation, const std::vector<std::string>& names,
                        const MetricWaitOptions& options = {}) {
    return WaitMetrics(Scraper(), expectation, names, options, Clock());
  }

  int scrapes = 0;
  std::vector<milliseconds> sleeps;
  bool cancel_at_first_sleep = false;

 private:
  std::vector<Scrape> answers_;
  std::size_t next_ = 0;
  std::chrono::steady_clock::time_point now_{};
};

Scrape Body(std::string body) { return Scrape{std::move(body), ""}; }
Scrape Error(std::string error) { return Scrape{"", std::move(error)}; }

// --- SeriesSelector ---------------------------------------------------------------------------

TEST(MetricWaitTest, MatchersSelectLikePromQL) {
  SeriesLabels labels = {{"code", "503"}, {"handler", "/api"}};
  EXPECT_TRUE(Selector().Selects(labels));
  EXPECT_TRUE(Selector({{"code", Op::kEqual, "503"}}).Selects(labels));
  EXPECT_FALSE(Selector({{"code", Op::kEqual, "50"}}).Selects(labels));
  EXPECT_TRUE(Selector({{"code", Op::kNotEqual, "200"}}).Selects(labels));
  EXPECT_FALSE(Selector({{"code", Op::kNotEqual, "503"}}).Selects(labels));
  EXPECT_TRUE(Selector({{"code", Op::kRegexMatch, "5.."}}).Selects(labels));
  EXPECT_FALSE(Selector({{"code", Op::kRegexNoMatch, "5.."}}).Selects(labels));
  EXPECT_TRUE(Selector({{"code", Op::kRegexNoMatch, "2.*"}}).Selects(labels));
  // Every matcher must accept.
  EXPECT_FALSE(Selector({{"code", Op::kEqual, "503"}, {"handler", Op::kEqual, "/x"}}).Selects(labels));
}

TEST(MetricWaitTest, RegexesAreFullyAnchored) {
  SeriesLabels labels = {{"code", "5003"}};
  EXPECT_FALSE(Selector({{"code", Op::kRegexMatch, "5.."}}).Selects(labels));
  EXPECT_FALSE(Selector({{"code", Op::kRegexMatch, "00"}}).Selects(labels));
  EXPECT_TRUE(Selector({{"code", Op::kRegexMatch, "5.*|2.."}}).Selects(labels));
  EXPECT_TRUE(Selector({{"code", Op::kRegexNoMatch, "5.."}}).Selects(labels));
}

TEST(MetricWaitTest, AMissingLabelIsEmpty) {
  SeriesLabels labels = {{"code", "200"}};
  EXPECT_TRUE(Selector({{"env", Op::kEqual, ""}}).Selects(labels));
  EXPECT_TRUE(Selector({{"env", Op::kNotEqual, "prod"}}).Selects(labels));
  EXPECT_TRUE(Selector({{"env", Op::kRegexMatch, "prod|"}}).Selects(labels));
  EXPECT_FALSE(Selector({{"env", Op::kRegexMatch, ".+"}}).Selects(labels));
}

TEST(MetricWaitTest, InvalidMatchersAreClearErrors) {
  std::string error;
  EXPECT_FALSE(SeriesSelector::Compile({{"code", Op::kRegexMatch, "5(.."}}, &error));
  EXPECT_EQ(error.rfind("label matcher code=~\"5(..\": invalid regular expression: ", 0), 0u) << error;
  EXPECT_FALSE(SeriesSelector::Compile({{"", Op::kEqual, "x"}}, &error));
  EXPECT_EQ(error, "label matcher with an empty label name");
}

TEST(MetricWaitTest, SelectorDescribesItselfAsPromQL) {
  EXPECT_EQ(Selector().Describe(), "");
  EXPECT_EQ(Selector({{"code", Op::kRegexMatch, "5.."},
                      {"method", Op::kNotEqual, "GET"},
                      {"a", Op::kEqual, "q\"\\"},
                      {"b", Op::kRegexNoMatch, "x"}})
                .Describe(),
            R"({code=~"5..",method!="GET",a="q\"\\",b!~"x"})");
}

// --- SumMetric ----------------------------------------------------------------------------------

TEST(MetricWaitTest, CountersGaugesAndUntypedSumTheirSeries) {
  EXPECT_EQ(Sum("http_requests_total"), 1990 + 9 + 4 + 120);
  EXPECT_EQ(Sum("queue_depth"), 7.5);
  EXPECT_EQ(Sum("loose_metric"), 7);
}

TEST(MetricWaitTest, MatchersChooseTheSeries) {
  EXPECT_EQ(Sum("http_requests_total", {{"code", Op::kRegexMatch, "[45].."}}), 13);
  EXPECT_EQ(Sum("http_requests_total", {{"code", Op::kEqual, "200"}, {"handler", Op::kNotEqual, "/api"}}),
            120);
  EXPECT_EQ(Sum("queue_depth", {{"queue", Op::kRegexNoMatch, "a"}}), 4.5);
  // No series selected: as good as missing.
  EXPECT_EQ(Sum("http_requests_total", {{"code", Op::kEqual, "500"}}), std::nullopt);
}

TEST(MetricWaitTest, HistogramsAndSummariesSumTheirSumOrTheirCount) {
  EXPECT_NEAR(*Sum("latency_seconds"), 22.1, 1e-9);
  EXPECT_EQ(Sum("latency_seconds", {}, /*count=*/true), 2123);
  EXPECT_EQ(Sum("latency_seconds", {{"handler", Op::kEqual, "/metrics"}}, true), 120);
  EXPECT_EQ(Sum("gc_seconds"), 0.079);  // the quantiles do not count
  EXPECT_EQ(Sum("gc_seconds", {}, true), 711);
}

TEST(MetricWaitTest, MissingMetricsAreNullopt) {
  EXPECT_EQ(Sum("no_such_metric"), std::nullopt);
  EXPECT_EQ(Sum("never_observed_seconds"), std::nullopt);  // declared, no samples yet
  EXPECT_EQ(Sum("latency_seconds_bucket"), std::nullopt);  // a sample name, not a metric
}

TEST(MetricWaitTest, OpenMetricsCountersByEitherName) {
  EXPECT_EQ(Sum("jobs"), 5);  // _created does not count
  EXPECT_EQ(Sum("jobs_total"), 5);
}

// --- Expectations -------------------------------------------------------------------------------

TEST(MetricWaitTest, SingleValueExpectationsCompareTheTotal) {
  EXPECT_TRUE(Equals(5).Holds({2, 3}));
  EXPECT_FALSE(Equals(5).Holds({2, 2}));
  EXPECT_TRUE(Equals(0.3).Holds({0.1, 0.2}));  // within the relative epsilon
  EXPECT_FALSE(Equals(1).Holds({1.000001}));
  EXPECT_TRUE(Equals(0).Holds({}));
  EXPECT_TRUE(Greater(50).Holds({51}));
  EXPECT_FALSE(Greater(50).Holds({50}));
  EXPECT_TRUE(GreaterOrEqual(50).Holds({50}));
  EXPECT_FALSE(GreaterOrEqual(50).Holds({49.9}));
  EXPECT_TRUE(Less(3).Holds({1, 1}));
  EXPECT_FALSE(Less(3).Holds({3}));
  EXPECT_TRUE(Between(1, 5).Holds({1}));
  EXPECT_TRUE(Between(1, 5).Holds({5}));
  EXPECT_TRUE(Between(1, 5).Holds({2, 2}));
  EXPECT_FALSE(Between(1, 5).Holds({5.5}));
  EXPECT_FALSE(Between(1, 5).Holds({0.5}));
  double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(Equals(inf).Holds({inf}));
  EXPECT_TRUE(Greater(1e300).Holds({inf}));
  double nan = std::numeric_limits<double>::quiet_NaN();
  for (const MetricExpectation& e : {Equals(0), Greater(0), GreaterOrEqual(0), Less(0), Between(0, 1)}) {
    EXPECT_FALSE(e.Holds({nan})) << e.Describe({});
  }
}

TEST(MetricWaitTest, TwoMetricExpectationsCompareFirstWithSecond) {
  EXPECT_TRUE(EqualsAmongTwo().Holds({4, 4}));
  EXPECT_FALSE(EqualsAmongTwo().Holds({4, 5}));
  EXPECT_TRUE(GreaterAmongTwo().Holds({5, 4}));
  EXPECT_FALSE(GreaterAmongTwo().Holds({4, 4}));
  EXPECT_TRUE(LessAmongTwo().Holds({3, 4}));
  EXPECT_FALSE(LessAmongTwo().Holds({4, 3}));
  EXPECT_FALSE(EqualsAmongTwo().Holds({4}));
  EXPECT_FALSE(GreaterAmongTwo().Holds({5, 4, 1}));
  EXPECT_TRUE(GreaterAmongTwo().ComparesTwo());
  EXPECT_FALSE(Greater(1).ComparesTwo());
}

TEST(MetricWaitTest, ExpectationsDescribeThemselves) {
  EXPECT_EQ(Equals(5).Describe({}), "== 5");
  EXPECT_EQ(Greater(0.5).Describe({}), "> 0.5");
  EXPECT_EQ(GreaterOrEqual(1e21).Describe({}), ">= 1e+21");
  EXPECT_EQ(Less(std::numeric_limits<double>::infinity()).Describe({}), "< +Inf");
  EXPECT_EQ(Between(1, 5).Describe({}), "between 1 and 5");
  EXPECT_EQ(EqualsAmongTwo().Describe({"hits", "misses"}), "hits == misses");
  EXPECT_EQ(GreaterAmongTwo().Describe({"hits", "misses"}), "hits > misses");
  EXPECT_EQ(LessAmongTwo().Describe({}), "first < second");
}

// --- WaitMetrics ----------------------------------------------------------------------------------

TEST(MetricWaitTest, SucceedsAtTheFirstScrapeWithoutSleeping) {
  FakeEndpoint endpoint({Body(std::string(kExposition))});
  MetricWaitResult r = endpoint.Wait(Equals(2123), {"http_requests_total"});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.message, "");
  EXPECT_EQ(r.polls, 1);
  EXPECT_EQ(r.last_values, (std::vector<std::optional<double>>{2123}));
  EXPECT_TRUE(endpoint.sleeps.empty());
}

TEST(MetricWaitTest, PollsWithBackoffUntilTheValueArrives) {
  FakeEndpoint endpoint({Body("c 1\n"), Body("c 2\n"), Body("c 3\n"), Body("c 4\n"), Body("c 9\n")});
  MetricWaitResult r = endpoint.Wait(GreaterOrEqual(9), {"c"});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.polls, 5);
  EXPECT_EQ(r.last_values, (std::vector<std::optional<double>>{9}));
  // The default backoff: 300ms, doubled, at most 600ms.
  EXPECT_EQ(endpoint.sleeps,
            (std::vector<milliseconds>{milliseconds(300), milliseconds(600), milliseconds(600),
                                       milliseconds(600)}));
}

TEST(MetricWaitTest, BackoffGrowsByItsMultiplierUpToItsMax) {
  FakeEndpoint endpoint({Body("c 1\n")});
  MetricWaitOptions options;
  options.backoff = {.initial = milliseconds(100), .max = milliseconds(1000), .multiplier = 3};
  options.deadline = seconds(3);
  MetricWaitResult r = endpoint.Wait(Equals(2), {"c"}, options);
  EXPECT_FALSE(r.ok);
  // 100, 300, 900, 1000, then what is left of the 3 seconds; a last scrape at the deadline.
  EXPECT_EQ(endpoint.sleeps,
            (std::vector<milliseconds>{milliseconds(100), milliseconds(300), milliseconds(900),
                                       milliseconds(1000), milliseconds(700)}));
  EXPECT_EQ(r.polls, 6);
}

TEST(MetricWaitTest, GivingUpSaysWhatItSawLast) {
  FakeEndpoint endpoint({Body("prometheus_tsdb_head_samples_appended_total 3\n"),
                         Body("prometheus_tsdb_head_samples_appended_total 12\n")});
  MetricWaitOptions options;
  options.deadline = seconds(10);
  MetricWaitResult r = endpoint.Wait(Greater(50), {"prometheus_tsdb_head_samples_appended_total"}, options);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.message,
            "prometheus_tsdb_head_samples_appended_total: expected > 50, last saw 12 "
            "(after 19 polls in 10s)");
  EXPECT_EQ(r.polls, 19);
  EXPECT_EQ(endpoint.scrapes, 19);
  EXPECT_EQ(r.last_values, (std::vector<std::optional<double>>{12}));
}

TEST(MetricWaitTest, ADeadlineOfZeroScrapesOnce) {
  FakeEndpoint endpoint({Body("c 1\n")});
  MetricWaitOptions options;
  options.deadline = milliseconds(0);
  MetricWaitResult r = endpoint.Wait(Less(1), {"c"}, options);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.polls, 1);
  EXPECT_EQ(r.message, "c: expected < 1, last saw 1 (after 1 poll in 0µs)");
}

TEST(MetricWaitTest, SeveralNamesAreSummed) {
  FakeEndpoint endpoint({Body("a 3\nb 4\n")});
  MetricWaitOptions options;
  options.deadline = seconds(1);
  EXPECT_TRUE(endpoint.Wait(Equals(7), {"a", "b"}, options).ok);
  MetricWaitResult r = endpoint.Wait(Greater(10), {"a", "b"}, options);
  EXPECT_EQ(r.message, "a + b: expected > 10, last saw 7 (a=3, b=4) (after 4 polls in 1s)");
}

TEST(MetricWaitTest, MatchersAndCountApplyToTheWait) {
  FakeEndpoint endpoint({Body(std::string(kExposition))});
  MetricWaitOptions options;
  options.matchers = {{"code", Op::kRegexMatch, "5.."}};
  EXPECT_TRUE(endpoint.Wait(Equals(4), {"http_requests_total"}, options).ok);
  options.matchers = {{"handler", Op::kEqual, "/metrics"}};
  options.count_instead_of_sum = true;
  EXPECT_TRUE(endpoint.Wait(Equals(120), {"latency_seconds"}, options).ok);
  options.count_instead_of_sum = false;
  EXPECT_TRUE(endpoint.Wait(Between(0.36, 0.37), {"latency_seconds"}, options).ok);

  options.deadline = seconds(1);
  options.matchers = {{"code", Op::kRegexMatch, "5.."}};
  MetricWaitResult r = endpoint.Wait(Equals(0), {"http_requests_total"}, options);
  EXPECT_EQ(r.message,
            "http_requests_total{code=~\"5..\"}: expected == 0, last saw 4 (after 4 polls in 1s)");
  options.matchers = {{"handler", Op::kNotEqual, "/nothing"}};
  r = endpoint.Wait(Equals(0), {"http_requests_total", "queue_depth"}, options);
  EXPECT_EQ(r.message,
            "http_requests_total + queue_depth {handler!=\"/nothing\"}: expected == 0, last saw 2130.5 "
            "(http_requests_total=2123, queue_depth=7.5) (after 4 polls in 1s)");
}

TEST(MetricWaitTest, AMissingMetricFailsAtOnce) {
  FakeEndpoint endpoint({Body("a 1\n")});
  MetricWaitResult r = endpoint.Wait(Greater(0), {"a", "b"});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.message, "metric b not found");
  EXPECT_EQ(r.polls, 1);
  EXPECT_EQ(r.last_values, (std::vector<std::optional<double>>{1, std::nullopt}));

  MetricWaitOptions options;
  options.matchers = {{"code", Op::kEqual, "500"}};
  r = endpoint.Wait(Greater(0), {"a"}, options);
  EXPECT_EQ(r.message, "metric a{code=\"500\"} not found");
}

TEST(MetricWaitTest, WaitMissingKeepsPollingUntilTheMetricAppears) {
  FakeEndpoint endpoint({Body("other 1\n"), Body("# TYPE a counter\n"), Body("a 2\n")});
  MetricWaitOptions options;
  options.wait_missing = true;
  MetricWaitResult r = endpoint.Wait(Equals(2), {"a"}, options);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.polls, 3);
}

TEST(MetricWaitTest, WaitMissingGivesUpSayingTheMetricWasNotFound) {
  FakeEndpoint endpoint({Body("a 2\n")});
  MetricWaitOptions options;
  options.wait_missing = true;
  options.deadline = seconds(1);
  // Even an expectation the present metrics satisfy waits for the missing one.
  MetricWaitResult r = endpoint.Wait(Greater(1), {"a", "b"}, options);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.message, "a + b: expected > 1, last saw 2 (a=2, b not found) (after 4 polls in 1s)");
  r = endpoint.Wait(Greater(1), {"b"}, options);
  EXPECT_EQ(r.message, "b: expected > 1, last saw nothing (b not found) (after 4 polls in 1s)");
}

TEST(MetricWaitTest, SkipMissingLeavesMissingMetricsOut) {
  FakeEndpoint endpoint({Body("a 2\n")});
  MetricWaitOptions options;
  options.skip_missing = true;
  EXPECT_TRUE(endpoint.Wait(Equals(2), {"a", "b"}, options).ok);
  EXPECT_TRUE(endpoint.Wait(Equals(0), {"b", "c"}, options).ok);  // an empty sum is 0, as in Go
  options.wait_missing = true;  // skip_missing wins
  EXPECT_TRUE(endpoint.Wait(Equals(2), {"a", "b"}, options).ok);
}

TEST(MetricWaitTest, TwoMetricComparisons) {
  FakeEndpoint endpoint({Body("hits 3\nmisses 5\n"), Body("hits 5\nmisses 5\n"), Body("hits 8\nmisses 5\n")});
  MetricWaitResult r = endpoint.Wait(GreaterAmongTwo(), {"hits", "misses"});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.polls, 3);

  FakeEndpoint equal({Body("hits 3\nmisses 5\n"), Body("hits 5\nmisses 5\n")});
  EXPECT_TRUE(equal.Wait(EqualsAmongTwo(), {"hits", "misses"}).ok);

  FakeEndpoint less({Body("hits 8\nmisses 5\n")});
  MetricWaitOptions options;
  options.deadline = seconds(1);
  r = less.Wait(LessAmongTwo(), {"hits", "misses"}, options);
  EXPECT_EQ(r.message, "hits, misses: expected hits < misses, last saw hits=8, misses=5 (after 4 polls in 1s)");
  EXPECT_TRUE(less.Wait(LessAmongTwo(), {"misses", "hits"}, options).ok);
}

TEST(MetricWaitTest, TwoMetricComparisonWithASkippedMetricKeepsWaiting) {
  FakeEndpoint endpoint({Body("hits 3\n")});
  MetricWaitOptions options;
  options.skip_missing = true;
  options.deadline = seconds(1);
  MetricWaitResult r = endpoint.Wait(GreaterAmongTwo(), {"hits", "misses"}, options);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.message,
            "hits, misses: expected hits > misses, last saw hits=3, misses not found (after 4 polls in 1s)");
}

TEST(MetricWaitTest, ScrapeErrorsAreRetried) {
  FakeEndpoint endpoint({Error("connection refused"), Error("connection refused"), Body("up 1\n")});
  MetricWaitResult r = endpoint.Wait(Equals(1), {"up"});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.polls, 3);
}

TEST(MetricWaitTest, GivingUpAfterScrapeErrorsSaysTheLastOne) {
  MetricWaitOptions options;
  options.deadline = seconds(1);
  FakeEndpoint down({Error("connection refused"), Error("HTTP 503")});
  EXPECT_EQ(down.Wait(Equals(1), {"up"}, options).message,
            "up: expected == 1, no successful scrape, last error: HTTP 503 (after 4 polls in 1s)");

  FakeEndpoint flaky({Body("up 0\n"), Error("HTTP 503")});
  MetricWaitResult r = flaky.Wait(Equals(1), {"up"}, options);
  EXPECT_EQ(r.message,
            "up: expected == 1, last saw 0, then the scrape failed: HTTP 503 (after 4 polls in 1s)");
  EXPECT_EQ(r.last_values, (std::vector<std::optional<double>>{0}));

  // A scrape that succeeds again clears the error.
  FakeEndpoint recovered({Error("HTTP 503"), Body("up 0\n")});
  EXPECT_EQ(recovered.Wait(Equals(1), {"up"}, options).message,
            "up: expected == 1, last saw 0 (after 4 polls in 1s)");
}

TEST(MetricWaitTest, AScrapeThatDoesNotParseFailsAtOnce) {
  FakeEndpoint endpoint({Body("<html>Not Found</html>\n")});
  MetricWaitResult r = endpoint.Wait(Equals(1), {"up"});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.polls, 1);
  EXPECT_EQ(r.message,
            "up: the scraped metrics do not parse: line 1: expected a metric name, got "
            "\"<html>Not Found</html>\"");
}

TEST(MetricWaitTest, BadCallsFailBeforeScraping) {
  FakeEndpoint endpoint({Body("a 1\n")});
  EXPECT_EQ(endpoint.Wait(Equals(1), {}).message, "no metric names to wait for");
  EXPECT_EQ(endpoint.Wait(GreaterAmongTwo(), {"a"}).message,
            "a two-metric expectation (first > second) needs exactly two metric names, got 1");
  EXPECT_EQ(endpoint.Wait(EqualsAmongTwo(), {"a", "b", "c"}).message,
            "a two-metric expectation (first == second) needs exactly two metric names, got 3");
  MetricWaitOptions options;
  options.matchers = {{"code", Op::kRegexNoMatch, "[5"}};
  MetricWaitResult r = endpoint.Wait(Equals(1), {"a"}, options);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.message.rfind("label matcher code!~\"[5\": invalid regular expression: ", 0), 0u)
      << r.message;
  EXPECT_EQ(endpoint.scrapes, 0);
}

TEST(MetricWaitTest, ACancelledWaitStopsAndSaysSo) {
  FakeEndpoint endpoint({Body("a 1\n")});
  endpoint.cancel_at_first_sleep = true;
  MetricWaitResult r = endpoint.Wait(Equals(2), {"a"});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.polls, 1);
  EXPECT_EQ(r.message, "a: expected == 2, last saw 1 (cancelled after 1 poll in 300ms)");
}

// Our own server's /metrics (tests/unit/testdata/serve_metrics.txt: a Fast run of 3 tests,
// one with a subtest, and a Mixed run of 5).
TEST(MetricWaitTest, WaitsOnOurOwnServerMetrics) {
  std::ifstream in(HANDOFF_GOLDEN_DIR "/../unit/testdata/serve_metrics.txt");
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  FakeEndpoint endpoint({Body(text.str())});
  MetricWaitOptions options;
  options.matchers = {{"result", Op::kEqual, "passed"}};
  EXPECT_TRUE(endpoint.Wait(Equals(7), {"handoff_tests_run_total"}, options).ok);
  options.matchers = {{"suite", Op::kRegexMatch, "Fast|Mixed"}};
  options.count_instead_of_sum = true;
  EXPECT_TRUE(endpoint.Wait(Equals(8), {"handoff_test_duration_seconds"}, options).ok);
  EXPECT_TRUE(endpoint.Wait(Equals(2), {"handoff_testsuite_run_duration_seconds"}, options).ok);
  options = {};
  EXPECT_TRUE(endpoint.Wait(GreaterAmongTwo(), {"process_max_fds", "process_open_fds"}, options).ok);
  EXPECT_EQ(endpoint.Wait(Greater(0), {"handoff_schedule_lag_seconds"}, options).message,
            "metric handoff_schedule_lag_seconds not found");
}

}  // namespace
}  // namespace handoff::workload
