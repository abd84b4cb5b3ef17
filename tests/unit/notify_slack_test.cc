// The Slack plugin (issue 16) as a pure function: its configuration, which runs it tells
// about, the Block Kit message it renders (held to Block Kit's limits), the thread of a
// recovery, and how it reads Slack's answers.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "notify/builtin.h"
#include "notify/notification.h"
#include "notify/plugin.h"
#include "notify/registry.h"

namespace handoff::notify {
namespace {

namespace json = boost::json;

constexpr std::string_view kWebhookUrl =
    "https://hooks.slack.com/services/T000SECRET/B000SECRET/XXXXsecretXXXXsecret";
constexpr std::string_view kToken = "xoxb-1234-5678-SECRETTOKEN";

PluginConfig WebhookConfig() {
  PluginConfig config;
  config.name = "slack";
  config.kind = "slack";
  config.settings["webhook_url"] = std::string(kWebhookUrl);
  return config;
}

PluginConfig BotConfig() {
  PluginConfig config;
  config.name = "slack";
  config.kind = "slack";
  config.settings["token"] = std::string(kToken);
  config.settings["channel"] = "e2e-alerts";
  config.settings["api_url"] = "http://127.0.0.1:8099/api/";
  return config;
}

std::unique_ptr<Plugin> Make(const PluginConfig& config) {
  Result<std::unique_ptr<Plugin>> plugin = MakeSlack(config);
  EXPECT_TRUE(plugin.ok()) << (plugin.ok() ? "" : plugin.error().message);
  return plugin.ok() ? std::move(plugin).value() : nullptr;
}

TestOutcome Failed(std::string name, std::string file, int line, std::string message) {
  TestOutcome test;
  test.name = std::move(name);
  test.status = "failed";
  test.file = std::move(file);
  test.line = line;
  test.message = std::move(message);
  return test;
}

TestOutcome Passed(std::string name) {
  TestOutcome test;
  test.name = std::move(name);
  test.status = "passed";
  return test;
}

// A finished run of suite "checkout" in staging, with the given tests and their totals.
Notification FinishedRun(std::string status, std::vector<TestOutcome> tests) {
  Notification n;
  n.id = "d-1";
  n.event = Event::kRunFinished;
  n.run.id = 42;
  n.run.suite = "checkout";
  n.run.namespace_name = "shop";
  n.run.status = std::move(status);
  n.run.trigger = "api";
  n.run.initiated_by = "alice";
  n.run.reference = "3f2a9c1";
  n.run.environment = "staging";
  n.run.started_at_ns = 1'000'000'000;
  n.run.finished_at_ns = n.run.started_at_ns + 65'000'000'000;  // 1m 05s
  n.run.url = "https://handoff.example.com/runs/42";
  for (const TestOutcome& test : tests) {
    ++n.run.totals.total;
    if (test.status == "passed") ++n.run.totals.passed;
    if (test.status == "passed" && test.flaky) ++n.run.totals.flaky;
    if (test.status == "failed") ++(test.soft_failure ? n.run.totals.soft_failed : n.run.totals.failed);
    if (test.status == "skipped") ++n.run.totals.skipped;
  }
  n.tests = std::move(tests);
  return n;
}

json::object Body(const Request& request) {
  boost::system::error_code ec;
  json::value body = json::parse(request.body, ec);  // refuses invalid UTF-8 too
  EXPECT_FALSE(ec) << ec.message() << ": " << request.body;
  if (ec || !body.is_object()) return {};
  return body.as_object();
}

json::object Render(const Plugin& plugin, const Notification& n,
                    const RenderContext& context = {}) {
  Result<Request> request = plugin.Render(n, context);
  EXPECT_TRUE(request.ok());
  if (!request.ok()) return {};
  return Body(*request);
}

// Counts characters as UTF-16 code units (a character beyond the BMP is two), the most that
// Slack may count.
std::size_t SlackLength(std::string_view utf8) {
  std::size_t units = 0;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto lead = static_cast<unsigned char>(utf8[i]);
    const std::size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    units += length == 4 ? 2 : 1;
    i += length;
  }
  return units;
}

std::string Str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

// Checks `body` against Block Kit's limits and returns every text it shows, one a line.
std::string CheckLimitsAndCollectText(const json::object& body) {
  std::string all;
  EXPECT_TRUE(body.contains("text"));
  const std::string fallback = body.contains("text") ? Str(body.at("text")) : "";
  EXPECT_FALSE(fallback.empty()) << "a top-level text fallback always";
  EXPECT_LE(SlackLength(fallback), 3000u);
  all += fallback + "\n";
  EXPECT_TRUE(body.contains("blocks") && body.at("blocks").is_array());
  if (!body.contains("blocks") || !body.at("blocks").is_array()) return all;
  const json::array& blocks = body.at("blocks").as_array();
  EXPECT_GE(blocks.size(), 1u);
  EXPECT_LE(blocks.size(), 50u);
  for (const json::value& block : blocks) {
    const std::string type = Str(block.at("type"));
    if (type == "header") {
      const std::string text = Str(block.at("text").at("text"));
      EXPECT_EQ(Str(block.at("text").at("type")), "plain_text");
      EXPECT_FALSE(text.empty());
      EXPECT_LE(SlackLength(text), 150u) << text;
      all += text + "\n";
    } else if (type == "section") {
      const std::string text = Str(block.at("text").at("text"));
      EXPECT_FALSE(text.empty());
      EXPECT_LE(SlackLength(text), 3000u);
      all += text + "\n";
    } else if (type == "context") {
      const json::array& elements = block.at("elements").as_array();
      EXPECT_GE(elements.size(), 1u);
      EXPECT_LE(elements.size(), 10u);
      for (const json::value& element : elements) {
        const std::string text = Str(element.at("text"));
        EXPECT_FALSE(text.empty());
        EXPECT_LE(SlackLength(text), 3000u);
        all += text + "\n";
      }
    } else if (type == "actions") {
      for (const json::value& element : block.at("elements").as_array()) {
        EXPECT_EQ(Str(element.at("type")), "button");
        EXPECT_LE(SlackLength(Str(element.at("text").at("text"))), 75u);
        EXPECT_LE(Str(element.at("url")).size(), 3000u);
        all += Str(element.at("text").at("text")) + " " + Str(element.at("url")) + "\n";
      }
    } else {
      ADD_FAILURE() << "unexpected block type " << type;
    }
  }
  return all;
}

std::vector<std::string> BlockTypes(const json::object& body) {
  std::vector<std::string> types;
  for (const json::value& block : body.at("blocks").as_array()) types.push_back(Str(block.at("type")));
  return types;
}

// Returns the request's header `name` (any case), or "".
std::string HeaderOf(const Request& request, std::string_view name) {
  Response response;
  response.headers = request.headers;
  return response.Header(name);
}

// Returns a render context whose suite kept `suite_reply`.
RenderContext Reply(std::string suite_reply) {
  RenderContext context;
  context.suite_reply = std::move(suite_reply);
  return context;
}

std::string HeaderText(const json::object& body) {
  return Str(body.at("blocks").as_array().at(0).at("text").at("text"));
}

// --- configuration -------------------------------------------------------------------

TEST(SlackConfig, IncomingWebhookShowsOnlyItsHost) {
  std::unique_ptr<Plugin> plugin = Make(WebhookConfig());
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->kind(), "slack");
  EXPECT_EQ(plugin->destination(), "Slack incoming webhook (hooks.slack.com)");
}

