// The "github" plugin (issue 16): commit statuses, check runs with annotations appended 50 a
// request, the optional pull request comment, and what it does with GitHub's answers.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "notify/builtin.h"
#include "notify/plugin.h"
#include "result_testing.h"

namespace handoff::notify {
namespace {

namespace json = boost::json;
using handoff::testing::ValueOf;

constexpr char kToken[] = "ghp_S3CR3Ttoken0123456789abcdefghijkl";
constexpr char kAppToken[] = "ghs_S3CR3Tinstallation0123456789abcdef";
constexpr char kSha[] = "0123456789abcdef0123456789abcdef01234567";

PluginConfig Config(std::map<std::string, std::string> settings) {
  PluginConfig config;
  config.name = "gh";
  config.kind = "github";
  config.settings = std::move(settings);
  return config;
}

std::unique_ptr<Plugin> Make(std::map<std::string, std::string> settings = {}) {
  settings.emplace("token", kToken);
  settings.emplace("repo", "octo/shop");
  return ValueOf(MakeGithub(Config(std::move(settings))));
}

std::unique_ptr<Plugin> MakeCheck(std::map<std::string, std::string> settings = {}) {
  settings.emplace("token", kAppToken);
  return Make(std::move(settings));
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

Notification Finished(std::string status = "failed") {
  Notification n;
  n.id = "d-1";
  n.event = Event::kRunFinished;
  n.run.id = 12;
  n.run.suite = "checkout";
  n.run.namespace_name = "shop";
  n.run.environment = "staging";
  n.run.status = std::move(status);
  n.run.reference = kSha;
  n.run.url = "https://handoff.example/runs/12";
  n.run.started_at_ns = 1'796'000'000'000'000'000;
  n.run.finished_at_ns = 1'796'000'060'000'000'000;
  n.run.totals.total = 40;
  if (n.run.status == "failed") {
    n.run.totals.passed = 38;
    n.run.totals.failed = 2;
    n.tests = {Failed("TestA", "want 200, got 500", "tests/checkout_test.cc", 41),
               Failed("TestB", "no `location` here")};
  } else {
    n.run.totals.passed = 40;
  }
  return n;
}

Notification Started() {
  Notification n = Finished("running");
  n.event = Event::kRunStarted;
  n.run.finished_at_ns = 0;
  n.run.totals = {};
  n.tests.clear();
  return n;
}

// A failed run with `count` failures, each at its own line.
Notification ManyFailures(int count) {
  Notification n = Finished();
  n.tests.clear();
  for (int i = 0; i < count; ++i) {
    n.tests.push_back(Failed("Test" + std::to_string(i), "failure " + std::to_string(i),
                             "tests/many_test.cc", 10 + i));
  }
  n.run.totals.total = count;
  n.run.totals.failed = count;
  return n;
}

json::object Body(const Request& request) {
  boost::system::error_code ec;
  json::value value = json::parse(request.body, ec);  // also checks the body is UTF-8
  EXPECT_FALSE(ec) << request.body;
  return value.is_object() ? value.get_object() : json::object{};
}

std::string Str(const json::value& value) {
  return value.is_string() ? std::string(value.get_string()) : "<not a string>";
}

std::string HeaderOf(const Request& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

Response Answer(int status, std::string body = "", Headers headers = {}) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

TEST(GithubTest, WantsRunsOfAFullCommitShaWhateverThePolicy) {
  auto plugin = Make();
  RunFacts run = Finished().run;
  EXPECT_TRUE(plugin->Wants(Event::kRunStarted, run, Change::kNone));
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, run, Change::kStillPassing));
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, run, Change::kNone));
  EXPECT_FALSE(plugin->Wants(Event::kTestFailed, run, Change::kNone));
  run.reference = "0123456789ABCDEF0123456789ABCDEF01234567";
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, run, Change::kNone));
  for (const char* reference : {"", "main", "refs/heads/main", "v1.2.3", "0123456",
                                "0123456789abcdef0123456789abcdef0123456",
                                "0123456789abcdef0123456789abcdef012345678",
                                "0123456789abcdef0123456789abcdef0123456g"}) {
    run.reference = reference;
    EXPECT_FALSE(plugin->Wants(Event::kRunFinished, run, Change::kNone)) << reference;
    EXPECT_FALSE(plugin->Wants(Event::kRunStarted, run, Change::kNone)) << reference;
  }
}

