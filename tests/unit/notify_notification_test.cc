// The notification's JSON (src/notify/notification.h): the document a webhook receives and the
// outbox row a delivery is rendered from after a restart, so FromJson must give back exactly
// what ToJson was given, and refuse anything else as corrupt.

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "notify/notification.h"

namespace handoff::notify {
namespace {

namespace json = boost::json;

// 2026-12-04T11:20:08.123456789Z
constexpr std::int64_t kCreatedNs = 1796383208'123456789;

Notification FullNotification() {
  Notification n;
  n.id = "ntf_42_run.finished_7";
  n.event = Event::kRunFinished;
  n.created_at_ns = kCreatedNs;
  RunFacts& run = n.run;
  run.id = 42;
  run.suite = "shop";
  run.namespace_name = "team-a";
  run.status = "failed";
  run.trigger = "api";
  run.initiated_by = "alice";
  run.on_behalf_of = "ci-bot";
  run.reference = "3f2c1a9";
  run.environment = "staging";
  run.schedule = "nightly";
  run.filter = "Checkout/*";
  run.partial = true;
  // Not sorted: the order given is the order kept.
  run.labels = {{"zone", "eu"}, {"app", "shop"}, {"tier", "<gold> & \"quoted\""}};
  run.params = {{"user", "bob"}, {"password", "[redacted]"}};
  run.created_at_ns = kCreatedNs - 5'000'000'000;
  run.started_at_ns = kCreatedNs - 4'000'000'001;
  run.finished_at_ns = kCreatedNs - 1'500'000'000;
  run.flaky = true;
  run.error = "worker exited: signal 9\nline two";
  run.totals = Totals{.total = 5, .passed = 1, .failed = 2, .soft_failed = 1, .skipped = 1,
                      .cancelled = 0, .flaky = 1};
  run.url = "https://handoff.example/runs/42";
  n.change = Change::kBroke;
  n.previous = PreviousRun{41, "passed", "https://handoff.example/runs/41"};
  n.tests = {
      {"TestCheckout", "failed", false, false, 2, 1234, "want 3, got 4\n\ttab \u00e9\u4e2d",
       "shop_test.cc", 88},
      {"TestCheckout/Sub", "failed", true, false, 1, 5, "soft", "", 0},
      {"TestLogin", "passed", false, true, 3, 9'000'000'000'000LL, "", "", 0},
      {"TestSearch", "skipped", false, false, 1, 0, "no index \x01 here", "", 0},
  };
  n.tests[0].change = "still_failing";
  n.tests[0].failing_since_run = 39;
  n.tests[0].failing_since_reference = "abc123";
  n.tests[0].failing_since_ns = kCreatedNs - 90'000'000'000;
  n.tests[2].change = "fixed";
  return n;
}

// Compares every field, so a field that ToJson forgets or FromJson drops fails here.
void ExpectSame(const Notification& a, const Notification& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.event, b.event);
  EXPECT_EQ(a.created_at_ns, b.created_at_ns);
  EXPECT_EQ(a.run.id, b.run.id);
  EXPECT_EQ(a.run.suite, b.run.suite);
  EXPECT_EQ(a.run.namespace_name, b.run.namespace_name);
  EXPECT_EQ(a.run.status, b.run.status);
  EXPECT_EQ(a.run.trigger, b.run.trigger);
  EXPECT_EQ(a.run.initiated_by, b.run.initiated_by);
  EXPECT_EQ(a.run.on_behalf_of, b.run.on_behalf_of);
  EXPECT_EQ(a.run.reference, b.run.reference);
  EXPECT_EQ(a.run.environment, b.run.environment);
  EXPECT_EQ(a.run.schedule, b.run.schedule);
  EXPECT_EQ(a.run.filter, b.run.filter);
  EXPECT_EQ(a.run.partial, b.run.partial);
  EXPECT_EQ(a.run.labels, b.run.labels);
  EXPECT_EQ(a.run.params, b.run.params);
  EXPECT_EQ(a.run.created_at_ns, b.run.created_at_ns);
  EXPECT_EQ(a.run.started_at_ns, b.run.started_at_ns);
  EXPECT_EQ(a.run.finished_at_ns, b.run.finished_at_ns);
  EXPECT_EQ(a.run.flaky, b.run.flaky);
  EXPECT_EQ(a.run.error, b.run.error);
  EXPECT_EQ(a.run.totals, b.run.totals);
  EXPECT_EQ(a.run.url, b.run.url);
  EXPECT_EQ(a.change, b.change);
  ASSERT_EQ(a.previous.has_value(), b.previous.has_value());
  if (a.previous) {
    EXPECT_EQ(a.previous->id, b.previous->id);
    EXPECT_EQ(a.previous->status, b.previous->status);
    EXPECT_EQ(a.previous->url, b.previous->url);
  }
  ASSERT_EQ(a.tests.size(), b.tests.size());
  for (std::size_t i = 0; i < a.tests.size(); ++i) {
    SCOPED_TRACE(a.tests[i].name);
    EXPECT_EQ(a.tests[i].name, b.tests[i].name);
    EXPECT_EQ(a.tests[i].status, b.tests[i].status);
    EXPECT_EQ(a.tests[i].soft_failure, b.tests[i].soft_failure);
    EXPECT_EQ(a.tests[i].flaky, b.tests[i].flaky);
    EXPECT_EQ(a.tests[i].attempt, b.tests[i].attempt);
    EXPECT_EQ(a.tests[i].duration_ms, b.tests[i].duration_ms);
    EXPECT_EQ(a.tests[i].message, b.tests[i].message);
    EXPECT_EQ(a.tests[i].file, b.tests[i].file);
    EXPECT_EQ(a.tests[i].line, b.tests[i].line);
    EXPECT_EQ(a.tests[i].change, b.tests[i].change);
    EXPECT_EQ(a.tests[i].failing_since_run, b.tests[i].failing_since_run);
    EXPECT_EQ(a.tests[i].failing_since_reference, b.tests[i].failing_since_reference);
    EXPECT_EQ(a.tests[i].failing_since_ns, b.tests[i].failing_since_ns);
  }
}

void ExpectRoundTrip(const Notification& n) {
  const std::string text = ToJson(n);
  const Result<Notification> back = FromJson(text);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
  ExpectSame(n, *back);
  EXPECT_EQ(ToJson(*back), text);
}

TEST(NotificationJsonTest, RoundTripsEveryField) { ExpectRoundTrip(FullNotification()); }

TEST(NotificationJsonTest, RoundTripsEmptyAndAbsentValues) {
  Notification n;  // every field at its default: no previous run, no change, no tests
  n.id = "x";
  ExpectRoundTrip(n);

  Notification started = FullNotification();
  started.event = Event::kRunStarted;
  started.change = Change::kNone;
  started.previous.reset();
  started.tests.clear();
  started.run.started_at_ns = 0;
  started.run.finished_at_ns = 0;
  started.run.labels.clear();
  ExpectRoundTrip(started);

  for (Change change : {Change::kFirst, Change::kRecovered, Change::kStillFailing,
                        Change::kStillPassing}) {
    Notification c = FullNotification();
    c.event = Event::kTestFailed;
    c.change = change;
    ExpectRoundTrip(c);
  }
  // Extremes of the numbers, and a time before 1970.
  Notification extremes = FullNotification();
  extremes.run.id = INT64_MAX;
  extremes.created_at_ns = -1;
  extremes.run.created_at_ns = INT64_MIN;
  extremes.run.started_at_ns = -1'500'000'000;
  extremes.tests[0].line = INT32_MAX;
  extremes.tests[0].attempt = INT32_MIN;
  extremes.run.totals.total = INT32_MAX;
  extremes.run.finished_at_ns = INT64_MAX;  // no duration fits: null, not an overflow
  ExpectRoundTrip(extremes);
  EXPECT_TRUE(boost::json::parse(ToJson(extremes))
                  .as_object().at("data").as_object().at("run").as_object().at("duration_ms")
                  .is_null());
  EXPECT_EQ(boost::json::parse(ToJson(extremes))
                .as_object().at("data").as_object().at("run").as_object().at("created_at"),
            "1677-09-21T00:12:43.145Z");
}

TEST(NotificationJsonTest, HasTheStandardWebhooksShape) {
  const std::string text = ToJson(FullNotification());
  const json::value document = json::parse(text);
  const json::object& root = document.as_object();
  EXPECT_EQ(root.at("type"), "run.finished");
  EXPECT_EQ(root.at("timestamp"), "2026-12-04T11:20:08.123Z");
  EXPECT_EQ(root.at("id"), "ntf_42_run.finished_7");
  const json::object& data = root.at("data").as_object();
  const json::object& run = data.at("run").as_object();
  EXPECT_EQ(run.at("id"), 42);
  EXPECT_EQ(run.at("namespace"), "team-a");
  EXPECT_EQ(run.at("on_behalf_of"), "ci-bot");
  EXPECT_EQ(run.at("created_at"), "2026-12-04T11:20:03.123Z");
  EXPECT_EQ(run.at("started_at"), "2026-12-04T11:20:04.123Z");  // rounded down
  EXPECT_EQ(run.at("finished_at"), "2026-12-04T11:20:06.623Z");
  EXPECT_EQ(run.at("duration_ms"), 2500);
  EXPECT_EQ(run.at("partial"), true);
  EXPECT_EQ(run.at("flaky"), true);
  EXPECT_EQ(run.at("url"), "https://handoff.example/runs/42");
  EXPECT_EQ(run.at("labels").as_object().at("tier"), "<gold> & \"quoted\"");
  EXPECT_EQ(run.at("params").as_object().at("password"), "[redacted]");
  const json::object& totals = run.at("totals").as_object();
  EXPECT_EQ(totals.at("total"), 5);
  EXPECT_EQ(totals.at("failed"), 2);
  EXPECT_EQ(totals.at("soft_failed"), 1);
  EXPECT_EQ(totals.at("flaky"), 1);
  EXPECT_EQ(data.at("change"), "broke");
  EXPECT_EQ(data.at("previous").as_object().at("status"), "passed");
  const json::array& tests = data.at("tests").as_array();
  ASSERT_EQ(tests.size(), 4u);
  const json::object& first = tests[0].as_object();
  EXPECT_EQ(first.at("name"), "TestCheckout");
  EXPECT_EQ(first.at("status"), "failed");
  EXPECT_EQ(first.at("attempt"), 2);
  EXPECT_EQ(first.at("duration_ms"), 1234);
  EXPECT_EQ(first.at("file"), "shop_test.cc");
  EXPECT_EQ(first.at("line"), 88);
  EXPECT_EQ(tests[1].as_object().at("soft_failure"), true);
  EXPECT_EQ(tests[2].as_object().at("flaky"), true);
  // Keys of the documented shape, in this order (receivers read them by name; the order is
  // what people see in a log).
  std::vector<std::string> keys;
  for (const auto& kv : run) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "id", "suite", "namespace", "status", "trigger", "initiated_by",
                      "on_behalf_of", "reference", "environment", "schedule", "filter",
                      "partial", "labels", "params", "created_at", "created_at_ns",
                      "started_at", "started_at_ns", "finished_at", "finished_at_ns",
                      "duration_ms", "flaky", "error", "totals", "url"}));
  std::vector<std::string> label_keys;
  for (const auto& kv : run.at("labels").as_object()) label_keys.emplace_back(kv.key());
  EXPECT_EQ(label_keys, (std::vector<std::string>{"zone", "app", "tier"}));
}