TEST(SlackConfig, BotTokenShowsItsChannel) {
  std::unique_ptr<Plugin> plugin = Make(BotConfig());
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->destination(), "#e2e-alerts");
  PluginConfig hashed = BotConfig();
  hashed.settings["channel"] = "#e2e-alerts";
  EXPECT_EQ(Make(hashed)->destination(), "#e2e-alerts");
}

TEST(SlackConfig, TrailingNewlineOfASecretFileIsNotPartOfIt) {
  PluginConfig config = BotConfig();
  config.settings["token"] = std::string(kToken) + "\n";
  std::unique_ptr<Plugin> plugin = Make(config);
  ASSERT_NE(plugin, nullptr);
  Result<Request> request = plugin->Render(FinishedRun("failed", {}), {});
  ASSERT_TRUE(request.ok());
  bool found = false;
  for (const auto& [name, value] : request->headers) {
    if (name == "Authorization") {
      EXPECT_EQ(value, "Bearer " + std::string(kToken));
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(SlackConfig, RefusesWrongConfigurationsWithoutRepeatingSecrets) {
  struct Case {
    const char* what;
    PluginConfig config;
    const char* says;
  };
  std::vector<Case> cases;
  {
    PluginConfig both = BotConfig();
    both.settings["webhook_url"] = std::string(kWebhookUrl);
    cases.push_back({"both modes", both, "not both"});
  }
  {
    PluginConfig neither;
    neither.kind = "slack";
    neither.settings["channel"] = "alerts";
    cases.push_back({"neither mode", neither, "needs webhook_url"});
  }
  {
    PluginConfig no_channel = BotConfig();
    no_channel.settings.erase("channel");
    cases.push_back({"token without channel", no_channel, "needs channel"});
  }
  {
    PluginConfig unknown = BotConfig();
    unknown.settings["icon_emoji"] = ":robot:";
    cases.push_back({"unknown key", unknown,
                     "unknown slack setting \"icon_emoji\" (allowed: api_url, channel, token, "
                     "webhook_url)"});
  }
  {
    PluginConfig bad_url = WebhookConfig();
    bad_url.settings["webhook_url"] = "ftp://hooks.slack.com/services/T000SECRET/B000SECRET/X";
    cases.push_back({"webhook_url not http", bad_url, "not an http:// or https:// URL"});
  }
  {
    PluginConfig no_host = WebhookConfig();
    no_host.settings["webhook_url"] = "https:///services/T000SECRET";
    cases.push_back({"webhook_url without host", no_host, "not an http:// or https:// URL"});
  }
  {
    PluginConfig bad_api = BotConfig();
    bad_api.settings["api_url"] = "slack.com/api";
    cases.push_back({"api_url not http", bad_api, "api_url \"slack.com/api\" is not"});
  }
  {
    PluginConfig webhook_channel = WebhookConfig();
    webhook_channel.settings["channel"] = "alerts";
    cases.push_back({"channel with a webhook", webhook_channel, "go with token"});
  }
  {
    PluginConfig empty_token = BotConfig();
    empty_token.settings["token"] = "\n";
    cases.push_back({"empty token", empty_token, "token is empty"});
  }
  {
    PluginConfig spaced_token = BotConfig();
    spaced_token.settings["token"] = "xoxb-SECRETTOKEN injected";
    cases.push_back({"token with a space", spaced_token, "spaces or control characters"});
  }
  for (const Case& c : cases) {
    Result<std::unique_ptr<Plugin>> plugin = MakeSlack(c.config);
    ASSERT_FALSE(plugin.ok()) << c.what;
    EXPECT_EQ(plugin.error().code, ErrorCode::kInvalid) << c.what;
    const std::string& message = plugin.error().message;
    EXPECT_NE(message.find(c.says), std::string::npos) << c.what << ": " << message;
    EXPECT_EQ(message.find("SECRET"), std::string::npos) << c.what << ": " << message;
    EXPECT_EQ(message.find("xoxb"), std::string::npos) << c.what << ": " << message;
  }
}

// --- which runs ----------------------------------------------------------------------

TEST(SlackWants, PoliciesDecideWhichFinishedRunsAreTold) {
  RunFacts passed;
  passed.status = "passed";
  RunFacts failed;
  failed.status = "failed";
  RunFacts error;
  error.status = "error";
  struct Row {
    Policy policy;
    const RunFacts* run;
    Change change;
    bool wanted;
  };
  const Row rows[] = {
      {Policy::kAlways, &passed, Change::kStillPassing, true},
      {Policy::kAlways, &failed, Change::kStillFailing, true},
      {Policy::kAlways, &passed, Change::kNone, true},
      {Policy::kFailure, &passed, Change::kRecovered, false},
      {Policy::kFailure, &passed, Change::kFirst, false},
      {Policy::kFailure, &failed, Change::kStillFailing, true},
      {Policy::kFailure, &failed, Change::kNone, true},
      {Policy::kFailure, &error, Change::kBroke, true},
      {Policy::kChange, &passed, Change::kFirst, true},
      {Policy::kChange, &failed, Change::kBroke, true},
      {Policy::kChange, &passed, Change::kRecovered, true},
      {Policy::kChange, &failed, Change::kStillFailing, false},
      {Policy::kChange, &passed, Change::kStillPassing, false},
      {Policy::kChange, &failed, Change::kNone, false},  // a partial run is no change
  };
  for (const Row& row : rows) {
    PluginConfig config = WebhookConfig();
    config.policy = row.policy;
    std::unique_ptr<Plugin> plugin = Make(config);
    EXPECT_EQ(plugin->Wants(Event::kRunFinished, *row.run, row.change), row.wanted)
        << PolicyName(row.policy) << " " << row.run->status << " " << ChangeName(row.change);
  }
}

TEST(SlackWants, DefaultIsFailedRunsOnlyAndEventsAreConfigurable) {
  std::unique_ptr<Plugin> plugin = Make(WebhookConfig());
  RunFacts passed;
  passed.status = "passed";
  RunFacts failed;
  failed.status = "failed";
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, failed, Change::kBroke));
  EXPECT_FALSE(plugin->Wants(Event::kRunFinished, passed, Change::kRecovered));
  EXPECT_FALSE(plugin->Wants(Event::kRunStarted, failed, Change::kNone));
  EXPECT_FALSE(plugin->Wants(Event::kTestFailed, failed, Change::kNone));

  PluginConfig config = WebhookConfig();
  config.events = {Event::kRunStarted, Event::kTestFailed};
  config.policy = Policy::kAlways;
  plugin = Make(config);
  EXPECT_TRUE(plugin->Wants(Event::kRunStarted, passed, Change::kNone));
  EXPECT_TRUE(plugin->Wants(Event::kTestFailed, passed, Change::kNone));
  EXPECT_FALSE(plugin->Wants(Event::kRunFinished, failed, Change::kBroke));
}

// --- the request ---------------------------------------------------------------------

TEST(SlackRender, BotTokenPostsToChatPostMessageWithBearerAndChannel) {
  std::unique_ptr<Plugin> plugin = Make(BotConfig());
  Result<Request> request = plugin->Render(FinishedRun("failed", {}), {});
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->url, "http://127.0.0.1:8099/api/chat.postMessage");
  EXPECT_EQ(HeaderOf(*request, "Authorization"), "Bearer " + std::string(kToken));
  EXPECT_EQ(HeaderOf(*request, "Content-Type"), "application/json; charset=utf-8");
  const json::object body = Body(*request);
  EXPECT_EQ(Str(body.at("channel")), "e2e-alerts");
  EXPECT_EQ(request->body.find(kToken), std::string::npos) << "the token goes in a header only";
}

