// The webhook plugin (src/notify/webhook.cc): its configuration, which notifications it
// wants, the signed request it renders and what it makes of the answers. The signatures are
// checked here with our own functions; tests/webhook/ checks them with Standard Webhooks'
// reference implementation and Python's hmac.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "notify/builtin.h"
#include "notify/notification.h"
#include "notify/plugin.h"
#include "notify/registry.h"  // PluginConfig
#include "notify/signature.h"

namespace handoff::notify {
namespace {

constexpr char kSecretA[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kSecretB[] = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

PluginConfig Config(std::map<std::string, std::string> settings) {
  PluginConfig config;
  config.name = "hooks";
  config.kind = "webhook";
  config.settings = std::move(settings);
  return config;
}

std::unique_ptr<Plugin> Make(const PluginConfig& config) {
  Result<std::unique_ptr<Plugin>> plugin = MakeWebhook(config);
  if (!plugin.ok()) {
    ADD_FAILURE() << plugin.error().message;
    return nullptr;
  }
  return std::move(plugin).value();
}

std::string ErrorOf(const PluginConfig& config) {
  Result<std::unique_ptr<Plugin>> plugin = MakeWebhook(config);
  if (plugin.ok()) {
    ADD_FAILURE() << "accepted";
    return "";
  }
  EXPECT_EQ(plugin.error().code, ErrorCode::kInvalid);
  return plugin.error().message;
}

std::string HeaderOf(const Request& request, std::string_view name) {
  Response response;
  response.headers = request.headers;
  return response.Header(name);
}

Notification SampleNotification() {
  Notification n;
  n.id = "ntf_7_run.finished";
  n.event = Event::kRunFinished;
  // Decided long ago (a delivery retried after an outage): the signature's time is still now.
  n.created_at_ns = 1'000'000'000'000'000'000;
  n.run.id = 7;
  n.run.suite = "shop";
  n.run.status = "failed";
  n.run.totals.total = 1;
  n.run.totals.failed = 1;
  n.change = Change::kBroke;
  n.tests = {{"TestCheckout", "failed", false, false, 1, 12, "want 3, got 4", "shop.cc", 9}};
  return n;
}

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(WebhookPluginTest, IsAWebhookSentToItsUrl) {
  const std::unique_ptr<Plugin> plugin = Make(Config({{"url", "https://example.com/hook"}}));
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->kind(), "webhook");
  EXPECT_EQ(plugin->destination(), "https://example.com/hook");
}

TEST(WebhookPluginTest, RendersASignedPostOfTheNotificationsJson) {
  const std::unique_ptr<Plugin> plugin =
      Make(Config({{"url", "https://example.com/hook?token=t0ps3cret"}, {"secret", kSecretA}}));
  ASSERT_NE(plugin, nullptr);
  const Notification n = SampleNotification();
  const std::int64_t before = NowSeconds();
  const Result<Request> request = plugin->Render(n, {});
  const std::int64_t after = NowSeconds();
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->url, "https://example.com/hook?token=t0ps3cret");
  EXPECT_EQ(request->body, ToJson(n));
  EXPECT_EQ(HeaderOf(*request, "Content-Type"), "application/json");
  EXPECT_EQ(HeaderOf(*request, "webhook-id"), "ntf_7_run.finished");
  const std::string timestamp = HeaderOf(*request, "webhook-timestamp");
  ASSERT_FALSE(timestamp.empty());
  const std::int64_t seconds = std::stoll(timestamp);
  EXPECT_GE(seconds, before);  // the attempt's time, not the notification's
  EXPECT_LE(seconds, after);
  const WebhookSecret secret = *ParseWebhookSecret(kSecretA);
  EXPECT_EQ(HeaderOf(*request, "webhook-signature"),
            StandardWebhookSignature({secret}, n.id, seconds, request->body));
  EXPECT_TRUE(HeaderOf(*request, "webhook-signature").starts_with("v1,"));
  EXPECT_EQ(HeaderOf(*request, "X-Hub-Signature-256"), GithubSignature256(secret, request->body));
  EXPECT_TRUE(HeaderOf(*request, "X-Hub-Signature-256").starts_with("sha256="));
  EXPECT_EQ(HeaderOf(*request, "Authorization"), "");
  // The body is the stored notification: FromJson reads it back.
  const Result<Notification> back = FromJson(request->body);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->id, n.id);
}