TEST(NotificationJsonTest, WritesNullForWhatIsNotThere) {
  Notification n = FullNotification();
  n.change = Change::kNone;
  n.previous.reset();
  n.run.started_at_ns = 0;
  n.run.finished_at_ns = 0;
  const json::object data = json::parse(ToJson(n)).as_object().at("data").as_object();
  EXPECT_TRUE(data.at("change").is_null());
  EXPECT_TRUE(data.at("previous").is_null());
  const json::object& run = data.at("run").as_object();
  EXPECT_TRUE(run.at("started_at").is_null());
  EXPECT_TRUE(run.at("finished_at").is_null());
  EXPECT_TRUE(run.at("duration_ms").is_null());
  EXPECT_EQ(run.at("created_at"), "2026-12-04T11:20:03.123Z");
}

TEST(NotificationJsonTest, EscapesTextSoThatItStaysData) {
  Notification n = FullNotification();
  n.run.suite = "</script><b>\"x\"\\";
  const std::string text = ToJson(n);
  EXPECT_EQ(text.find("</script>"), std::string::npos) << text;
  EXPECT_EQ(json::parse(text).as_object().at("data").as_object().at("run").as_object().at("suite"),
            "</script><b>\"x\"\\");
  ExpectRoundTrip(n);
}

// Replaces the value at a path of the full notification's JSON with `replacement` (or
// removes the key when it is nullopt), and returns the changed document.
std::string Edited(const std::vector<std::string>& path, std::optional<json::value> replacement) {
  json::value document = json::parse(ToJson(FullNotification()));
  json::value* at = &document;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    if (at->is_array()) {
      at = &at->as_array().at(std::stoul(path[i]));
    } else {
      at = &at->as_object().at(path[i]);
    }
  }
  if (replacement) {
    at->as_object()[path.back()] = *replacement;
  } else {
    at->as_object().erase(path.back());
  }
  return json::serialize(document);
}

