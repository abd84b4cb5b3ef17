// Trace correlation (issue 19) through the real binary: the traceparent a test sees is the
// one its spans are exported under, over OTLP/HTTP JSON to a local receiver that answers as
// a collector would (or fails as one can).

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "blackbox/process.h"
#include "blackbox/receiver.h"

namespace handoff::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

#ifdef EXAMPLE_TRACING

// The lines examples/tracing logs: "<what>: 00-<trace>-<span>-01".
std::map<std::string, std::string> TraceParents(const std::string& out) {
  std::map<std::string, std::string> found;
  static const std::regex kLine(R"((test|in span|subtest|context):\s+(00-[0-9a-f]{32}-[0-9a-f]{16}-01))");
  for (std::sregex_iterator it(out.begin(), out.end(), kLine), end; it != end; ++it) {
    found[(*it)[1]] = (*it)[2];
  }
  return found;
}

struct ExportedSpan {
  std::string trace_id, span_id, parent_span_id, status_message;
  std::int64_t status_code = 0;
  std::map<std::string, std::string> attributes;
};

// Every span the receiver got, by name, after checking the service name.
std::map<std::string, ExportedSpan> Spans(const Receiver& receiver) {
  std::map<std::string, ExportedSpan> spans;
  for (const ReceivedRequest& request : receiver.Requests()) {
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/v1/traces");
    EXPECT_EQ(request.Header("Content-Type"), "application/json");
    boost::system::error_code ec;
    json::value doc = json::parse(request.body, ec);
    if (ec) continue;  // a retried request's earlier copy was the same body
    for (const json::value& rs : doc.at("resourceSpans").as_array()) {
      const json::value& service = rs.at("resource").at("attributes").as_array().at(0);
      EXPECT_EQ(service.at("key").as_string(), "service.name");
      EXPECT_EQ(service.at("value").at("stringValue").as_string(), "tracing");
      for (const json::value& ss : rs.at("scopeSpans").as_array()) {
        for (const json::value& v : ss.at("spans").as_array()) {
          ExportedSpan s;
          s.trace_id = v.at("traceId").as_string();
          s.span_id = v.at("spanId").as_string();
          if (const json::value* p = v.as_object().if_contains("parentSpanId")) {
            s.parent_span_id = p->as_string();
          }
          EXPECT_LE(std::stoll(std::string(v.at("startTimeUnixNano").as_string())),
                    std::stoll(std::string(v.at("endTimeUnixNano").as_string())));
          const json::object& status = v.at("status").as_object();
          if (status.contains("code")) s.status_code = status.at("code").as_int64();
          for (const json::value& a : v.at("attributes").as_array()) {
            const json::object& value = a.at("value").as_object();
            s.attributes[std::string(a.at("key").as_string())] =
                value.contains("stringValue") ? std::string(value.at("stringValue").as_string())
                                              : std::string(value.at("intValue").as_string());
          }
          spans[std::string(v.at("name").as_string())] = s;
        }
      }
    }
  }
  return spans;
}