TEST(WebhookPluginTest, ARotationSignsWithEverySecretAndGithubsWithTheFirst) {
  const std::unique_ptr<Plugin> plugin =
      Make(Config({{"url", "http://127.0.0.1:9/h"},
                   {"secret", std::string(kSecretA) + " \n\t" + kSecretB + "\n"}}));
  ASSERT_NE(plugin, nullptr);
  const Notification n = SampleNotification();
  const Result<Request> request = plugin->Render(n, {});
  ASSERT_TRUE(request.ok());
  const std::int64_t seconds = std::stoll(HeaderOf(*request, "webhook-timestamp"));
  const WebhookSecret a = *ParseWebhookSecret(kSecretA);
  const WebhookSecret b = *ParseWebhookSecret(kSecretB);
  const std::string signature = HeaderOf(*request, "webhook-signature");
  EXPECT_EQ(signature, StandardWebhookSignature({a}, n.id, seconds, request->body) + " " +
                           StandardWebhookSignature({b}, n.id, seconds, request->body));
  EXPECT_EQ(HeaderOf(*request, "X-Hub-Signature-256"), GithubSignature256(a, request->body));
}

TEST(WebhookPluginTest, WithoutASecretSendsNoSignature) {
  const std::unique_ptr<Plugin> plugin = Make(Config({{"url", "http://localhost:8080/h"}}));
  ASSERT_NE(plugin, nullptr);
  const Result<Request> request = plugin->Render(SampleNotification(), {});
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(HeaderOf(*request, "webhook-id"), "ntf_7_run.finished");
  EXPECT_FALSE(HeaderOf(*request, "webhook-timestamp").empty());
  EXPECT_EQ(HeaderOf(*request, "webhook-signature"), "");
  EXPECT_EQ(HeaderOf(*request, "X-Hub-Signature-256"), "");
}

TEST(WebhookPluginTest, RendersTheSameBodyOnEveryAttempt) {
  const std::unique_ptr<Plugin> plugin =
      Make(Config({{"url", "https://example.com/"}, {"secret", kSecretA}}));
  ASSERT_NE(plugin, nullptr);
  const Result<Request> first = plugin->Render(SampleNotification(), {});
  const Result<Request> second = plugin->Render(SampleNotification(), {"x", "y"});
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->body, second->body);
  EXPECT_EQ(HeaderOf(*first, "webhook-id"), HeaderOf(*second, "webhook-id"));
}