TEST(NotificationJsonTest, RefusesWhatItDidNotWriteAsCorrupt) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"empty", ""},
      {"not JSON", "{\"type\":"},
      {"trailing garbage", ToJson(FullNotification()) + "x"},
      {"an array", "[]"},
      {"a string", "\"run.finished\""},
      {"an empty object", "{}"},
      {"unknown type", Edited({"type"}, json::value("run.exploded"))},
      {"no type", Edited({"type"}, std::nullopt)},
      {"no id", Edited({"id"}, std::nullopt)},
      {"numeric id", Edited({"id"}, json::value(7))},
      {"no timestamp_ns", Edited({"timestamp_ns"}, std::nullopt)},
      {"fractional timestamp_ns", Edited({"timestamp_ns"}, json::value(1.5))},
      {"no data", Edited({"data"}, std::nullopt)},
      {"data null", Edited({"data"}, json::value(nullptr))},
      {"no run", Edited({"data", "run"}, std::nullopt)},
      {"run id a string", Edited({"data", "run", "id"}, json::value("42"))},
      {"run id too big", Edited({"data", "run", "id"}, json::value(UINT64_MAX))},
      {"no suite", Edited({"data", "run", "suite"}, std::nullopt)},
      {"partial a string", Edited({"data", "run", "partial"}, json::value("true"))},
      {"labels an array", Edited({"data", "run", "labels"}, json::array{})},
      {"label not a string", Edited({"data", "run", "labels", "zone"}, json::value(1))},
      {"params null", Edited({"data", "run", "params"}, json::value(nullptr))},
      {"no created_at_ns", Edited({"data", "run", "created_at_ns"}, std::nullopt)},
      {"no totals", Edited({"data", "run", "totals"}, std::nullopt)},
      {"total out of range",
       Edited({"data", "run", "totals", "total"}, json::value(std::int64_t{1} << 40))},
      {"no url", Edited({"data", "run", "url"}, std::nullopt)},
      {"no change", Edited({"data", "change"}, std::nullopt)},
      {"unknown change", Edited({"data", "change"}, json::value("exploded"))},
      {"empty change", Edited({"data", "change"}, json::value(""))},
      {"change a number", Edited({"data", "change"}, json::value(1))},
      {"previous an array", Edited({"data", "previous"}, json::array{})},
      {"previous without status", Edited({"data", "previous", "status"}, std::nullopt)},
      {"no tests", Edited({"data", "tests"}, std::nullopt)},
      {"tests an object", Edited({"data", "tests"}, json::object{})},
      {"a test a string", Edited({"data", "tests"}, json::array{"TestA"})},
      {"a test without a line", Edited({"data", "tests", "2", "line"}, std::nullopt)},
      {"a line out of range",
       Edited({"data", "tests", "0", "line"}, json::value(std::int64_t{1} << 31))},
  };
  for (const auto& [what, text] : bad) {
    SCOPED_TRACE(what);
    const Result<Notification> read = FromJson(text);
    ASSERT_FALSE(read.ok()) << text;
    EXPECT_EQ(read.error().code, ErrorCode::kCorrupt);
  }
}

