// The trace export of issue 19: ids (event/trace_context.h), events turned into spans
// (otlp/trace_recorder.h), their OTLP/HTTP JSON (otlp/otlp_json.h) and the exporter's
// batching, retries and bounds against a local receiver (otlp/exporter.h).

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "blackbox/receiver.h"
#include "event/trace_context.h"
#include "otlp/exporter.h"
#include "otlp/otlp_json.h"
#include "otlp/trace_recorder.h"

namespace handoff::otlp {
namespace {

namespace json = boost::json;
using handoff::testing::Receiver;
using handoff::testing::Reply;

class SpanList : public SpanSink {
 public:
  void Export(Span span) override { spans.push_back(std::move(span)); }
  const Span* Named(const std::string& name) const {
    for (const Span& s : spans) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
  std::vector<Span> spans;
};

bool IsHex(const std::string& s, std::size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(TraceContextTest, IdsAreRandomLowerHexAndTraceParentIsW3C) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewTraceId();
    EXPECT_TRUE(IsTraceId(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_NE(NewSpanId(), 0u);
  EXPECT_EQ(SpanIdHex(0x00f067aa0ba902b7ULL), "00f067aa0ba902b7");
  EXPECT_EQ(FormatTraceParent("4bf92f3577b34da6a3ce929d0e0e4736", 0x00f067aa0ba902b7ULL),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_FALSE(IsTraceId("00000000000000000000000000000000"));
  EXPECT_FALSE(IsTraceId("4BF92F3577B34DA6A3CE929D0E0E4736"));
}

Event Make(EventKind kind, std::string test, std::int64_t time_ns) {
  Event e;
  e.kind = kind;
  e.suite = "Checkout";
  e.test = std::move(test);
  e.attempt = 2;
  e.time_ns = time_ns;
  return e;
}

const std::string kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

// An attempt with a span and a subtest that fails: the events the worker sends.
std::vector<Event> FailingAttempt() {
  std::vector<Event> events;
  Event started = Make(EventKind::kTestStarted, "PlacesOrder", 1000);
  started.trace_id = kTrace;
  started.trace_span = 1;
  events.push_back(started);
  Event span = Make(EventKind::kSpanStarted, "PlacesOrder", 1100);
  span.span_id = 7;
  span.key = "create cart";
  span.trace_id = kTrace;
  span.trace_span = 2;
  span.parent_span = 1;
  events.push_back(span);
  Event span_end = Make(EventKind::kSpanEnded, "PlacesOrder", 1200);
  span_end.span_id = 7;
  span_end.attributes = {{"cart.items", "3"}};
  events.push_back(span_end);
  Event sub = Make(EventKind::kTestStarted, "PlacesOrder/pay", 1300);
  sub.trace_id = kTrace;
  sub.trace_span = 3;
  sub.parent_span = 1;
  events.push_back(sub);
  Event failure = Make(EventKind::kFailure, "PlacesOrder/pay", 1350);
  failure.text = "card declined";
  events.push_back(failure);
  Event sub_done = Make(EventKind::kTestFinished, "PlacesOrder/pay", 1400);
  sub_done.status = Status::kFailed;
  events.push_back(sub_done);
  Event done = Make(EventKind::kAttemptFinished, "PlacesOrder", 1500);
  done.status = Status::kFailed;
  events.push_back(done);
  return events;
}

TEST(TraceRecorderTest, AnAttemptIsATraceWithItsSpansAndSubtestsAsChildren) {
  SpanList out;
  TraceRecorder recorder(out, 42);
  for (const Event& e : FailingAttempt()) recorder.OnEvent(e);
  // kTestFinished of the top-level test comes after its attempt: nothing more.
  Event finished = Make(EventKind::kTestFinished, "PlacesOrder", 1600);
  finished.status = Status::kFailed;
  recorder.OnEvent(finished);
  ASSERT_EQ(out.spans.size(), 3u);

  const Span* attempt = out.Named("PlacesOrder");
  ASSERT_NE(attempt, nullptr);
  EXPECT_EQ(attempt->trace_id, kTrace);
  EXPECT_EQ(attempt->span_id, 1u);
  EXPECT_EQ(attempt->parent_span_id, 0u);
  EXPECT_EQ(attempt->start_ns, 1000);
  EXPECT_EQ(attempt->end_ns, 1500);
  EXPECT_EQ(attempt->status, StatusCode::kError);
  EXPECT_EQ(attempt->status_message, "card declined");  // its subtest's failure

  const Span* cart = out.Named("create cart");
  ASSERT_NE(cart, nullptr);
  EXPECT_EQ(cart->parent_span_id, 1u);
  EXPECT_EQ(cart->span_id, 2u);
  EXPECT_EQ(cart->end_ns, 1200);
  EXPECT_EQ(cart->status, StatusCode::kUnset);
  bool has_items = false, has_run = false;
  for (const Attribute& a : cart->attributes) {
    has_items = has_items || (a.key == "cart.items" && a.value.string_value == "3");
    has_run = has_run || (a.key == "handoff.run_id" && a.value.int_value == 42);
  }
  EXPECT_TRUE(has_items);
  EXPECT_TRUE(has_run);

  const Span* pay = out.Named("PlacesOrder/pay");
  ASSERT_NE(pay, nullptr);
  EXPECT_EQ(pay->parent_span_id, 1u);
  EXPECT_EQ(pay->status, StatusCode::kError);
  EXPECT_EQ(pay->status_message, "card declined");
}

TEST(TraceRecorderTest, WhatACrashedWorkerLeftOpenEndsWithTheAttempt) {
  SpanList out;
  TraceRecorder recorder(out);
  std::vector<Event> events = FailingAttempt();
  // Only the starts: the worker died inside the span and the subtest.
  recorder.OnEvent(events[0]);
  recorder.OnEvent(events[1]);
  recorder.OnEvent(events[3]);
  Event done = Make(EventKind::kAttemptFinished, "PlacesOrder", 9000);
  done.status = Status::kFailed;
  recorder.OnEvent(done);
  ASSERT_EQ(out.spans.size(), 3u);
  for (const Span& s : out.spans) EXPECT_EQ(s.end_ns, 9000) << s.name;
  EXPECT_EQ(out.Named("PlacesOrder")->status_message, "failed");
}

TEST(TraceRecorderTest, EventsWithoutTraceContextMakeNoSpans) {
  SpanList out;
  TraceRecorder recorder(out);
  recorder.OnEvent(Make(EventKind::kTestStarted, "NeverRan", 1));  // skipped before it ran
  Event done = Make(EventKind::kAttemptFinished, "NeverRan", 2);
  done.status = Status::kSkipped;
  recorder.OnEvent(done);
  EXPECT_TRUE(out.spans.empty());
}

// Checks `body` against OTLP's ExportTraceServiceRequest JSON and returns its spans by name.
std::map<std::string, json::object> CheckOtlpShape(const std::string& body,
                                                   const std::string& service) {
  std::map<std::string, json::object> by_name;
  json::value doc = json::parse(body);
  const json::array& resource_spans = doc.at("resourceSpans").as_array();
  EXPECT_EQ(resource_spans.size(), 1u);
  for (const json::value& rs : resource_spans) {
    bool named = false;
    for (const json::value& a : rs.at("resource").at("attributes").as_array()) {
      if (a.at("key") == "service.name") named = a.at("value").at("stringValue") == json::value(service);
    }
    EXPECT_TRUE(named) << body;
    for (const json::value& ss : rs.at("scopeSpans").as_array()) {
      EXPECT_EQ(ss.at("scope").at("name"), "handoff");
      for (const json::value& v : ss.at("spans").as_array()) {
        const json::object& span = v.as_object();
        EXPECT_TRUE(IsHex(std::string(span.at("traceId").as_string()), 32));
        EXPECT_TRUE(IsHex(std::string(span.at("spanId").as_string()), 16));
        if (span.contains("parentSpanId")) {
          EXPECT_TRUE(IsHex(std::string(span.at("parentSpanId").as_string()), 16));
        }
        EXPECT_EQ(span.at("kind").as_int64(), 1);  // SPAN_KIND_INTERNAL
        // 64-bit integers are decimal strings in OTLP/JSON.
        const std::string start(span.at("startTimeUnixNano").as_string());
        const std::string end(span.at("endTimeUnixNano").as_string());
        EXPECT_LE(std::stoll(start), std::stoll(end));
        for (const json::value& a : span.at("attributes").as_array()) {
          EXPECT_TRUE(a.at("key").is_string());
          const json::object& value = a.at("value").as_object();
          EXPECT_EQ(value.size(), 1u);
          EXPECT_TRUE(value.contains("stringValue") ||
                      (value.contains("intValue") && value.at("intValue").is_string()));
        }
        EXPECT_TRUE(span.at("status").is_object());
        by_name[std::string(span.at("name").as_string())] = span;
      }
    }
  }
  return by_name;
}

TEST(OtlpJsonTest, EncodesOtlpShape) {
  SpanList out;
  TraceRecorder recorder(out, 7);
  for (const Event& e : FailingAttempt()) recorder.OnEvent(e);
  const std::string body = EncodeTraces({StringAttribute("service.name", "shop-e2e")}, out.spans);
  std::map<std::string, json::object> spans = CheckOtlpShape(body, "shop-e2e");
  ASSERT_EQ(spans.size(), 3u);
  const json::object& attempt = spans.at("PlacesOrder");
  EXPECT_FALSE(attempt.contains("parentSpanId"));
  EXPECT_EQ(attempt.at("traceId").as_string(), kTrace);
  EXPECT_EQ(attempt.at("spanId"), "0000000000000001");
  EXPECT_EQ(attempt.at("startTimeUnixNano"), "1000");
  EXPECT_EQ(attempt.at("status").at("code").as_int64(), 2);  // STATUS_CODE_ERROR
  EXPECT_EQ(attempt.at("status").at("message"), "card declined");
  EXPECT_EQ(spans.at("create cart").at("parentSpanId"), "0000000000000001");
  EXPECT_TRUE(spans.at("create cart").at("status").as_object().empty());
  bool attempt_attribute = false;
  for (const json::value& a : attempt.at("attributes").as_array()) {
    if (a.at("key") == "handoff.attempt") {
      attempt_attribute = a.at("value").at("intValue") == "2";
    }
  }
  EXPECT_TRUE(attempt_attribute);
}

TEST(OtlpHeadersTest, ParsesNameValuePairsAndNeverShowsAValue) {
  auto headers = ParseHeaders("Authorization=Bearer%20s3cret, X-Scope-OrgID=team-a\n\n");
  ASSERT_TRUE(headers.ok()) << headers.error().message;
  ASSERT_EQ(headers->size(), 2u);
  EXPECT_EQ((*headers)[0], (std::pair<std::string, std::string>{"Authorization", "Bearer s3cret"}));
  EXPECT_EQ((*headers)[1].first, "X-Scope-OrgID");
  auto bad = ParseHeaders("Authorization=Bearer%zzs3cret");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find("s3cret"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(ParseHeaders("no equals sign").ok());
  EXPECT_FALSE(ParseHeaders("bad name=x").ok());
}

Span SomeSpan(std::uint64_t id) {
  Span s;
  s.trace_id = kTrace;
  s.span_id = id;
  s.name = "span " + std::to_string(id);
  s.start_ns = 1;
  s.end_ns = 2;
  return s;
}

ExporterOptions Options(const Receiver& receiver) {
  ExporterOptions options;
  options.endpoint = receiver.url();
  options.service_name = "shop-e2e";
  options.batch_delay = std::chrono::milliseconds(10);
  options.first_backoff = std::chrono::milliseconds(10);
  options.request_timeout = std::chrono::milliseconds(500);
  return options;
}

TEST(ExporterTest, PostsBatchesToV1TracesWithItsHeaders) {
  Receiver receiver;
  ExporterOptions options = Options(receiver);
  options.headers = {{"Authorization", "Bearer s3cret"}};
  options.max_batch = 2;
  auto exporter = Exporter::Start(options);
  ASSERT_TRUE(exporter.ok()) << exporter.error().message;
  for (std::uint64_t id = 1; id <= 5; ++id) (*exporter)->Export(SomeSpan(id));
  (*exporter)->Shutdown(std::chrono::seconds(10));
  EXPECT_EQ((*exporter)->spans_exported(), 5u);
  EXPECT_EQ((*exporter)->spans_dropped(), 0u);
  std::set<std::string> names;
  for (const auto& request : receiver.Requests()) {
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/v1/traces");
    EXPECT_EQ(request.Header("Content-Type"), "application/json");
    EXPECT_EQ(request.Header("Authorization"), "Bearer s3cret");
    auto spans = CheckOtlpShape(request.body, "shop-e2e");
    EXPECT_LE(spans.size(), 2u);  // max_batch
    for (const auto& [name, span] : spans) names.insert(name);
  }
  EXPECT_EQ(names.size(), 5u);
}

TEST(ExporterTest, RetriesA503AndA429ThenSucceeds) {
  Receiver receiver;
  receiver.Script({Reply{503, {}, "busy"}, Reply{429, {}, "slow down"}});
  auto exporter = Exporter::Start(Options(receiver));
  ASSERT_TRUE(exporter.ok());
  (*exporter)->Export(SomeSpan(1));
  (*exporter)->Shutdown(std::chrono::seconds(10));
  EXPECT_EQ((*exporter)->spans_exported(), 1u);
  std::vector<testing::ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].body, requests[2].body);  // the same batch, sent again
}

TEST(ExporterTest, GivesUpOnABadRequestAtOnceAndReportsIt) {
  Receiver receiver;
  receiver.SetDefault(Reply{400, {}, "bad"});
  ExporterOptions options = Options(receiver);
  std::vector<std::string> errors;
  options.headers = {{"Authorization", "Bearer s3cret"}};
  options.on_error = [&](const std::string& line) { errors.push_back(line); };
  auto exporter = Exporter::Start(options);
  ASSERT_TRUE(exporter.ok());
  (*exporter)->Export(SomeSpan(1));
  (*exporter)->Shutdown(std::chrono::seconds(10));
  EXPECT_EQ(receiver.Requests().size(), 1u);
  EXPECT_EQ((*exporter)->spans_dropped(), 1u);
  EXPECT_EQ((*exporter)->failed_batches(), 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("HTTP 400"), std::string::npos) << errors[0];
  EXPECT_EQ(errors[0].find("s3cret"), std::string::npos) << errors[0];
}

TEST(ExporterTest, ACollectorThatNeverAnswersIsBoundedAtShutdown) {
  Receiver receiver;
  receiver.SetDefault(Reply{.hang = true});
  ExporterOptions options = Options(receiver);
  options.request_timeout = std::chrono::seconds(1);
  auto exporter = Exporter::Start(options);
  ASSERT_TRUE(exporter.ok());
  (*exporter)->Export(SomeSpan(1));
  ASSERT_TRUE(receiver.WaitFor(1, std::chrono::seconds(10)));
  // Export never waits for the collector.
  const auto start = std::chrono::steady_clock::now();
  (*exporter)->Export(SomeSpan(2));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  (*exporter)->Shutdown(std::chrono::milliseconds(300));
  // The request in flight ends at its timeout; none is tried after the deadline.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ((*exporter)->spans_exported(), 0u);
  EXPECT_EQ((*exporter)->spans_dropped(), 2u);
}

TEST(ExporterTest, AFullQueueDropsAndCounts) {
  Receiver receiver;
  ExporterOptions options = Options(receiver);
  options.max_queue = 3;
  options.max_batch = 100;
  options.batch_delay = std::chrono::seconds(10);  // nothing leaves the queue meanwhile
  auto exporter = Exporter::Start(options);
  ASSERT_TRUE(exporter.ok());
  for (std::uint64_t id = 1; id <= 5; ++id) (*exporter)->Export(SomeSpan(id));
  EXPECT_EQ((*exporter)->spans_dropped(), 2u);
  (*exporter)->Shutdown(std::chrono::seconds(10));
  EXPECT_EQ((*exporter)->spans_exported(), 3u);
}

TEST(ExporterTest, RefusesAnEndpointThatIsNotAnHttpUrl) {
  ExporterOptions options;
  options.endpoint = "localhost:4318";
  auto exporter = Exporter::Start(options);
  ASSERT_FALSE(exporter.ok());
  EXPECT_NE(exporter.error().message.find("localhost:4318"), std::string::npos);
}

}  // namespace
}  // namespace handoff::otlp
