// Notifications end to end (issue 16): the serve fixture with notification destinations
// pointed at a local receiver that records what it gets and answers as scripted. Slack,
// PagerDuty and GitHub cannot be reached from here; the receiver stands in for them.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "blackbox/receiver.h"
#include "blackbox/serve_harness.h"
#include "notify/signature.h"

namespace handoff::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";  // Standard Webhooks' example
constexpr char kSlackToken[] = "xoxb-0000-secret-slack-token";

class NotifyTest : public ServeDatabaseTest {
 protected:
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  // Starts the serve fixture with `flags` on the test's database.
  Server* Start(std::vector<std::string> flags, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {SERVE_FIXTURE, "serve"};
    // A flag given by the test replaces its default (CLI11 refuses a repeated flag).
    const std::vector<std::pair<std::string, std::string>> defaults = {
        {"--port", "0"},
        {"--db", Db()},
        {"--grace", "200ms"},
        {"--shutdown-timeout", "2s"},
        {"--notify-retry-backoff", "50ms"},
        {"--notify-request-timeout", "1s"},
        {"--external-url", "https://handoff.example.com/"}};
    for (const auto& [flag, value] : defaults) {
      if (std::find(flags.begin(), flags.end(), flag) == flags.end()) {
        argv.insert(argv.end(), {flag, value});
      }
    }
    argv.insert(argv.end(), flags.begin(), flags.end());
    return StartServer(servers_, starts_, dir_, std::move(argv), std::move(env));
  }