TEST(GithubTest, ConfiguredEventsRestrictWhatItWants) {
  PluginConfig config = Config({{"token", kToken}, {"repo", "octo/shop"}});
  config.events = {Event::kRunFinished};
  auto plugin = ValueOf(MakeGithub(config));
  ASSERT_NE(plugin, nullptr);
  EXPECT_FALSE(plugin->Wants(Event::kRunStarted, Finished().run, Change::kNone));
  EXPECT_TRUE(plugin->Wants(Event::kRunFinished, Finished().run, Change::kNone));

  config.events = {Event::kTestFailed};
  EXPECT_FALSE(MakeGithub(config).ok());
}

TEST(GithubTest, StartedRunSetsAPendingStatus) {
  auto plugin = Make();
  const Request request = ValueOf(plugin->Render(Started(), RenderContext{}));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, std::string("https://api.github.com/repos/octo/shop/statuses/") + kSha);
  EXPECT_EQ(HeaderOf(request, "Authorization"), std::string("Bearer ") + kToken);
  EXPECT_EQ(HeaderOf(request, "Accept"), "application/vnd.github+json");
  EXPECT_EQ(HeaderOf(request, "X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(HeaderOf(request, "Content-Type"), "application/json");
  const json::object body = Body(request);
  EXPECT_EQ(Str(body.at("state")), "pending");
  EXPECT_EQ(Str(body.at("context")), "handoff/checkout");
  EXPECT_EQ(Str(body.at("description")), "Running in staging");
  EXPECT_EQ(Str(body.at("target_url")), "https://handoff.example/runs/12");
  const Outcome outcome = plugin->Classify(Started(), request, Answer(201, R"({"id":1})"));
  EXPECT_EQ(outcome.verdict, Verdict::kDelivered);
  EXPECT_EQ(outcome.progress, "");
}

TEST(GithubTest, FinishedRunSetsItsResultAsTheStatus) {
  auto plugin = Make({{"context", "e2e/"}});
  const std::map<std::string, std::string> states = {
      {"passed", "success"}, {"failed", "failure"}, {"error", "error"}, {"cancelled", "error"}};
  for (const auto& [status, state] : states) {
    const json::object body = Body(ValueOf(plugin->Render(Finished(status), RenderContext{})));
    EXPECT_EQ(Str(body.at("state")), state) << status;
    EXPECT_EQ(Str(body.at("context")), "e2e/checkout");
  }
  EXPECT_EQ(Str(Body(ValueOf(plugin->Render(Finished("failed"), RenderContext{}))).at("description")),
            "2 of 40 tests failed (TestA, TestB)");
  EXPECT_EQ(Str(Body(ValueOf(plugin->Render(Finished("passed"), RenderContext{}))).at("description")),
            "40 tests passed");

  Notification no_url = Finished("passed");
  no_url.run.url.clear();
  EXPECT_FALSE(Body(ValueOf(plugin->Render(no_url, RenderContext{}))).contains("target_url"));
  // Upper-case SHAs are sent as GitHub writes them.
  no_url.run.reference = "0123456789ABCDEF0123456789ABCDEF01234567";
  EXPECT_EQ(ValueOf(plugin->Render(no_url, RenderContext{})).url,
            std::string("https://api.github.com/repos/octo/shop/statuses/") + kSha);
}

TEST(GithubTest, DescriptionIsCutTo140Characters) {
  auto plugin = Make();
  Notification n = ManyFailures(60);
  n.tests[0].name = "Test\xC3\xA9\xE2\x82\xAC";
  const std::string description =
      Str(Body(ValueOf(plugin->Render(n, RenderContext{}))).at("description"));
  EXPECT_LE(description.size(), 140u);
  EXPECT_EQ(description.rfind("60 of 60 tests failed (Test\xC3\xA9\xE2\x82\xAC, Test1, ", 0), 0u)
      << description;
  EXPECT_NE(description.find("\xE2\x80\xA6"), std::string::npos);

  Notification error = Finished("error");
  error.run.error = std::string(500, 'x');
  EXPECT_LE(Str(Body(ValueOf(plugin->Render(error, RenderContext{}))).at("description")).size(),
            140u);
}

TEST(GithubTest, AppTokenMakesACheckRunForTheStart) {
  auto plugin = MakeCheck();
  const Request request = ValueOf(plugin->Render(Started(), RenderContext{}));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://api.github.com/repos/octo/shop/check-runs");
  EXPECT_EQ(HeaderOf(request, "Authorization"), std::string("Bearer ") + kAppToken);
  const json::object body = Body(request);
  EXPECT_EQ(Str(body.at("name")), "handoff/checkout");
  EXPECT_EQ(Str(body.at("head_sha")), kSha);
  EXPECT_EQ(Str(body.at("status")), "in_progress");
  EXPECT_EQ(Str(body.at("details_url")), "https://handoff.example/runs/12");
  EXPECT_EQ(Str(body.at("external_id")), "12");
  EXPECT_EQ(Str(body.at("started_at")), "2026-11-30T00:53:20Z");
  EXPECT_FALSE(body.contains("conclusion"));

  // The created check run is kept, so that the run's end completes it.
  const Outcome outcome = plugin->Classify(Started(), request, Answer(201, R"({"id":555,"name":"x"})"));
  EXPECT_EQ(outcome.verdict, Verdict::kDelivered);
  EXPECT_EQ(json::parse(outcome.progress), json::parse(R"({"run":12,"check_run":555})"));

  // mode=check does the same with any token; mode=status keeps statuses with an App token.
  EXPECT_EQ(ValueOf(Make({{"mode", "check"}})->Render(Started(), RenderContext{})).url,
            "https://api.github.com/repos/octo/shop/check-runs");
  EXPECT_EQ(ValueOf(MakeCheck({{"mode", "status"}})->Render(Started(), RenderContext{})).url,
            std::string("https://api.github.com/repos/octo/shop/statuses/") + kSha);
}

TEST(GithubTest, FinishedRunCompletesACheckRunWithSummaryAndAnnotations) {
  auto plugin = MakeCheck();
  const Notification n = Finished();
  const Request request = ValueOf(plugin->Render(n, RenderContext{}));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://api.github.com/repos/octo/shop/check-runs");
  const json::object body = Body(request);
  EXPECT_EQ(Str(body.at("name")), "handoff/checkout");
  EXPECT_EQ(Str(body.at("head_sha")), kSha);
  EXPECT_EQ(Str(body.at("status")), "completed");
  EXPECT_EQ(Str(body.at("conclusion")), "failure");
  EXPECT_EQ(Str(body.at("completed_at")), "2026-11-30T00:54:20Z");
  EXPECT_EQ(Str(body.at("external_id")), "12");
  const json::object& output = body.at("output").as_object();
  EXPECT_EQ(Str(output.at("title")), "2 of 40 tests failed");
  const std::string summary = Str(output.at("summary"));
  EXPECT_NE(summary.find("| 40 | 38 | 2 | 0 | 0 | 0 |"), std::string::npos) << summary;
  EXPECT_NE(summary.find("- `TestA`: `want 200, got 500` at `tests/checkout_test.cc:41`"),
            std::string::npos)
      << summary;
  // A backtick in a message cannot end its code span.
  EXPECT_NE(summary.find("- `TestB`: `no 'location' here`"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[handoff run #12](https://handoff.example/runs/12)"), std::string::npos);
  // Only a failure with a file and line can be annotated.
  const json::array& annotations = output.at("annotations").as_array();
  ASSERT_EQ(annotations.size(), 1u);
  EXPECT_EQ(annotations[0], json::parse(R"({"path":"tests/checkout_test.cc","start_line":41,)"
                                        R"("end_line":41,"annotation_level":"failure",)"
                                        R"("title":"TestA","message":"want 200, got 500"})"));

  const Outcome outcome = plugin->Classify(n, request, Answer(201, R"({"id":777})"));
  EXPECT_EQ(outcome.verdict, Verdict::kDelivered);

  const std::map<std::string, std::string> conclusions = {
      {"passed", "success"}, {"cancelled", "cancelled"}, {"error", "failure"}};
  for (const auto& [status, conclusion] : conclusions) {
    EXPECT_EQ(Str(Body(ValueOf(plugin->Render(Finished(status), RenderContext{}))).at("conclusion")),
              conclusion)
        << status;
  }
}

TEST(GithubTest, FinishedRunCompletesTheCheckRunItsStartCreated) {
  auto plugin = MakeCheck();
  RenderContext context;
  context.suite_reply = R"({"run":12,"check_run":555})";
  const Request request = ValueOf(plugin->Render(Finished(), context));
  EXPECT_EQ(request.method, "PATCH");
  EXPECT_EQ(request.url, "https://api.github.com/repos/octo/shop/check-runs/555");
  const json::object body = Body(request);
  EXPECT_EQ(Str(body.at("status")), "completed");
  EXPECT_EQ(Str(body.at("conclusion")), "failure");
  EXPECT_FALSE(body.contains("head_sha"));

  // The check run of another run of the suite is left alone.
  context.suite_reply = R"({"run":11,"check_run":444})";
  const Request other = ValueOf(plugin->Render(Finished(), context));
  EXPECT_EQ(other.method, "POST");
  EXPECT_EQ(other.url, "https://api.github.com/repos/octo/shop/check-runs");
}

TEST(GithubTest, AnnotationsBeyondFiftyAreAppendedStepByStep) {
  auto plugin = MakeCheck();
  const Notification n = ManyFailures(120);
  std::vector<std::size_t> sizes;
  std::vector<std::int64_t> lines;
  RenderContext context;
  Outcome outcome;
  for (int step = 0; step < 10; ++step) {
    const Request request = ValueOf(plugin->Render(n, context));
    const json::object body = Body(request);
    const json::object& output = body.at("output").as_object();
    EXPECT_EQ(Str(output.at("title")), "120 of 120 tests failed");
    EXPECT_FALSE(Str(output.at("summary")).empty());
    const json::array& annotations = output.at("annotations").as_array();
    sizes.push_back(annotations.size());
    for (const json::value& a : annotations) lines.push_back(a.at("start_line").as_int64());
    if (step == 0) {
      EXPECT_EQ(request.method, "POST");
      outcome = plugin->Classify(n, request, Answer(201, R"({"id":9001})"));
    } else {
      EXPECT_EQ(request.method, "PATCH");
      EXPECT_EQ(request.url, "https://api.github.com/repos/octo/shop/check-runs/9001");
      EXPECT_FALSE(body.contains("status"));
      outcome = plugin->Classify(n, request, Answer(200, R"({"id":9001})"));
    }
    if (outcome.verdict != Verdict::kNext) break;
    context.progress = outcome.progress;
  }
  EXPECT_EQ(outcome.verdict, Verdict::kDelivered);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{50, 50, 20}));
  ASSERT_EQ(lines.size(), 120u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i], static_cast<std::int64_t>(10 + i)) << "every failure once, in order";
  }
}