TEST(SlackRender, DefaultApiUrlIsSlacks) {
  PluginConfig config = BotConfig();
  config.settings.erase("api_url");
  Result<Request> request = Make(config)->Render(FinishedRun("failed", {}), {});
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->url, "https://slack.com/api/chat.postMessage");
}

TEST(SlackRender, IncomingWebhookPostsToItsUrlWithoutChannelOrAuthorization) {
  Result<Request> request = Make(WebhookConfig())->Render(FinishedRun("failed", {}), {});
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->url, kWebhookUrl);
  EXPECT_EQ(HeaderOf(*request, "Authorization"), "");
  EXPECT_FALSE(Body(*request).contains("channel"));
}

// --- the message ---------------------------------------------------------------------

TEST(SlackRender, FailedRunShowsHeaderContextCountsFailuresAndButton) {
  TestOutcome soft = Failed("TestCoupon", "coupon_test.cc", 7, "known issue #12");
  soft.soft_failure = true;
  TestOutcome flaky = Passed("TestSearch");
  flaky.flaky = true;
  flaky.attempt = 2;
  TestOutcome skipped;
  skipped.name = "TestLegacy";
  skipped.status = "skipped";
  TestOutcome pay = Failed("TestPay", "pay_test.cc", 12, "want 200, got 500");
  pay.change = "still_failing";
  pay.failing_since_run = 39;
  pay.failing_since_reference = "9d8e7f6a5b4c3d2e";
  TestOutcome cart = Failed("TestCart", "", 0, "timed out");
  cart.change = "new_failure";
  cart.failing_since_run = 42;
  Notification n =
      FinishedRun("failed", {Passed("TestLogin"), pay, cart, soft, flaky, skipped});
  const json::object body = Render(*Make(WebhookConfig()), n);
  const std::string all = CheckLimitsAndCollectText(body);

  EXPECT_EQ(HeaderText(body), "\xE2\x9D\x8C checkout failed");
  const std::vector<std::string> types = BlockTypes(body);
  ASSERT_GE(types.size(), 4u);
  EXPECT_EQ(types[0], "header");
  EXPECT_EQ(types[1], "context");
  EXPECT_EQ(types.back(), "actions");
  for (const char* expected :
       {"*Environment:* staging", "`3f2a9c1`", "*Initiated by:* alice", "*Duration:* 1m 05s",
        "Run #42", "*2* passed", "*2* failed", "*1* soft-failed", "*1* skipped", "*1* flaky",
        "`TestPay` _failing since run #39 (9d8e7f6a5b4c)_", "`pay_test.cc:12`",
        "want 200, got 500", "`TestCart` _new failure_", "timed out",
        "`TestCoupon` _soft failure_", "`coupon_test.cc:7`", "known issue #12",
        "*Flaky* (passed on a retry): `TestSearch` (attempt 2)",
        "https://handoff.example.com/runs/42"}) {
    EXPECT_NE(all.find(expected), std::string::npos) << expected << " in\n" << all;
  }
  // Failures of the run come before soft failures.
  EXPECT_LT(all.find("`TestCart`"), all.find("`TestCoupon`"));
  EXPECT_EQ(all.find("TestLogin"), std::string::npos) << "passed tests are not listed";
  const std::string fallback = Str(body.at("text"));
  EXPECT_NE(fallback.find("checkout failed in staging"), std::string::npos) << fallback;
  EXPECT_EQ(fallback.find('\n'), std::string::npos) << "one line";
  const json::value& button = body.at("blocks").as_array().back().at("elements").as_array()[0];
  EXPECT_EQ(Str(button.at("url")), "https://handoff.example.com/runs/42");
  EXPECT_EQ(Str(button.at("text").at("text")), "View run #42");
}

