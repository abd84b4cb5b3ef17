// The "pagerduty" plugin (issue 16): which runs it tells PagerDuty about, the Events API v2
// documents it sends (trigger and resolve), and what it does with PagerDuty's answers.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "notify/builtin.h"
#include "notify/plugin.h"
#include "result_testing.h"

namespace handoff::notify {
namespace {

namespace json = boost::json;
using handoff::testing::ValueOf;

constexpr char kKey[] = "R0UT1NGK3Y0123456789abcdefABCDEF";

PluginConfig Config(std::map<std::string, std::string> settings) {
  PluginConfig config;
  config.name = "pd";
  config.kind = "pagerduty";
  config.settings = std::move(settings);
  return config;
}

std::unique_ptr<Plugin> Make(std::map<std::string, std::string> settings = {}) {
  settings.emplace("routing_key", kKey);
  return ValueOf(MakePagerDuty(Config(std::move(settings))));
}

TestOutcome Failed(std::string name, std::string message, std::string file = "", int line = 0) {
  TestOutcome test;
  test.name = std::move(name);
  test.status = "failed";
  test.message = std::move(message);
  test.file = std::move(file);
  test.line = line;
  return test;
}

TestOutcome Passed(std::string name) {
  TestOutcome test;
  test.name = std::move(name);
  test.status = "passed";
  return test;
}

Notification FailedRun() {
  Notification n;
  n.id = "d-1";
  n.event = Event::kRunFinished;
  n.run.id = 12;
  n.run.suite = "checkout";
  n.run.namespace_name = "shop";
  n.run.environment = "staging";
  n.run.status = "failed";
  n.run.reference = "v1.4.2";
  n.run.url = "https://handoff.example/runs/12";
  n.run.finished_at_ns = 1'796'000'000'000'000'000;
  n.run.totals.total = 40;
  n.run.totals.passed = 37;
  n.run.totals.failed = 3;
  n.change = Change::kBroke;
  n.tests = {Passed("TestOk"), Failed("TestA", "want 200, got 500", "checkout_test.cc", 41),
             Failed("TestB", "cart_test.cc:7: empty cart"), Failed("TestC", "timeout")};
  return n;
}

Notification PassedRun() {
  Notification n = FailedRun();
  n.id = "d-2";
  n.run.id = 13;
  n.run.status = "passed";
  n.run.totals.passed = 40;
  n.run.totals.failed = 0;
  n.change = Change::kRecovered;
  n.tests = {Passed("TestOk")};
  return n;
}

json::object Body(const Request& request) {
  boost::system::error_code ec;
  json::value value = json::parse(request.body, ec);  // also checks the body is UTF-8
  EXPECT_FALSE(ec) << request.body;
  return value.is_object() ? value.get_object() : json::object{};
}

json::object Render(const Plugin& plugin, const Notification& n) {
  return Body(ValueOf(plugin.Render(n, RenderContext{})));
}

std::string Str(const json::value& value) {
  return value.is_string() ? std::string(value.get_string()) : "<not a string>";
}

TEST(PagerDutyTest, FailedRunTriggersAnAlertWithTheRunsFacts) {
  auto plugin = Make();
  const Request request = ValueOf(plugin->Render(FailedRun(), RenderContext{}));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://events.pagerduty.com/v2/enqueue");
  EXPECT_NE(std::find(request.headers.begin(), request.headers.end(),
                      std::pair<std::string, std::string>("Content-Type", "application/json")),
            request.headers.end());

  const json::object event = Body(request);
  EXPECT_EQ(Str(event.at("event_action")), "trigger");
  EXPECT_EQ(Str(event.at("routing_key")), kKey);
  EXPECT_EQ(Str(event.at("dedup_key")), "handoff/staging/shop/checkout");
  EXPECT_EQ(Str(event.at("client")), "handoff");
  EXPECT_EQ(Str(event.at("client_url")), "https://handoff.example/runs/12");
  const json::array& links = event.at("links").as_array();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(Str(links[0].at("href")), "https://handoff.example/runs/12");
  EXPECT_EQ(Str(links[0].at("text")), "handoff run #12");

  const json::object& payload = event.at("payload").as_object();
  EXPECT_EQ(Str(payload.at("summary")),
            "checkout failed in staging: 3 of 40 tests failed (TestA, TestB, TestC)");
  EXPECT_EQ(Str(payload.at("source")), "staging");
  EXPECT_EQ(Str(payload.at("severity")), "error");
  EXPECT_EQ(Str(payload.at("component")), "checkout");
  EXPECT_EQ(Str(payload.at("group")), "shop");
  EXPECT_FALSE(payload.contains("class"));
  EXPECT_EQ(Str(payload.at("timestamp")), "2026-11-30T00:53:20Z");

  const json::object& details = payload.at("custom_details").as_object();
  EXPECT_EQ(details.at("run_id").as_int64(), 12);
  EXPECT_EQ(Str(details.at("reference")), "v1.4.2");
  EXPECT_EQ(Str(details.at("url")), "https://handoff.example/runs/12");
  const json::array& failed = details.at("failed_tests").as_array();
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(Str(failed[0].at("name")), "TestA");
  EXPECT_EQ(Str(failed[0].at("message")), "want 200, got 500");
  EXPECT_EQ(Str(failed[0].at("location")), "checkout_test.cc:41");
  // A message that still carries its location is split.
  EXPECT_EQ(Str(failed[1].at("message")), "empty cart");
  EXPECT_EQ(Str(failed[1].at("location")), "cart_test.cc:7");
  EXPECT_FALSE(failed[2].as_object().contains("location"));
  EXPECT_FALSE(details.contains("failed_tests_left_out"));
}

TEST(PagerDutyTest, SettingsShapeTheAlert) {
  auto plugin = Make({{"api_url", "http://127.0.0.1:9000/pd/"},
                      {"severity", "critical"},
                      {"component", "web"},
                      {"group", "payments"},
                      {"class", "e2e"}});
  const Request request = ValueOf(plugin->Render(FailedRun(), RenderContext{}));
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/pd/v2/enqueue");
  const json::object payload = Body(request).at("payload").as_object();
  EXPECT_EQ(Str(payload.at("severity")), "critical");
  EXPECT_EQ(Str(payload.at("component")), "web");
  EXPECT_EQ(Str(payload.at("group")), "payments");
  EXPECT_EQ(Str(payload.at("class")), "e2e");
  EXPECT_EQ(plugin->destination(), "PagerDuty (127.0.0.1:9000)");
}

TEST(PagerDutyTest, WithoutEnvironmentOrUrlTheAlertSaysHandoffAndHasNoLinks) {
  Notification n = FailedRun();
  n.run.environment.clear();
  n.run.url.clear();
  const json::object event = Render(*Make(), n);
  EXPECT_EQ(Str(event.at("payload").at("source")), "handoff");
  EXPECT_EQ(Str(event.at("payload").at("summary")),
            "checkout failed: 3 of 40 tests failed (TestA, TestB, TestC)");
  EXPECT_FALSE(event.contains("links"));
  EXPECT_FALSE(event.contains("client_url"));
}

TEST(PagerDutyTest, RunThatCouldNotRunSaysWhy) {
  Notification n = FailedRun();
  n.run.status = "error";
  n.run.error = "setup failed: database unreachable\nstack...";
  n.tests.clear();
  const json::object event = Render(*Make(), n);
  EXPECT_EQ(Str(event.at("event_action")), "trigger");
  EXPECT_EQ(Str(event.at("payload").at("summary")),
            "checkout could not run in staging: setup failed: database unreachable");
}

TEST(PagerDutyTest, RecoveredRunResolvesWithTheKeyAndNothingElse) {
  const json::object event = Render(*Make(), PassedRun());
  EXPECT_EQ(event.size(), 3u) << json::serialize(event);
  EXPECT_EQ(Str(event.at("event_action")), "resolve");
  EXPECT_EQ(Str(event.at("routing_key")), kKey);
  EXPECT_EQ(Str(event.at("dedup_key")), Str(Render(*Make(), FailedRun()).at("dedup_key")));
}

TEST(PagerDutyTest, DedupKeyIsOnePerSuiteAndEnvironment) {
  auto plugin = Make();
  Notification first = FailedRun();
  Notification later = FailedRun();
  later.run.id = 99;
  later.run.reference = "v2";
  later.tests = {Failed("TestZ", "other")};
  const std::string key = Str(Render(*plugin, first).at("dedup_key"));
  EXPECT_EQ(Str(Render(*plugin, later).at("dedup_key")), key);

  Notification production = FailedRun();
  production.run.environment = "production";
  EXPECT_NE(Str(Render(*plugin, production).at("dedup_key")), key);
  Notification other_suite = FailedRun();
  other_suite.run.suite = "search";
  EXPECT_NE(Str(Render(*plugin, other_suite).at("dedup_key")), key);
  Notification other_namespace = FailedRun();
  other_namespace.run.namespace_name = "ops";
  EXPECT_NE(Str(Render(*plugin, other_namespace).at("dedup_key")), key);
}

TEST(PagerDutyTest, LongDedupKeyStaysUnderPagerDutysLimitAndDistinct) {
  auto plugin = Make();
  Notification a = FailedRun();
  a.run.suite = std::string(300, 's') + "-a";
  Notification b = FailedRun();
  b.run.suite = std::string(300, 's') + "-b";
  const std::string key_a = Str(Render(*plugin, a).at("dedup_key"));
  const std::string key_b = Str(Render(*plugin, b).at("dedup_key"));
  EXPECT_LE(key_a.size(), 255u);
  EXPECT_LE(key_b.size(), 255u);
  EXPECT_EQ(key_a.rfind("handoff/staging/shop/sss", 0), 0u) << key_a;
  EXPECT_NE(key_a, key_b);
  EXPECT_EQ(Str(Render(*plugin, a).at("dedup_key")), key_a);
}

TEST(PagerDutyTest, SummaryIsCutToPagerDutysLimit) {
  Notification n = FailedRun();
  n.tests.clear();
  for (int i = 0; i < 300; ++i) {
    // Multi-byte names: a cut must not split a character (the body would not be UTF-8).
    n.tests.push_back(Failed("Test\xC3\xA9\xE2\x82\xAC" + std::to_string(i), "boom"));
  }
  n.run.totals.total = 300;
  n.run.totals.failed = 300;
  const json::object event = Render(*Make(), n);
  const std::string summary = Str(event.at("payload").at("summary"));
  EXPECT_LE(summary.size(), 1024u);
  EXPECT_GT(summary.size(), 900u);
  EXPECT_EQ(summary.rfind("checkout failed in staging: 300 of 300 tests failed (", 0), 0u);
  EXPECT_NE(summary.find("\xE2\x80\xA6"), std::string::npos) << "says that names were left out";
  // custom_details lists a sane number and says how many it left out.
  const json::object& details = event.at("payload").at("custom_details").as_object();
  EXPECT_EQ(details.at("failed_tests").as_array().size(), 20u);
  EXPECT_EQ(details.at("failed_tests_left_out").to_number<int>(), 280);
}

TEST(PagerDutyTest, SubtestNamesTheFailureInsteadOfItsParent) {
  Notification n = FailedRun();
  n.tests = {Failed("TestCart", "subtest failed"), Failed("TestCart/Empty", "no items", "c.cc", 3)};
  n.run.totals.failed = 1;
  const json::object event = Render(*Make(), n);
  EXPECT_EQ(Str(event.at("payload").at("summary")),
            "checkout failed in staging: 1 of 40 tests failed (TestCart/Empty)");
}

TEST(PagerDutyTest, InvalidUtf8InAMessageStillMakesAValidBody) {
  Notification n = FailedRun();
  n.tests = {Failed("TestA", std::string("bad \xFF\xFE bytes"))};
  const json::object event = Render(*Make(), n);  // Body() fails the test on invalid JSON
  EXPECT_EQ(Str(event.at("payload").at("custom_details").at("failed_tests").at(0).at("message")),
            "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

TEST(PagerDutyTest, WantsFailedRunsAndRecoveriesOfTheWholeSuiteOnly) {
  auto plugin = Make();
  RunFacts run = FailedRun().run;
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, run, Change::kBroke));
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, run, Change::kStillFailing));
  EXPECT_FALSE(plugin->Wants(Event::kRunStarted, run, Change::kNone));
  EXPECT_FALSE(plugin->Wants(Event::kTestFailed, run, Change::kNone));
  run.partial = true;  // a failed filtered run still alerts
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, run, Change::kNone));
  run.partial = false;
  run.status = "error";
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, run, Change::kBroke));
  run.status = "cancelled";
  EXPECT_FALSE(plugin->Wants(Event::kRunFinished, run, Change::kNone));

  run.status = "passed";
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, run, Change::kRecovered));
  EXPECT_FALSE(plugin->Wants(Event::kRunFinished, run, Change::kStillPassing));
  EXPECT_FALSE(plugin->Wants(Event::kRunFinished, run, Change::kFirst));
  run.partial = true;
  EXPECT_FALSE(plugin->Wants(Event::kRunFinished, run, Change::kRecovered));
}