TEST(GithubTest, ProgressSaysWhereTheDeliveryIs) {
  auto plugin = MakeCheck();
  const Notification n = ManyFailures(120);
  const Request first = ValueOf(plugin->Render(n, RenderContext{}));
  const Outcome outcome = plugin->Classify(n, first, Answer(201, R"({"id":9001})"));
  ASSERT_EQ(outcome.verdict, Verdict::kNext);
  EXPECT_EQ(json::parse(outcome.progress),
            json::parse(R"({"step":"annotations","check_run":9001,"sent":50})"));
  // A retry of a later step renders the same request again.
  RenderContext context;
  context.progress = outcome.progress;
  EXPECT_EQ(ValueOf(plugin->Render(n, context)).body, ValueOf(plugin->Render(n, context)).body);
  // The first answer must name the check run the rest is appended to.
  const Outcome no_id = plugin->Classify(n, first, Answer(201, "{}"));
  EXPECT_EQ(no_id.verdict, Verdict::kFailed);
  EXPECT_NE(no_id.error.find("70 annotations not sent"), std::string::npos) << no_id.error;
  // Progress that is not ours is refused, not guessed at.
  context.progress = "{\"step\":\"dance\"}";
  Result<Request> corrupt = plugin->Render(n, context);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.error().code, ErrorCode::kCorrupt);
}