TEST(TracingTest, TheTraceParentATestSeesIsTheOneItsSpansAreExportedUnder) {
  Receiver receiver;
  ProcessResult r = RunProcess({EXAMPLE_TRACING, "run", "-v", "--otlp-endpoint", receiver.url()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  std::map<std::string, std::string> seen = TraceParents(r.out);
  ASSERT_EQ(seen.size(), 4u) << r.out;
  const std::string trace_id = seen["test"].substr(3, 32);
  auto span_of = [](const std::string& traceparent) { return traceparent.substr(36, 16); };
  // The context carries the test's own span; inside a span, TraceParent names the span.
  EXPECT_EQ(seen["context"], seen["test"]);
  EXPECT_NE(span_of(seen["in span"]), span_of(seen["test"]));

  std::map<std::string, ExportedSpan> spans = Spans(receiver);
  ASSERT_TRUE(spans.count("PlacesOrder")) << r.out;
  ExportedSpan& attempt = spans["PlacesOrder"];
  EXPECT_EQ(attempt.trace_id, trace_id);
  EXPECT_EQ(attempt.span_id, span_of(seen["test"]));
  EXPECT_EQ(attempt.parent_span_id, "");  // the root of its trace
  EXPECT_EQ(attempt.attributes["handoff.suite"], "Checkout");
  EXPECT_EQ(attempt.attributes["handoff.attempt"], "1");
  EXPECT_EQ(attempt.attributes["handoff.status"], "passed");
  EXPECT_EQ(attempt.status_code, 0);

  ExportedSpan& cart = spans["create cart"];
  EXPECT_EQ(cart.trace_id, trace_id);
  EXPECT_EQ(cart.span_id, span_of(seen["in span"]));
  EXPECT_EQ(cart.parent_span_id, attempt.span_id);
  EXPECT_EQ(cart.attributes["cart.items"], "3");

  ExportedSpan& pay = spans["PlacesOrder/pay"];
  EXPECT_EQ(pay.trace_id, trace_id);
  EXPECT_EQ(pay.span_id, span_of(seen["subtest"]));
  EXPECT_EQ(pay.parent_span_id, attempt.span_id);

  // Each attempt is a trace of its own.
  ASSERT_TRUE(spans.count("ServiceJoinsTheTrace"));
  EXPECT_NE(spans["ServiceJoinsTheTrace"].trace_id, trace_id);
}

TEST(TracingTest, ACollectorThatAnswers503IsRetried) {
  Receiver receiver;
  receiver.Script({Reply{503, {}, "overloaded"}});
  ProcessResult r = RunProcess({EXAMPLE_TRACING, "run", "--otlp-endpoint", receiver.url()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  EXPECT_GE(receiver.Requests().size(), 2u);
  EXPECT_TRUE(Spans(receiver).count("PlacesOrder"));
}

TEST(TracingTest, ACollectorThatNeverAnswersNeitherFailsNorHoldsTheRun) {
  Receiver receiver;
  receiver.SetDefault(Reply{.hang = true});
  ProcessResult r = RunProcess({EXAMPLE_TRACING, "run", "--otlp-endpoint", receiver.url()},
                               {}, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok"), std::string::npos) << r.out;
  // Said once, with how many spans were lost.
  EXPECT_NE(r.err.find("spans were not exported to " + receiver.url()), std::string::npos) << r.err;
  // One request's timeout and the end-of-run deadline bound the wait.
  EXPECT_LT(r.elapsed, 20s);
}

TEST(TracingTest, ABadEndpointOrHeaderIsAUsageError) {
  ProcessResult r = RunProcess({EXAMPLE_TRACING, "run", "--otlp-endpoint", "localhost:4318"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--otlp-endpoint"), std::string::npos) << r.err;
  r = RunProcess({EXAMPLE_TRACING, "run", "--otlp-endpoint", "http://127.0.0.1:9"},
                 {{"HANDOFF_OTLP_HEADERS", "Authorization=Bearer%zzsecret"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("HANDOFF_OTLP_HEADERS"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("secret"), std::string::npos) << r.err;
}

TEST(TracingTest, HeadersFromTheEnvironmentReachTheCollector) {
  Receiver receiver;
  ProcessResult r = RunProcess({EXAMPLE_TRACING, "run", "--otlp-endpoint", receiver.url()},
                               {{"HANDOFF_OTLP_HEADERS", "Authorization=Bearer%20t0k3n"}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_FALSE(receiver.Requests().empty());
  EXPECT_EQ(receiver.Requests()[0].Header("Authorization"), "Bearer t0k3n");
}

TEST(TracingTest, WithoutAnEndpointNothingIsExported) {
  ProcessResult r = RunProcess({EXAMPLE_TRACING, "run", "-v"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The trace context is there all the same: tests send it to the services they call.
  EXPECT_EQ(TraceParents(r.out).size(), 4u) << r.out;
}

#endif  // EXAMPLE_TRACING

}  // namespace
}  // namespace handoff::testing