TEST(SlackRender, HeaderSaysPassedRecoveredOrBroke) {
  std::unique_ptr<Plugin> plugin = Make(WebhookConfig());
  Notification passed = FinishedRun("passed", {Passed("TestLogin")});
  EXPECT_EQ(HeaderText(Render(*plugin, passed)), "\xE2\x9C\x85 checkout passed");
  passed.change = Change::kRecovered;
  passed.previous = PreviousRun{.id = 41, .status = "failed", .url = ""};
  const json::object recovered = Render(*plugin, passed);
  EXPECT_EQ(HeaderText(recovered), "\xE2\x9C\x85 checkout recovered");
  EXPECT_NE(CheckLimitsAndCollectText(recovered).find("*Previous:* run #41 failed"),
            std::string::npos);
  Notification broke = FinishedRun("failed", {Failed("TestPay", "pay_test.cc", 3, "boom")});
  broke.change = Change::kBroke;
  EXPECT_EQ(HeaderText(Render(*plugin, broke)), "\xE2\x9D\x8C checkout broke");
  Notification error = FinishedRun("error", {});
  error.run.error = "the suite's binary crashed";
  const json::object body = Render(*plugin, error);
  EXPECT_EQ(HeaderText(body), "\xE2\x9D\x8C checkout ended in an error");
  EXPECT_NE(CheckLimitsAndCollectText(body).find("the suite's binary crashed"), std::string::npos);
}