Response Answer(int status, std::string body = "", Headers headers = {}) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

TEST(PagerDutyTest, ClassifiesPagerDutysAnswers) {
  auto plugin = Make();
  const Notification n = FailedRun();
  const Request request = ValueOf(plugin->Render(n, RenderContext{}));

  EXPECT_EQ(plugin->Classify(n, request, Answer(202, R"({"status":"success","message":"Event processed","dedup_key":"k"})"))
                .verdict,
            Verdict::kDelivered);

  const Outcome invalid = plugin->Classify(
      n, request,
      Answer(400, R"({"status":"invalid event","message":"Event object is invalid",)"
                  R"j("errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]})j"));
  EXPECT_EQ(invalid.verdict, Verdict::kFailed);
  EXPECT_NE(invalid.error.find("HTTP 400"), std::string::npos) << invalid.error;
  EXPECT_NE(invalid.error.find("Event object is invalid"), std::string::npos) << invalid.error;
  EXPECT_NE(invalid.error.find("Length of 'routing_key' is incorrect"), std::string::npos)
      << invalid.error;

  // An answer that repeats the key does not put it in last_error.
  const Outcome echoed = plugin->Classify(
      n, request, Answer(400, std::string(R"({"message":"bad key )") + kKey + R"("})"));
  EXPECT_EQ(echoed.verdict, Verdict::kFailed);
  EXPECT_EQ(echoed.error.find(kKey), std::string::npos) << echoed.error;

  const Outcome limited = plugin->Classify(n, request, Answer(429, "", {{"Retry-After", "30"}}));
  EXPECT_EQ(limited.verdict, Verdict::kRetry);
  ASSERT_TRUE(limited.retry_after.has_value());
  EXPECT_EQ(*limited.retry_after, std::chrono::seconds(30));
  EXPECT_EQ(plugin->Classify(n, request, Answer(429)).verdict, Verdict::kRetry);
  for (int status : {500, 502, 503, 504}) {
    EXPECT_EQ(plugin->Classify(n, request, Answer(status)).verdict, Verdict::kRetry) << status;
  }
  Response refused;
  refused.error = "connection refused";
  EXPECT_EQ(plugin->Classify(n, request, refused).verdict, Verdict::kRetry);
  EXPECT_EQ(plugin->Classify(n, request, Answer(403, "Forbidden")).verdict, Verdict::kFailed);
}