TEST(NotificationJsonTest, TheErrorSaysWhere) {
  const Result<Notification> read =
      FromJson(Edited({"data", "tests", "2", "line"}, json::value("88")));
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.error().message.find("$.data.tests[2].line"), std::string::npos)
      << read.error().message;
}

TEST(NotificationJsonTest, ReadsTestsStoredBeforeTheyHadChanges) {
  // An outbox row written before issue 19's changes: no "change", no "failing_since".
  json::value document = json::parse(ToJson(FullNotification()));
  for (json::value& test : document.at("data").at("tests").as_array()) {
    test.as_object().erase("change");
    test.as_object().erase("failing_since");
  }
  const Result<Notification> read = FromJson(json::serialize(document));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->tests[0].change, "");
  EXPECT_EQ(read->tests[0].failing_since_run, 0);
  // And a wrong one is still refused, saying where.
  const Result<Notification> bad =
      FromJson(Edited({"data", "tests", "0", "failing_since"}, json::value("x")));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("failing_since"), std::string::npos) << bad.error().message;
}

TEST(NotificationJsonTest, IgnoresFieldsItDoesNotKnow) {
  // A later version may add fields; a row written by it still reads.
  const Result<Notification> read = FromJson(Edited({"data", "extra"}, json::value(1)));
  ASSERT_TRUE(read.ok()) << read.error().message;
  ExpectSame(FullNotification(), *read);
}

}  // namespace
}  // namespace handoff::notify