TEST(WebhookPluginTest, DestinationHidesTheQueryAndTheUserinfo) {
  struct Case {
    std::string url;
    std::string destination;
    std::string request_url;
  };
  const std::vector<Case> cases = {
      {"https://example.com/hook", "https://example.com/hook", "https://example.com/hook"},
      {"https://example.com", "https://example.com", "https://example.com"},
      {"HTTPS://Example.com/a/b/?token=s3cret&x=1", "https://Example.com/a/b/",
       "https://Example.com/a/b/?token=s3cret&x=1"},
      {"https://example.com?token=s3cret", "https://example.com",
       "https://example.com?token=s3cret"},
      {"http://user:s3cret@example.com:8443/hook?sig=s3cret", "http://example.com:8443/hook",
       "http://example.com:8443/hook?sig=s3cret"},
      {"http://[::1]:9000/hook", "http://[::1]:9000/hook", "http://[::1]:9000/hook"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    const std::unique_ptr<Plugin> plugin = Make(Config({{"url", c.url}}));
    ASSERT_NE(plugin, nullptr);
    EXPECT_EQ(plugin->destination(), c.destination);
    EXPECT_EQ(plugin->destination().find("s3cret"), std::string::npos);
    const Result<Request> request = plugin->Render(SampleNotification(), {});
    ASSERT_TRUE(request.ok());
    EXPECT_EQ(request->url, c.request_url);
  }
}

TEST(WebhookPluginTest, UserinfoBecomesBasicAuthorization) {
  const std::unique_ptr<Plugin> plugin =
      Make(Config({{"url", "https://hook%40corp:p%3Ass@example.com/h"}}));
  ASSERT_NE(plugin, nullptr);
  const Result<Request> request = plugin->Render(SampleNotification(), {});
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->url, "https://example.com/h");
  // base64("hook@corp:p:ss")
  EXPECT_EQ(HeaderOf(*request, "Authorization"), "Basic aG9va0Bjb3JwOnA6c3M=");
}

TEST(WebhookPluginTest, RefusesBadConfigurationsWithoutRepeatingSecrets) {
  struct Case {
    std::map<std::string, std::string> settings;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, "url is required"},
      {{{"url", ""}}, "url is required"},
      {{{"url", "ftp://s3cret@example.com/"}}, "not an http:// or https:// URL"},
      {{{"url", "example.com/s3cret"}}, "not an http:// or https:// URL"},
      {{{"url", "https:///s3cret"}}, "no host"},
      {{{"url", "https://s3cret@/x"}}, "no host"},
      {{{"url", "https://example.com:0/s3cret"}}, "port"},
      {{{"url", "https://example.com:99999/s3cret"}}, "port"},
      {{{"url", "https://example.com:/s3cret"}}, "empty port"},
      {{{"url", "https://example.com/a s3cret"}}, "space"},
      {{{"url", "https://example.com/#s3cret"}}, "fragment"},
      {{{"url", "https://u%zzs3cret@example.com/"}}, "%-escape"},
      {{{"url", "https://example.com/"}, {"secret", ""}}, "secret is empty"},
      {{{"url", "https://example.com/"}, {"secret", " \n"}}, "secret is empty"},
      {{{"url", "https://example.com/"}, {"secret", "s3cret"}}, "whsec_"},
      {{{"url", "https://example.com/"}, {"secret", std::string(kSecretA) + " whsec_s3cret"}},
       "secret 2 of 2"},
      {{{"url", "https://example.com/"}, {"secrets", kSecretA}},
       "unknown setting \"secrets\" (the webhook plugin takes url and secret)"},
      {{{"url", "https://example.com/"}, {"webhook_url", "https://x/"}},
       "unknown setting \"webhook_url\""},
  };
  for (const Case& c : cases) {
    const std::string message = ErrorOf(Config(c.settings));
    SCOPED_TRACE(message);
    EXPECT_NE(message.find(c.says), std::string::npos);
    EXPECT_EQ(message.find("s3cret"), std::string::npos);
    EXPECT_EQ(message.find("MfKQ9r8"), std::string::npos);
  }
}

RunFacts RunWithStatus(std::string status) {
  RunFacts run;
  run.suite = "shop";
  run.status = std::move(status);
  return run;
}