  // Runs serve with `flags` expecting it to refuse them; returns its stderr.
  std::string Refused(std::vector<std::string> flags, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {SERVE_FIXTURE, "serve", "--port", "0", "--db", Db()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const int n = starts_++;
    Server server(argv, env, fmt::format("{}/out{}.txt", dir_, n),
                  fmt::format("{}/err{}.txt", dir_, n));
    std::string error;
    EXPECT_FALSE(server.Start(&error));
    EXPECT_EQ(server.WaitExit(5s), 2) << server.Err();
    return server.Err();
  }

  std::string Db() const { return db_.url(); }

  json::value Get(Server* s, const std::string& target) {
    http::ClientResult r = s->client().Request("GET", target, {}, {}, 10s);
    EXPECT_EQ(r.status, 200) << target << ": " << r.error << r.body;
    return Parse(r.body);
  }

  std::int64_t Trigger(Server* s, const std::string& suite, const std::string& body = "{}") {
    http::ClientResult r = s->client().Request("POST", "/api/v1/suites/" + suite + "/runs", body,
                                               {{"Content-Type", "application/json"}}, 10s);
    EXPECT_EQ(r.status, 201) << r.body;
    return Int(Parse(r.body), "id");
  }

  json::value AwaitFinished(Server* s, std::int64_t id) {
    json::value run;
    const auto deadline = Clock::now() + 30s;
    while (Clock::now() < deadline) {
      run = Get(s, fmt::format("/api/v1/runs/{}", id));
      const std::string status = Str(run, "status");
      if (status == "passed" || status == "failed" || status == "error" || status == "cancelled") {
        return run;
      }
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "run " << id << " did not finish: " << json::serialize(run);
    return run;
  }

  // The run's deliveries once `done` holds for them (at most 20 s).
  json::array AwaitDeliveries(Server* s, std::int64_t id,
                              const std::function<bool(const json::array&)>& done) {
    json::array deliveries;
    const auto deadline = Clock::now() + 20s;
    while (Clock::now() < deadline) {
      deliveries = Arr(Get(s, fmt::format("/api/v1/runs/{}/deliveries", id)), "deliveries");
      if (done(deliveries)) return deliveries;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "deliveries of run " << id << ": " << json::serialize(deliveries);
    return deliveries;
  }

  static bool AllDone(const json::array& deliveries, std::size_t n) {
    if (deliveries.size() != n) return false;
    for (const json::value& d : deliveries) {
      if (Str(d, "state") == "pending") return false;
    }
    return true;
  }

};

// The body of a webhook request.
json::value Body(const ReceivedRequest& r) { return Parse(r.body); }
const json::value& Data(const json::value& body) {
  static const json::value kNull;
  const json::value* d = Field(body, "data");
  return d != nullptr ? *d : kNull;
}

TEST_F(NotifyTest, WebhookIsSignedAndSentForAFailedRunOnly) {
  Receiver receiver;
  const std::string secret_file = WriteFile("secret", std::string(kSecret) + "\n");
  Server* s = Start({"--webhook-url", receiver.url() + "/hooks/e2e?token=abc",
                     "--webhook-secret-file", secret_file});
  ASSERT_NE(s, nullptr);
  const std::int64_t failed = Trigger(s, "Fast", R"({"params":{"greeting":"bye"}})");
  EXPECT_EQ(Str(AwaitFinished(s, failed), "status"), "failed");
  const json::array deliveries = AwaitDeliveries(s, failed, [](const json::array& d) {
    return AllDone(d, 1);
  });
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(Str(deliveries[0], "state"), "delivered");
  EXPECT_EQ(Str(deliveries[0], "plugin"), "webhook");
  EXPECT_EQ(Str(deliveries[0], "event"), "run.finished");
  EXPECT_EQ(Int(deliveries[0], "attempts"), 1);
  // Where it went, without the URL's query (it may hold a token).
  EXPECT_EQ(Str(deliveries[0], "target").find("token"), std::string::npos)
      << Str(deliveries[0], "target");

  ASSERT_EQ(receiver.Requests().size(), 1u);
  const ReceivedRequest request = receiver.Requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/hooks/e2e?token=abc");
  EXPECT_EQ(request.Header("webhook-id"), Str(deliveries[0], "id"));
  const std::string timestamp = request.Header("webhook-timestamp");
  ASSERT_FALSE(timestamp.empty());
  Result<notify::WebhookSecret> key = notify::ParseWebhookSecret(kSecret);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(request.Header("webhook-signature"),
            notify::StandardWebhookSignature({*key}, request.Header("webhook-id"),
                                             std::stoll(timestamp), request.body));
  EXPECT_EQ(request.Header("X-Hub-Signature-256"), notify::GithubSignature256(*key, request.body));

  const json::value body = Body(request);
  EXPECT_EQ(Str(body, "type"), "run.finished");
  const json::value* run = Field(Data(body), "run");
  ASSERT_NE(run, nullptr) << request.body;
  EXPECT_EQ(Int(*run, "id"), failed);
  EXPECT_EQ(Str(*run, "status"), "failed");
  EXPECT_EQ(Str(*run, "url"), fmt::format("https://handoff.example.com/runs/{}", failed));
  EXPECT_EQ(Str(Data(body), "change"), "first");
  bool greeting_failed = false;
  for (const json::value& t : Arr(Data(body), "tests")) {
    if (Str(t, "name") == "Greeting") {
      greeting_failed = Str(t, "status") == "failed";
      EXPECT_NE(Str(t, "message").find("want hello, got bye"), std::string::npos)
          << json::serialize(t);
      EXPECT_NE(Str(t, "file").find("serve_fixture.cc"), std::string::npos);
      EXPECT_GT(Int(t, "line"), 0);
    }
  }
  EXPECT_TRUE(greeting_failed) << request.body;

  // A passing run decides nothing under the default policy (failure).
  const std::int64_t passed = Trigger(s, "Fast");
  EXPECT_EQ(Str(AwaitFinished(s, passed), "status"), "passed");
  EXPECT_TRUE(Arr(Get(s, fmt::format("/api/v1/runs/{}/deliveries", passed)), "deliveries").empty());
  EXPECT_EQ(receiver.Requests().size(), 1u);

  const std::string metrics =
      WithoutReplicaLabel(s->client().Request("GET", "/metrics", {}, {}, 10s).body);
  EXPECT_NE(metrics.find(R"(handoff_notifications_total{plugin="webhook",destination="webhook",)"
                         R"(outcome="delivered"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(handoff_notification_queue_depth{destination="webhook"} 0)"),
            std::string::npos);
  EXPECT_NE(metrics.find("handoff_notification_delivery_seconds_count{plugin=\"webhook\","
                         "destination=\"webhook\"} 1"),
            std::string::npos);
  // The secret is in no log line and no answer.
  EXPECT_EQ(s->Err().find("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), std::string::npos);
  EXPECT_EQ(s->Out().find("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), std::string::npos);
}

TEST_F(NotifyTest, ChangePolicySaysFirstBrokeAndRecoveredAndNothingInBetween) {
  Receiver receiver;
  Server* s = Start({"--webhook-url", receiver.url(), "--notify-on", "change"});
  ASSERT_NE(s, nullptr);
  const auto run = [&](const std::string& body) {
    const std::int64_t id = Trigger(s, "Fast", body);
    AwaitFinished(s, id);
    return id;
  };
  const std::int64_t first = run("{}");
  AwaitDeliveries(s, first, [](const json::array& d) { return AllDone(d, 1); });
  const std::int64_t same = run("{}");
  // A partial run (a filter) never counts as a change, failed or not.
  const std::int64_t partial = run(R"({"filter":"Greeting","params":{"greeting":"bye"}})");
  const std::int64_t broke = run(R"({"params":{"greeting":"bye"}})");
  AwaitDeliveries(s, broke, [](const json::array& d) { return AllDone(d, 1); });
  const std::int64_t still = run(R"({"params":{"greeting":"bye"}})");
  const std::int64_t recovered = run("{}");
  AwaitDeliveries(s, recovered, [](const json::array& d) { return AllDone(d, 1); });
  for (std::int64_t quiet : {same, partial, still}) {
    EXPECT_TRUE(Arr(Get(s, fmt::format("/api/v1/runs/{}/deliveries", quiet)), "deliveries").empty())
        << "run " << quiet;
  }
  ASSERT_TRUE(receiver.WaitFor(3, 10s));
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(Str(Data(Body(requests[0])), "change"), "first");
  EXPECT_EQ(Str(Data(Body(requests[1])), "change"), "broke");
  EXPECT_EQ(Int(*Field(Data(Body(requests[1])), "previous"), "id"), same);
  EXPECT_EQ(Str(Data(Body(requests[2])), "change"), "recovered");
}

TEST_F(NotifyTest, RetriesAfter429AndServerErrorsUnderTheSameId) {
  Receiver receiver;
  receiver.Script({Reply{.status = 429, .headers = {{"Retry-After", "1"}}, .body = "slow down"},
                   Reply{.status = 503, .body = "busy"}});
  Server* s = Start({"--webhook-url", receiver.url()});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Fast", R"({"params":{"greeting":"bye"}})");
  AwaitFinished(s, id);
  const json::array deliveries =
      AwaitDeliveries(s, id, [](const json::array& d) { return AllDone(d, 1); });
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(Str(deliveries[0], "state"), "delivered");
  EXPECT_EQ(Int(deliveries[0], "attempts"), 3);
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 3u);
  std::set<std::string> ids;
  for (const ReceivedRequest& r : requests) ids.insert(r.Header("webhook-id"));
  EXPECT_EQ(ids.size(), 1u) << "a retry is the same delivery";
  // The 429's Retry-After (1 s) was waited for, though the backoff is 50 ms.
  const std::string metrics =
      WithoutReplicaLabel(s->client().Request("GET", "/metrics", {}, {}, 10s).body);
  EXPECT_NE(metrics.find(R"(handoff_notifications_total{plugin="webhook",destination="webhook",)"
                         R"(outcome="retried"} 2)"),
            std::string::npos)
      << metrics;
  EXPECT_GE(std::stoll(requests[1].Header("webhook-timestamp")) -
                std::stoll(requests[0].Header("webhook-timestamp")),
            1);
}

TEST_F(NotifyTest, GoneDisablesTheDestinationAndRedirectsAreNotFollowed) {
  Receiver receiver;
  receiver.Script({Reply{.status = 301, .headers = {{"Location", "http://elsewhere/"}}},
                   Reply{.status = 410, .body = "gone"}});
  Server* s = Start({"--webhook-url", receiver.url(), "--notify-on", "always"});
  ASSERT_NE(s, nullptr);
  const std::int64_t moved = Trigger(s, "Fast");
  AwaitFinished(s, moved);
  json::array d = AwaitDeliveries(s, moved, [](const json::array& d) { return AllDone(d, 1); });
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(Str(d[0], "state"), "failed");
  EXPECT_NE(Str(d[0], "last_error").find("301"), std::string::npos) << Str(d[0], "last_error");
  const std::int64_t gone = Trigger(s, "Fast");
  AwaitFinished(s, gone);
  d = AwaitDeliveries(s, gone, [](const json::array& d) { return AllDone(d, 1); });
  EXPECT_EQ(Str(d[0], "state"), "disabled");
  const std::int64_t after = Trigger(s, "Fast");
  AwaitFinished(s, after);
  d = AwaitDeliveries(s, after, [](const json::array& d) { return AllDone(d, 1); });
  EXPECT_EQ(Str(d[0], "state"), "disabled");
  EXPECT_EQ(Int(d[0], "attempts"), 0);
  EXPECT_EQ(receiver.Requests().size(), 2u);
}

TEST_F(NotifyTest, AReceiverThatNeverAnswersDelaysNoRun) {
  Receiver receiver;
  receiver.SetDefault(Reply{.hang = true});
  Server* s = Start({"--webhook-url", receiver.url(), "--notify-on", "always",
                     "--webhook-events", "run.started,run.finished"});
  ASSERT_NE(s, nullptr);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Trigger(s, "Fast"));
  for (std::int64_t id : ids) EXPECT_EQ(Str(AwaitFinished(s, id), "status"), "passed");
  // Every run finished while the first notification still hangs.
  ASSERT_TRUE(receiver.WaitFor(1, 10s));
  const json::array d =
      Arr(Get(s, fmt::format("/api/v1/runs/{}/deliveries", ids.back())), "deliveries");
  ASSERT_EQ(d.size(), 2u);
  for (const json::value& delivery : d) EXPECT_EQ(Str(delivery, "state"), "pending");
}

TEST_F(NotifyTest, ANotificationCommittedBeforeAKillIsDeliveredOnceAfterTheRestart) {
  Receiver receiver;
  receiver.Script({Reply{.hang = true}});
  Server* s = Start({"--webhook-url", receiver.url(), "--notify-request-timeout", "30s"});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Fast", R"({"params":{"greeting":"bye"}})");
  AwaitFinished(s, id);
  ASSERT_TRUE(receiver.WaitFor(1, 10s));  // in flight: the receiver holds it unanswered
  s->Signal(SIGKILL);
  s->WaitExit(5s);
  Server* again = Start({"--webhook-url", receiver.url()});
  ASSERT_NE(again, nullptr);
  const json::array d = AwaitDeliveries(again, id, [](const json::array& d) {
    return AllDone(d, 1);
  });
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(Str(d[0], "state"), "delivered");
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Header("webhook-id"), requests[1].Header("webhook-id"));
  EXPECT_EQ(requests[0].body, requests[1].body);
}

TEST_F(NotifyTest, ConfigurationErrorsStopTheStartNamingThePluginNeverTheSecret) {
  const std::string bad_secret = WriteFile("bad", "whsec_not-base64-!!!-secretvalue\n");
  std::string err = Refused({"--webhook-url", "http://127.0.0.1:1/x",
                             "--webhook-secret-file", bad_secret});
  EXPECT_NE(err.find("webhook"), std::string::npos) << err;
  EXPECT_EQ(err.find("not-base64-!!!-secretvalue"), std::string::npos) << err;

  const std::string config = WriteFile("notify.json", R"({"destinations":[
      {"name":"ops","plugin":"pagerdoody","routing_key_env":"PD_KEY"}]})");
  err = Refused({"--notify-config", config}, {{"PD_KEY", "0123456789abcdef0123456789abcdef"}});
  EXPECT_NE(err.find("\"ops\""), std::string::npos) << err;
  EXPECT_NE(err.find("pagerdoody"), std::string::npos) << err;

  err = Refused({"--notify-on", "sometimes", "--webhook-url", "http://127.0.0.1:1/"});
  EXPECT_NE(err.find("--notify-on"), std::string::npos) << err;
  err = Refused({"--webhook-secret-file", bad_secret});
  EXPECT_NE(err.find("--webhook-url"), std::string::npos) << err;
}

TEST_F(NotifyTest, SlackBotPostsBlockKitAndAnswersARecoveryInTheFailuresThread) {
  Receiver slack;
  slack.SetDefault(Reply{.status = 200,
                         .headers = {{"Content-Type", "application/json"}},
                         .body = R"({"ok":true,"channel":"C024BE91L","ts":"1700000000.000100"})"});
  const std::string token_file = WriteFile("slack-token", std::string(kSlackToken) + "\n");
  Server* s = Start({"--slack-token-file", token_file, "--slack-channel", "#e2e",
                     "--slack-api-url", slack.url() + "/api", "--notify-on", "change",
                     "--environment", "staging"});
  ASSERT_NE(s, nullptr);
  const std::int64_t broke = Trigger(s, "Fast", R"({"params":{"greeting":"bye"},"reference":"v1.2.3"})");
  AwaitFinished(s, broke);
  json::array d = AwaitDeliveries(s, broke, [](const json::array& d) { return AllDone(d, 1); });
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(Str(d[0], "state"), "delivered") << Str(d[0], "last_error");
  EXPECT_EQ(Str(d[0], "target"), "#e2e");
  const std::int64_t recovered = Trigger(s, "Fast");
  AwaitFinished(s, recovered);
  d = AwaitDeliveries(s, recovered, [](const json::array& d) { return AllDone(d, 1); });
  ASSERT_EQ(slack.Requests().size(), 2u);
  const ReceivedRequest failure = slack.Requests()[0];
  EXPECT_EQ(failure.target, "/api/chat.postMessage");
  EXPECT_EQ(failure.Header("Authorization"), std::string("Bearer ") + kSlackToken);
  const json::value message = Body(failure);
  EXPECT_EQ(Str(message, "channel"), "#e2e");
  EXPECT_FALSE(Str(message, "text").empty()) << failure.body;
  const json::array& blocks = Arr(message, "blocks");
  EXPECT_GE(blocks.size(), 3u);
  EXPECT_LE(blocks.size(), 50u);
  EXPECT_EQ(Str(blocks[0], "type"), "header");
  EXPECT_NE(failure.body.find("Greeting"), std::string::npos);
  EXPECT_NE(failure.body.find("serve_fixture.cc:"), std::string::npos);
  EXPECT_NE(failure.body.find(fmt::format("https://handoff.example.com/runs/{}", broke)),
            std::string::npos);
  EXPECT_NE(failure.body.find("v1.2.3"), std::string::npos);
  EXPECT_TRUE(IsNull(message, "thread_ts"));
  const json::value recovery = Body(slack.Requests()[1]);
  EXPECT_EQ(Str(recovery, "thread_ts"), "1700000000.000100") << slack.Requests()[1].body;
  EXPECT_NE(Str(recovery, "text").find("recovered"), std::string::npos) << Str(recovery, "text");
  // The token is in no log line and no answer.
  EXPECT_EQ(s->Err().find(kSlackToken), std::string::npos);
  const std::string api = s->client().Request("GET", fmt::format("/api/v1/runs/{}/deliveries", broke), {}, {}, 10s).body;
  EXPECT_EQ(api.find(kSlackToken), std::string::npos);
}

TEST_F(NotifyTest, SlacksOkFalseIsAFailureWithSlacksReason) {
  Receiver slack;
  slack.SetDefault(Reply{.status = 200, .body = R"({"ok":false,"error":"channel_not_found"})"});
  Server* s = Start({"--slack-channel", "#nowhere", "--slack-api-url", slack.url()},
                    {{"HANDOFF_SLACK_TOKEN", kSlackToken}});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Fast", R"({"params":{"greeting":"bye"}})");
  AwaitFinished(s, id);
  const json::array d = AwaitDeliveries(s, id, [](const json::array& d) { return AllDone(d, 1); });
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(Str(d[0], "state"), "failed");
  EXPECT_NE(Str(d[0], "last_error").find("channel_not_found"), std::string::npos)
      << Str(d[0], "last_error");
  EXPECT_EQ(slack.Requests().size(), 1u) << "not retried";
}

TEST_F(NotifyTest, PagerDutyTriggersOnFailureAndTheNextPassingRunResolvesIt) {
  Receiver pd;
  pd.SetDefault(Reply{.status = 202,
                      .body = R"({"status":"success","message":"Event processed","dedup_key":"x"})"});
  const std::string key_file = WriteFile("pd-key", "R0UTINGKEYR0UTINGKEYR0UTINGKEY12\n");
  Server* s = Start({"--pagerduty-routing-key-file", key_file, "--pagerduty-api-url", pd.url(),
                     "--environment", "staging"});
  ASSERT_NE(s, nullptr);
  const std::int64_t failed = Trigger(s, "Fast", R"({"params":{"greeting":"bye"}})");
  AwaitFinished(s, failed);
  AwaitDeliveries(s, failed, [](const json::array& d) { return AllDone(d, 1); });
  const std::int64_t passed = Trigger(s, "Fast");
  AwaitFinished(s, passed);
  const json::array d = AwaitDeliveries(s, passed, [](const json::array& d) { return AllDone(d, 1); });
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(Str(d[0], "state"), "delivered") << Str(d[0], "last_error");
  ASSERT_EQ(pd.Requests().size(), 2u);
  const json::value trigger = Body(pd.Requests()[0]);
  const json::value resolve = Body(pd.Requests()[1]);
  EXPECT_EQ(pd.Requests()[0].target, "/v2/enqueue");
  EXPECT_EQ(Str(trigger, "event_action"), "trigger");
  EXPECT_EQ(Str(trigger, "routing_key"), "R0UTINGKEYR0UTINGKEYR0UTINGKEY12");
  EXPECT_EQ(Str(resolve, "event_action"), "resolve");
  EXPECT_FALSE(Str(trigger, "dedup_key").empty());
  EXPECT_EQ(Str(trigger, "dedup_key"), Str(resolve, "dedup_key"));
  const json::value* payload = Field(trigger, "payload");
  ASSERT_NE(payload, nullptr) << pd.Requests()[0].body;
  EXPECT_NE(Str(*payload, "summary").find("Fast"), std::string::npos) << Str(*payload, "summary");
  EXPECT_EQ(Str(*payload, "severity"), "error");
  EXPECT_NE(pd.Requests()[0].body.find("Greeting"), std::string::npos);
  EXPECT_NE(pd.Requests()[0].body.find(fmt::format("https://handoff.example.com/runs/{}", failed)),
            std::string::npos);
  EXPECT_EQ(s->Err().find("R0UTINGKEY"), std::string::npos);
}

TEST_F(NotifyTest, GithubSetsAPendingThenAFinalCommitStatus) {
  Receiver github;
  github.SetDefault(Reply{.status = 201, .body = R"({"id":1,"state":"pending"})"});
  const std::string token_file = WriteFile("gh-token", "ghp_secrettokenvalue0123456789\n");
  Server* s = Start({"--github-token-file", token_file, "--github-repo", "acme/shop",
                     "--github-api-url", github.url()});
  ASSERT_NE(s, nullptr);
  const std::string sha = "0123456789abcdef0123456789abcdef01234567";
  const std::int64_t id = Trigger(s, "Fast", R"({"params":{"greeting":"bye"},"reference":")" + sha + R"("})");
  AwaitFinished(s, id);
  const json::array d = AwaitDeliveries(s, id, [](const json::array& d) { return AllDone(d, 2); });
  ASSERT_EQ(d.size(), 2u);
  for (const json::value& delivery : d) {
    EXPECT_EQ(Str(delivery, "state"), "delivered") << Str(delivery, "last_error");
  }
  ASSERT_EQ(github.Requests().size(), 2u);
  for (const ReceivedRequest& r : github.Requests()) {
    EXPECT_EQ(r.target, "/repos/acme/shop/statuses/" + sha);
    EXPECT_EQ(r.Header("Authorization"), "Bearer ghp_secrettokenvalue0123456789");
    EXPECT_EQ(Str(Body(r), "context"), "handoff/Fast");
    EXPECT_EQ(Str(Body(r), "target_url"), fmt::format("https://handoff.example.com/runs/{}", id));
  }
  EXPECT_EQ(Str(Body(github.Requests()[0]), "state"), "pending");
  EXPECT_EQ(Str(Body(github.Requests()[1]), "state"), "failure");
  // A reference that is not a commit gets no status.
  const std::int64_t release = Trigger(s, "Fast", R"({"reference":"v1.2.3"})");
  AwaitFinished(s, release);
  EXPECT_TRUE(Arr(Get(s, fmt::format("/api/v1/runs/{}/deliveries", release)), "deliveries").empty());
  EXPECT_EQ(s->Err().find("ghp_secrettokenvalue"), std::string::npos);
}

TEST(NotifyClientTest, AHugeAnswerIsNotReadIntoMemory) {
  Receiver receiver;
  receiver.SetDefault(Reply{.status = 200, .body = std::string(4 << 20, 'x')});
  const std::uint16_t port = static_cast<std::uint16_t>(std::stoi(receiver.url().substr(17)));
  http::Client limited("127.0.0.1", port);
  limited.SetMaxResponseBody(64 * 1024);
  http::ClientResult r = limited.Request("POST", "/hook", "{}", {}, 10s);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty()) << r.body.size();
  // The client still works: the connection that held the rest of the body was closed.
  receiver.SetDefault(Reply{.status = 202, .body = "ok"});
  r = limited.Request("POST", "/hook", "{}", {}, 10s);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(limited.connections_opened(), 2);
}

}  // namespace
}  // namespace handoff::testing
