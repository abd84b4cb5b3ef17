#include "workload/prom_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

namespace handoff::workload {
namespace {

std::vector<MetricFamily> MustParse(std::string_view text) {
  std::string error;
  auto families = ParsePromText(text, &error);
  EXPECT_TRUE(families) << error;
  return families.value_or(std::vector<MetricFamily>{});
}

std::string ParseError(std::string_view text) {
  std::string error;
  auto families = ParsePromText(text, &error);
  EXPECT_FALSE(families) << text;
  return error;
}

const MetricFamily* Find(const std::vector<MetricFamily>& families, std::string_view name) {
  for (const MetricFamily& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// "name{a="1",b="2"}=value" for compact comparisons.
std::string Describe(const Sample& s) {
  std::ostringstream out;
  out << s.name << "{";
  for (std::size_t i = 0; i < s.labels.size(); ++i) {
    out << (i ? "," : "") << s.labels[i].first << "=\"" << s.labels[i].second << "\"";
  }
  out << "}=" << s.value;
  if (s.timestamp_ms) out << "@" << *s.timestamp_ms;
  return out.str();
}

std::vector<std::string> DescribeAll(const MetricFamily& f) {
  std::vector<std::string> out;
  for (const Sample& s : f.samples) out.push_back(Describe(s));
  return out;
}

TEST(PromTextTest, HelpTypeAndSamples) {
  auto families = MustParse(
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n");
  ASSERT_EQ(families.size(), 1u);
  const MetricFamily& f = families[0];
  EXPECT_EQ(f.name, "http_requests_total");
  EXPECT_EQ(f.type, MetricType::kCounter);
  EXPECT_EQ(f.help, "The total number of HTTP requests.");
  EXPECT_EQ(DescribeAll(f), (std::vector<std::string>{
                                "http_requests_total{code=\"200\",method=\"post\"}=1027@1395066363000",
                                "http_requests_total{code=\"400\",method=\"post\"}=3@1395066363000"}));
  EXPECT_EQ(f.samples[0].Label("method"), "post");
  EXPECT_EQ(f.samples[0].Label("path"), std::nullopt);
}

TEST(PromTextTest, TypesByName) {
  auto families = MustParse(
      "# TYPE a counter\n# TYPE b gauge\n# TYPE c histogram\n# TYPE d summary\n"
      "# TYPE e untyped\n# TYPE f unknown\n");
  ASSERT_EQ(families.size(), 6u);
  EXPECT_EQ(families[0].type, MetricType::kCounter);
  EXPECT_EQ(families[1].type, MetricType::kGauge);
  EXPECT_EQ(families[2].type, MetricType::kHistogram);
  EXPECT_EQ(families[3].type, MetricType::kSummary);
  EXPECT_EQ(families[4].type, MetricType::kUntyped);
  EXPECT_EQ(families[5].type, MetricType::kUntyped);  // OpenMetrics' name for it
  EXPECT_EQ(MetricTypeName(MetricType::kHistogram), "histogram");
  EXPECT_EQ(families[2].samples.size(), 0u);  // declared, no observations yet
}

TEST(PromTextTest, LabelValueEscapes) {
  auto families = MustParse(
      R"(msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9)"
      "\n"
      R"(odd{v="a,b}c=d",w="",x="ünïcödé"} 1)"
      "\n");
  ASSERT_EQ(families.size(), 2u);
  const Sample& s = families[0].samples.at(0);
  EXPECT_EQ(s.Label("path"), "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(s.Label("error"), "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_EQ(s.value, 1.458255915e9);
  const Sample& odd = families[1].samples.at(0);
  EXPECT_EQ(odd.Label("v"), "a,b}c=d");
  EXPECT_EQ(odd.Label("w"), "");
  EXPECT_EQ(odd.Label("x"), "ünïcödé");
}

TEST(PromTextTest, LabelsAreSortedAndSpacingIsFree) {
  auto families = MustParse(
      "m{ z = \"1\" , a=\"2\", } 5\n"  // blanks around tokens, a trailing comma
      "m{} 6\n"
      "m\t7\n"
      "   m{a=\"x\"}\t 8   \n");
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(DescribeAll(families[0]),
            (std::vector<std::string>{"m{a=\"2\",z=\"1\"}=5", "m{}=6", "m{}=7", "m{a=\"x\"}=8"}));
}

TEST(PromTextTest, ValuesInEveryForm) {
  auto families = MustParse(
      "v{f=\"nan\"} NaN\n"
      "v{f=\"pinf\"} +Inf\n"
      "v{f=\"ninf\"} -Inf\n"
      "v{f=\"inf\"} Inf\n"
      "v{f=\"exp\"} 1.5e+3\n"
      "v{f=\"EXP\"} -2E-3\n"
      "v{f=\"plus\"} +42\n"
      "v{f=\"dot\"} .5\n"
      "v{f=\"int\"} 7\n"
      "v{f=\"big\"} 1.7976931348623157e308\n");
  ASSERT_EQ(families.size(), 1u);
  const auto& s = families[0].samples;
  ASSERT_EQ(s.size(), 10u);
  EXPECT_TRUE(std::isnan(s[0].value));
  EXPECT_EQ(s[1].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(s[2].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(s[3].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(s[4].value, 1500);
  EXPECT_EQ(s[5].value, -0.002);
  EXPECT_EQ(s[6].value, 42);
  EXPECT_EQ(s[7].value, 0.5);
  EXPECT_EQ(s[8].value, 7);
  EXPECT_EQ(s[9].value, std::numeric_limits<double>::max());
}

TEST(PromTextTest, TimestampsAreOptional) {
  auto families = MustParse("t 1\nt{a=\"b\"} 2 -1000\nt 3 1700000000000\n");
  const auto& s = families.at(0).samples;
  EXPECT_FALSE(s[0].timestamp_ms);
  EXPECT_EQ(s[1].timestamp_ms, -1000);
  EXPECT_EQ(s[2].timestamp_ms, 1700000000000);
}

TEST(PromTextTest, BlankLinesCommentsAndLineEndings) {
  auto families = MustParse(
      "\n"
      "# just a comment\n"
      "#another one\n"
      "   \t\n"
      "# HELP\n"          // a keyword and nothing else is a comment, as in Go's parser
      "# TYPE\n"
      "# UNIT x seconds\n"  // an OpenMetrics line 0.0.4 does not know: a comment
      "# HELP a First.\r\n"
      "a 1\r\n"
      "\r\n"
      "b 2");  // no final newline
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].help, "First.");
  EXPECT_EQ(families[0].samples.at(0).value, 1);
  EXPECT_EQ(families[1].samples.at(0).value, 2);
  EXPECT_TRUE(MustParse("").empty());
}

TEST(PromTextTest, HelpEscapes) {
  auto families = MustParse(R"(# HELP a Line one\nline two, a backslash \\ and \t kept)" "\n");
  EXPECT_EQ(families.at(0).help, "Line one\nline two, a backslash \\ and \\t kept");
}

TEST(PromTextTest, HistogramSamplesGroupUnderTheirFamily) {
  auto families = MustParse(
      "# HELP http_request_duration_seconds A histogram of the request duration.\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
      "http_request_duration_seconds_bucket{le=\"0.1\"} 33444\n"
      "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
      "http_request_duration_seconds_sum 53423\n"
      "http_request_duration_seconds_count 144320\n");
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].type, MetricType::kHistogram);
  EXPECT_EQ(DescribeAll(families[0]),
            (std::vector<std::string>{
                "http_request_duration_seconds_bucket{le=\"0.05\"}=24054",
                "http_request_duration_seconds_bucket{le=\"0.1\"}=33444",
                "http_request_duration_seconds_bucket{le=\"+Inf\"}=144320",
                "http_request_duration_seconds_sum{}=53423",
                "http_request_duration_seconds_count{}=144320"}));
}

TEST(PromTextTest, SummarySamplesGroupUnderTheirFamily) {
  auto families = MustParse(
      "# TYPE rpc_duration_seconds summary\n"
      "rpc_duration_seconds{quantile=\"0.01\"} 3102\n"
      "rpc_duration_seconds{quantile=\"0.99\"} 76656\n"
      "rpc_duration_seconds_sum 1.7560473e+07\n"
      "rpc_duration_seconds_count 2693\n");
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].type, MetricType::kSummary);
  EXPECT_EQ(families[0].samples.size(), 4u);
  EXPECT_EQ(families[0].samples[2].value, 1.7560473e+07);
}

TEST(PromTextTest, SamplesWithoutTypeAreUntypedFamiliesOfTheirOwn) {
  auto families = MustParse(
      "# TYPE g gauge\n"
      "g_count 1\n"  // a gauge has no _count: a family of its own
      "loose_bucket{le=\"1\"} 2\n"
      "g 3\n");
  ASSERT_EQ(families.size(), 3u);
  EXPECT_EQ(families[0].name, "g");
  EXPECT_EQ(families[0].samples.size(), 1u);
  EXPECT_EQ(families[1].name, "g_count");
  EXPECT_EQ(families[1].type, MetricType::kUntyped);
  EXPECT_EQ(families[2].name, "loose_bucket");
}

TEST(PromTextTest, SamplesOfAFamilyNeedNotBeContiguous) {
  auto families = MustParse("# TYPE a counter\n# TYPE b gauge\na 1\nb 2\na 3\n");
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].samples.size(), 2u);
}