TEST(GithubTest, CheckRunSummaryStaysWithinGithubsLimit) {
  auto plugin = MakeCheck();
  Notification n = ManyFailures(300);
  for (TestOutcome& test : n.tests) {
    test.name += std::string(400, 'n');
    test.message = std::string(2000, 'm');
    test.file = std::string(400, 'f') + ".cc";
  }
  const json::object body = Body(ValueOf(plugin->Render(n, RenderContext{})));
  const std::string summary = Str(body.at("output").at("summary"));
  EXPECT_LE(summary.size(), 65535u);
  EXPECT_GT(summary.size(), 50000u);
  EXPECT_EQ(summary.substr(summary.size() - 3), "\xE2\x80\xA6") << "says it was cut";
  // A list that fits says how many it left out.
  Notification many = ManyFailures(3000);
  const std::string listed =
      Str(Body(ValueOf(plugin->Render(many, RenderContext{}))).at("output").at("summary"));
  EXPECT_NE(listed.find("- and 2900 more"), std::string::npos);
  for (const json::value& a : body.at("output").at("annotations").as_array()) {
    EXPECT_LE(Str(a.at("message")).size(), 65535u);
  }
}

TEST(GithubTest, PullRequestCommentFollowsTheStatus) {
  auto plugin = Make({{"pr_comment_param", "pr"}});
  Notification n = Finished();
  n.run.params = {{"pr", "#42"}};
  const Request status = ValueOf(plugin->Render(n, RenderContext{}));
  const Outcome after_status = plugin->Classify(n, status, Answer(201, "{}"));
  ASSERT_EQ(after_status.verdict, Verdict::kNext);

  RenderContext context;
  context.progress = after_status.progress;
  const Request comment = ValueOf(plugin->Render(n, context));
  EXPECT_EQ(comment.method, "POST");
  EXPECT_EQ(comment.url, "https://api.github.com/repos/octo/shop/issues/42/comments");
  EXPECT_EQ(HeaderOf(comment, "Authorization"), std::string("Bearer ") + kToken);
  const std::string text = Str(Body(comment).at("body"));
  EXPECT_EQ(text.rfind("### handoff: checkout failed\n", 0), 0u) << text;
  EXPECT_NE(text.find("`TestA`"), std::string::npos);
  EXPECT_NE(text.find("https://handoff.example/runs/12"), std::string::npos);
  EXPECT_EQ(plugin->Classify(n, comment, Answer(201, R"({"id":1})")).verdict,
            Verdict::kDelivered);

  // No comment when the run names no pull request, names it badly, or only started.
  for (const char* value : {"", "abc", "-3", "0", "[redacted]"}) {
    Notification other = Finished();
    other.run.params = {{"pr", value}};
    EXPECT_EQ(plugin->Classify(other, ValueOf(plugin->Render(other, RenderContext{})),
                               Answer(201, "{}"))
                  .verdict,
              Verdict::kDelivered)
        << value;
  }
  Notification started = Started();
  started.run.params = {{"pr", "42"}};
  EXPECT_EQ(plugin->Classify(started, ValueOf(plugin->Render(started, RenderContext{})),
                             Answer(201, "{}"))
                .verdict,
            Verdict::kDelivered);
}