TEST(SlackRender, WithoutRunUrlThereIsNoButtonButTheMessageStays) {
  Notification n = FinishedRun("failed", {Failed("TestPay", "pay_test.cc", 12, "boom")});
  n.run.url.clear();
  const json::object body = Render(*Make(WebhookConfig()), n);
  const std::string all = CheckLimitsAndCollectText(body);
  for (const std::string& type : BlockTypes(body)) EXPECT_NE(type, "actions");
  EXPECT_NE(all.find("`pay_test.cc:12`"), std::string::npos);
  EXPECT_FALSE(Str(body.at("text")).empty());
}

TEST(SlackRender, FiveHundredFailuresStayWithinLimitsAndSayHowManyAreLeftOut) {
  std::vector<TestOutcome> tests;
  for (int i = 0; i < 500; ++i) {
    tests.push_back(Failed("TestCase" + std::to_string(i), "cases_test.cc", 100 + i,
                           std::string(900, 'x') + " failure " + std::to_string(i)));
  }
  Notification n = FinishedRun("failed", tests);
  const json::object body = Render(*Make(BotConfig()), n);
  const std::string all = CheckLimitsAndCollectText(body);
  EXPECT_NE(all.find("`TestCase0`"), std::string::npos);
  EXPECT_NE(all.find("`cases_test.cc:100`"), std::string::npos);
  // 20 are listed, the rest counted.
  EXPECT_NE(all.find("`TestCase19`"), std::string::npos);
  EXPECT_EQ(all.find("`TestCase20`"), std::string::npos);
  EXPECT_NE(all.find("\xE2\x80\xA6 and 480 more failed tests"), std::string::npos) << all;
  EXPECT_NE(all.find("*500* failed"), std::string::npos);
  EXPECT_LT(all.size(), 40'000u) << "far from Slack's 40,000 characters a message";
}

TEST(SlackRender, LongAndHostileTextIsCutEscapedAndValidUtf8) {
  std::string long_suite;
  for (int i = 0; i < 100; ++i) long_suite += "suite\xF0\x9F\x9A\x80";  // 🚀 counts two
  std::string message = "<!channel> & <https://evil.example|click>\n";
  message += std::string(5000, '&');
  message += "```injected``` \xFF\xFE bad bytes";
  Notification n =
      FinishedRun("failed", {Failed(std::string(4000, 'T') + "<b>", "f.cc", 1, message)});
  n.run.suite = long_suite;
  n.run.environment = std::string(5000, 'e');
  const json::object body = Render(*Make(WebhookConfig()), n);  // parses: valid UTF-8
  const std::string all = CheckLimitsAndCollectText(body);
  EXPECT_NE(HeaderText(body).find("\xE2\x80\xA6"), std::string::npos) << "cut with an ellipsis";
  EXPECT_EQ(all.find("<!channel>"), std::string::npos) << "markup is escaped";
  EXPECT_NE(all.find("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"),
            std::string::npos);
  EXPECT_EQ(all.find("```injected```"), std::string::npos) << "a message cannot end its block";
  EXPECT_EQ(all.find("&amp\xE2\x80\xA6"), std::string::npos) << "no escape cut in two";
}

TEST(SlackRender, SubtestFailureIsListedInsteadOfItsSilentParent) {
  Notification n = FinishedRun(
      "failed", {Failed("TestCheckout", "", 0, ""),
                 Failed("TestCheckout/with_coupon", "checkout_test.cc", 30, "total 9, want 8")});
  const std::string all = CheckLimitsAndCollectText(Render(*Make(WebhookConfig()), n));
  EXPECT_NE(all.find("`TestCheckout/with_coupon`"), std::string::npos);
  EXPECT_EQ(all.find("`TestCheckout`"), std::string::npos) << all;
}

TEST(SlackRender, RunStartedAndTestFailedAreSmallMessagesInTheSameStyle) {
  std::unique_ptr<Plugin> plugin = Make(WebhookConfig());
  Notification started = FinishedRun("running", {});
  started.event = Event::kRunStarted;
  json::object body = Render(*plugin, started);
  std::string all = CheckLimitsAndCollectText(body);
  EXPECT_EQ(HeaderText(body), "\xE2\x96\xB6\xEF\xB8\x8F checkout started");
  EXPECT_NE(all.find("*Environment:* staging"), std::string::npos);
  EXPECT_EQ(all.find("Duration"), std::string::npos);
  EXPECT_EQ(BlockTypes(body), (std::vector<std::string>{"header", "context", "actions"}));

  Notification failed = FinishedRun("running", {});
  failed.event = Event::kTestFailed;
  failed.tests = {Failed("TestPay", "pay_test.cc", 12, "want 200, got 500")};
  body = Render(*plugin, failed);
  all = CheckLimitsAndCollectText(body);
  EXPECT_EQ(HeaderText(body), "\xE2\x9D\x8C checkout: TestPay failed");
  EXPECT_NE(all.find("`pay_test.cc:12`"), std::string::npos);
  EXPECT_NE(all.find("want 200, got 500"), std::string::npos);
  EXPECT_NE(Str(body.at("text")).find("TestPay failed"), std::string::npos);
}

// --- threads -------------------------------------------------------------------------

TEST(SlackThread, RecoveryAnswersInTheThreadOfTheFailure) {
  std::unique_ptr<Plugin> plugin = Make(BotConfig());
  Notification recovered = FinishedRun("passed", {Passed("TestPay")});
  recovered.change = Change::kRecovered;
  const RenderContext context = Reply(R"({"ts":"1712345678.000100","channel":"C0ALERTS"})");
  json::object body = Render(*plugin, recovered, context);
  EXPECT_EQ(Str(body.at("thread_ts")), "1712345678.000100");
  EXPECT_EQ(Str(body.at("channel")), "C0ALERTS");
  EXPECT_EQ(body.at("reply_broadcast"), json::value(true));

  // No thread: no failure kept, a kept value that is not one, a run that is not a recovery,
  // or an incoming webhook (which cannot answer in a thread).
  EXPECT_FALSE(Render(*plugin, recovered).contains("thread_ts"));
  EXPECT_FALSE(Render(*plugin, recovered, Reply("not json")).contains("thread_ts"));
  EXPECT_FALSE(Render(*plugin, recovered, Reply(R"({"channel":"C1"})")).contains("thread_ts"));
  Notification passed = recovered;
  passed.change = Change::kStillPassing;
  EXPECT_FALSE(Render(*plugin, passed, context).contains("thread_ts"));
  Notification failed = FinishedRun("failed", {Failed("TestPay", "p.cc", 1, "x")});
  failed.change = Change::kStillFailing;
  EXPECT_FALSE(Render(*plugin, failed, context).contains("thread_ts"));
  EXPECT_FALSE(Render(*Make(WebhookConfig()), recovered, context).contains("thread_ts"));
}

// --- answers -------------------------------------------------------------------------

Response Answer(int status, std::string body, Headers headers = {}) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

TEST(SlackClassify, PostedFailureIsKeptForTheRecoveryAndPassesAreNot) {
  std::unique_ptr<Plugin> plugin = Make(BotConfig());
  const Notification failed = FinishedRun("failed", {Failed("TestPay", "p.cc", 1, "x")});
  const Response posted =
      Answer(200, R"({"ok":true,"channel":"C0ALERTS","ts":"1712345678.000100","message":{}})");
  Outcome outcome = plugin->Classify(failed, {}, posted);
  EXPECT_EQ(outcome.verdict, Verdict::kDelivered);
  const json::value kept = json::parse(outcome.progress);
  EXPECT_EQ(kept, json::parse(R"({"ts":"1712345678.000100","channel":"C0ALERTS"})"));
  // What was kept is what the recovery threads onto.
  Notification recovered = FinishedRun("passed", {});
  recovered.change = Change::kRecovered;
  EXPECT_EQ(Str(Render(*plugin, recovered, Reply(outcome.progress)).at("thread_ts")),
            "1712345678.000100");

  recovered.run.status = "passed";
  outcome = plugin->Classify(recovered, {}, posted);
  EXPECT_EQ(outcome.verdict, Verdict::kDelivered);
  EXPECT_EQ(outcome.progress, "") << "a recovery must not become the next thread";
  Notification test_failed = failed;
  test_failed.event = Event::kTestFailed;
  EXPECT_EQ(plugin->Classify(test_failed, {}, posted).progress, "");
}

TEST(SlackClassify, OkFalseIsAnErrorWithSlacksWord) {
  std::unique_ptr<Plugin> plugin = Make(BotConfig());
  const Notification n = FinishedRun("failed", {});
  struct Row {
    const char* error;
    Verdict verdict;
  };
  for (const Row& row : {Row{"channel_not_found", Verdict::kFailed},
                         Row{"not_in_channel", Verdict::kFailed},
                         Row{"invalid_auth", Verdict::kFailed},
                         Row{"token_revoked", Verdict::kFailed},
                         Row{"account_inactive", Verdict::kFailed},
                         Row{"invalid_blocks", Verdict::kFailed},
                         Row{"msg_too_long", Verdict::kFailed},
                         Row{"ratelimited", Verdict::kRetry},
                         Row{"internal_error", Verdict::kRetry}}) {
    const Outcome outcome = plugin->Classify(
        n, {}, Answer(200, std::string(R"({"ok":false,"error":")") + row.error + "\"}"));
    EXPECT_EQ(outcome.verdict, row.verdict) << row.error;
    EXPECT_NE(outcome.error.find(row.error), std::string::npos) << outcome.error;
    EXPECT_EQ(outcome.progress, "");
    EXPECT_EQ(outcome.error.find(kToken), std::string::npos);
  }
  const Outcome scope = plugin->Classify(
      n, {}, Answer(200, R"({"ok":false,"error":"missing_scope","needed":"chat:write"})"));
  EXPECT_NE(scope.error.find("needed: chat:write"), std::string::npos) << scope.error;
  const Outcome limited = plugin->Classify(
      n, {}, Answer(200, R"({"ok":false,"error":"ratelimited"})", {{"Retry-After", "7"}}));
  ASSERT_TRUE(limited.retry_after.has_value());
  EXPECT_EQ(*limited.retry_after, std::chrono::seconds(7));
}

TEST(SlackClassify, AnswerThatIsNotSlacksJsonFails) {
  std::unique_ptr<Plugin> plugin = Make(BotConfig());
  const Notification n = FinishedRun("failed", {});
  for (const char* body : {"", "ok", "<html>proxy</html>", R"({"ts":"1"})", "[true]"}) {
    const Outcome outcome = plugin->Classify(n, {}, Answer(200, body));
    EXPECT_EQ(outcome.verdict, Verdict::kFailed) << body;
    EXPECT_FALSE(outcome.error.empty());
  }
  // A word of an unknown form is not repeated: only short plain words are.
  const Outcome odd = plugin->Classify(
      n, {}, Answer(200, R"({"ok":false,"error":"see https://x.example/?a=b <b>"})"));
  EXPECT_EQ(odd.verdict, Verdict::kFailed);
  EXPECT_EQ(odd.error.find("x.example"), std::string::npos) << odd.error;
}

TEST(SlackClassify, TooManyRequestsRetriesAfterRetryAfter) {
  for (const PluginConfig& config : {BotConfig(), WebhookConfig()}) {
    const Outcome outcome =
        Make(config)->Classify(FinishedRun("failed", {}), {},
                               Answer(429, R"({"ok":false,"error":"ratelimited"})",
                                      {{"Retry-After", "30"}}));
    EXPECT_EQ(outcome.verdict, Verdict::kRetry);
    ASSERT_TRUE(outcome.retry_after.has_value());
    EXPECT_EQ(*outcome.retry_after, std::chrono::seconds(30));
    EXPECT_NE(outcome.error.find("ratelimited"), std::string::npos) << outcome.error;
  }
  EXPECT_EQ(Make(BotConfig())->Classify(FinishedRun("failed", {}), {}, Answer(502, "")).verdict,
            Verdict::kRetry);
}

TEST(SlackClassify, IncomingWebhookAnswers) {
  std::unique_ptr<Plugin> plugin = Make(WebhookConfig());
  const Notification n = FinishedRun("failed", {});
  Outcome ok = plugin->Classify(n, {}, Answer(200, "ok"));
  EXPECT_EQ(ok.verdict, Verdict::kDelivered);
  EXPECT_EQ(ok.progress, "") << "a webhook's answer has no message to thread onto";

  struct Row {
    int status;
    const char* body;
    Verdict verdict;
  };
  for (const Row& row : {Row{400, "invalid_payload", Verdict::kFailed},
                         Row{403, "channel_is_archived", Verdict::kFailed},
                         Row{404, "no_service", Verdict::kFailed},
                         Row{410, "no_service", Verdict::kDisabled},
                         Row{500, "rollup_error", Verdict::kRetry}}) {
    const Outcome outcome = plugin->Classify(n, {}, Answer(row.status, row.body));
    EXPECT_EQ(outcome.verdict, row.verdict) << row.status;
    EXPECT_NE(outcome.error.find(row.body), std::string::npos) << outcome.error;
    EXPECT_NE(outcome.error.find(std::to_string(row.status)), std::string::npos);
  }
}

TEST(SlackClassify, ErrorsNeverCarryTheSecret) {
  std::unique_ptr<Plugin> webhook = Make(WebhookConfig());
  const Notification n = FinishedRun("failed", {});
  Response refused;
  refused.error = "cannot connect to " + std::string(kWebhookUrl) + ": connection refused";
  Outcome outcome = webhook->Classify(n, {}, refused);
  EXPECT_EQ(outcome.verdict, Verdict::kRetry);
  EXPECT_EQ(outcome.error.find("SECRET"), std::string::npos) << outcome.error;
  EXPECT_NE(outcome.error.find("connection refused"), std::string::npos);

  Response moved = Answer(301, "", {{"Location", "https://other.example/services/T000SECRET/"
                                                 "B000SECRET/XXXXsecretXXXXsecret"}});
  outcome = webhook->Classify(n, {}, moved);
  EXPECT_EQ(outcome.verdict, Verdict::kFailed);
  EXPECT_EQ(outcome.error.find("SECRET"), std::string::npos) << outcome.error;

  std::unique_ptr<Plugin> bot = Make(BotConfig());
  Response echoed;
  echoed.error = "TLS error talking with token " + std::string(kToken);
  outcome = bot->Classify(n, {}, echoed);
  EXPECT_EQ(outcome.error.find(kToken), std::string::npos) << outcome.error;
  EXPECT_EQ(bot->destination().find("xoxb"), std::string::npos);
  EXPECT_EQ(webhook->destination().find("SECRET"), std::string::npos);
}

}  // namespace
}  // namespace handoff::notify