TEST(PromTextTest, OpenMetricsCountersAndEof) {
  auto families = MustParse(
      "# TYPE requests counter\n"
      "# HELP requests Requests served.\n"
      "requests_total{path=\"/\"} 10\n"
      "requests_created{path=\"/\"} 1.7e9\n"
      "# TYPE info_total counter\n"
      "info_total 1\n"
      "# EOF\n"
      "\n");
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "requests");
  EXPECT_EQ(families[0].type, MetricType::kCounter);
  EXPECT_EQ(families[0].samples.size(), 2u);
  EXPECT_EQ(families[1].name, "info_total");  // the 0.0.4 way: the family carries _total
  EXPECT_EQ(families[1].samples.size(), 1u);
  EXPECT_EQ(ParseError("a 1\n# EOF\nb 2\n"), "line 3: unexpected content after \"# EOF\"");
}

TEST(PromTextTest, ErrorsNameTheLineAndTheProblem) {
  struct Case {
    const char* text;
    const char* error;
  };
  for (const Case& c : {
           Case{"a 1\n{a=\"b\"} 1\n", "line 2: expected a metric name, got \"{a=\\\"b\\\"} 1\""},
           Case{"a\n", "line 1: sample a has no value"},
           Case{"a{b=\"c\"}\n", "line 1: sample a has no value"},
           Case{"a 1,5\n", "line 1: invalid value \"1,5\" for sample a"},
           Case{"a one\n", "line 1: invalid value \"one\" for sample a"},
           Case{"a +-1\n", "line 1: invalid value \"+-1\" for sample a"},
           Case{"a 1e999\n", "line 1: invalid value \"1e999\" for sample a"},
           Case{"a 1 12.5\n", "line 1: invalid timestamp \"12.5\" for sample a"},
           Case{"a 1 2 3\n", "line 1: unexpected text \"3\" after sample a"},
           Case{"a-1 2\n", "line 1: unexpected \"-1 2\" after sample name a"},
           Case{"a{b} 1\n", "line 1: expected '=' after label b in sample a"},
           Case{"a{b=c} 1\n", "line 1: expected '\"' to open the value of label b in sample a"},
           Case{"a{1b=\"c\"} 1\n", "line 1: expected a label name in sample a, got \"1b=\\\"c\\\"} 1\""},
           Case{"a{b=\"c\" d=\"e\"} 1\n", "line 1: expected ',' or '}' after label b in sample a"},
           Case{"a{b=\"c\n", "line 1: unterminated value of label b"},
           Case{"a{b=\"c\\\n", "line 1: unterminated value of label b"},
           Case{"a{b=\"\\t\"} 1\n", "line 1: invalid escape sequence \"\\\\t\" in the value of label b"},
           Case{"a{b=\"1\",b=\"2\"} 1\n", "line 1: duplicate label b in sample a"},
           Case{"# TYPE a counter\n# TYPE a gauge\n", "line 2: second TYPE line for a"},
           Case{"# HELP a x\n# HELP a y\n", "line 2: second HELP line for a"},
           Case{"a 1\n# TYPE a counter\n", "line 2: TYPE line for a after its samples"},
           Case{"# TYPE a timer\n", "line 1: unknown metric type \"timer\" for a"},
           Case{"# TYPE a\n", "line 1: unknown metric type \"\" for a"},
           Case{"# TYPE a counter extra\n", "line 1: unexpected text \"extra\" after the type of a"},
           Case{"# TYPE 9a counter\n", "line 1: invalid metric name \"9a\" in TYPE line"},
           Case{"# HELP a-b x\n", "line 1: invalid metric name \"a-b\" in HELP line"},
           Case{"# TYPE h histogram\nh 1\n",
                "line 2: histogram h has no sample named h (want h_bucket, _sum or _count)"},
           Case{"# TYPE h histogram\nh_bucket 1\n",
                "line 2: histogram bucket h_bucket needs a numeric \"le\" label"},
           Case{"# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
                "line 2: histogram bucket h_bucket needs a numeric \"le\" label"},
           Case{"# TYPE s summary\ns 1\n",
                "line 2: summary sample s needs a numeric \"quantile\" label"},
       }) {
    EXPECT_EQ(ParseError(c.text), c.error) << c.text;
  }
}