TEST(PagerDutyTest, ConfigurationErrorsNameTheSettingAndNeverTheKey) {
  struct Case {
    std::map<std::string, std::string> settings;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, "needs routing_key"},
      {{{"routing_key", "  \n"}}, "needs routing_key"},
      {{{"routing_key", std::string(kKey) + " x"}}, "whitespace"},
      {{{"routing_key", kKey}, {"token", "t"}}, "unknown setting \"token\""},
      {{{"routing_key", kKey}, {"severity", "fatal"}}, "severity \"fatal\""},
      {{{"routing_key", kKey}, {"api_url", "events.pagerduty.com"}}, "api_url"},
      {{{"routing_key", kKey}, {"api_url", "ftp://x"}}, "api_url"},
  };
  for (const Case& c : cases) {
    Result<std::unique_ptr<Plugin>> made = MakePagerDuty(Config(c.settings));
    ASSERT_FALSE(made.ok()) << c.says;
    EXPECT_EQ(made.error().code, ErrorCode::kInvalid);
    EXPECT_NE(made.error().message.find(c.says), std::string::npos) << made.error().message;
    EXPECT_EQ(made.error().message.find(kKey), std::string::npos) << made.error().message;
  }
  // The unknown setting's error lists the ones there are.
  Result<std::unique_ptr<Plugin>> unknown =
      MakePagerDuty(Config({{"routing_key", kKey}, {"channel", "x"}}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("routing_key, api_url, severity, component, group, class"),
            std::string::npos);

  PluginConfig started = Config({{"routing_key", kKey}});
  started.events = {Event::kRunStarted};
  EXPECT_FALSE(MakePagerDuty(started).ok());
}

TEST(PagerDutyTest, KeyReadFromAFileLosesItsNewlineAndIsNeverShown) {
  auto plugin = ValueOf(MakePagerDuty(Config({{"routing_key", std::string(kKey) + "\n"}})));
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(Str(Render(*plugin, FailedRun()).at("routing_key")), kKey);
  EXPECT_EQ(plugin->kind(), "pagerduty");
  EXPECT_EQ(plugin->destination(), "PagerDuty (events.pagerduty.com)");
}

}  // namespace
}  // namespace handoff::notify