TEST(WebhookPluginTest, WantsFinishedRunsByPolicy) {
  const std::vector<Change> changes = {Change::kNone,       Change::kFirst,
                                       Change::kBroke,      Change::kRecovered,
                                       Change::kStillFailing, Change::kStillPassing};
  for (const char* status : {"passed", "failed", "error", "cancelled"}) {
    const bool failed = std::string_view(status) == "failed" || std::string_view(status) == "error";
    for (Change change : changes) {
      SCOPED_TRACE(std::string(status) + " " + ChangeName(change));
      const RunFacts run = RunWithStatus(status);
      PluginConfig config = Config({{"url", "https://example.com/"}});
      // The default policy is failure.
      EXPECT_EQ(Make(config)->Wants(Event::kRunFinished, run, change), failed);
      config.policy = Policy::kFailure;
      EXPECT_EQ(Make(config)->Wants(Event::kRunFinished, run, change), failed);
      config.policy = Policy::kAlways;
      EXPECT_TRUE(Make(config)->Wants(Event::kRunFinished, run, change));
      config.policy = Policy::kChange;
      EXPECT_EQ(Make(config)->Wants(Event::kRunFinished, run, change),
                change == Change::kFirst || change == Change::kBroke ||
                    change == Change::kRecovered);
    }
  }
}

TEST(WebhookPluginTest, WantsOnlyTheConfiguredEvents) {
  const RunFacts failed = RunWithStatus("failed");
  const RunFacts passed = RunWithStatus("passed");
  PluginConfig config = Config({{"url", "https://example.com/"}});
  // By default: run.finished only.
  std::unique_ptr<Plugin> plugin = Make(config);
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, failed, Change::kBroke));
  EXPECT_FALSE(plugin->Wants(Event::kRunStarted, failed, Change::kNone));
  EXPECT_FALSE(plugin->Wants(Event::kTestFailed, failed, Change::kNone));

  config.events = {Event::kRunStarted, Event::kTestFailed};
  plugin = Make(config);
  EXPECT_FALSE(plugin->Wants(Event::kRunFinished, failed, Change::kBroke));
  // The policy is about finished runs: every start and failed test of a routed run is sent.
  EXPECT_TRUE(plugin->Wants(Event::kRunStarted, passed, Change::kNone));
  EXPECT_TRUE(plugin->Wants(Event::kTestFailed, passed, Change::kNone));

  config.events = {Event::kRunStarted, Event::kRunFinished, Event::kTestFailed};
  config.policy = Policy::kChange;
  plugin = Make(config);
  EXPECT_TRUE(plugin->Wants(Event::kRunStarted, passed, Change::kNone));
  EXPECT_FALSE(plugin->Wants(Event::kRunFinished, failed, Change::kStillFailing));
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, passed, Change::kRecovered));
}

TEST(WebhookPluginTest, ClassifiesAnswers) {
  const std::unique_ptr<Plugin> plugin = Make(Config({{"url", "https://example.com/"}}));
  ASSERT_NE(plugin, nullptr);
  const Notification n = SampleNotification();
  const Request request = *plugin->Render(n, {});
  const auto classify = [&](int status, Headers headers = {}) {
    Response response;
    response.status = status;
    response.headers = std::move(headers);
    return plugin->Classify(n, request, response);
  };
  EXPECT_EQ(classify(200).verdict, Verdict::kDelivered);
  EXPECT_EQ(classify(204).verdict, Verdict::kDelivered);
  const Outcome gone = classify(410);
  EXPECT_EQ(gone.verdict, Verdict::kDisabled);
  EXPECT_NE(gone.error.find("410"), std::string::npos);
  const Outcome moved = classify(301, {{"Location", "https://elsewhere.example/"}});
  EXPECT_EQ(moved.verdict, Verdict::kFailed);
  EXPECT_NE(moved.error.find("not followed"), std::string::npos);
  const Outcome busy = classify(429, {{"Retry-After", "30"}});
  EXPECT_EQ(busy.verdict, Verdict::kRetry);
  ASSERT_TRUE(busy.retry_after.has_value());
  EXPECT_EQ(*busy.retry_after, std::chrono::seconds(30));
  EXPECT_EQ(classify(500).verdict, Verdict::kRetry);
  EXPECT_EQ(classify(404).verdict, Verdict::kFailed);
  Response refused;
  refused.error = "connection refused";
  EXPECT_EQ(plugin->Classify(n, request, refused).verdict, Verdict::kRetry);
}

}  // namespace
}  // namespace handoff::notify