TEST(PromTextTest, ErrorsQuoteLongOrBinaryInputShortly) {
  std::string error = ParseError("a " + std::string(100, 'x') + "\n");
  EXPECT_EQ(error, "line 1: invalid value \"" + std::string(40, 'x') + "...\" for sample a");
  EXPECT_EQ(ParseError(std::string("\x01\xff", 2)), "line 1: expected a metric name, got \"\\x01\\xff\"");
}

// A realistic /metrics page of a Go service: counters, gauges, histograms with labels, a
// summary, metrics with no samples yet, and a label value with escapes.
constexpr std::string_view kRealWorld = R"(# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.8711e-05
go_gc_duration_seconds{quantile="0.25"} 4.4538e-05
go_gc_duration_seconds{quantile="0.5"} 6.2315e-05
go_gc_duration_seconds{quantile="0.75"} 0.000105834
go_gc_duration_seconds{quantile="1"} 0.002011567
go_gc_duration_seconds_sum 0.079474891
go_gc_duration_seconds_count 711
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
# HELP go_info Information about the Go environment.
# TYPE go_info gauge
go_info{version="go1.21.5"} 1
# HELP http_request_duration_seconds Latency of HTTP requests.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{handler="/api/v1/query",method="GET",le="0.005"} 1520
http_request_duration_seconds_bucket{handler="/api/v1/query",method="GET",le="0.01"} 1781
http_request_duration_seconds_bucket{handler="/api/v1/query",method="GET",le="0.1"} 1990
http_request_duration_seconds_bucket{handler="/api/v1/query",method="GET",le="1"} 2001
http_request_duration_seconds_bucket{handler="/api/v1/query",method="GET",le="+Inf"} 2003
http_request_duration_seconds_sum{handler="/api/v1/query",method="GET"} 21.733
http_request_duration_seconds_count{handler="/api/v1/query",method="GET"} 2003
http_request_duration_seconds_bucket{handler="/metrics",method="GET",le="0.005"} 118
http_request_duration_seconds_bucket{handler="/metrics",method="GET",le="0.01"} 120
http_request_duration_seconds_bucket{handler="/metrics",method="GET",le="0.1"} 120
http_request_duration_seconds_bucket{handler="/metrics",method="GET",le="1"} 120
http_request_duration_seconds_bucket{handler="/metrics",method="GET",le="+Inf"} 120
http_request_duration_seconds_sum{handler="/metrics",method="GET"} 0.367
http_request_duration_seconds_count{handler="/metrics",method="GET"} 120
# HELP http_requests_total Requests served, by handler and code.
# TYPE http_requests_total counter
http_requests_total{code="200",handler="/api/v1/query"} 1990
http_requests_total{code="400",handler="/api/v1/query"} 9
http_requests_total{code="503",handler="/api/v1/query"} 4
http_requests_total{code="200",handler="/metrics"} 120
# HELP prometheus_tsdb_head_samples_appended_total Total number of appended samples.
# TYPE prometheus_tsdb_head_samples_appended_total counter
prometheus_tsdb_head_samples_appended_total{type="float"} 1.2485e+06
prometheus_tsdb_head_samples_appended_total{type="histogram"} 0
# HELP prometheus_tsdb_compaction_chunk_range_seconds Final time range of chunks on their first compaction
# TYPE prometheus_tsdb_compaction_chunk_range_seconds histogram
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.70046245687e+09
# HELP build_info A metric with a constant '1' value labeled by the build.
# TYPE build_info gauge
build_info{branch="HEAD",revision="1c2fd8a\"rc\"",version="2.48.0"} 1
)";

