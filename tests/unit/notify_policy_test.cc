// What every plugin shares (issue 16): plain HTTP answers, Retry-After, routes, locations,
// the change of a run against the suite's previous one, retry delays and configuration.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/delivery_worker.h"
#include "engine/notify_decider.h"
#include "notify/config.h"
#include "notify/plugin.h"
#include "notify/signature.h"

namespace handoff {
namespace {

using namespace std::chrono_literals;
using notify::Verdict;

const auto kNow = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT

notify::Response Answer(int status, notify::Headers headers = {}) {
  notify::Response r;
  r.status = status;
  r.headers = std::move(headers);
  return r;
}

TEST(ClassifyHttpTest, SaysWhatToDoWithEachAnswer) {
  EXPECT_EQ(notify::ClassifyHttp(Answer(200), kNow).verdict, Verdict::kDelivered);
  EXPECT_EQ(notify::ClassifyHttp(Answer(204), kNow).verdict, Verdict::kDelivered);
  EXPECT_EQ(notify::ClassifyHttp(Answer(500), kNow).verdict, Verdict::kRetry);
  EXPECT_EQ(notify::ClassifyHttp(Answer(408), kNow).verdict, Verdict::kRetry);
  EXPECT_EQ(notify::ClassifyHttp(Answer(410), kNow).verdict, Verdict::kDisabled);
  EXPECT_EQ(notify::ClassifyHttp(Answer(400), kNow).verdict, Verdict::kFailed);
  const notify::Outcome moved =
      notify::ClassifyHttp(Answer(302, {{"Location", "https://elsewhere/"}}), kNow);
  EXPECT_EQ(moved.verdict, Verdict::kFailed);
  EXPECT_NE(moved.error.find("not followed"), std::string::npos) << moved.error;
  notify::Response none;
  none.error = "cannot connect";
  EXPECT_EQ(notify::ClassifyHttp(none, kNow).verdict, Verdict::kRetry);
  const notify::Outcome limited = notify::ClassifyHttp(Answer(429, {{"retry-after", "7"}}), kNow);
  EXPECT_EQ(limited.verdict, Verdict::kRetry);
  ASSERT_TRUE(limited.retry_after.has_value());
  EXPECT_EQ(*limited.retry_after, 7s);
}

TEST(RetryAfterTest, ReadsSecondsAndHttpDates) {
  EXPECT_EQ(notify::ParseRetryAfter("120", kNow), 120s);
  EXPECT_EQ(notify::ParseRetryAfter(" 3 ", kNow), 3s);
  EXPECT_EQ(notify::ParseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT", kNow), 30s);
  EXPECT_EQ(notify::ParseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", kNow), 0s);
  EXPECT_EQ(notify::ParseRetryAfter("99999999999999999999999", kNow), 3600s);  // capped
  EXPECT_FALSE(notify::ParseRetryAfter("soon", kNow).has_value());
  EXPECT_FALSE(notify::ParseRetryAfter("-1", kNow).has_value());
  EXPECT_FALSE(notify::ParseRetryAfter("", kNow).has_value());
}

TEST(RetryDelayTest, DoublesFromTheFirstBackoffUpToTheCapAndHonoursRetryAfter) {
  DeliveryOptions options;
  options.first_backoff = 2s;
  options.max_backoff = 10s;
  EXPECT_EQ(RetryDelay(options, 1, std::nullopt), 2s);
  EXPECT_EQ(RetryDelay(options, 2, std::nullopt), 4s);
  EXPECT_EQ(RetryDelay(options, 3, std::nullopt), 8s);
  EXPECT_EQ(RetryDelay(options, 4, std::nullopt), 10s);
  EXPECT_EQ(RetryDelay(options, 60, std::nullopt), 10s);
  EXPECT_EQ(RetryDelay(options, 1, 30s), 30s);
}

TEST(RouteTest, EveryGivenListMustMatch) {
  notify::RunFacts run;
  run.suite = "checkout-api";
  run.namespace_name = "shop";
  run.environment = "staging";
  run.labels = {{"team", "payments"}, {"tier", "smoke"}};
  EXPECT_TRUE((notify::Route{}.Matches(run)));
  EXPECT_TRUE((notify::Route{.suites = {"checkout*"}}.Matches(run)));
  EXPECT_TRUE((notify::Route{.suites = {"*-api"}, .namespaces = {"shop"}}.Matches(run)));
  EXPECT_FALSE((notify::Route{.suites = {"search*"}}.Matches(run)));
  EXPECT_TRUE((notify::Route{.labels = {{"team", "payments"}}}.Matches(run)));
  EXPECT_FALSE((notify::Route{.labels = {{"team", "search"}}}.Matches(run)));
  EXPECT_FALSE((notify::Route{.environments = {"production"}}.Matches(run)));
  EXPECT_TRUE((notify::Route{.environments = {"production", "staging"}}.Matches(run)));
}

TEST(SplitLocationTest, SeparatesFileLineAndMessage) {
  std::string file, message;
  int line = 0;
  notify::SplitLocation("checkout_test.cc:42: want 200, got 503", &file, &line, &message);
  EXPECT_EQ(file, "checkout_test.cc");
  EXPECT_EQ(line, 42);
  EXPECT_EQ(message, "want 200, got 503");
  notify::SplitLocation("timed out after 10s: killed", &file, &line, &message);
  EXPECT_EQ(file, "");
  EXPECT_EQ(line, 0);
  EXPECT_EQ(message, "timed out after 10s: killed");
  notify::SplitLocation("http://x:80: refused", &file, &line, &message);
  EXPECT_EQ(line, 0);
}

store::Run Finished(std::int64_t id, store::RunStatus status, std::string filter = "") {
  store::Run r;
  r.id = id;
  r.suite = "S";
  r.environment = "staging";
  r.status = status;
  r.filter = std::move(filter);
  return r;
}

TEST(DecideChangeTest, ComparesWithThePreviousRunOfTheWholeSuite) {
  using store::RunStatus;
  EXPECT_EQ(DecideChange(Finished(1, RunStatus::kPassed), std::nullopt), notify::Change::kFirst);
  EXPECT_EQ(DecideChange(Finished(5, RunStatus::kFailed), Finished(2, RunStatus::kPassed)),
            notify::Change::kBroke);
  EXPECT_EQ(DecideChange(Finished(5, RunStatus::kPassed), Finished(2, RunStatus::kPassed)),
            notify::Change::kStillPassing);
  EXPECT_EQ(DecideChange(Finished(5, RunStatus::kPassed), Finished(2, RunStatus::kError)),
            notify::Change::kRecovered);
  EXPECT_EQ(DecideChange(Finished(5, RunStatus::kFailed), Finished(2, RunStatus::kError)),
            notify::Change::kStillFailing);
  // Partial and cancelled runs compare with nothing.
  EXPECT_EQ(DecideChange(Finished(5, RunStatus::kFailed, "Only"), Finished(2, RunStatus::kPassed)),
            notify::Change::kNone);
  EXPECT_EQ(DecideChange(Finished(5, RunStatus::kCancelled), Finished(2, RunStatus::kPassed)),
            notify::Change::kNone);
}

TEST(DeliveryIdTest, IsStableAndDistinguishesEveryPart) {
  const std::string id = notify::DeliveryId(7, 1000, "slack", "run.finished", "");
  EXPECT_EQ(id, notify::DeliveryId(7, 1000, "slack", "run.finished", ""));
  EXPECT_EQ(id.rfind("msg_", 0), 0u);
  EXPECT_EQ(id.size(), 36u);
  EXPECT_NE(id, notify::DeliveryId(8, 1000, "slack", "run.finished", ""));
  EXPECT_NE(id, notify::DeliveryId(7, 1000, "pd", "run.finished", ""));
  EXPECT_NE(id, notify::DeliveryId(7, 1000, "slack", "run.started", ""));
  EXPECT_NE(id, notify::DeliveryId(7, 2000, "slack", "run.finished", ""))
      << "run 7 of another database (created at another time) is another delivery";
  EXPECT_NE(notify::DeliveryId(7, 1000, "slack", "test.failed", "A"),
            notify::DeliveryId(7, 1000, "slack", "test.failed", "B"));
}

notify::EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(NotifyConfigTest, ReadsDestinationsRoutesAndSecretsFromFilesAndVariables) {
  const std::string path = ::testing::TempDir() + "/slack_url";
  std::ofstream(path) << "https://hooks.slack.com/services/T/B/SECRET\n";
  const std::string doc = R"({"destinations":[
    {"name":"pay","plugin":"slack","on":"change","events":["run.finished","test.failed"],
     "route":{"suites":["checkout*"],"namespaces":["shop"],"labels":{"team":"pay"},
              "environments":["staging"]},
     "webhook_url_file":")" + path + R"("},
    {"plugin":"pagerduty","routing_key_env":"PD_KEY","severity":"critical"}]})";
  Result<std::vector<notify::PluginConfig>> configs =
      notify::ParseNotifyConfig(doc, "notify.json", notify::Policy::kFailure,
                                Env({{"PD_KEY", "R0UTINGKEY"}}));
  ASSERT_TRUE(configs.ok()) << configs.error().message;
  ASSERT_EQ(configs->size(), 2u);
  const notify::PluginConfig& slack = (*configs)[0];
  EXPECT_EQ(slack.name, "pay");
  EXPECT_EQ(slack.kind, "slack");
  EXPECT_EQ(slack.policy, notify::Policy::kChange);
  EXPECT_EQ(slack.events.size(), 2u);
  EXPECT_EQ(slack.route.suites, std::vector<std::string>{"checkout*"});
  EXPECT_EQ(slack.route.labels.size(), 1u);
  EXPECT_EQ(slack.Get("webhook_url"), "https://hooks.slack.com/services/T/B/SECRET");
  const notify::PluginConfig& pd = (*configs)[1];
  EXPECT_EQ(pd.name, "pagerduty-2");
  EXPECT_EQ(pd.policy, notify::Policy::kFailure);
  EXPECT_EQ(pd.Get("routing_key"), "R0UTINGKEY");
  EXPECT_EQ(pd.Get("severity"), "critical");
  std::filesystem::remove(path);
}

TEST(NotifyConfigTest, RefusesWhatItCannotUseSayingWhere) {
  const auto error = [](const std::string& doc) {
    Result<std::vector<notify::PluginConfig>> r =
        notify::ParseNotifyConfig(doc, "n.json", std::nullopt, Env({}));
    EXPECT_FALSE(r.ok()) << doc;
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(error("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error(R"({"destinations":{}})").find("must be a list"), std::string::npos);
  EXPECT_NE(error(R"({"dests":[]})").find("unknown key"), std::string::npos);
  EXPECT_NE(error(R"({"destinations":[{"name":"x"}]})").find("\"plugin\" is required"),
            std::string::npos);
  EXPECT_NE(error(R"({"destinations":[{"plugin":"slack","on":"often"}]})").find("\"on\""),
            std::string::npos);
  EXPECT_NE(error(R"({"destinations":[{"plugin":"slack","events":["run.exploded"]}]})")
                .find("run.exploded"),
            std::string::npos);
  EXPECT_NE(error(R"({"destinations":[{"name":"a","plugin":"slack"},{"name":"a","plugin":"webhook"}]})")
                .find("used twice"),
            std::string::npos);
  EXPECT_NE(error(R"({"destinations":[{"plugin":"slack","token_env":"NOPE"}]})").find("NOPE"),
            std::string::npos);
  EXPECT_NE(error(R"({"destinations":[{"plugin":"slack","token_file":"/nonexistent/x"}]})")
                .find("/nonexistent/x"),
            std::string::npos);
  EXPECT_NE(error(R"({"destinations":[{"plugin":"slack","route":{"team":"x"}}]})")
                .find("unknown key"),
            std::string::npos);
}

TEST(NotifyConfigTest, FlagsGiveOneDestinationPerPluginWithSecretsFromTheEnvironment) {
  notify::NotifyFlags flags;
  flags.slack_channel = "#e2e";
  flags.github_repo = "acme/shop";
  flags.webhook_url = "https://example.com/hook";
  flags.webhook_events = "run.started, run.finished";
  flags.notify_on = "always";
  Result<std::vector<notify::PluginConfig>> configs = notify::LoadDestinations(
      flags, Env({{"HANDOFF_SLACK_TOKEN", "xoxb-1"}, {"HANDOFF_GITHUB_TOKEN", "ghp_x"},
                  {"HANDOFF_WEBHOOK_SECRET", "whsec_abc"}}));
  ASSERT_TRUE(configs.ok()) << configs.error().message;
  ASSERT_EQ(configs->size(), 3u);
  EXPECT_EQ((*configs)[0].name, "slack");
  EXPECT_EQ((*configs)[0].Get("token"), "xoxb-1");
  EXPECT_EQ((*configs)[0].policy, notify::Policy::kAlways);
  EXPECT_EQ((*configs)[1].name, "github");
  EXPECT_EQ((*configs)[1].Get("token"), "ghp_x");
  EXPECT_EQ((*configs)[2].name, "webhook");
  EXPECT_EQ((*configs)[2].Get("secret"), "whsec_abc");
  EXPECT_EQ((*configs)[2].events.size(), 2u);

  notify::NotifyFlags bad;
  bad.notify_on = "sometimes";
  EXPECT_FALSE(notify::LoadDestinations(bad, Env({})).ok());
  notify::NotifyFlags orphan;
  orphan.pagerduty_api_url = "http://127.0.0.1:1";
  Result<std::vector<notify::PluginConfig>> r = notify::LoadDestinations(orphan, Env({}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--pagerduty-routing-key-file"), std::string::npos);
  EXPECT_TRUE(notify::LoadDestinations(notify::NotifyFlags{}, Env({}))->empty());
}

}  // namespace
}  // namespace handoff