TEST(GithubTest, PullRequestCommentComesAfterTheLastAnnotations) {
  auto plugin = MakeCheck({{"pr_comment_param", "pull"}});
  Notification n = ManyFailures(60);
  n.run.params = {{"pull", "7"}};
  std::vector<std::string> steps;
  RenderContext context;
  Outcome outcome;
  for (int step = 0; step < 10; ++step) {
    const Request request = ValueOf(plugin->Render(n, context));
    steps.push_back(request.method + " " + request.url.substr(request.url.find("/repos/")));
    outcome = plugin->Classify(n, request, Answer(step == 0 ? 201 : 200, R"({"id":31})"));
    if (outcome.verdict != Verdict::kNext) break;
    context.progress = outcome.progress;
  }
  EXPECT_EQ(outcome.verdict, Verdict::kDelivered);
  EXPECT_EQ(steps, (std::vector<std::string>{"POST /repos/octo/shop/check-runs",
                                             "PATCH /repos/octo/shop/check-runs/31",
                                             "POST /repos/octo/shop/issues/7/comments"}));
}

TEST(GithubTest, ClassifiesGithubsAnswers) {
  auto plugin = Make();
  const Notification n = Finished();
  const Request request = ValueOf(plugin->Render(n, RenderContext{}));
  auto classify = [&](const Response& response) { return plugin->Classify(n, request, response); };

  EXPECT_EQ(classify(Answer(201, "{}")).verdict, Verdict::kDelivered);
  EXPECT_EQ(classify(Answer(200, "{}")).verdict, Verdict::kDelivered);

  const Outcome invalid = classify(Answer(
      422, R"({"message":"Validation Failed","errors":[{"resource":"Status","code":"custom",)"
           R"("message":"No commit found for SHA: 0123"}]})"));
  EXPECT_EQ(invalid.verdict, Verdict::kFailed);
  EXPECT_NE(invalid.error.find("HTTP 422: Validation Failed (No commit found for SHA: 0123"),
            std::string::npos)
      << invalid.error;
  for (int status : {401, 404}) {
    const Outcome refused = classify(Answer(status, R"({"message":"Bad credentials"})"));
    EXPECT_EQ(refused.verdict, Verdict::kFailed) << status;
    EXPECT_NE(refused.error.find("Bad credentials"), std::string::npos) << refused.error;
  }
  const Outcome forbidden = classify(Answer(403, R"({"message":"Resource not accessible by integration"})"));
  EXPECT_EQ(forbidden.verdict, Verdict::kFailed);
  EXPECT_NE(forbidden.error.find("Resource not accessible"), std::string::npos);
  // 410 (issues turned off) fails this delivery; it does not disable the destination.
  EXPECT_EQ(classify(Answer(410, R"({"message":"Issues are disabled for this repo"})")).verdict,
            Verdict::kFailed);

  // Rate limits: retry-after, or the primary limit's reset time, or a minute.
  const Outcome retry_after = classify(Answer(403, R"({"message":"secondary"})", {{"retry-after", "30"}}));
  EXPECT_EQ(retry_after.verdict, Verdict::kRetry);
  EXPECT_EQ(retry_after.retry_after, std::chrono::seconds(30));
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const Outcome primary = classify(Answer(
      403, R"({"message":"API rate limit exceeded"})",
      {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", std::to_string(now + 120)}}));
  EXPECT_EQ(primary.verdict, Verdict::kRetry);
  ASSERT_TRUE(primary.retry_after.has_value());
  EXPECT_GE(primary.retry_after->count(), 110);
  EXPECT_LE(primary.retry_after->count(), 121);
  const Outcome past_reset = classify(Answer(
      429, "", {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", std::to_string(now - 5)}}));
  EXPECT_EQ(past_reset.verdict, Verdict::kRetry);
  EXPECT_EQ(past_reset.retry_after, std::chrono::seconds(1));
  const Outcome secondary = classify(
      Answer(403, R"({"message":"You have exceeded a secondary rate limit. Please wait."})"));
  EXPECT_EQ(secondary.verdict, Verdict::kRetry);
  EXPECT_EQ(secondary.retry_after, std::chrono::seconds(60));
  EXPECT_EQ(classify(Answer(429)).verdict, Verdict::kRetry);

  for (int status : {500, 502, 503, 504}) {
    EXPECT_EQ(classify(Answer(status)).verdict, Verdict::kRetry) << status;
  }
  Response timeout;
  timeout.error = "timed out";
  EXPECT_EQ(classify(timeout).verdict, Verdict::kRetry);

  // An answer that repeats the token does not put it in last_error.
  const Outcome echoed = classify(Answer(401, std::string(R"({"message":"bad token )") + kToken + "\"}"));
  EXPECT_EQ(echoed.error.find(kToken), std::string::npos) << echoed.error;
}

TEST(GithubTest, ConfigurationErrorsNameTheSettingAndNeverTheToken) {
  struct Case {
    std::map<std::string, std::string> settings;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{{"repo", "octo/shop"}}, "needs token"},
      {{{"token", "\n"}, {"repo", "octo/shop"}}, "needs token"},
      {{{"token", std::string(kToken) + " extra"}, {"repo", "octo/shop"}}, "whitespace"},
      {{{"token", kToken}}, "needs repo"},
      {{{"token", kToken}, {"repo", "octo"}}, "repo \"octo\" is not OWNER/NAME"},
      {{{"token", kToken}, {"repo", "octo/"}}, "is not OWNER/NAME"},
      {{{"token", kToken}, {"repo", "octo/shop/x"}}, "is not OWNER/NAME"},
      {{{"token", kToken}, {"repo", "../shop"}}, "is not OWNER/NAME"},
      {{{"token", kToken}, {"repo", "octo/s p"}}, "is not OWNER/NAME"},
      {{{"token", kToken}, {"repo", "octo/shop"}, {"channel", "#x"}}, "unknown setting \"channel\""},
      {{{"token", kToken}, {"repo", "octo/shop"}, {"mode", "both"}}, "mode \"both\""},
      {{{"token", kToken}, {"repo", "octo/shop"}, {"api_url", "api.github.com"}}, "api_url"},
  };
  for (const Case& c : cases) {
    Result<std::unique_ptr<Plugin>> made = MakeGithub(Config(c.settings));
    ASSERT_FALSE(made.ok()) << c.says;
    EXPECT_EQ(made.error().code, ErrorCode::kInvalid);
    EXPECT_NE(made.error().message.find(c.says), std::string::npos) << made.error().message;
    EXPECT_EQ(made.error().message.find("S3CR3T"), std::string::npos) << made.error().message;
  }
  Result<std::unique_ptr<Plugin>> unknown =
      MakeGithub(Config({{"token", kToken}, {"repo", "octo/shop"}, {"routing_key", "k"}}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("token, repo, api_url, mode, context, pr_comment_param"),
            std::string::npos);
}

TEST(GithubTest, DestinationNamesTheRepositoryAndHost) {
  auto plugin = Make();
  EXPECT_EQ(plugin->kind(), "github");
  EXPECT_EQ(plugin->destination(), "octo/shop on github.com");
  auto enterprise = Make({{"api_url", "https://ghe.example.com/api/v3/"}});
  EXPECT_EQ(enterprise->destination(), "octo/shop on ghe.example.com");
  EXPECT_EQ(ValueOf(enterprise->Render(Started(), RenderContext{})).url,
            std::string("https://ghe.example.com/api/v3/repos/octo/shop/statuses/") + kSha);
  // A local receiver, as the black-box tests use.
  auto local = Make({{"api_url", "http://127.0.0.1:8123"}});
  EXPECT_EQ(local->destination(), "octo/shop on 127.0.0.1:8123");
  // A token read from a file loses its newline.
  auto from_file = ValueOf(MakeGithub(Config({{"token", std::string(kToken) + "\n"}, {"repo", "octo/shop"}})));
  ASSERT_NE(from_file, nullptr);
  EXPECT_EQ(HeaderOf(ValueOf(from_file->Render(Started(), RenderContext{})), "Authorization"),
            std::string("Bearer ") + kToken);
}

TEST(GithubTest, ReferenceThatIsNotACommitIsNotRendered) {
  Notification n = Finished();
  n.run.reference = "main";
  EXPECT_FALSE(Make()->Render(n, RenderContext{}).ok());
}

}  // namespace
}  // namespace handoff::notify