TEST(PromTextTest, RealWorldExposition) {
  auto families = MustParse(kRealWorld);
  ASSERT_EQ(families.size(), 9u);
  const MetricFamily* gc = Find(families, "go_gc_duration_seconds");
  ASSERT_NE(gc, nullptr);
  EXPECT_EQ(gc->type, MetricType::kSummary);
  EXPECT_EQ(gc->samples.size(), 7u);
  const MetricFamily* latency = Find(families, "http_request_duration_seconds");
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ(latency->type, MetricType::kHistogram);
  EXPECT_EQ(latency->help, "Latency of HTTP requests.");
  EXPECT_EQ(latency->samples.size(), 14u);
  EXPECT_EQ(latency->samples[4].Label("le"), "+Inf");
  EXPECT_EQ(latency->samples[5].name, "http_request_duration_seconds_sum");
  const MetricFamily* requests = Find(families, "http_requests_total");
  ASSERT_NE(requests, nullptr);
  EXPECT_EQ(requests->samples.size(), 4u);
  const MetricFamily* chunks = Find(families, "prometheus_tsdb_compaction_chunk_range_seconds");
  ASSERT_NE(chunks, nullptr);
  EXPECT_TRUE(chunks->samples.empty());
  EXPECT_EQ(Find(families, "build_info")->samples.at(0).Label("revision"), "1c2fd8a\"rc\"");
}

// The /metrics page of our own server, captured into testdata/serve_metrics.txt with
//   build/tests/serve_fixture serve --port 0 --db sqlite::memory:
//   curl -X POST .../api/v1/suites/Fast/runs; curl -X POST .../api/v1/suites/Mixed/runs
//   curl .../metrics > tests/unit/testdata/serve_metrics.txt
TEST(PromTextTest, OurOwnServerOutput) {
  std::ifstream in(HANDOFF_GOLDEN_DIR "/../unit/testdata/serve_metrics.txt");
  ASSERT_TRUE(in) << "missing testdata/serve_metrics.txt";
  std::stringstream text;
  text << in.rdbuf();
  auto families = MustParse(text.str());
  ASSERT_GE(families.size(), 15u);
  for (const MetricFamily& f : families) {
    EXPECT_FALSE(f.help.empty()) << f.name;
    for (const Sample& s : f.samples) EXPECT_EQ(s.name.rfind(f.name, 0), 0u) << s.name;
  }
  const MetricFamily* tests = Find(families, "handoff_tests_run_total");
  ASSERT_NE(tests, nullptr);
  EXPECT_EQ(tests->type, MetricType::kCounter);
  EXPECT_EQ(tests->samples.size(), 4u);
  const MetricFamily* durations = Find(families, "handoff_testsuite_run_duration_seconds");
  ASSERT_NE(durations, nullptr);
  EXPECT_EQ(durations->type, MetricType::kHistogram);
  // Two series (Fast, Mixed) of 17 buckets, a sum and a count each.
  EXPECT_EQ(durations->samples.size(), 2u * 19u);
  EXPECT_EQ(Find(families, "process_max_fds")->type, MetricType::kGauge);
}

// Garbage never crashes or hangs the parser: random bytes, and valid text with random
// edits, parse or fail with a line-numbered error. The seed is fixed: failures reproduce.
TEST(PromTextTest, GarbageFailsCleanly) {
  std::mt19937 rng(20261123);
  const std::string alphabet = "ab_:{}=\",\\# \t\n\r.+-eE019InfNaTYPEHELPcountersum_bucketle";
  int parsed = 0, failed = 0;
  auto check = [&](const std::string& text) {
    std::string error;
    auto families = ParsePromText(text, &error);
    if (families) {
      ++parsed;
    } else {
      ++failed;
      ASSERT_EQ(error.rfind("line ", 0), 0u) << error;
    }
  };
  for (int i = 0; i < 2000; ++i) {
    std::string text(rng() % 200, '\0');
    for (char& c : text) {
      c = i % 2 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    check(text);
  }
  for (int i = 0; i < 2000; ++i) {
    std::string text(kRealWorld);
    for (int edits = 1 + rng() % 4; edits > 0; --edits) {
      std::size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(at, 1 + rng() % 8); break;
        case 2: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
      }
    }
    check(text);
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(failed, 0);
}

}  // namespace
}  // namespace handoff::workload
