// Black-box tests of `serve`: each test starts tests/fixtures/serve_fixture.cc as
// `serve --port 0 --db sqlite:<tempdir>/h.db`, reads the port it prints and talks real HTTP
// to it (with the library's client, src/http/client.h). Tests wait on conditions (polling the
// API with a deadline, following the event stream, a gate file the fixture waits on), never
// on sleeps.

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "blackbox/go_json.h"
#include "blackbox/process.h"
#include "blackbox/receiver.h"
#include "blackbox/serve_harness.h"
#include "http_client/http_client.h"

extern char** environ;

namespace handoff::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kFixtureSource =
    std::string(HANDOFF_SOURCE_DIR) + "/tests/fixtures/serve_fixture.cc";

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

bool RunFinished(const json::value& run) {
  const std::string s = Str(run, "status");
  return s == "passed" || s == "failed" || s == "cancelled" || s == "error";
}

int CountFinishedTests(const json::value& run) {
  int n = 0;
  for (const json::value& t : Arr(run, "tests")) {
    const std::string s = Str(t, "status");
    if (s == "passed" || s == "failed" || s == "skipped") ++n;
  }
  return n;
}


class ServeTest : public ServeDatabaseTest {
 protected:
  void SetUp() override {
    ServeDatabaseTest::SetUp();
    gate_ = dir_ + "/gate";
  }

  std::string Db() const { return db_.url(); }

  // Starts the fixture's `serve` on a free port and the test's database, with `flags` after
  // the defaults (a flag given replaces its default) and `env` added to the environment.
  // Returns nullptr (with a failure recorded) if it did not start.
  Server* Start(std::vector<std::string> flags = {}, std::map<std::string, std::string> env = {},
                bool default_flags = true) {
    std::vector<std::string> argv = {binary_, "serve"};
    if (default_flags) {
      // A flag given by the test replaces its default (CLI11 refuses a repeated flag).
      const std::vector<std::pair<std::string, std::string>> defaults = {
          {"--port", "0"}, {"--db", Db()}, {"--grace", "200ms"}, {"--shutdown-timeout", "2s"}};
      for (const auto& [flag, value] : defaults) {
        if (std::find(flags.begin(), flags.end(), flag) == flags.end()) {
          argv.insert(argv.end(), {flag, value});
        }
      }
    }
    argv.insert(argv.end(), flags.begin(), flags.end());
    env.emplace("SERVE_FIXTURE_GATE", gate_);
    return StartServer(servers_, starts_, dir_, std::move(argv), std::move(env));
  }

  void OpenGate() { std::ofstream(gate_) << "open\n"; }

  http::ClientResult Call(Server* s, std::string_view method, std::string_view target,
                          std::string_view body = {},
                          const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http::ClientResult r = s->client().Request(method, target, body, headers, 10s);
    if (target == "/metrics") r.body = WithoutReplicaLabel(std::move(r.body));
    return r;
  }

  // Sends a request that must answer `want_status` and returns its parsed body.
  json::value Json(Server* s, std::string_view method, std::string_view target,
                   std::string_view body, int want_status) {
    http::ClientResult r = Call(s, method, target, body);
    EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.error;
    EXPECT_EQ(r.status, want_status) << method << " " << target << ": " << r.body;
    return Parse(r.body);
  }

  json::value Get(Server* s, std::string_view target) { return Json(s, "GET", target, {}, 200); }

  // Triggers a run of `suite`; returns its id (0 on failure).
  std::int64_t Trigger(Server* s, const std::string& suite, const std::string& body = "{}") {
    json::value run = Json(s, "POST", "/api/v1/suites/" + suite + "/runs", body, 201);
    return std::max<std::int64_t>(0, Int(run, "id"));
  }

  json::value GetRun(Server* s, std::int64_t id) {
    return Get(s, fmt::format("/api/v1/runs/{}", id));
  }

  // Polls the run until `done` holds (at most `timeout`); returns the last state seen.
  json::value AwaitRun(Server* s, std::int64_t id,
                       const std::function<bool(const json::value&)>& done,
                       std::chrono::milliseconds timeout = 20s) {
    const auto deadline = Clock::now() + timeout;
    json::value run;
    while (true) {
      http::ClientResult r = Call(s, "GET", fmt::format("/api/v1/runs/{}", id));
      run = Parse(r.body);
      if (r.ok() && r.status == 200 && done(run)) return run;
      if (Clock::now() >= deadline) {
        ADD_FAILURE() << "run " << id << " did not reach the awaited state; last seen: " << r.status
                      << " " << r.body;
        return run;
      }
      ::usleep(10'000);
    }
  }

  json::value AwaitFinished(Server* s, std::int64_t id, std::chrono::milliseconds timeout = 20s) {
    return AwaitRun(s, id, RunFinished, timeout);
  }

  // Polls `probe` until it returns true, at most `timeout`.
  bool Eventually(const std::function<bool()>& probe, std::chrono::milliseconds timeout = 15s) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (probe()) return true;
      ::usleep(10'000);
    }
    return probe();
  }

  std::vector<json::value> ListRuns(Server* s, const std::string& query) {
    json::value page = Get(s, "/api/v1/runs?" + query);
    std::vector<json::value> runs;
    for (const json::value& r : Arr(page, "runs")) runs.push_back(r);
    return runs;
  }

  std::string binary_ = SERVE_FIXTURE;  // what Start serves
  std::string gate_;
};

// --- Triggering runs ---------------------------------------------------------------------------

TEST_F(ServeTest, TriggeredRunFinishesWithEveryField) {
  Server* s = Start({"--environment", "staging"});
  ASSERT_NE(s, nullptr);
  http::ClientResult created = Call(
      s, "POST", "/api/v1/suites/Fast/runs",
      R"({"reference":"v1.2.3","initiated_by":"alice","labels":{"team":"qa"},"params":{"greeting":"hello"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  const json::value queued = Parse(created.body);
  const std::int64_t id = Int(queued, "id");
  ASSERT_GT(id, 0);
  EXPECT_EQ(created.Header("Location"), fmt::format("/api/v1/runs/{}", id));
  EXPECT_EQ(Str(queued, "suite"), "Fast");
  EXPECT_FALSE(Str(queued, "created_at").empty());

  const json::value run = AwaitFinished(s, id);
  EXPECT_EQ(Int(run, "id"), id);
  EXPECT_EQ(Str(run, "suite"), "Fast");
  EXPECT_EQ(Str(run, "namespace"), "serve");
  EXPECT_EQ(Str(run, "status"), "passed") << json::serialize(run);
  EXPECT_EQ(Str(run, "trigger"), "api");
  EXPECT_EQ(Str(run, "initiated_by"), "alice");
  EXPECT_EQ(Str(run, "reference"), "v1.2.3");
  EXPECT_EQ(Str(run, "environment"), "staging");
  const std::string created_at = Str(run, "created_at"), started_at = Str(run, "started_at"),
                    finished_at = Str(run, "finished_at");
  EXPECT_FALSE(created_at.empty());
  EXPECT_FALSE(started_at.empty());
  EXPECT_FALSE(finished_at.empty());
  // RFC 3339 UTC with milliseconds: ordered as strings.
  EXPECT_LE(created_at, started_at);
  EXPECT_LE(started_at, finished_at);
  EXPECT_GE(Int(run, "duration_ms"), 0);
  EXPECT_FALSE(Bool(run, "flaky"));
  EXPECT_EQ(Int(run, "resumed"), 0);
  EXPECT_TRUE(IsNull(run, "retry_of"));
  EXPECT_EQ(Str(*Field(run, "labels"), "team"), "qa");
  EXPECT_EQ(Str(*Field(run, "params"), "greeting"), "hello");

  EXPECT_EQ(TestStatuses(run), (std::map<std::string, std::string>{{"Hello", "passed"},
                                                                   {"Hello/sub", "passed"},
                                                                   {"Values", "passed"},
                                                                   {"Greeting", "passed"}}))
      << json::serialize(run);
  for (const json::value& t : Arr(run, "tests")) {
    EXPECT_EQ(Int(t, "attempt"), 1) << json::serialize(t);
    EXPECT_FALSE(Bool(t, "soft_failure")) << json::serialize(t);
    EXPECT_GE(Int(t, "duration_ms"), 0) << json::serialize(t);
    EXPECT_FALSE(Str(t, "started_at").empty()) << json::serialize(t);
  }

  // Params reach the tests: Greeting fails on another greeting.
  const std::int64_t bye = Trigger(s, "Fast", R"({"params":{"greeting":"bye"},"trigger":"ui"})");
  const json::value failed = AwaitFinished(s, bye);
  EXPECT_EQ(Str(failed, "status"), "failed");
  EXPECT_EQ(Str(failed, "trigger"), "ui");
  ASSERT_NE(FindTest(failed, "Greeting"), nullptr);
  EXPECT_NE(Str(*FindTest(failed, "Greeting"), "message").find("want hello, got bye"),
            std::string::npos)
      << json::serialize(failed);
  EXPECT_EQ(TestStatuses(failed)["Hello"], "passed");

  // The suites endpoints show the suites and their last runs.
  const json::value suites = Get(s, "/api/v1/suites");
  std::set<std::string> names;
  for (const json::value& suite : Arr(suites, "suites")) names.insert(Str(suite, "name"));
  EXPECT_EQ(names, (std::set<std::string>{"Fast", "Mixed", "Soft", "Healing", "Slow", "Gate",
                                          "Skipper", "Features", "Chatty", "Secrets", "History",
                                          "Hunted", "Table"}));
  const json::value fast = Get(s, "/api/v1/suites/Fast");
  EXPECT_EQ(Arr(fast, "last_runs").size(), 2u) << json::serialize(fast);
  EXPECT_EQ(Arr(fast, "tests").size(), 3u);
}

TEST_F(ServeTest, FilterSelectsTestsAndBadFiltersAreRejected) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Fast", R"({"filter":"^Values$"})");
  const json::value run = AwaitFinished(s, id);
  EXPECT_EQ(TestStatuses(run), (std::map<std::string, std::string>{{"Values", "passed"}}));
  EXPECT_EQ(Str(run, "filter"), "^Values$");

  const std::int64_t only = Trigger(s, "Mixed", R"({"tests":["Passes","Script"]})");
  EXPECT_EQ(TestStatuses(AwaitFinished(s, only)),
            (std::map<std::string, std::string>{{"Passes", "passed"}, {"Script", "passed"}}));

  json::value bad = Json(s, "POST", "/api/v1/suites/Fast/runs", R"({"filter":"(unclosed"})", 400);
  EXPECT_EQ(Str(*Field(bad, "error"), "code"), "invalid_argument");
  EXPECT_NE(Str(*Field(bad, "error"), "message").find("filter"), std::string::npos)
      << json::serialize(bad);
  bad = Json(s, "POST", "/api/v1/suites/Fast/runs", R"({"filter":"NoSuchTest"})", 400);
  EXPECT_NE(Str(*Field(bad, "error"), "message").find("selects no test"), std::string::npos)
      << json::serialize(bad);
  bad = Json(s, "POST", "/api/v1/suites/Fast/runs", R"({"tests":["Nope"]})", 400);
  EXPECT_NE(Str(*Field(bad, "error"), "message").find("Nope"), std::string::npos);
  // Nothing was created by the rejected requests.
  EXPECT_EQ(ListRuns(s, "suite=Fast").size(), 1u);
}

// Sends `raw` to 127.0.0.1:`port` as it is (an HTTP client would fix it up) and returns what
// the server answers until it closes the connection (at most 10 s).
std::string RawHttp(std::uint16_t port, const std::string& raw) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "<socket failed>";
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(raw.size())) {
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) answer.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

// Issue 15's smuggling probe: a body framed by Transfer-Encoding: identity (or gzip,
// xchunked) was read by its Content-Length, and the request after it ran too.
TEST_F(ServeTest, ARequestSmuggledBehindAnUnsupportedTransferEncodingNeverRuns) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  for (const char* coding : {"identity", "gzip", "xchunked"}) {
    const std::string answer = RawHttp(
        s->port(), std::string("POST /api/v1/suites/Fast/runs HTTP/1.1\r\nHost: localhost\r\n"
                               "Content-Type: application/json\r\nTransfer-Encoding: ") +
                       coding +
                       "\r\nContent-Length: 2\r\n\r\n{}"
                       "POST /api/v1/suites/Fast/runs HTTP/1.1\r\nHost: localhost\r\n"
                       "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 501 ")) << coding << "\n" << answer;
    EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << coding << "\n" << answer;
  }
  const std::string no_host = RawHttp(s->port(), "GET /api/v1/runs HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(no_host.starts_with("HTTP/1.1 400 ")) << no_host;
  // Nothing ran: neither the refused requests nor the ones behind them.
  const json::value runs = Json(s, "GET", "/api/v1/runs", {}, 200);
  EXPECT_TRUE(Field(runs, "runs")->as_array().empty()) << json::serialize(runs);
}

TEST_F(ServeTest, ErrorsAreJsonWithTheRightStatus) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  auto error_code = [](const json::value& v) {
    const json::value* e = Field(v, "error");
    return e == nullptr ? std::string("<no error object>") : Str(*e, "code");
  };
  EXPECT_EQ(error_code(Json(s, "POST", "/api/v1/suites/NoSuch/runs", "{}", 404)), "not_found");
  EXPECT_EQ(error_code(Json(s, "GET", "/api/v1/suites/NoSuch", {}, 404)), "not_found");
  EXPECT_EQ(error_code(Json(s, "GET", "/api/v1/runs/999999", {}, 404)), "not_found");
  EXPECT_EQ(error_code(Json(s, "GET", "/api/v1/runs/999999/tests/Hello", {}, 404)), "not_found");
  EXPECT_EQ(error_code(Json(s, "GET", "/api/v1/nothing", {}, 404)), "not_found");
  EXPECT_EQ(error_code(Json(s, "POST", "/api/v1/runs/999999/cancel", {}, 404)), "not_found");
  EXPECT_EQ(error_code(Json(s, "POST", "/api/v1/runs/999999/retry", {}, 404)), "not_found");

  EXPECT_EQ(error_code(Json(s, "POST", "/api/v1/suites/Fast/runs", "{\"filter\":", 400)),
            "invalid_argument");
  EXPECT_EQ(error_code(Json(s, "POST", "/api/v1/suites/Fast/runs", "[1,2]", 400)),
            "invalid_argument");
  json::value unknown = Json(s, "POST", "/api/v1/suites/Fast/runs", R"({"bogus":1})", 400);
  EXPECT_NE(Str(*Field(unknown, "error"), "message").find("bogus"), std::string::npos)
      << json::serialize(unknown);
  json::value wrong_type = Json(s, "POST", "/api/v1/suites/Fast/runs", R"({"reference":7})", 400);
  EXPECT_NE(Str(*Field(wrong_type, "error"), "message").find("reference"), std::string::npos);
  Json(s, "POST", "/api/v1/suites/Fast/runs", R"({"max_attempts":0})", 400);
  Json(s, "POST", "/api/v1/suites/Fast/runs", R"({"timeout":"soon"})", 400);
  Json(s, "POST", "/api/v1/suites/Fast/runs", R"({"trigger":"schedule"})", 400);

  EXPECT_EQ(error_code(Json(s, "GET", "/api/v1/runs/abc", {}, 400)), "invalid_argument");
  EXPECT_EQ(error_code(Json(s, "GET", "/api/v1/runs/-1", {}, 400)), "invalid_argument");
  Json(s, "GET", "/api/v1/runs?status=bogus", {}, 400);
  Json(s, "GET", "/api/v1/runs?limit=0", {}, 400);
  Json(s, "GET", "/api/v1/runs?cursor=x", {}, 400);

  http::ClientResult method = Call(s, "DELETE", "/api/v1/runs");
  EXPECT_EQ(method.status, 405) << method.body;
  EXPECT_EQ(error_code(Parse(method.body)), "method_not_allowed");
  EXPECT_EQ(method.Header("Allow"), "GET");
  EXPECT_EQ(Call(s, "GET", "/api/v1/suites/Fast/runs").status, 405);
  EXPECT_EQ(Call(s, "GET", "/api/v1/runs/1/cancel").status, 405);
  EXPECT_EQ(Call(s, "PUT", "/api/v1/schedules").status, 405);
  EXPECT_EQ(Call(s, "POST", "/healthz").status, 405);

  // A body over 1 MiB is refused before it is parsed.
  const std::string huge = R"({"reference":")" + std::string(1 << 20, 'x') + R"("})";
  http::Client big("127.0.0.1", s->port());
  http::ClientResult too_large = big.Request("POST", "/api/v1/suites/Fast/runs", huge);
  ASSERT_TRUE(too_large.ok()) << too_large.error;
  EXPECT_EQ(too_large.status, 413) << too_large.body;
  EXPECT_EQ(ListRuns(s, "").size(), 0u) << "no request above created a run";

  // The server is still healthy after all that.
  EXPECT_EQ(Call(s, "GET", "/healthz").status, 200);
  EXPECT_EQ(Call(s, "GET", "/readyz").status, 200);
}

TEST_F(ServeTest, ConcurrentPostsWithOneIdempotencyKeyMakeOneRun) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  constexpr int kClients = 16;
  std::vector<int> statuses(kClients);
  std::vector<std::int64_t> ids(kClients);
  std::vector<std::string> errors(kClients);
  std::latch ready(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      http::Client client("127.0.0.1", s->port());
      ready.arrive_and_wait();
      http::ClientResult r =
          client.Request("POST", "/api/v1/suites/Fast/runs", R"({"reference":"same"})",
                         {{"Idempotency-Key", "deploy-42"}}, 10s);
      errors[i] = r.error;
      statuses[i] = r.status;
      ids[i] = Int(Parse(r.body), "id");
    });
  }
  for (std::thread& t : threads) t.join();
  int created = 0;
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(errors[i], "");
    EXPECT_TRUE(statuses[i] == 200 || statuses[i] == 201) << statuses[i];
    if (statuses[i] == 201) ++created;
    EXPECT_EQ(ids[i], ids[0]);
  }
  EXPECT_EQ(created, 1);
  ASSERT_GT(ids[0], 0);
  EXPECT_EQ(ListRuns(s, "suite=Fast").size(), 1u);

  // The same key after the run finished still answers the same run.
  AwaitFinished(s, ids[0]);
  http::ClientResult again =
      Call(s, "POST", "/api/v1/suites/Fast/runs", "{}", {{"Idempotency-Key", "deploy-42"}});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Int(Parse(again.body), "id"), ids[0]);
  // Another key makes another run.
  http::ClientResult other =
      Call(s, "POST", "/api/v1/suites/Fast/runs", "{}", {{"Idempotency-Key", "deploy-43"}});
  EXPECT_EQ(other.status, 201) << other.body;
  EXPECT_NE(Int(Parse(other.body), "id"), ids[0]);
  EXPECT_EQ(ListRuns(s, "suite=Fast").size(), 2u);
  // The key of a Fast run, reused for another suite: a conflict, not the Fast run.
  http::ClientResult misused =
      Call(s, "POST", "/api/v1/suites/Mixed/runs", "{}", {{"Idempotency-Key", "deploy-42"}});
  EXPECT_EQ(misused.status, 409) << misused.body;
  EXPECT_NE(misused.body.find("already used for run"), std::string::npos) << misused.body;
  EXPECT_EQ(ListRuns(s, "suite=Mixed").size(), 0u);
}

// --- Results ---------------------------------------------------------------------------------

TEST_F(ServeTest, TestDetailHasOutputFailuresAndValues) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t mixed = Trigger(s, "Mixed");
  const json::value run = AwaitFinished(s, mixed);
  EXPECT_EQ(Str(run, "status"), "failed");
  EXPECT_TRUE(Bool(run, "flaky")) << "Flaky passed on its second attempt";
  EXPECT_EQ(TestStatuses(run), (std::map<std::string, std::string>{{"Passes", "passed"},
                                                                   {"Fails", "failed"},
                                                                   {"Skips", "skipped"},
                                                                   {"Flaky", "passed"},
                                                                   {"Script", "passed"}}));
  const int fail_line = LineOf(kFixtureSource, "serve_test: failure line");
  ASSERT_GT(fail_line, 0);

  const json::value fails = Get(s, fmt::format("/api/v1/runs/{}/tests/Fails", mixed));
  EXPECT_EQ(Int(fails, "run_id"), mixed);
  EXPECT_EQ(Str(*Field(fails, "test"), "status"), "failed");
  EXPECT_EQ(Int(*Field(fails, "test"), "attempt"), 2);
  EXPECT_EQ(Str(*Field(fails, "test"), "message"),
            fmt::format("serve_fixture.cc:{}: want 200, got 503", fail_line));
  ASSERT_EQ(Arr(fails, "attempts").size(), 2u) << json::serialize(fails);
  for (const json::value& attempt : Arr(fails, "attempts")) {
    ASSERT_EQ(Arr(attempt, "failures").size(), 1u) << json::serialize(attempt);
    const json::value& failure = Arr(attempt, "failures")[0];
    EXPECT_EQ(Str(failure, "message"), "want 200, got 503");
    EXPECT_TRUE(Str(failure, "file").ends_with("serve_fixture.cc")) << Str(failure, "file");
    EXPECT_EQ(Int(failure, "line"), fail_line);
    EXPECT_EQ(Str(attempt, "status"), "failed");
  }
  EXPECT_EQ(Int(Arr(fails, "attempts")[0], "attempt"), 1);
  EXPECT_EQ(Int(Arr(fails, "attempts")[1], "attempt"), 2);

  const json::value flaky = Get(s, fmt::format("/api/v1/runs/{}/tests/Flaky", mixed));
  EXPECT_TRUE(Bool(*Field(flaky, "test"), "flaky"));
  ASSERT_EQ(Arr(flaky, "attempts").size(), 2u);
  EXPECT_EQ(Str(Arr(flaky, "attempts")[0], "status"), "failed");
  EXPECT_EQ(Str(Arr(flaky, "attempts")[1], "status"), "passed");

  const json::value skips = Get(s, fmt::format("/api/v1/runs/{}/tests/Skips", mixed));
  ASSERT_EQ(Arr(skips, "attempts").size(), 1u);
  EXPECT_TRUE(Str(Arr(skips, "attempts")[0], "skip_reason").ends_with("not here"))
      << json::serialize(skips);

  // Output comes back as it was written (markup is data, escaped only as JSON).
  const json::value script = Get(s, fmt::format("/api/v1/runs/{}/tests/Script", mixed));
  ASSERT_EQ(Arr(script, "attempts").size(), 1u);
  std::string output;
  for (const json::value& line : Arr(Arr(script, "attempts")[0], "output")) {
    output += std::string(line.as_string()) + "\n";
  }
  EXPECT_NE(output.find("<script>alert(1)</script>"), std::string::npos) << output;

  const std::int64_t fast = Trigger(s, "Fast");
  AwaitFinished(s, fast);
  const json::value values = Get(s, fmt::format("/api/v1/runs/{}/tests/Values", fast));
  ASSERT_EQ(Arr(values, "attempts").size(), 1u);
  const json::value& attempt = Arr(values, "attempts")[0];
  EXPECT_EQ(Str(*Field(attempt, "values"), "build"), "1.2.3") << json::serialize(attempt);
  bool logged = false;
  for (const json::value& line : Arr(attempt, "output")) {
    if (std::string(line.as_string()).find("value set") != std::string::npos) logged = true;
  }
  EXPECT_TRUE(logged) << json::serialize(attempt);
  // Subtests are addressed by their full name.
  const json::value sub = Get(s, fmt::format("/api/v1/runs/{}/tests/Hello/sub", fast));
  EXPECT_EQ(Str(*Field(sub, "test"), "status"), "passed");
  Json(s, "GET", fmt::format("/api/v1/runs/{}/tests/Nope", fast), {}, 404);
}

TEST_F(ServeTest, FeaturesRunLikeAnyTestWithTheirAssessmentsAsSubtests) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Features");
  const json::value run = AwaitFinished(s, id);
  EXPECT_EQ(Str(run, "status"), "failed");
  EXPECT_EQ(TestStatuses(run), (std::map<std::string, std::string>{{"Checkout", "failed"},
                                                                   {"Checkout/pays", "passed"},
                                                                   {"Checkout/refunds", "failed"}}));
  const json::value pays = Get(s, fmt::format("/api/v1/runs/{}/tests/Checkout/pays", id));
  EXPECT_EQ(Str(*Field(pays, "test"), "status"), "passed");
  std::string output;
  for (const json::value& attempt : Arr(pays, "attempts")) {
    for (const json::value& line : Arr(attempt, "output")) output += std::string(line.as_string());
  }
  EXPECT_NE(output.find("paying on staging"), std::string::npos) << json::serialize(pays);
  const json::value refunds = Get(s, fmt::format("/api/v1/runs/{}/tests/Checkout/refunds", id));
  EXPECT_EQ(Str(*Field(refunds, "test"), "status"), "failed");
  // The teardown ran after the failed assessment, in the feature's own output.
  const json::value checkout = Get(s, fmt::format("/api/v1/runs/{}/tests/Checkout", id));
  output.clear();
  for (const json::value& attempt : Arr(checkout, "attempts")) {
    for (const json::value& line : Arr(attempt, "output")) output += std::string(line.as_string());
  }
  EXPECT_NE(output.find("checkout torn down"), std::string::npos) << json::serialize(checkout);
}

// Changed with the one result model: the stopped test and those that never ran are
// "cancelled" (they were "failed" and "skipped").
TEST_F(ServeTest, CancelStopsARunningRunAndCancelsTheRest) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Slow", R"({"filter":"^Step"})");
  AwaitRun(s, id, [](const json::value& r) { return TestStatuses(r)["Step1"] == "passed"; });
  json::value cancelled = Json(s, "POST", fmt::format("/api/v1/runs/{}/cancel", id), {}, 200);
  EXPECT_EQ(Int(cancelled, "id"), id);
  const json::value run = AwaitFinished(s, id);
  EXPECT_EQ(Str(run, "status"), "cancelled") << json::serialize(run);
  EXPECT_FALSE(Str(run, "finished_at").empty());
  std::map<std::string, std::string> tests = TestStatuses(run);
  EXPECT_EQ(tests["Step1"], "passed");
  EXPECT_EQ(tests["Step6"], "cancelled") << json::serialize(run);
  for (const auto& [name, status] : tests) {
    EXPECT_TRUE(status == "passed" || status == "cancelled")
        << name << " is " << status << " in a cancelled run";
  }
  EXPECT_EQ(Arr(run, "tests").size(), 6u);

  // A finished run cannot be cancelled again.
  json::value again = Json(s, "POST", fmt::format("/api/v1/runs/{}/cancel", id), {}, 409);
  EXPECT_EQ(Str(*Field(again, "error"), "code"), "conflict");

  // A test that ignores the cancellation is killed after --grace (200ms), long before it
  // would have returned on its own (1s).
  const std::int64_t stubborn = Trigger(s, "Slow", R"({"filter":"Stubborn"})");
  AwaitRun(s, stubborn,
           [](const json::value& r) { return TestStatuses(r)["Stubborn"] == "running"; });
  Json(s, "POST", fmt::format("/api/v1/runs/{}/cancel", stubborn), {}, 200);
  const json::value killed = AwaitFinished(s, stubborn);
  EXPECT_EQ(Str(killed, "status"), "cancelled") << json::serialize(killed);
  EXPECT_EQ(TestStatuses(killed)["Stubborn"], "cancelled") << json::serialize(killed);
  EXPECT_EQ(Int(*Field(killed, "totals"), "failed"), 0) << json::serialize(killed);
  const json::value detail = Get(s, fmt::format("/api/v1/runs/{}/tests/Stubborn", stubborn));
  EXPECT_EQ(json::serialize(detail).find("stubborn done"), std::string::npos)
      << json::serialize(detail);
}

TEST_F(ServeTest, CancelAQueuedRun) {
  Server* s = Start({"--max-concurrent-runs", "1"});
  ASSERT_NE(s, nullptr);
  const std::int64_t gate = Trigger(s, "Gate");
  AwaitRun(s, gate, [](const json::value& r) { return Str(r, "status") == "running"; });
  const std::int64_t queued = Trigger(s, "Fast");
  EXPECT_EQ(Str(GetRun(s, queued), "status"), "queued");
  // Neither run has finished: nothing to retry yet.
  Json(s, "POST", fmt::format("/api/v1/runs/{}/retry", gate), "{}", 409);
  Json(s, "POST", fmt::format("/api/v1/runs/{}/retry", queued), "{}", 409);
  Json(s, "POST", fmt::format("/api/v1/runs/{}/cancel", queued), {}, 200);
  const json::value run = AwaitFinished(s, queued);
  EXPECT_EQ(Str(run, "status"), "cancelled");
  EXPECT_TRUE(IsNull(run, "started_at")) << json::serialize(run);
  for (const auto& [name, status] : TestStatuses(run)) EXPECT_EQ(status, "cancelled") << name;
  EXPECT_EQ(Int(*Field(run, "totals"), "cancelled"), 3) << json::serialize(run);
  OpenGate();
  EXPECT_EQ(Str(AwaitFinished(s, gate), "status"), "passed");
}

TEST_F(ServeTest, RetryOnlyFailedRunsTheFailedTests) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Mixed", R"({"reference":"r9","initiated_by":"bob"})");
  AwaitFinished(s, id);
  Json(s, "POST", fmt::format("/api/v1/runs/{}/retry", id), R"({"bogus":true})", 400);
  http::ClientResult r =
      Call(s, "POST", fmt::format("/api/v1/runs/{}/retry", id), R"({"only_failed":true})");
  ASSERT_EQ(r.status, 201) << r.body;
  const json::value retry = Parse(r.body);
  const std::int64_t retry_id = Int(retry, "id");
  EXPECT_NE(retry_id, id);
  EXPECT_EQ(Int(retry, "retry_of"), id);
  EXPECT_EQ(Str(retry, "trigger"), "retry");
  EXPECT_EQ(Str(retry, "reference"), "r9");
  const json::value done = AwaitFinished(s, retry_id);
  EXPECT_EQ(TestStatuses(done), (std::map<std::string, std::string>{{"Fails", "failed"}}))
      << json::serialize(done);
  EXPECT_EQ(Str(done, "status"), "failed");

  // A full retry runs every test again.
  http::ClientResult full = Call(s, "POST", fmt::format("/api/v1/runs/{}/retry", id), "{}");
  ASSERT_EQ(full.status, 201) << full.body;
  EXPECT_EQ(TestStatuses(AwaitFinished(s, Int(Parse(full.body), "id"))).size(), 5u);

  // A run without failures has nothing to retry.
  const std::int64_t fast = Trigger(s, "Fast");
  AwaitFinished(s, fast);
  Json(s, "POST", fmt::format("/api/v1/runs/{}/retry", fast), R"({"only_failed":true})", 409);
}

// The hook log's calls of one run, in order.
std::vector<json::value> HookCalls(const std::string& log, std::int64_t run) {
  std::vector<json::value> out;
  std::istringstream in(ReadFile(log));
  for (std::string line; std::getline(in, line);) {
    json::value call = Parse(line);
    if (Int(call, "run") == run) out.push_back(std::move(call));
  }
  return out;
}

// Whether the hook log has the OnRunFinished of `run`.
bool HookSawRunFinish(const std::string& log, std::int64_t run) {
  for (const json::value& c : HookCalls(log, run)) {
    if (Str(c, "call") == "OnRunFinished") return true;
  }
  return false;
}

// --- Secrets ---------------------------------------------------------------------------------

// Issue 15's probe: run params came back in clear from GET /runs, the live stream and the
// retry, and nothing could mark one secret. A param the suite declares secret (Secrets
// declares db_password) and one serve's --secret-params matches (*_TOKEN) reach the test,
// and its retry, with their real values, and no byte of either is shown anywhere: every API
// answer about the run, the live stream, the hooks, the stored reports, `remote`, the
// server's log, nor what the test itself printed with them.
TEST_F(ServeTest, SecretParamsReachTheTestsAndTheirRetriesButAreNeverShown) {
  const std::string password = "pw-Hunter2-7f3a9c";  // DB_PASSWORD: secret by the suite
  const std::string token = "tok-9d8e7f6a5b";         // API_TOKEN: secret by --secret-params
  const std::string received = dir_ + "/received.txt";
  const std::string hooks = dir_ + "/hooks.jsonl";
  Server* s = Start({"--secret-params", "PASSWORD_OF_NOTHING, *_token"},
                    {{"SERVE_FIXTURE_SECRETS_OUT", received}, {"SERVE_FIXTURE_HOOK_LOG", hooks}});
  ASSERT_NE(s, nullptr);
  std::vector<std::pair<std::string, std::string>> answers;  // where -> what was shown
  auto shown = [&](std::string where, std::string what) {
    answers.emplace_back(std::move(where), std::move(what));
  };
  const std::string body = fmt::format(
      R"({{"params":{{"DB_PASSWORD":"{}","API_TOKEN":"{}","region":"eu"}},)"
      R"("labels":{{"team":"qa","oops":"pasted {}"}},"reference":"v1 {}"}})",
      password, token, token, password);

  http::ClientResult created = Call(s, "POST", "/api/v1/suites/Secrets/runs", body,
                                    {{"Idempotency-Key", "secret-run"}});
  ASSERT_EQ(created.status, 201) << created.body;
  shown("POST /runs", created.body);
  shown("Location", created.Header("Location"));
  const std::int64_t id = Int(Parse(created.body), "id");
  ASSERT_GT(id, 0);
  const json::value run = AwaitFinished(s, id);
  EXPECT_EQ(Str(run, "status"), "passed") << json::serialize(run);
  ASSERT_NE(Field(run, "params"), nullptr);
  EXPECT_EQ(Str(*Field(run, "params"), "DB_PASSWORD"), "[redacted]");
  EXPECT_EQ(Str(*Field(run, "params"), "API_TOKEN"), "[redacted]");
  EXPECT_EQ(Str(*Field(run, "params"), "region"), "eu");  // not secret: shown as it is
  // The test read the real values.
  EXPECT_EQ(ReadFile(received), fmt::format("DB_PASSWORD={} API_TOKEN={}\n", password, token));

  // A retry reuses the stored real values, never the redaction mark.
  http::ClientResult retried = Call(s, "POST", fmt::format("/api/v1/runs/{}/retry", id), "{}");
  ASSERT_EQ(retried.status, 201) << retried.body;
  shown("POST /retry", retried.body);
  const std::int64_t retry = Int(Parse(retried.body), "id");
  const json::value retry_run = AwaitFinished(s, retry);
  EXPECT_EQ(Str(retry_run, "status"), "passed") << json::serialize(retry_run);
  EXPECT_EQ(Str(*Field(retry_run, "params"), "API_TOKEN"), "[redacted]");
  EXPECT_EQ(ReadFile(received), fmt::format("DB_PASSWORD={0} API_TOKEN={1}\n"
                                            "DB_PASSWORD={0} API_TOKEN={1}\n",
                                            password, token));
  // `remote trigger --param` sends one too; its output shows the run's tests.
  ProcessResult remote = RunProcess({SERVE_FIXTURE, "remote", "trigger", "Secrets", "--server",
                                     s->url(), "--param", "API_TOKEN=" + token, "--wait"},
                                    {}, std::chrono::seconds(60));
  EXPECT_EQ(remote.exit_code, 0) << remote.out << remote.err;
  shown("remote trigger", remote.out + remote.err);
  ProcessResult bad_param = RunProcess(
      {SERVE_FIXTURE, "remote", "trigger", "Secrets", "--server", s->url(), "--param", token},
      {}, std::chrono::seconds(60));
  EXPECT_EQ(bad_param.exit_code, 2) << bad_param.out << bad_param.err;
  shown("remote --param without a key", bad_param.out + bad_param.err);

  // Every answer about the runs.
  for (std::int64_t r : {id, retry}) {
    for (const std::string& target :
         {fmt::format("/api/v1/runs/{}", r), fmt::format("/api/v1/runs/{}/tests/Receives", r),
          fmt::format("/api/v1/runs/{}/report?format=json", r),
          fmt::format("/api/v1/runs/{}/report?format=junit", r)}) {
      http::ClientResult answer = Call(s, "GET", target);
      EXPECT_EQ(answer.status, 200) << target << ": " << answer.body;
      shown(target, answer.body);
    }
    http::Client client("127.0.0.1", s->port());
    std::string stream;
    http::StreamResult streamed = client.StreamEvents(
        fmt::format("/api/v1/runs/{}/events", r), 0,
        [&](std::int64_t, const std::string& type, const std::string& data) {
          stream += type + ": " + data + "\n";
          return true;
        },
        10s);
    EXPECT_EQ(streamed.status, 200) << streamed.error;
    EXPECT_NE(stream.find("[redacted]"), std::string::npos) << stream;
    shown(fmt::format("live stream of run {}", r), stream);
  }
  const std::string test_detail =
      Call(s, "GET", fmt::format("/api/v1/runs/{}/tests/Receives", id)).body;
  EXPECT_NE(test_detail.find("logging in with [redacted]"), std::string::npos) << test_detail;
  EXPECT_NE(test_detail.find("token [redacted]"), std::string::npos) << test_detail;
  for (const char* target : {"/api/v1/runs", "/api/v1/runs?suite=Secrets", "/api/v1/suites",
                             "/api/v1/suites/Secrets", "/api/v1/suites/Secrets/history",
                             "/metrics"}) {
    shown(target, Call(s, "GET", target).body);
  }
  // The idempotent repeat answers the stored run; a bad request does not echo the body.
  http::ClientResult again = Call(s, "POST", "/api/v1/suites/Secrets/runs", body,
                                  {{"Idempotency-Key", "secret-run"}});
  EXPECT_EQ(again.status, 200) << again.body;
  shown("idempotent repeat", again.body);
  for (const std::string& bad :
       {body.substr(0, body.size() - 1) + R"(,"bogus":1})",
        body.substr(0, body.size() - 1) + R"(,"filter":"(")" + "}",
        fmt::format(R"({{"params":{{"API_TOKEN":"{}","n":1}}}})", token),
        fmt::format(R"({{"params":{{"API_TOKEN":"{}"}})", token)}) {
    http::ClientResult refused = Call(s, "POST", "/api/v1/suites/Secrets/runs", bad);
    EXPECT_EQ(refused.status, 400) << bad << ": " << refused.body;
    shown("bad request " + bad.substr(0, 20), refused.body);
  }
  // Hooks heard of both runs, with the params redacted and what the test wrote masked.
  ASSERT_TRUE(Eventually([&] { return HookSawRunFinish(hooks, retry); })) << ReadFile(hooks);
  const std::vector<json::value> calls = HookCalls(hooks, id);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(Str(*Field(calls.front(), "params"), "DB_PASSWORD"), "[redacted]")
      << ReadFile(hooks);
  shown("hooks", ReadFile(hooks));
  shown("server log", s->Err());
  shown("server output", s->Out());

  for (const auto& [where, what] : answers) {
    EXPECT_EQ(what.find(password), std::string::npos) << where << " shows DB_PASSWORD:\n" << what;
    EXPECT_EQ(what.find(token), std::string::npos) << where << " shows API_TOKEN:\n" << what;
  }
  // The labels and reference are the caller's, but a secret pasted there is masked too.
  EXPECT_EQ(Str(*Field(run, "labels"), "team"), "qa");
  EXPECT_EQ(Str(*Field(run, "labels"), "oops"), "pasted [redacted]");
  EXPECT_EQ(Str(run, "reference"), "v1 [redacted]");

  // The decision is the run's: a server started later without --secret-params still
  // redacts the token of the runs it finds, and a retry there keeps it secret.
  s->Signal(SIGTERM);
  ASSERT_EQ(s->WaitExit(10s), 0) << s->Err();
  Server* later = Start({}, {{"SERVE_FIXTURE_SECRETS_OUT", received}});
  ASSERT_NE(later, nullptr);
  const std::string old_run = Call(later, "GET", fmt::format("/api/v1/runs/{}", id)).body;
  EXPECT_EQ(old_run.find(token), std::string::npos) << old_run;
  http::ClientResult again_retried =
      Call(later, "POST", fmt::format("/api/v1/runs/{}/retry", retry), "{}");
  ASSERT_EQ(again_retried.status, 201) << again_retried.body;
  const json::value third = AwaitFinished(later, Int(Parse(again_retried.body), "id"));
  EXPECT_EQ(Str(*Field(third, "params"), "API_TOKEN"), "[redacted]") << json::serialize(third);
  EXPECT_EQ(json::serialize(third).find(token), std::string::npos);
  EXPECT_NE(ReadFile(received).find(fmt::format("DB_PASSWORD={} API_TOKEN={}\n", password, token)),
            std::string::npos);
}

TEST_F(ServeTest, ASoftFailureIsNoFailureInTheApiTheHooksOrTheMetrics) {
  const std::string log = dir_ + "/hooks.jsonl";
  Server* s = Start({}, {{"SERVE_FIXTURE_HOOK_LOG", log}});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Soft");
  const json::value run = AwaitFinished(s, id);
  EXPECT_EQ(Str(run, "status"), "passed") << json::serialize(run);
  ASSERT_NE(Field(run, "totals"), nullptr);
  const json::value& totals = *Field(run, "totals");
  EXPECT_EQ(Int(totals, "total"), 2) << json::serialize(totals);
  EXPECT_EQ(Int(totals, "passed"), 1) << json::serialize(totals);
  EXPECT_EQ(Int(totals, "failed"), 0) << json::serialize(totals);
  EXPECT_EQ(Int(totals, "soft_failed"), 1) << json::serialize(totals);
  EXPECT_EQ(Int(totals, "skipped"), 0);
  EXPECT_EQ(Int(totals, "cancelled"), 0);
  EXPECT_EQ(Int(totals, "flaky"), 0);
  // The counts of the run's page read the same verdicts.
  const json::value& counts = *Field(run, "counts");
  EXPECT_EQ(Int(counts, "failed"), 0) << json::serialize(counts);
  EXPECT_EQ(Int(counts, "soft_failed"), 1) << json::serialize(counts);
  EXPECT_EQ(Int(counts, "pending"), 0);

  ASSERT_TRUE(Eventually([&] { return HookSawRunFinish(log, id); })) << ReadFile(log);
  for (const json::value& call : HookCalls(log, id)) {
    if (Str(call, "call") == "OnTestFinished" && Str(call, "test") == "Known") {
      EXPECT_EQ(Str(call, "status"), "failed");
      EXPECT_TRUE(Bool(call, "soft_failure"));
    }
    if (Str(call, "call") != "OnRunFinished") continue;
    EXPECT_EQ(Str(call, "status"), "passed");
    EXPECT_EQ(Int(call, "tests_total"), Int(totals, "total")) << json::serialize(call);
    EXPECT_EQ(Int(call, "tests_passed"), Int(totals, "passed")) << json::serialize(call);
    EXPECT_EQ(Int(call, "tests_failed"), 0) << json::serialize(call);
    EXPECT_EQ(Int(call, "tests_soft_failed"), 1) << json::serialize(call);
  }

  const std::string metrics = Call(s, "GET", "/metrics").body;
  EXPECT_NE(metrics.find(
                "handoff_tests_run_total{namespace=\"serve\",suite=\"Soft\",result=\"soft_failed\"} 1"),
            std::string::npos)
      << metrics;
  // Soft failures are not failures: the failed series stays at the zero it started at.
  EXPECT_NE(metrics.find(
                "handoff_tests_run_total{namespace=\"serve\",suite=\"Soft\",result=\"failed\"} 0\n"),
            std::string::npos)
      << metrics;
}

TEST_F(ServeTest, HooksHearOfEveryTestACancelStoppedOrKeptFromStarting) {
  const std::string log = dir_ + "/hooks.jsonl";
  Server* s = Start({}, {{"SERVE_FIXTURE_HOOK_LOG", log}});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Slow", R"({"filter":"^Step"})");
  AwaitRun(s, id, [](const json::value& r) { return TestStatuses(r)["Step1"] == "passed"; });
  Json(s, "POST", fmt::format("/api/v1/runs/{}/cancel", id), {}, 200);
  const json::value run = AwaitFinished(s, id);
  EXPECT_EQ(Str(run, "status"), "cancelled");
  const std::map<std::string, std::string> api = TestStatuses(run);
  ASSERT_EQ(api.size(), 6u) << json::serialize(run);
  int cancelled = 0;
  for (const auto& [name, status] : api) {
    if (status == "cancelled") {
      ++cancelled;
      EXPECT_EQ(Str(*FindTest(run, name), "message").rfind("cancelled: ", 0), 0u)
          << json::serialize(run);
    }
  }
  EXPECT_GE(cancelled, 4) << json::serialize(run);
  EXPECT_EQ(Int(*Field(run, "totals"), "cancelled"), cancelled);
  EXPECT_EQ(Int(*Field(run, "totals"), "total"), 6);

  // Every test reaches the hooks with the state the API shows, the cancelled ones too.
  ASSERT_TRUE(Eventually([&] { return HookSawRunFinish(log, id); })) << ReadFile(log);
  std::map<std::string, std::string> heard;
  for (const json::value& call : HookCalls(log, id)) {
    if (Str(call, "call") == "OnTestFinished") heard[Str(call, "test")] = Str(call, "status");
    if (Str(call, "call") != "OnRunFinished") continue;
    EXPECT_EQ(Str(call, "status"), "cancelled");
    EXPECT_EQ(Int(call, "tests_total"), 6) << json::serialize(call);
    EXPECT_EQ(Int(call, "tests_cancelled"), cancelled) << json::serialize(call);
    EXPECT_EQ(Arr(call, "tests").size(), 6u) << json::serialize(call);
  }
  EXPECT_EQ(heard, api) << ReadFile(log);
}

TEST_F(ServeTest, ACancelledRunCountsAsNoFailureInHistoryOrFlaky) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::string filter = R"({"filter":"^Step[123]$"})";
  EXPECT_EQ(Str(AwaitFinished(s, Trigger(s, "Slow", filter)), "status"), "passed");
  // Cancelled while Step2 runs: Step2 stops early, Step3 never starts.
  const std::int64_t cancelled = Trigger(s, "Slow", filter);
  AwaitRun(s, cancelled, [](const json::value& r) { return TestStatuses(r)["Step1"] == "passed"; });
  Json(s, "POST", fmt::format("/api/v1/runs/{}/cancel", cancelled), {}, 200);
  EXPECT_EQ(Str(AwaitFinished(s, cancelled), "status"), "cancelled");
  EXPECT_EQ(Str(AwaitFinished(s, Trigger(s, "Slow", filter)), "status"), "passed");

  const json::value history = Get(s, "/api/v1/suites/Slow/history");
  ASSERT_EQ(Arr(history, "runs").size(), 3u) << json::serialize(history);
  for (const json::value& t : Arr(history, "tests")) {
    EXPECT_EQ(Int(t, "failed"), 0) << json::serialize(t);
    EXPECT_EQ(Int(t, "flips"), 0) << json::serialize(t);
    // The cancelled run is not a run of the tests it cancelled.
    const json::value& in_cancelled = Arr(t, "statuses")[1];
    const bool was_cancelled = in_cancelled.is_string() && in_cancelled.as_string() == "cancelled";
    EXPECT_EQ(Int(t, "runs"), was_cancelled ? 2 : 3) << json::serialize(t);
    if (Str(t, "name") == "Step3") EXPECT_TRUE(was_cancelled) << json::serialize(t);
  }
  const json::value flaky = Get(s, "/api/v1/flaky?suite=Slow");
  EXPECT_TRUE(Arr(flaky, "tests").empty()) << json::serialize(flaky);
}

TEST_F(ServeTest, ARetryOfTheFailedTestsIsAPartialRunLeftOutOfTrends) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t first = Trigger(s, "Healing");
  const json::value failed = AwaitFinished(s, first);
  EXPECT_EQ(Str(failed, "status"), "failed");
  EXPECT_FALSE(Bool(failed, "partial")) << json::serialize(failed);
  OpenGate();
  http::ClientResult r =
      Call(s, "POST", fmt::format("/api/v1/runs/{}/retry", first), R"({"only_failed":true})");
  ASSERT_EQ(r.status, 201) << r.body;
  const json::value retry = AwaitFinished(s, Int(Parse(r.body), "id"));
  EXPECT_EQ(TestStatuses(retry), (std::map<std::string, std::string>{{"Heals", "passed"}}));
  // Its totals are all passes, but only of the test it ran: it is marked partial, and the
  // UI's trends (format.js trendRate) give it no pass-rate point.
  EXPECT_EQ(Int(*Field(retry, "totals"), "passed"), Int(*Field(retry, "totals"), "total"));
  EXPECT_TRUE(Bool(retry, "partial")) << json::serialize(retry);
  const json::value history = Get(s, "/api/v1/suites/Healing/history");
  ASSERT_EQ(Arr(history, "runs").size(), 2u);
  EXPECT_FALSE(Bool(Arr(history, "runs")[0], "partial"));
  EXPECT_TRUE(Bool(Arr(history, "runs")[1], "partial"));
  // Stability: Steady was not in the retry; Heals ran in both.
  for (const json::value& t : Arr(history, "tests")) {
    EXPECT_EQ(Int(t, "runs"), Str(t, "name") == "Heals" ? 2 : 1) << json::serialize(t);
  }
}

// Issue 19, section 3: each test of a run is marked against the previous run (new failure,
// still failing since run N, fixed, new test), a test's history reads back across runs with
// its first failure, failures group by cause in a run and over the suite's runs, and runs are
// searched by test name and failure text; on whichever store the server has.
TEST_F(ServeTest, TestsAreMarkedAgainstThePreviousRunAndTheirHistoryGroupsAndSearchRead) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const auto tests_of = [&](std::int64_t id) {
    std::map<std::string, json::value> out;
    const json::value run = GetRun(s, id);
    for (const json::value& t : Arr(run, "tests")) out[Str(t, "name")] = t;
    return out;
  };
  const auto change = [](const json::value& t) {
    const json::value* c = Field(t, "change");
    return c == nullptr || c->is_null() ? std::string("none") : std::string(c->as_string());
  };
  const auto since = [](const json::value& t) -> std::int64_t {
    const json::value* f = Field(t, "failing_since");
    return f == nullptr || f->is_null() ? 0 : Int(*f, "run_id");
  };
  const std::int64_t r1 = Trigger(s, "History", R"({"reference":"v1"})");
  EXPECT_EQ(Str(AwaitFinished(s, r1), "status"), "failed");
  for (const auto& [name, t] : tests_of(r1)) {
    EXPECT_EQ(change(t), "none") << "a suite's first run compares with nothing: " << name;
  }
  const std::int64_t r2 = Trigger(
      s, "History", R"({"reference":"v2","params":{"order":"1001","cases":"a,b"}})");
  AwaitFinished(s, r2);
  std::map<std::string, json::value> t2 = tests_of(r2);
  EXPECT_EQ(change(t2["Heals"]), "still_failing") << json::serialize(t2["Heals"]);
  EXPECT_EQ(since(t2["Heals"]), r1);
  EXPECT_EQ(Str(*Field(t2["Heals"], "failing_since"), "reference"), "v1");
  EXPECT_EQ(change(t2["Breaks"]), "new_failure");
  EXPECT_EQ(since(t2["Breaks"]), r2);
  EXPECT_EQ(change(t2["Table/a"]), "none");
  EXPECT_EQ(change(t2["Table/b"]), "new_test");
  EXPECT_EQ(since(t2["Table/b"]), 0);
  OpenGate();
  const std::int64_t r3 =
      Trigger(s, "History", R"({"reference":"v3","params":{"order":"1002","cases":"a,b"}})");
  AwaitFinished(s, r3);
  std::map<std::string, json::value> t3 = tests_of(r3);
  EXPECT_EQ(change(t3["Heals"]), "fixed");
  EXPECT_EQ(since(t3["Heals"]), r1) << "what the fix ended";
  EXPECT_EQ(change(t3["Breaks"]), "still_failing");
  EXPECT_EQ(since(t3["Breaks"]), r2);
  EXPECT_EQ(change(t3["Table/b"]), "none");
  // The live stream's journal has the marks too (a client that reconnects reads them).
  const http::ClientResult events = Call(s, "GET", fmt::format("/api/v1/runs/{}/events", r3));
  EXPECT_NE(events.body.find(R"("change":"fixed")"), std::string::npos) << events.body;

  // A test's history, newest run first, paged, with its first failure.
  const json::value heals = Get(s, "/api/v1/suites/History/tests/Heals");
  ASSERT_EQ(Arr(heals, "runs").size(), 3u) << json::serialize(heals);
  EXPECT_EQ(Int(Arr(heals, "runs")[0], "run_id"), r3);
  EXPECT_EQ(Str(Arr(heals, "runs")[0], "reference"), "v3");
  EXPECT_EQ(Str(*Field(Arr(heals, "runs")[0], "test"), "status"), "passed");
  EXPECT_EQ(Str(*Field(Arr(heals, "runs")[2], "test"), "status"), "failed");
  EXPECT_EQ(Int(*Field(heals, "first_failure"), "run_id"), r1);
  const json::value page = Get(s, "/api/v1/suites/History/tests/Heals?limit=2");
  ASSERT_EQ(Arr(page, "runs").size(), 2u);
  const std::string cursor = Str(page, "next_cursor");
  EXPECT_EQ(cursor, std::to_string(r2));
  const json::value rest = Get(s, "/api/v1/suites/History/tests/Heals?limit=2&cursor=" + cursor);
  ASSERT_EQ(Arr(rest, "runs").size(), 1u);
  EXPECT_TRUE(Field(rest, "next_cursor")->is_null());
  const json::value sub = Get(s, "/api/v1/suites/History/tests/Table%2Fb");
  EXPECT_EQ(Arr(sub, "runs").size(), 2u) << "a subtest by its escaped name";
  EXPECT_TRUE(Field(sub, "first_failure")->is_null());
  Json(s, "GET", "/api/v1/suites/History/tests/Nope", {}, 404);
  Json(s, "GET", "/api/v1/suites/Nope/tests/Heals", {}, 404);
  Json(s, "GET", "/api/v1/suites/History/tests/Heals?cursor=x", {}, 400);
  Json(s, "GET", "/api/v1/suites/History/tests/Heals?limit=0", {}, 400);

  // Failures grouped by cause: in a run, and over the suite's runs, most runs first.
  const json::value groups = Get(s, fmt::format("/api/v1/runs/{}/failures", r2));
  ASSERT_EQ(Arr(groups, "groups").size(), 2u) << json::serialize(groups);
  const json::value suite_groups = Get(s, "/api/v1/suites/History/failures");
  ASSERT_EQ(Arr(suite_groups, "groups").size(), 2u) << json::serialize(suite_groups);
  const json::value& order = Arr(suite_groups, "groups")[0];
  EXPECT_EQ(Str(order, "signature"), "serve_fixture.cc:<n>: order <n> not found after <n> tries")
      << json::serialize(order);
  EXPECT_EQ(Int(order, "runs"), 2);
  EXPECT_EQ(Int(order, "failures"), 2);
  EXPECT_EQ(Int(order, "last_run"), r3);
  EXPECT_NE(Str(order, "message").find("order 1002 not found"), std::string::npos);
  EXPECT_EQ(Arr(order, "tests").size(), 1u);
  EXPECT_EQ(Int(Arr(suite_groups, "groups")[1], "runs"), 2);  // Heals, in runs 1 and 2
  Json(s, "GET", "/api/v1/suites/History/failures?runs=1000", {}, 400);
  Json(s, "GET", "/api/v1/runs/999999/failures", {}, 404);

  // Search by failure text (any case) and by test name, paged by whole runs.
  const json::value found = Get(s, "/api/v1/search/tests?failure=ORDER%20100");
  ASSERT_EQ(Arr(found, "results").size(), 2u) << json::serialize(found);
  EXPECT_EQ(Int(Arr(found, "results")[0], "run_id"), r3);
  EXPECT_EQ(Str(*Field(Arr(found, "results")[0], "test"), "name"), "Breaks");
  EXPECT_EQ(Str(Arr(found, "results")[0], "suite"), "History");
  const json::value by_name = Get(s, "/api/v1/search/tests?suite=History&test=table/&limit=2");
  ASSERT_EQ(Arr(by_name, "results").size(), 2u) << json::serialize(by_name);
  EXPECT_EQ(Int(Arr(by_name, "results")[0], "run_id"), r3);
  EXPECT_EQ(Int(Arr(by_name, "results")[1], "run_id"), r3);
  EXPECT_EQ(Str(by_name, "next_cursor"), std::to_string(r3));
  const json::value older =
      Get(s, "/api/v1/search/tests?suite=History&test=table/&limit=2&cursor=" +
                 std::to_string(r3));
  EXPECT_EQ(Int(Arr(older, "results")[0], "run_id"), r2);
  Json(s, "GET", "/api/v1/search/tests", {}, 400);
  Json(s, "GET", "/api/v1/search/tests?test=x&suite=Nope", {}, 404);
  Json(s, "GET", "/api/v1/search/tests?test=" + std::string(1001, 'x'), {}, 400);

  // remote: the marks on `get`, a test's history, a search, and a run followed to its end,
  // each test printed once (the end's marks are sent again) then what changed.
  ProcessResult get = RunProcess({SERVE_FIXTURE, "remote", "get", std::to_string(r3), "--server",
                                  s->url()}, {}, std::chrono::seconds(30));
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_TRUE(std::regex_search(get.out, std::regex(fmt::format(
      R"(PASS +Heals \(\d+\.\d\ds\) \[fixed: failing since run #{} \(v1\)\])", r1))))
      << get.out;
  EXPECT_NE(get.out.find(fmt::format("[failing since run #{} (v2)]", r2)), std::string::npos)
      << get.out;
  ProcessResult past = RunProcess({SERVE_FIXTURE, "remote", "history", "History", "Heals",
                                   "--server", s->url()}, {}, std::chrono::seconds(30));
  EXPECT_EQ(past.exit_code, 0) << past.err;
  EXPECT_NE(past.out.find(fmt::format("Heals: first failed in run #{} (v1)", r1)),
            std::string::npos) << past.out;
  EXPECT_TRUE(std::regex_search(past.out, std::regex(fmt::format(
      R"(\n{} +v2 +FAIL .*\[failing since run #{} \(v1\)\])", r2, r1)))) << past.out;
  ProcessResult search = RunProcess({SERVE_FIXTURE, "remote", "search", "--failure", "ORDER 1002",
                                     "--server", s->url()}, {}, std::chrono::seconds(30));
  EXPECT_EQ(search.exit_code, 0) << search.err;
  EXPECT_NE(search.out.find("order 1002 not found after 3 tries"), std::string::npos) << search.out;
  EXPECT_EQ(search.out.find("order 1001"), std::string::npos) << search.out;
  ProcessResult none = RunProcess({SERVE_FIXTURE, "remote", "search", "--server", s->url()}, {},
                                  std::chrono::seconds(30));
  EXPECT_EQ(none.exit_code, 2) << none.out;
  ProcessResult follow = RunProcess({SERVE_FIXTURE, "remote", "trigger", "History", "--server",
                                     s->url(), "--param", "cases=a,b,c", "--wait"},
                                    {}, std::chrono::seconds(60));
  EXPECT_EQ(follow.exit_code, 0) << follow.out << follow.err;
  std::size_t heals_lines = 0;
  for (std::size_t at = follow.out.find("--- PASS: Heals "); at != std::string::npos;
       at = follow.out.find("--- PASS: Heals ", at + 1)) {
    ++heals_lines;
  }
  EXPECT_EQ(heals_lines, 1u) << follow.out;
  EXPECT_NE(follow.out.find(fmt::format("fixed: Breaks [fixed: failing since run #{} (v2)]", r2)),
            std::string::npos) << follow.out;
  EXPECT_NE(follow.out.find("new tests: Table/c"), std::string::npos) << follow.out;
}

TEST_F(ServeTest, RetryOnlyFailedOfACancelledRunAlsoRunsTheTestsThatNeverRan) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Slow", R"({"filter":"^Step[123]$"})");
  AwaitRun(s, id, [](const json::value& r) { return TestStatuses(r)["Step1"] == "passed"; });
  Json(s, "POST", fmt::format("/api/v1/runs/{}/cancel", id), {}, 200);
  const json::value cancelled = AwaitFinished(s, id);
  ASSERT_EQ(Str(cancelled, "status"), "cancelled");
  std::map<std::string, std::string> want;
  for (const auto& [name, status] : TestStatuses(cancelled)) {
    if (status != "passed") want[name] = "passed";
  }
  ASSERT_EQ(want.count("Step3"), 1u) << json::serialize(cancelled);
  http::ClientResult r =
      Call(s, "POST", fmt::format("/api/v1/runs/{}/retry", id), R"({"only_failed":true})");
  ASSERT_EQ(r.status, 201) << r.body;
  const json::value retry = AwaitFinished(s, Int(Parse(r.body), "id"));
  EXPECT_EQ(TestStatuses(retry), want) << json::serialize(retry);
  EXPECT_EQ(Str(retry, "status"), "passed");
}

TEST_F(ServeTest, ReportsAreReadByGotestsumAndJunitparser) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Mixed");
  AwaitFinished(s, id);
  http::ClientResult json_report = Call(s, "GET", fmt::format("/api/v1/runs/{}/report", id));
  ASSERT_EQ(json_report.status, 200);
  EXPECT_NE(json_report.Header("Content-Type").find("ndjson"), std::string::npos);
  GoReport parsed = ParseGoJson(json_report.body);
  EXPECT_TRUE(parsed.valid) << parsed.error;
  ASSERT_NE(parsed.Find("Mixed", "Fails"), nullptr) << json_report.body;
  EXPECT_EQ(parsed.Find("Mixed", "Fails")->Final(), "fail");
  EXPECT_EQ(parsed.Find("Mixed", "Flaky")->Final(), "pass");
  EXPECT_EQ(parsed.Find("Mixed", "Skips")->Final(), "skip");

  const std::string json_file = dir_ + "/report.json", xml_file = dir_ + "/report.xml";
  std::ofstream(json_file) << json_report.body;
  http::ClientResult junit = Call(s, "GET", fmt::format("/api/v1/runs/{}/report?format=junit", id));
  ASSERT_EQ(junit.status, 200);
  std::ofstream(xml_file) << junit.body;
  Json(s, "GET", fmt::format("/api/v1/runs/{}/report?format=tap", id), {}, 400);

  if (::access("/usr/bin/gotestsum", X_OK) == 0) {
    ProcessResult g = RunProcess(
        {"/usr/bin/gotestsum", "--format", "testname", "--raw-command", "--", "cat", json_file});
    EXPECT_NE(g.out.find("DONE 5 tests, 1 skipped, 1 failure"), std::string::npos)
        << g.out << g.err;
    EXPECT_NE(g.out.find("FAIL Mixed.Fails"), std::string::npos) << g.out;
    EXPECT_NE(g.out.find("PASS Mixed.Flaky"), std::string::npos) << g.out;
  } else if (InCi()) {
    ADD_FAILURE() << "gotestsum is required in CI";
  }

  if (RunProcess({"/usr/bin/python3", "-c", "import junitparser"}).exit_code == 0) {
    const char* script = R"PY(
import sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    for case in suite:
        kinds = sorted(type(r).__name__ for r in case.result)
        print(f"{suite.name}|{case.name}|{','.join(kinds)}")
    print(f"SUITE {suite.name} tests={suite.tests} failures={suite.failures} skipped={suite.skipped}")
)PY";
    ProcessResult p = RunProcess({"/usr/bin/python3", "-c", script, xml_file});
    ASSERT_EQ(p.exit_code, 0) << p.err << junit.body;
    EXPECT_NE(p.out.find("Mixed|Fails|Failure"), std::string::npos) << p.out;
    EXPECT_NE(p.out.find("Mixed|Skips|Skipped"), std::string::npos) << p.out;
    EXPECT_NE(p.out.find("Mixed|Passes|\n"), std::string::npos) << p.out;
    EXPECT_NE(p.out.find("SUITE Mixed tests=5 failures=1 skipped=1"), std::string::npos) << p.out;
  } else if (InCi()) {
    ADD_FAILURE() << "python3-junitparser is required in CI";
  }
}

// Returns a go test -json report without what differs from one run to the next: each
// Time and Elapsed, and durations in the output ("(0.52s)", "ok  \tSuite\t1.234s").
// Returns `report` with the thread ids and unsymbolized addresses of stack traces set aside.
std::string NormalizeStacks(const std::string& report) {
  static const std::regex kThread(R"re(\bthread [0-9]+ )re");
  static const std::regex kAddress(R"re(\b0x[0-9a-f]+ in )re");
  return std::regex_replace(std::regex_replace(report, kThread, "thread N "), kAddress, "0xN in ");
}

std::string NormalizeGoJson(const std::string& report) {
  static const std::regex kTime(R"re("Time":"[^"]*")re");
  static const std::regex kElapsed(R"re("Elapsed":[0-9.eE+-]+)re");
  static const std::regex kSeconds(R"re([0-9]+\.[0-9]+s)re");
  std::string out = std::regex_replace(report, kTime, R"("Time":"T")");
  out = std::regex_replace(out, kElapsed, R"("Elapsed":0)");
  return NormalizeStacks(std::regex_replace(out, kSeconds, "Ns"));
}

// Returns a JUnit report without what differs from one run or host to the next: the
// time, timestamp and hostname attributes.
std::string NormalizeJunit(const std::string& report) {
  static const std::regex kAttributes(R"re(\b(time|timestamp|hostname)="[^"]*")re");
  return NormalizeStacks(std::regex_replace(report, kAttributes, R"($1="")"));
}

TEST_F(ServeTest, ReportsOfServeAreTheReportsOfRun) {
  // The same suite, with every outcome and every kind of output, run by `run` and by
  // `serve`: the reports must be the same bytes once times, durations and the host are
  // set aside.
  const std::string junit_file = dir_ + "/run.xml";
  ProcessResult run = RunProcess({REPLAY_FIXTURE, "run", "--format", "json", "--report-junit",
                                  junit_file, "--grace", "200ms"});
  ASSERT_EQ(run.exit_code, 1) << run.out << run.err;
  const std::string run_json = NormalizeGoJson(run.out);
  const std::string run_junit = NormalizeJunit(ReadFile(junit_file));
  // The fixture has what the comparison is about.
  for (const char* expected : {"    replay_fixture.cc:", "want 200\\n", "setup log",
                               "teardown log", "=== RETRY", "Table/fails/deeper",
                               "about to crash", "ignoring the stop request", "needs docker",
                               // The stacks of a crash and of a hang, in both reports alike.
                               "crashed with SIGABRT:", "HandoffTest_Replay_Crashes(handoff::T\\u0026) at ",
                               "just before it was killed", "HandoffTest_Replay_Hangs(handoff::T\\u0026) at "}) {
    EXPECT_NE(run_json.find(expected), std::string::npos) << expected << "\n" << run_json;
  }

  binary_ = REPLAY_FIXTURE;
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Replay");
  AwaitFinished(s, id, 60s);
  http::ClientResult json_report = Call(s, "GET", fmt::format("/api/v1/runs/{}/report", id));
  ASSERT_EQ(json_report.status, 200) << json_report.body;
  http::ClientResult junit_report =
      Call(s, "GET", fmt::format("/api/v1/runs/{}/report?format=junit", id));
  ASSERT_EQ(junit_report.status, 200) << junit_report.body;

  EXPECT_EQ(NormalizeGoJson(json_report.body), run_json);
  EXPECT_EQ(NormalizeJunit(junit_report.body), run_junit);
}

// Returns an RFC 3339 UTC time with its fraction padded to nanoseconds, so that two times
// compare as strings ("...:44.9Z" would sort after "...:44.963Z").
std::string SortableTime(std::string time) {
  if (!time.empty() && time.back() == 'Z') time.pop_back();
  const std::size_t dot = time.find('.');
  std::string fraction = dot == std::string::npos ? "" : time.substr(dot + 1);
  fraction.resize(9, '0');
  return time.substr(0, dot) + "." + fraction;
}

// Issue 14: serve's report put the teardown's output before the tests, with setup's time,
// and gave the final pass or fail the run's start time. ReportsOfServeAreTheReportsOfRun sets
// times aside; this test reads them: the teardown's output comes after every test's event
// and not before any of them in time, and the run's final event is its latest.
TEST_F(ServeTest, ServesTheTeardownAndTheRunsEndAtTheTimesTheyHappened) {
  binary_ = REPLAY_FIXTURE;
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Replay");
  AwaitFinished(s, id, 60s);
  http::ClientResult report = Call(s, "GET", fmt::format("/api/v1/runs/{}/report", id));
  ASSERT_EQ(report.status, 200) << report.body;

  std::vector<json::value> events;
  for (const std::string& line : Lines(report.body)) {
    if (!line.empty()) events.push_back(Parse(line));
  }
  ASSERT_GE(events.size(), 10u) << report.body;
  // (A test's events are written when it ends, so a worker restarted after a crash may set
  // up before the crashed test's lines: the stream as a whole need not be in time order.)
  std::string latest_test_time, latest_time;
  int teardown = -1, last_test_event = -1;
  for (int i = 0; i + 1 < static_cast<int>(events.size()); ++i) {
    const std::string time = SortableTime(Str(events[i], "Time"));
    latest_time = std::max(latest_time, time);
    if (!Str(events[i], "Test").empty()) {
      last_test_event = i;
      latest_test_time = std::max(latest_test_time, time);
    }
    if (Str(events[i], "Output").find("teardown log") != std::string::npos) teardown = i;
  }
  ASSERT_GE(teardown, 0) << report.body;
  EXPECT_GT(teardown, last_test_event) << "the teardown's output comes before a test's event:\n"
                                       << report.body;
  EXPECT_GE(SortableTime(Str(events[teardown], "Time")), latest_test_time)
      << "the teardown's output is dated before a test's event: "
      << json::serialize(events[teardown]);
  const json::value& last = events.back();
  EXPECT_TRUE(Str(last, "Test").empty()) << json::serialize(last);
  EXPECT_EQ(Str(last, "Action"), "fail") << json::serialize(last);
  EXPECT_GE(SortableTime(Str(last, "Time")), latest_time)
      << "the run's final event is dated before other events: " << json::serialize(last);
}

// --- Live events ---------------------------------------------------------------------------------

struct Event {
  std::int64_t id;
  std::string type;
  json::value data;
};

TEST_F(ServeTest, EventStreamFollowsARunToItsEnd) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Gate");
  std::vector<Event> events;
  std::atomic<bool> saw_running{false};
  http::StreamResult result;
  std::thread follower([&] {
    http::Client client("127.0.0.1", s->port());
    result = client.StreamEvents(
        fmt::format("/api/v1/runs/{}/events", id), 0,
        [&](std::int64_t event_id, const std::string& type, const std::string& data) {
          events.push_back({event_id, type, Parse(data)});
          if (type == "test" && Str(events.back().data, "status") == "running") saw_running = true;
          return true;
        },
        20s);
  });
  // The stream is live: the test is running and blocked when the gate opens.
  const bool running = Eventually([&] { return saw_running.load(); });
  OpenGate();
  follower.join();
  ASSERT_TRUE(running) << "no running test event before the gate opened";
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.status, 200);
  ASSERT_GE(events.size(), 4u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].id, static_cast<std::int64_t>(i + 1)) << "events in seq order, no gaps";
  }
  EXPECT_EQ(events.front().type, "run");
  EXPECT_EQ(Str(events.front().data, "status"), "queued");
  EXPECT_EQ(events.back().type, "run");
  EXPECT_EQ(Str(events.back().data, "status"), "passed");
  EXPECT_EQ(result.last_event_id, events.back().id);
  bool test_passed = false;
  for (const Event& e : events) {
    if (e.type == "test" && Str(e.data, "name") == "Wait" && Str(e.data, "status") == "passed") {
      test_passed = true;
    }
  }
  EXPECT_TRUE(test_passed);

  // Unknown runs and bad ids.
  http::Client client("127.0.0.1", s->port());
  http::StreamResult missing = client.StreamEvents(
      "/api/v1/runs/999999/events", 0, [](auto, auto&, auto&) { return true; }, 5s);
  EXPECT_EQ(missing.status, 404);
}

TEST_F(ServeTest, EventStreamResumesFromLastEventId) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Slow", R"({"filter":"^Step[1-3]$"})");
  const std::string target = fmt::format("/api/v1/runs/{}/events", id);
  // What a client knows: each test's latest status, from the events in the order received.
  std::vector<std::int64_t> ids;
  std::map<std::string, std::string> seen;
  std::string last_type, last_status;
  auto on_event = [&](std::int64_t event_id, const std::string& type, const std::string& data) {
    ids.push_back(event_id);
    last_type = type;
    last_status = Str(Parse(data), "status");
    if (type == "test") seen[Str(Parse(data), "name")] = last_status;
    return true;
  };
  http::Client first("127.0.0.1", s->port());
  http::StreamResult part = first.StreamEvents(
      target, 0,
      [&](std::int64_t event_id, const std::string& type, const std::string& data) {
        on_event(event_id, type, data);
        return ids.size() < 4;  // hang up after four events
      },
      20s);
  ASSERT_TRUE(part.ok()) << part.error;
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(part.last_event_id, 4);
  http::Client second("127.0.0.1", s->port());
  http::StreamResult rest = second.StreamEvents(target, part.last_event_id, on_event, 20s);
  ASSERT_TRUE(rest.ok()) << rest.error;
  // No duplicates, in order. (A test state that a later one replaced while the client was
  // away is not sent again: the stream catches up with the latest states.)
  for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_LT(ids[i - 1], ids[i]);
  EXPECT_EQ(last_type, "run");
  EXPECT_EQ(last_status, "passed");
  // The client that came back knows what the API shows.
  const json::value run = GetRun(s, id);
  EXPECT_EQ(seen, TestStatuses(run));

  // Replaying the finished run gives every run state and each test once, as it ended.
  std::vector<std::int64_t> replay;
  std::vector<std::string> run_states;
  std::map<std::string, std::string> replayed;
  http::Client third("127.0.0.1", s->port());
  ASSERT_TRUE(third
                  .StreamEvents(
                      target, 0,
                      [&](std::int64_t event_id, const std::string& type,
                          const std::string& data) {
                        replay.push_back(event_id);
                        const json::value v = Parse(data);
                        if (type == "run") run_states.push_back(Str(v, "status"));
                        if (type == "test") {
                          EXPECT_TRUE(replayed.emplace(Str(v, "name"), Str(v, "status")).second)
                              << "test sent twice: " << data;
                        }
                        return true;
                      },
                      10s)
                  .ok());
  for (std::size_t i = 1; i < replay.size(); ++i) EXPECT_LT(replay[i - 1], replay[i]);
  EXPECT_EQ(replay.back(), ids.back());
  EXPECT_EQ(run_states, (std::vector<std::string>{"queued", "running", "passed"}));
  EXPECT_EQ(replayed, TestStatuses(run));
  std::vector<std::int64_t> after_end;
  http::StreamResult none = third.StreamEvents(
      target, ids.back(),
      [&](std::int64_t event_id, auto&, auto&) {
        after_end.push_back(event_id);
        return true;
      },
      5s);
  EXPECT_TRUE(none.ok()) << none.error;
  EXPECT_TRUE(after_end.empty());
}

TEST_F(ServeTest, EventStreamDoesNotHoldShutdownAndResumesAfterARestart) {
  Server* s = Start({"--shutdown-timeout", "200ms"});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Gate");
  const std::string target = fmt::format("/api/v1/runs/{}/events", id);
  std::vector<std::int64_t> ids;
  std::atomic<bool> running{false};
  http::StreamResult first;
  std::thread follower([&] {
    http::Client client("127.0.0.1", s->port());
    first = client.StreamEvents(
        target, 0,
        [&](std::int64_t event_id, const std::string& type, const std::string& data) {
          ids.push_back(event_id);
          if (type == "test" && Str(Parse(data), "status") == "running") running = true;
          return true;
        },
        20s);
  });
  ASSERT_TRUE(Eventually([&] { return running.load(); }));
  const auto signalled = Clock::now();
  s->Signal(SIGTERM);
  const std::optional<int> code = s->WaitExit(10s);
  follower.join();
  ASSERT_TRUE(code.has_value()) << "an open event stream kept the server up";
  EXPECT_EQ(*code, 0) << s->Err();
  EXPECT_LT(Clock::now() - signalled, 5s);
  ASSERT_FALSE(ids.empty());

  OpenGate();
  Server* again = Start();
  ASSERT_NE(again, nullptr);
  std::string last_status;
  http::Client client("127.0.0.1", again->port());
  http::StreamResult rest = client.StreamEvents(
      target, ids.back(),
      [&](std::int64_t event_id, const std::string& type, const std::string& data) {
        ids.push_back(event_id);
        if (type == "run") last_status = Str(Parse(data), "status");
        return true;
      },
      20s);
  ASSERT_TRUE(rest.ok()) << rest.error;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(ids[i], static_cast<std::int64_t>(i + 1)) << "no duplicates, no gaps";
  }
  EXPECT_EQ(last_status, "passed");
  EXPECT_GE(Int(GetRun(again, id), "resumed"), 1);
}

double MetricValue(const std::string& metrics, const std::string& prefix) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// --- Slow and stalled clients (issue 15, a hardened HTTP layer) ----------------------------

// Opens a TCP connection from `local` (any 127.x.y.z is this host) to the server and sends
// `bytes`; returns the descriptor, or -1.
int OpenConnection(std::uint16_t port, const std::string& local, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, local.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 ||
      (!bytes.empty() &&
       ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Issue 15's connection-exhaustion probe: 1,024 connections that never finish their request
// header made every other client, /healthz included, get 503 for 30 s at a time.
TEST_F(ServeTest, SlowHeaderConnectionsStarveNeitherProbesNorOtherClients) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  // 1,100 slowloris connections from 20 addresses (55 each: under the per-client limit, so
  // only the pool's capacity stands in their way), each with half a request header.
  std::vector<int> slow;
  for (int i = 0; i < 1100; ++i) {
    const int fd = OpenConnection(s->port(), fmt::format("127.0.0.{}", 10 + i % 20),
                                  "GET /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(errno);
    slow.push_back(fd);
  }
  // The server has accepted them once it holds a socket for each of the 1,024 it keeps.
  ASSERT_TRUE(Eventually([&] {
    int sockets = 0;
    for (const auto& fd : std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", s->pid()))) {
      std::error_code ec;
      sockets += std::filesystem::read_symlink(fd.path(), ec).string().starts_with("socket:");
    }
    return sockets >= 1024;
  }))
      << s->Err();
  // Probes and another client, each on a new connection, are answered.
  for (const char* target : {"/healthz", "/readyz", "/api/v1/suites", "/healthz"}) {
    http::Client client("127.0.0.1", s->port());
    const http::ClientResult r = client.Request("GET", target, {}, {}, 5s);
    ASSERT_TRUE(r.ok()) << target << ": " << r.error;
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
  }
  const http::ClientResult m = Call(s, "GET", "/metrics");
  EXPECT_GE(MetricValue(m.body, "handoff_http_connections_rejected_total{reason=\"evicted\"}"), 76)
      << m.body;
  for (int fd : slow) ::close(fd);
  // Limits are logged, not a line per connection.
  const std::string err = s->Err();
  std::size_t lines = 0;
  for (std::size_t at = err.find("reason=evicted"); at != std::string::npos;
       at = err.find("reason=evicted", at + 1)) {
    ++lines;
  }
  EXPECT_GE(lines, 1u) << err;
  EXPECT_LE(lines, 3u) << err;
}

// A connection beyond the per-client limit is refused; one from another address is not.
TEST_F(ServeTest, AClientBeyondItsConnectionLimitIsRefused) {
  Server* s = Start({"--max-connections-per-client", "3"});
  ASSERT_NE(s, nullptr);
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) held.push_back(OpenConnection(s->port(), "127.0.0.5", ""));
  const int extra = OpenConnection(s->port(), "127.0.0.5", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_GE(extra, 0);
  timeval timeout{10, 0};
  ::setsockopt(extra, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(extra, buffer, sizeof buffer, 0)) > 0) answer.append(buffer, static_cast<std::size_t>(n));
  ::close(extra);
  EXPECT_TRUE(answer.empty() || answer.starts_with("HTTP/1.1 503")) << answer;
  EXPECT_EQ(Call(s, "GET", "/healthz").status, 200);
  const http::ClientResult m = Call(s, "GET", "/metrics");
  EXPECT_EQ(MetricValue(m.body, "handoff_http_connections_rejected_total{reason=\"per_client_limit\"}"), 1)
      << m.body;
  for (int fd : held) ::close(fd);
  EXPECT_NE(s->Err().find("connection refused: the client holds too many connections"),
            std::string::npos)
      << s->Err();
}

// The events complete in `raw` (an event stream's bytes, cut anywhere) as (id, type, data).
std::vector<std::tuple<std::int64_t, std::string, std::string>> ParseSse(const std::string& raw) {
  std::vector<std::tuple<std::int64_t, std::string, std::string>> events;
  std::size_t at = raw.find("\r\n\r\n");
  if (at == std::string::npos) return events;
  at += 4;
  while (true) {
    const std::size_t end = raw.find("\n\n", at);
    if (end == std::string::npos) break;  // cut off: a client ignores it
    std::istringstream lines(raw.substr(at, end - at));
    std::string line, type, data;
    std::int64_t id = 0;
    while (std::getline(lines, line)) {
      if (line.starts_with("id: ")) id = std::stoll(line.substr(4));
      if (line.starts_with("event: ")) type = line.substr(7);
      if (line.starts_with("data: ")) data += line.substr(6);
    }
    if (id > 0) events.emplace_back(id, type, data);
    at = end + 2;
  }
  return events;
}

// Issue 15's memory probe: a subscriber that did not read was handed its own copy of every
// batch, up to 10,000 events. Now its lag is bounded in bytes: beyond --sse-max-lag it is
// disconnected, and it resumes with Last-Event-ID without losing or repeating an event.
TEST_F(ServeTest, AStreamThatFallsBehindIsDroppedAndResumesWithLastEventId) {
  Server* s = Start({"--sse-max-lag", "16KiB"});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Chatty");
  const std::string target = fmt::format("/api/v1/runs/{}/events", id);
  AwaitRun(s, id, [](const json::value& run) { return Str(run, "status") == "running"; });
  // A client that asks for the stream and reads nothing, with a tiny receive buffer.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(s->port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to), 0);
  const std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", target);
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  // Subscribed once the journal's running test is in its socket.
  std::string raw;
  char buffer[4096];
  timeval timeout{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  while (raw.find("\"Burst\"") == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    ASSERT_GT(n, 0) << raw;
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  // Thousands of events now, which the client does not read until it is dropped.
  OpenGate();
  ASSERT_TRUE(Eventually([&] {
    const http::ClientResult m = Call(s, "GET", "/metrics");
    return MetricValue(m.body, "handoff_http_connections_rejected_total{reason=\"stream_lag\"}") >= 1;
  }, 30s)) << s->Err();
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::vector<std::int64_t> ids;
  std::map<std::string, std::string> seen;
  std::string last_type, last_status;
  auto on_event = [&](std::int64_t event_id, const std::string& type, const std::string& data) {
    ids.push_back(event_id);
    last_type = type;
    last_status = Str(Parse(data), "status");
    if (type == "test") seen[Str(Parse(data), "name")] = last_status;
    return true;
  };
  for (const auto& [event_id, type, data] : ParseSse(raw)) on_event(event_id, type, data);
  ASSERT_FALSE(ids.empty());
  EXPECT_NE(last_type + last_status, "runpassed") << "dropped before the end";
  const std::int64_t resume_at = ids.back();

  // It resumes as EventSource would, again if it falls behind again (a loaded machine can
  // make this reader slower than the 16 KiB the server lets it lag).
  http::Client again("127.0.0.1", s->port());
  std::int64_t from = resume_at;
  for (int attempt = 0; attempt < 50 && last_type + last_status != "runpassed"; ++attempt) {
    const http::StreamResult rest = again.StreamEvents(target, from, on_event, 30s);
    ASSERT_TRUE(rest.ok()) << rest.error;
    from = ids.back();
  }
  for (std::size_t i = 1; i < ids.size(); ++i) {
    ASSERT_LT(ids[i - 1], ids[i]) << "an event repeated or out of order at " << i;
  }
  EXPECT_EQ(last_type, "run");
  EXPECT_EQ(last_status, "passed");
  const json::value run = GetRun(s, id);
  EXPECT_EQ(seen, TestStatuses(run)) << "the client that came back knows what the API shows";
  EXPECT_NE(s->Err().find("event stream closed: the client fell too far behind"),
            std::string::npos)
      << s->Err();
}

// --- Listing
// ---------------------------------------------------------------------------------------

TEST_F(ServeTest, RunsListingFiltersAndPages) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  std::vector<std::int64_t> all;
  for (int i = 0; i < 3; ++i) all.push_back(Trigger(s, "Fast", R"({"reference":"r1"})"));
  for (int i = 0; i < 2; ++i) all.push_back(Trigger(s, "Mixed", R"({"reference":"r2"})"));
  for (std::int64_t id : all) AwaitFinished(s, id);

  EXPECT_EQ(ListRuns(s, "suite=Fast").size(), 3u);
  EXPECT_EQ(ListRuns(s, "suite=Mixed").size(), 2u);
  EXPECT_EQ(ListRuns(s, "suite=NoSuch").size(), 0u);
  EXPECT_EQ(ListRuns(s, "reference=r1").size(), 3u);
  std::vector<json::value> failed = ListRuns(s, "status=failed");
  ASSERT_EQ(failed.size(), 2u);
  for (const json::value& r : failed) EXPECT_EQ(Str(r, "suite"), "Mixed");
  EXPECT_EQ(ListRuns(s, "suite=Fast&status=failed").size(), 0u);
  EXPECT_EQ(ListRuns(s, "status=passed&reference=r1").size(), 3u);

  // Pages of two, newest first, until next_cursor is null.
  std::vector<std::int64_t> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    json::value p = Get(s, "/api/v1/runs?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    EXPECT_LE(Arr(p, "runs").size(), 2u);
    for (const json::value& r : Arr(p, "runs")) seen.push_back(Int(r, "id"));
    if (IsNull(p, "next_cursor")) break;
    cursor = std::to_string(Int(p, "next_cursor"));
  }
  std::vector<std::int64_t> want = all;
  std::sort(want.rbegin(), want.rend());
  EXPECT_EQ(seen, want);
}

// --- Schedules
// ---------------------------------------------------------------------------------------

TEST_F(ServeTest, ScheduleCreatedOverTheApiStartsRunsAndCanBeDeleted) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  json::value created = Json(s, "POST", "/api/v1/schedules",
                             R"({"name":"every-second","suite":"Fast","spec":"@every 1s"})", 201);
  EXPECT_EQ(Str(created, "name"), "every-second");
  EXPECT_FALSE(Bool(created, "from_code"));
  EXPECT_FALSE(IsNull(created, "next_run"));
  Json(s, "POST", "/api/v1/schedules",
       R"({"name":"every-second","suite":"Fast","spec":"@every 1s"})", 409);

  json::value scheduled;
  ASSERT_TRUE(Eventually(
      [&] {
        for (const json::value& r : ListRuns(s, "suite=Fast")) {
          if (Str(r, "trigger") == "schedule") {
            scheduled = r;
            return true;
          }
        }
        return false;
      },
      10s))
      << "no scheduled run";
  EXPECT_EQ(Str(scheduled, "schedule"), "every-second");
  EXPECT_EQ(Str(AwaitFinished(s, Int(scheduled, "id")), "status"), "passed");
  const json::value listed = Get(s, "/api/v1/schedules");
  ASSERT_EQ(Arr(listed, "schedules").size(), 1u);
  const json::value fast = Get(s, "/api/v1/suites/Fast");
  ASSERT_EQ(Arr(fast, "schedules").size(), 1u) << json::serialize(fast);
  EXPECT_EQ(Str(Arr(fast, "schedules")[0], "name"), "every-second");

  // Pause and resume.
  EXPECT_TRUE(Bool(Json(s, "POST", "/api/v1/schedules/every-second/pause", {}, 200), "paused"));
  EXPECT_FALSE(Bool(Json(s, "POST", "/api/v1/schedules/every-second/resume", {}, 200), "paused"));

  http::ClientResult deleted = Call(s, "DELETE", "/api/v1/schedules/every-second");
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_TRUE(deleted.body.empty());
  Json(s, "GET", "/api/v1/schedules/every-second", {}, 404);
  Json(s, "DELETE", "/api/v1/schedules/every-second", {}, 404);
  EXPECT_EQ(Arr(Get(s, "/api/v1/schedules"), "schedules").size(), 0u);
}

TEST_F(ServeTest, StoredSchedulesSurviveARestart) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  Json(
      s, "POST", "/api/v1/schedules",
      R"({"name":"hourly","suite":"Mixed","spec":"0 * * * *","time_zone":"Europe/Paris","filter":"Pass"})",
      201);
  Json(s, "POST", "/api/v1/schedules/hourly/pause", {}, 200);
  s->Signal(SIGTERM);
  ASSERT_EQ(s->WaitExit(10s), 0);

  Server* again = Start();
  ASSERT_NE(again, nullptr);
  const json::value hourly = Get(again, "/api/v1/schedules/hourly");
  EXPECT_EQ(Str(hourly, "suite"), "Mixed");
  EXPECT_EQ(Str(hourly, "spec"), "0 * * * *");
  EXPECT_EQ(Str(hourly, "time_zone"), "Europe/Paris");
  EXPECT_EQ(Str(hourly, "filter"), "Pass");
  EXPECT_TRUE(Bool(hourly, "paused")) << json::serialize(hourly);
  EXPECT_EQ(Call(again, "DELETE", "/api/v1/schedules/hourly").status, 204);
  again->Signal(SIGTERM);
  ASSERT_EQ(again->WaitExit(10s), 0);

  Server* third = Start();
  ASSERT_NE(third, nullptr);
  Json(third, "GET", "/api/v1/schedules/hourly", {}, 404);
}

TEST_F(ServeTest, BadSchedulesAreRejectedNamingTheProblem) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  auto message = [&](const std::string& body, int status) {
    json::value v = Json(s, "POST", "/api/v1/schedules", body, status);
    const json::value* e = Field(v, "error");
    return e == nullptr ? std::string() : Str(*e, "message");
  };
  std::string m = message(R"({"name":"x","suite":"Fast","spec":"@every banana"})", 400);
  EXPECT_NE(m.find("banana"), std::string::npos) << m;
  m = message(R"({"name":"x","suite":"Fast","spec":"61 * * * *"})", 400);
  EXPECT_NE(m.find("61"), std::string::npos) << m;
  m = message(R"({"name":"x","suite":"Fast","spec":"@hourly","time_zone":"Mars/Olympus"})", 400);
  EXPECT_TRUE(m.starts_with("time_zone: unknown time zone \"Mars/Olympus\"")) << m;
  m = message(R"({"name":"a/b","suite":"Fast","spec":"@hourly"})", 400);
  EXPECT_TRUE(m.starts_with("name: ") && m.find('/') != std::string::npos) << m;
  m = message(R"({"name":"a\u0007b","suite":"Fast","spec":"@hourly"})", 400);
  EXPECT_TRUE(m.starts_with("name: may not contain control characters")) << m;
  m = message(fmt::format(R"({{"name":"{}","suite":"Fast","spec":"@hourly"}})",
                          std::string(101, 'n')),
              400);
  EXPECT_TRUE(m.starts_with("name: at most 100 characters")) << m;
  // A filter that selects nothing is refused with the words a manual trigger gets.
  const json::value refused =
      Json(s, "POST", "/api/v1/suites/Fast/runs", R"({"filter":"NoSuchTest"})", 400);
  ASSERT_NE(Field(refused, "error"), nullptr) << json::serialize(refused);
  const std::string trigger_refusal = Str(*Field(refused, "error"), "message");
  m = message(R"({"name":"x","suite":"Fast","spec":"@hourly","filter":"NoSuchTest"})", 400);
  EXPECT_EQ(m, trigger_refusal);
  EXPECT_NE(m.find("selects no test"), std::string::npos) << m;
  m = message(R"({"name":"x","suite":"Fast","spec":"@hourly","filter":"("})", 400);
  EXPECT_NE(m.find("filter"), std::string::npos) << m;
  m = message(R"({"suite":"Fast","spec":"@hourly"})", 400);
  EXPECT_NE(m.find("name"), std::string::npos) << m;
  m = message(R"({"name":"x","suite":"NoSuch","spec":"@hourly"})", 404);
  EXPECT_NE(m.find("NoSuch"), std::string::npos) << m;
  m = message(R"({"name":"x","suite":"Fast","spec":"@hourly","color":"red"})", 400);
  EXPECT_NE(m.find("color"), std::string::npos) << m;
  EXPECT_EQ(Arr(Get(s, "/api/v1/schedules"), "schedules").size(), 0u);
}

TEST_F(ServeTest, CodeDeclaredScheduleRunsAndCannotBeDeleted) {
  Server* s = Start({}, {{"SERVE_FIXTURE_SCHEDULE", "1"}});
  ASSERT_NE(s, nullptr);
  const json::value schedule = Get(s, "/api/v1/schedules/fast-every-second");
  EXPECT_TRUE(Bool(schedule, "from_code"));
  EXPECT_EQ(Str(schedule, "spec"), "@every 1s");
  json::value refused = Json(s, "DELETE", "/api/v1/schedules/fast-every-second", {}, 409);
  EXPECT_EQ(Str(*Field(refused, "error"), "code"), "conflict");
  std::int64_t id = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        for (const json::value& r : ListRuns(s, "suite=Fast")) {
          if (Str(r, "schedule") == "fast-every-second" && Str(r, "trigger") == "schedule") {
            id = Int(r, "id");
            return true;
          }
        }
        return false;
      },
      10s));
  EXPECT_EQ(Str(AwaitFinished(s, id), "status"), "passed");
  Get(s, "/api/v1/schedules/fast-every-second");  // still there
}

// Reads one sample of /metrics: the value of the first line starting with `prefix`.
TEST_F(ServeTest, ScheduleDoesNotPileUpRunsWhileItsRunIsBlocked) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  Json(s, "POST", "/api/v1/schedules",
       R"({"name":"gate-every-second","suite":"Gate","spec":"@every 1s"})", 201);
  // Wait until two firings were skipped because the first run has not finished.
  ASSERT_TRUE(Eventually(
      [&] {
        const std::string m = Call(s, "GET", "/metrics").body;
        return MetricValue(m, "handoff_schedule_skipped_total{schedule=\"gate-every-second\"}") >=
               2;
      },
      15s))
      << Call(s, "GET", "/metrics").body;
  std::vector<json::value> runs = ListRuns(s, "suite=Gate");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(Str(runs[0], "status"), "running");
  EXPECT_EQ(Str(runs[0], "trigger"), "schedule");
  Call(s, "POST", "/api/v1/schedules/gate-every-second/pause");
  OpenGate();
  EXPECT_EQ(Str(AwaitFinished(s, Int(runs[0], "id")), "status"), "passed");
}

// --- Concurrency
// ----------------------------------------------------------------------------------

TEST_F(ServeTest, SkipSuiteRefusesASecondRunWhileOneRuns) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t first = Trigger(s, "Skipper");
  ASSERT_GT(first, 0);
  json::value refused = Json(s, "POST", "/api/v1/suites/Skipper/runs", "{}", 409);
  EXPECT_EQ(Str(*Field(refused, "error"), "code"), "conflict");
  EXPECT_NE(Str(*Field(refused, "error"), "message").find(std::to_string(first)), std::string::npos)
      << json::serialize(refused);
  AwaitRun(s, first, [](const json::value& r) { return Str(r, "status") == "running"; });
  Json(s, "POST", "/api/v1/suites/Skipper/runs", "{}", 409);
  EXPECT_EQ(ListRuns(s, "suite=Skipper").size(), 1u);
  // A queue suite (Gate) is not affected.
  const std::int64_t gate = Trigger(s, "Gate");
  const std::int64_t gate2 = Trigger(s, "Gate");
  OpenGate();
  EXPECT_EQ(Str(AwaitFinished(s, first), "status"), "passed");
  const std::int64_t second = Trigger(s, "Skipper");
  EXPECT_EQ(Str(AwaitFinished(s, second), "status"), "passed");
  EXPECT_EQ(Str(AwaitFinished(s, gate), "status"), "passed");
  EXPECT_EQ(Str(AwaitFinished(s, gate2), "status"), "passed");
}

TEST_F(ServeTest, MaxConcurrentRunsQueuesOtherSuites) {
  Server* s = Start({"--max-concurrent-runs", "1"});
  ASSERT_NE(s, nullptr);
  const std::int64_t gate = Trigger(s, "Gate");
  AwaitRun(s, gate, [](const json::value& r) { return Str(r, "status") == "running"; });
  const std::int64_t fast = Trigger(s, "Fast");
  EXPECT_EQ(Str(GetRun(s, fast), "status"), "queued");
  EXPECT_EQ(MetricValue(Call(s, "GET", "/metrics").body, "handoff_run_queue_depth "), 1);
  EXPECT_EQ(MetricValue(Call(s, "GET", "/metrics").body, "handoff_runs_running "), 1);
  // While the gate is closed, the queued run does not start.
  const json::value still = GetRun(s, fast);
  EXPECT_EQ(Str(still, "status"), "queued");
  EXPECT_TRUE(IsNull(still, "started_at"));
  OpenGate();
  const json::value g = AwaitFinished(s, gate);
  const json::value f = AwaitFinished(s, fast);
  EXPECT_EQ(Str(f, "status"), "passed");
  EXPECT_GE(Str(f, "started_at"), Str(g, "finished_at"));
}

// --- Durability
// --------------------------------------------------------------------------------------

TEST_F(ServeTest, SigkillLosesNothingReportedAndTheRunResumes) {
  const std::string hook_log = dir_ + "/hooks.jsonl";
  Server* s = Start({}, {{"SERVE_FIXTURE_HOOK_LOG", hook_log}});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Slow", R"({"filter":"^Step"})");
  const json::value before =
      AwaitRun(s, id, [](const json::value& r) { return CountFinishedTests(r) >= 2; });
  // What the API has shown finished, with when each test started.
  std::map<std::string, std::pair<std::string, std::string>> shown;
  for (const json::value& t : Arr(before, "tests")) {
    const std::string status = Str(t, "status");
    if (status == "passed" || status == "failed" || status == "skipped") {
      shown[Str(t, "name")] = {status, Str(t, "started_at")};
    }
  }
  ASSERT_GE(shown.size(), 2u);
  s->Signal(SIGKILL);
  ASSERT_EQ(s->WaitExit(5s), -SIGKILL);

  Server* again = Start({}, {{"SERVE_FIXTURE_HOOK_LOG", hook_log}});
  ASSERT_NE(again, nullptr);
  const json::value resumed = GetRun(again, id);
  EXPECT_TRUE(Str(resumed, "status") == "running" || Str(resumed, "status") == "passed")
      << json::serialize(resumed);
  for (const auto& [name, status_started] : shown) {
    const json::value* t = FindTest(resumed, name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(Str(*t, "status"), status_started.first) << name;
    EXPECT_EQ(Str(*t, "started_at"), status_started.second) << name << " must not run again";
  }
  const json::value done = AwaitFinished(again, id);
  EXPECT_EQ(Str(done, "status"), "passed") << json::serialize(done) << again->Err();
  EXPECT_GE(Int(done, "resumed"), 1);
  EXPECT_EQ(Arr(done, "tests").size(), 6u);
  for (const auto& [name, status] : TestStatuses(done)) EXPECT_EQ(status, "passed") << name;
  for (const auto& [name, status_started] : shown) {
    EXPECT_EQ(Str(*FindTest(done, name), "started_at"), status_started.second) << name;
  }
  // The stream of the resumed run goes on from where the killed server left it: in order,
  // each test once, as it ended.
  std::vector<std::int64_t> ids;
  std::map<std::string, std::string> streamed;
  http::Client client("127.0.0.1", again->port());
  ASSERT_TRUE(client
                  .StreamEvents(
                      fmt::format("/api/v1/runs/{}/events", id), 0,
                      [&](std::int64_t event_id, const std::string& type,
                          const std::string& data) {
                        ids.push_back(event_id);
                        if (type == "test") {
                          const json::value v = Parse(data);
                          EXPECT_TRUE(streamed.emplace(Str(v, "name"), Str(v, "status")).second)
                              << data;
                        }
                        return true;
                      },
                      10s)
                  .ok());
  for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_LT(ids[i - 1], ids[i]);
  EXPECT_EQ(streamed, TestStatuses(done));

  // Hooks hear of each test finishing at most once across the two servers (the killed one may
  // not have told them everything), of the tests finished after the restart exactly once, and
  // of the run finishing once.
  ASSERT_TRUE(Eventually(
      [&] { return ReadFile(hook_log).find("\"call\":\"OnRunFinished\"") != std::string::npos; },
      10s))
      << ReadFile(hook_log);
  std::map<std::string, int> told;
  int started = 0, finished = 0;
  std::istringstream in(ReadFile(hook_log));
  for (std::string line; std::getline(in, line);) {
    const json::value call = Parse(line);
    if (Int(call, "run") != id) continue;
    if (Str(call, "call") == "OnTestFinished") ++told[Str(call, "test")];
    if (Str(call, "call") == "OnRunStarted") ++started;
    if (Str(call, "call") == "OnRunFinished") ++finished;
  }
  for (const auto& [name, status] : TestStatuses(done)) {
    EXPECT_LE(told[name], 1) << name << " announced twice:\n" << ReadFile(hook_log);
    if (shown.count(name) == 0) EXPECT_EQ(told[name], 1) << name << ":\n" << ReadFile(hook_log);
  }
  EXPECT_EQ(finished, 1) << ReadFile(hook_log);
  EXPECT_GE(started, 1);
}

TEST_F(ServeTest, SigkillRightAfterAStreamedResultKeepsIt) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Slow", R"({"filter":"^Step[1-4]$"})");
  // Kill the server the moment the live stream reports Step2 finished.
  http::Client client("127.0.0.1", s->port());
  std::string step2_started;
  http::StreamResult streamed = client.StreamEvents(
      fmt::format("/api/v1/runs/{}/events", id), 0,
      [&](std::int64_t, const std::string& type, const std::string& data) {
        const json::value v = Parse(data);
        if (type == "test" && Str(v, "name") == "Step2" && Str(v, "status") == "passed") {
          ::kill(s->pid(), SIGKILL);
          step2_started = Str(v, "started_at");
          return false;
        }
        return true;
      },
      20s);
  ASSERT_TRUE(streamed.ok()) << streamed.error;
  ASSERT_FALSE(step2_started.empty()) << "the stream never showed Step2 passed";
  ASSERT_EQ(s->WaitExit(5s), -SIGKILL);

  Server* again = Start();
  ASSERT_NE(again, nullptr);
  const json::value after = GetRun(again, id);
  ASSERT_NE(FindTest(after, "Step2"), nullptr);
  EXPECT_EQ(Str(*FindTest(after, "Step2"), "status"), "passed") << json::serialize(after);
  EXPECT_EQ(Str(*FindTest(after, "Step2"), "started_at"), step2_started);
  EXPECT_EQ(Str(*FindTest(after, "Step1"), "status"), "passed") << json::serialize(after);
  const json::value done = AwaitFinished(again, id);
  EXPECT_EQ(Str(done, "status"), "passed") << json::serialize(done);
  EXPECT_GE(Int(done, "resumed"), 1);
  EXPECT_EQ(Str(*FindTest(done, "Step2"), "started_at"), step2_started) << "Step2 ran again";
}

TEST_F(ServeTest, SigtermStopsPromptlyAndTheRunResumesAtTheNextStart) {
  Server* s = Start({"--shutdown-timeout", "200ms"});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Slow", R"({"filter":"^Step"})");
  AwaitRun(s, id, [](const json::value& r) { return TestStatuses(r)["Step1"] == "passed"; });
  const auto signalled = Clock::now();
  s->Signal(SIGTERM);
  const std::optional<int> code = s->WaitExit(10s);
  ASSERT_TRUE(code.has_value()) << "still running 10s after SIGTERM";
  EXPECT_EQ(*code, 0) << s->Err();
  EXPECT_LT(Clock::now() - signalled, 3s) << "a 200ms shutdown timeout took long";

  Server* again = Start();
  ASSERT_NE(again, nullptr);
  const json::value done = AwaitFinished(again, id);
  EXPECT_EQ(Str(done, "status"), "passed") << json::serialize(done);
  EXPECT_GE(Int(done, "resumed"), 1);
  EXPECT_EQ(Arr(done, "tests").size(), 6u);
  for (const auto& [name, status] : TestStatuses(done)) EXPECT_EQ(status, "passed") << name;
  // New runs are refused once shutting down; after a clean stop /readyz is back at the new start.
  EXPECT_EQ(Call(again, "GET", "/readyz").status, 200);
}

TEST_F(ServeTest, SigtermKillsATestIgnoringTheStopAndItRunsAgainAtTheNextStart) {
  Server* s = Start({"--shutdown-timeout", "100ms"});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Slow", R"({"filter":"^(Step1|Stubborn)$"})");
  AwaitRun(s, id, [](const json::value& r) { return TestStatuses(r)["Stubborn"] == "running"; });
  s->Signal(SIGTERM);
  const std::optional<int> code = s->WaitExit(10s);
  ASSERT_TRUE(code.has_value()) << "still running 10s after SIGTERM";
  EXPECT_EQ(*code, 0) << s->Err();

  Server* again = Start();
  ASSERT_NE(again, nullptr);
  const json::value done = AwaitFinished(again, id);
  EXPECT_EQ(Str(done, "status"), "passed") << json::serialize(done) << s->Err() << again->Err();
  EXPECT_GE(Int(done, "resumed"), 1);
  EXPECT_EQ(TestStatuses(done),
            (std::map<std::string, std::string>{{"Step1", "passed"}, {"Stubborn", "passed"}}));
  // Stubborn's successful run is the one after the restart.
  const json::value detail = Get(again, fmt::format("/api/v1/runs/{}/tests/Stubborn", id));
  EXPECT_NE(json::serialize(detail).find("stubborn done"), std::string::npos)
      << json::serialize(detail);
}

TEST_F(ServeTest, RetentionDeletesFinishedRunsOnly) {
  Server* s = Start({"--retention", "1s", "--max-concurrent-runs", "2"});
  ASSERT_NE(s, nullptr);
  const std::int64_t blocked = Trigger(s, "Gate");
  const std::int64_t fast = Trigger(s, "Fast");
  AwaitFinished(s, fast);
  ASSERT_TRUE(Eventually(
      [&] { return Call(s, "GET", fmt::format("/api/v1/runs/{}", fast)).status == 404; }, 15s))
      << "run " << fast << " outlived --retention 1s";
  EXPECT_EQ(ListRuns(s, "suite=Fast").size(), 0u);
  // The blocked run is older than the retention but not finished: it stays.
  EXPECT_EQ(Str(GetRun(s, blocked), "status"), "running");
  EXPECT_GE(MetricValue(Call(s, "GET", "/metrics").body, "handoff_retention_deleted_runs_total "),
            1);
  OpenGate();
  // Once finished it is past the retention at once, and may be gone before a poll sees it:
  // the counter of finished runs says how it ended.
  const std::regex gate_passed(
      R"(handoff_testsuite_runs_total\{[^}]*suite="Gate"[^}]*result="passed"[^}]*\} 1)");
  EXPECT_TRUE(Eventually(
      [&] { return std::regex_search(Call(s, "GET", "/metrics").body, gate_passed); }, 15s))
      << "run " << blocked << " did not pass once its gate opened";
}

// --- Hooks
// ---------------------------------------------------------------------------------------------

TEST_F(ServeTest, HooksSeeRunsAndBrokenHooksStopNothing) {
  const std::string log = dir_ + "/hooks.jsonl";
  Server* s = Start({}, {{"SERVE_FIXTURE_HOOK_LOG", log},
                         {"SERVE_FIXTURE_THROWING_HOOK", "1"},
                         {"SERVE_FIXTURE_HANGING_HOOK", "1"}});
  ASSERT_NE(s, nullptr);
  const std::int64_t mixed = Trigger(s, "Mixed");
  const std::int64_t fast = Trigger(s, "Fast");
  EXPECT_EQ(Str(AwaitFinished(s, mixed), "status"), "failed");
  EXPECT_EQ(Str(AwaitFinished(s, fast), "status"), "passed");
  // The recording hook attaches hooked=yes once it saw each run finish.
  for (std::int64_t id : {mixed, fast}) {
    const json::value run = AwaitRun(s, id, [](const json::value& r) {
      const json::value* values = Field(r, "values");
      return values != nullptr && Str(*values, "hooked") == "yes";
    });
    ASSERT_NE(Field(run, "values"), nullptr) << json::serialize(run);
    EXPECT_EQ(Str(*Field(run, "values"), "hooked"), "yes") << json::serialize(run);
  }

  std::vector<json::value> calls;
  {
    std::istringstream in(ReadFile(log));
    for (std::string line; std::getline(in, line);) calls.push_back(Parse(line));
  }
  auto calls_of = [&](std::int64_t run, const std::string& call) {
    std::vector<json::value> out;
    for (const json::value& c : calls) {
      if (Int(c, "run") == run && Str(c, "call") == call) out.push_back(c);
    }
    return out;
  };
  ASSERT_EQ(calls_of(mixed, "OnRunStarted").size(), 1u) << ReadFile(log);
  EXPECT_EQ(Str(calls_of(mixed, "OnRunStarted")[0], "status"), "running");
  std::map<std::string, std::string> finished;
  for (const json::value& c : calls_of(mixed, "OnTestFinished")) {
    EXPECT_EQ(finished.count(Str(c, "test")), 0u) << "called twice for " << Str(c, "test");
    finished[Str(c, "test")] = Str(c, "status");
  }
  EXPECT_EQ(finished, (std::map<std::string, std::string>{{"Passes", "passed"},
                                                          {"Fails", "failed"},
                                                          {"Skips", "skipped"},
                                                          {"Flaky", "passed"},
                                                          {"Script", "passed"}}))
      << ReadFile(log);
  const std::vector<json::value> ends = calls_of(mixed, "OnRunFinished");
  ASSERT_EQ(ends.size(), 1u) << ReadFile(log);
  const json::value& end = ends[0];
  EXPECT_EQ(Str(end, "status"), "failed");
  EXPECT_EQ(Int(end, "tests_total"), 5);
  EXPECT_EQ(Int(end, "tests_failed"), 1);
  ASSERT_EQ(calls_of(fast, "OnRunFinished").size(), 1u);
  EXPECT_EQ(Str(calls_of(fast, "OnRunFinished")[0], "status"), "passed");
  EXPECT_EQ(calls_of(fast, "OnTestFinished").size(), 4u) << "Hello, Hello/sub, Values, Greeting";
  // The hook's calls for a run come in order: started, tests, finished.
  std::vector<std::string> order;
  for (const json::value& c : calls) {
    if (Int(c, "run") == mixed) order.push_back(Str(c, "call"));
  }
  ASSERT_FALSE(order.empty());
  EXPECT_EQ(order.front(), "OnRunStarted");
  EXPECT_EQ(order.back(), "OnRunFinished");

  // The throwing hook (on its own thread and queue) is counted and logged: for each run one
  // start, one finish and one call per test and subtest (Mixed 5, Fast 4) threw.
  auto thrown = [&] {
    return MetricValue(Call(s, "GET", "/metrics").body,
                       "handoff_hook_errors_total{hook=\"throwing\"}");
  };
  EXPECT_TRUE(Eventually([&] { return thrown() >= 13; }, 10s));
  EXPECT_EQ(thrown(), 13);
  EXPECT_NE(s->Err().find("boom"), std::string::npos) << s->Err();

  // The hanging hook does not keep the server from stopping. While it drains (the hook is
  // given 5s), the server says it is not ready and refuses new runs.
  s->Signal(SIGTERM);
  EXPECT_TRUE(Eventually(
      [&] {
        http::ClientResult r = Call(s, "GET", "/readyz");
        return !r.ok() || r.status == 503;
      },
      5s));
  http::ClientResult late = Call(s, "POST", "/api/v1/suites/Fast/runs", "{}");
  ASSERT_TRUE(late.ok()) << late.error;
  EXPECT_EQ(late.status, 503) << late.body;
  EXPECT_EQ(Str(*Field(Parse(late.body), "error"), "code"), "unavailable") << late.body;
  const std::optional<int> code = s->WaitExit(15s);
  ASSERT_TRUE(code.has_value()) << "a hanging hook kept the server up\n" << s->Err();
  EXPECT_EQ(*code, 0) << s->Err();
}

// --- Operations
// ----------------------------------------------------------------------------------------

TEST_F(ServeTest, MetricsPassPromtoolAndCountRuns) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  AwaitFinished(s, Trigger(s, "Fast"));
  AwaitFinished(s, Trigger(s, "Mixed"));
  http::ClientResult r = Call(s, "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.Header("Content-Type").find("text/plain"), std::string::npos);
  const std::string& m = r.body;
  std::regex passed(
      R"(handoff_testsuite_runs_total\{[^}]*suite="Fast"[^}]*result="passed"[^}]*\} 1)");
  EXPECT_TRUE(std::regex_search(m, passed)) << m;
  std::regex failed(
      R"(handoff_testsuite_runs_total\{[^}]*suite="Mixed"[^}]*result="failed"[^}]*\} 1)");
  EXPECT_TRUE(std::regex_search(m, failed)) << m;
  EXPECT_NE(m.find("handoff_tests_run_total{"), std::string::npos) << m;
  // The HTTP server's own metrics join the engine's.
  EXPECT_NE(m.find("handoff_http_connections_rejected_total{reason=\"header_timeout\"} 0"),
            std::string::npos)
      << m;
  EXPECT_NE(
      m.find("handoff_tests_run_total{namespace=\"serve\",suite=\"Fast\",result=\"passed\"} 4"),
      std::string::npos)
      << m;
  const std::string file = dir_ + "/metrics.txt";
  std::ofstream(file) << m;
  if (::access("/usr/bin/promtool", X_OK) == 0) {
    ProcessResult p = RunProcess({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + file});
    EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  } else if (InCi()) {
    ADD_FAILURE() << "promtool is required in CI";
  }
  EXPECT_EQ(Call(s, "GET", "/healthz").status, 200);
  EXPECT_EQ(Call(s, "GET", "/readyz").status, 200);
}

// The gauges behind the alerts "a suite's latest run failed" and "a scheduled suite stopped
// running" (deploy/prometheus/alerts.yml): when each suite last finished a run with each
// result, kept across a restart, and when each unpaused schedule is due next with the
// longest gap between its firings.
TEST_F(ServeTest, MetricsTellWhenSuitesLastRanAndWhenSchedulesAreDue) {
  const auto unix_now = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  Server* s = Start({}, {{"SERVE_FIXTURE_SCHEDULE", "1"}});
  ASSERT_NE(s, nullptr);
  const std::string mixed_last =
      "handoff_testsuite_last_run_timestamp_seconds{namespace=\"serve\",suite=\"Mixed\","
      "result=\"failed\"} ";
  const std::string next =
      "handoff_schedule_next_run_timestamp_seconds{schedule=\"fast-every-second\","
      "namespace=\"serve\",suite=\"Fast\"} ";
  const std::string gap =
      "handoff_schedule_max_interval_seconds{schedule=\"fast-every-second\",namespace=\"serve\","
      "suite=\"Fast\"} ";
  std::string m = Call(s, "GET", "/metrics").body;
  EXPECT_EQ(MetricValue(m, mixed_last), -1) << "Mixed has not run yet\n" << m;
  // Every counter of a suite is there from the start, at zero.
  EXPECT_NE(m.find("handoff_testsuite_runs_total{namespace=\"serve\",suite=\"Mixed\","
                   "result=\"failed\",flaky=\"true\"} 0\n"),
            std::string::npos)
      << m;
  const double before_next = unix_now();
  EXPECT_GT(MetricValue(m, next), before_next - 1.5) << m;
  EXPECT_LE(MetricValue(m, next), before_next + 1.5) << m;
  EXPECT_EQ(MetricValue(m, gap), 1) << m;
  // Its skips are counted from zero (so that increase() sees the first).
  EXPECT_GE(MetricValue(m, "handoff_schedule_skipped_total{schedule=\"fast-every-second\"}"), 0)
      << m;

  const double before = unix_now();
  AwaitFinished(s, Trigger(s, "Mixed"));
  const double after = unix_now();
  m = Call(s, "GET", "/metrics").body;
  const double last = MetricValue(m, mixed_last);
  EXPECT_GE(last, before - 0.01) << m;
  EXPECT_LE(last, after + 0.01) << m;
  EXPECT_EQ(m.find("handoff_testsuite_last_run_timestamp_seconds{namespace=\"serve\","
                   "suite=\"Mixed\",result=\"passed\"}"),
            std::string::npos)
      << "Mixed never passed\n" << m;

  // A paused schedule is not due: its series go, and come back when it resumes.
  Json(s, "POST", "/api/v1/schedules/fast-every-second/pause", {}, 200);
  m = Call(s, "GET", "/metrics").body;
  EXPECT_EQ(MetricValue(m, next), -1) << m;
  EXPECT_EQ(MetricValue(m, gap), -1) << m;
  Json(s, "POST", "/api/v1/schedules/fast-every-second/resume", {}, 200);
  EXPECT_EQ(MetricValue(Call(s, "GET", "/metrics").body, gap), 1);

  // A restart remembers when Mixed last failed (from the store), so neither "its latest run
  // failed" nor "stopped running" starts over with every restart.
  s->Signal(SIGTERM);
  ASSERT_EQ(s->WaitExit(10s), 0);
  Server* again = Start();
  ASSERT_NE(again, nullptr);
  m = Call(again, "GET", "/metrics").body;
  EXPECT_NEAR(MetricValue(m, mixed_last), last, 0.001) << m;
  // Without the schedule (not declared by this start), no schedule series.
  EXPECT_EQ(m.find("handoff_schedule_next_run_timestamp_seconds{"), std::string::npos) << m;
}

TEST_F(ServeTest, BadFlagsExitTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string flag;
  };
  const std::string db = Db();
  for (const Case& c : std::vector<Case>{
           {{"--port", "abc", "--db", db}, {}, "--port"},
           {{"--port", "70000", "--db", db}, {}, "--port"},
           {{"--port", "0", "--db", db, "--retention", "x"}, {}, "--retention"},
           {{"--port", "0", "--db", "mysql:x"}, {}, "--db"},
           {{"--port", "0", "--db", db, "--log-format", "xml"}, {}, "--log-format"},
           {{"--port", "0", "--db", db, "--max-concurrent-runs", "0"}, {}, "--max-concurrent-runs"},
           {{"--port", "0", "--db", db, "--shutdown-timeout", "soon"}, {}, "--shutdown-timeout"},
           {{"--port", "0", "--db", db, "--grace", "x"}, {}, "--grace"},
           {{"--port", "0", "--db", db}, {{"HANDOFF_RETENTION", "forever"}}, "--retention"},
           {{"--port", "0", "--db", db, "--secret-params", "PASSWORD,,*_KEY"}, {},
            "--secret-params"},
           {{"--port", "0", "--db", db}, {{"HANDOFF_SECRET_PARAMS", "PASSWORD,"}},
            "--secret-params"},
       }) {
    std::vector<std::string> argv = {SERVE_FIXTURE, "serve"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    ProcessResult r = RunProcess(argv, c.env, std::chrono::seconds(20));
    EXPECT_EQ(r.exit_code, 2) << fmt::format("{}", fmt::join(c.args, " ")) << "\n"
                              << r.out << r.err;
    EXPECT_NE(r.err.find(c.flag), std::string::npos)
        << fmt::format("{}", fmt::join(c.args, " ")) << ": stderr should name " << c.flag << ":\n"
        << r.err;
  }
}

TEST_F(ServeTest, EnvironmentVariablesConfigureAndFlagsWin) {
  const std::uint16_t env_port = FreePort();
  Server* from_env = Start({},
                           {{"HANDOFF_PORT", std::to_string(env_port)},
                            {"HANDOFF_DB", Db()},
                            {"HANDOFF_ENVIRONMENT", "from-env"}},
                           /*default_flags=*/false);
  ASSERT_NE(from_env, nullptr);
  EXPECT_EQ(from_env->port(), env_port);
  const std::int64_t id = Trigger(from_env, "Fast");
  EXPECT_EQ(Str(AwaitFinished(from_env, id), "environment"), "from-env");
  from_env->Signal(SIGTERM);
  EXPECT_EQ(from_env->WaitExit(10s), 0);

  std::uint16_t flag_port = FreePort();
  while (flag_port == env_port) flag_port = FreePort();
  Server* flag =
      Start({"--port", std::to_string(flag_port), "--environment", "from-flag"},
            {{"HANDOFF_PORT", std::to_string(env_port)}, {"HANDOFF_ENVIRONMENT", "from-env"}});
  ASSERT_NE(flag, nullptr);
  EXPECT_EQ(flag->port(), flag_port);
  EXPECT_EQ(Str(AwaitFinished(flag, Trigger(flag, "Fast")), "environment"), "from-flag");
  // The first server's run is still in the shared database.
  EXPECT_EQ(Str(GetRun(flag, id), "environment"), "from-env");
}

TEST_F(ServeTest, RemoteCommandTriggersWaitsAndGets) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  ProcessResult pass = RunProcess({SERVE_FIXTURE, "remote", "trigger", "Fast", "--server", s->url(),
                                   "--reference", "cli-ref", "--wait"},
                                  {}, std::chrono::seconds(60));
  EXPECT_EQ(pass.exit_code, 0) << pass.out << pass.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      pass.out, m, std::regex(R"(run (\d+) of Fast queued: )" + s->url() + R"(/runs/(\d+))")))
      << pass.out;
  const std::int64_t id = std::stoll(m[1]);
  EXPECT_EQ(m[1], m[2]);
  EXPECT_NE(pass.out.find("--- PASS: Hello ("), std::string::npos) << pass.out;
  EXPECT_NE(pass.out.find("--- PASS: Greeting ("), std::string::npos) << pass.out;
  EXPECT_NE(pass.out.find(fmt::format("run {} passed", id)), std::string::npos) << pass.out;
  const json::value run = GetRun(s, id);
  EXPECT_EQ(Str(run, "reference"), "cli-ref");
  EXPECT_EQ(Str(run, "trigger"), "cli");

  ProcessResult fail =
      RunProcess({SERVE_FIXTURE, "remote", "trigger", "Mixed", "--server", s->url(), "--wait"}, {},
                 std::chrono::seconds(60));
  EXPECT_EQ(fail.exit_code, 1) << fail.out << fail.err;
  EXPECT_NE(fail.out.find("--- FAIL: Fails ("), std::string::npos) << fail.out;
  EXPECT_NE(fail.out.find(" failed"), std::string::npos) << fail.out;

  ProcessResult param = RunProcess({SERVE_FIXTURE, "remote", "trigger", "Fast", "--server",
                                    s->url(), "--param", "greeting=bye", "--wait"},
                                   {}, std::chrono::seconds(60));
  EXPECT_EQ(param.exit_code, 1) << param.out << param.err;
  EXPECT_NE(param.out.find("--- FAIL: Greeting ("), std::string::npos) << param.out;

  ProcessResult get =
      RunProcess({SERVE_FIXTURE, "remote", "get", std::to_string(id), "--server", s->url()}, {},
                 std::chrono::seconds(30));
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_NE(get.out.find(fmt::format("run {}", id)), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("Fast"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("Greeting"), std::string::npos) << get.out;

  ProcessResult runs = RunProcess({SERVE_FIXTURE, "remote", "runs", "--server", s->url(), "--suite",
                                   "Fast", "--format", "json"},
                                  {}, std::chrono::seconds(30));
  EXPECT_EQ(runs.exit_code, 0) << runs.err;
  EXPECT_EQ(Arr(Parse(runs.out), "runs").size(), 2u) << runs.out;

  ProcessResult missing =
      RunProcess({SERVE_FIXTURE, "remote", "get", "999999", "--server", s->url()}, {},
                 std::chrono::seconds(30));
  EXPECT_NE(missing.exit_code, 0);

  const std::uint16_t closed = FreePort();
  ProcessResult refused = RunProcess({SERVE_FIXTURE, "remote", "trigger", "Fast", "--server",
                                      fmt::format("http://127.0.0.1:{}", closed)},
                                     {}, std::chrono::seconds(30));
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_FALSE(refused.err.empty());
}

// `remote` says what `run` says: a soft failure is SOFT FAIL (and the run passes), subtests
// sit under their parent, a cancel's unrun tests are CANCELLED, and no field is printed empty.
TEST_F(ServeTest, RemoteTellsSoftFailuresSubtestsAndCancelsApart) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  // host:port without http:// is accepted.
  const std::string host_port = s->url().substr(std::string("http://").size());
  ProcessResult soft = RunProcess(
      {SERVE_FIXTURE, "remote", "trigger", "Soft", "--server", host_port, "--wait"}, {}, 60s);
  EXPECT_EQ(soft.exit_code, 0) << soft.out << soft.err;
  EXPECT_NE(soft.out.find("--- SOFT FAIL: Known ("), std::string::npos) << soft.out;
  EXPECT_EQ(soft.out.find("--- FAIL"), std::string::npos) << soft.out;
  EXPECT_NE(soft.out.find("--- PASS: Fine ("), std::string::npos) << soft.out;
  EXPECT_NE(soft.out.find(" passed\n"), std::string::npos) << soft.out;

  // Subtests follow their parent, indented, while they stream and in `get`.
  ProcessResult fast = RunProcess(
      {SERVE_FIXTURE, "remote", "trigger", "Fast", "--server", host_port, "--wait"}, {}, 60s);
  EXPECT_EQ(fast.exit_code, 0) << fast.out << fast.err;
  const std::size_t hello = fast.out.find("--- PASS: Hello (");
  const std::size_t sub = fast.out.find("    --- PASS: Hello/sub (");
  const std::size_t values = fast.out.find("--- PASS: Values (");
  ASSERT_NE(sub, std::string::npos) << fast.out;
  EXPECT_LT(hello, sub) << fast.out;
  EXPECT_LT(sub, values) << fast.out;

  // A retried parent's subtests are printed once each, from its last attempt, in the order
  // they ran, though the stream sends both attempts' subtests.
  ProcessResult table = RunProcess(
      {SERVE_FIXTURE, "remote", "trigger", "Table", "--server", host_port, "--wait"}, {}, 60s);
  EXPECT_EQ(table.exit_code, 1) << table.out << table.err;
  const auto count = [&](std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t at = table.out.find(needle); at != std::string::npos;
         at = table.out.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count("--- FAIL: Total ("), 1u) << table.out;
  EXPECT_EQ(count("    --- PASS: Total/eur ("), 1u) << table.out;
  EXPECT_EQ(count("    --- FAIL: Total/usd ("), 1u) << table.out;
  EXPECT_EQ(count("total in usd = 300, want 301"), 1u) << table.out;
  const std::size_t total = table.out.find("--- FAIL: Total (");
  const std::size_t eur = table.out.find("--- PASS: Total/eur (");
  const std::size_t usd = table.out.find("--- FAIL: Total/usd (");
  EXPECT_LT(total, eur) << table.out;
  EXPECT_LT(eur, usd) << table.out;

  // Triggered over the API by nobody in particular: `get` prints no empty "by".
  const std::int64_t id = Trigger(s, "Fast");
  AwaitFinished(s, id);
  ProcessResult get = RunProcess(
      {SERVE_FIXTURE, "remote", "get", std::to_string(id), "--server", host_port}, {}, 30s);
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out.find(" by "), std::string::npos) << get.out;
  EXPECT_EQ(get.out.find("reference"), std::string::npos) << get.out;
  EXPECT_EQ(get.out.find("  \n"), std::string::npos) << "a line ends in spaces:\n" << get.out;
  EXPECT_EQ(get.out.find(" \n"), std::string::npos) << "a line ends in a space:\n" << get.out;
  std::vector<std::string> order;
  std::istringstream lines(get.out);
  for (std::string line; std::getline(lines, line);) {
    for (const char* name : {"Hello/sub", "Hello", "Values", "Greeting"}) {
      if (line.find(std::string("PASS") + std::string(7, ' ') + name) != std::string::npos) {
        order.push_back(line.substr(0, line.find("PASS")) + name);
        break;
      }
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"  Hello", "    Hello/sub", "  Values", "  Greeting"}))
      << get.out;

  // A run cancelled while `--wait` follows it: what never ran is CANCELLED, not skipped.
  ProcessResult cancelled;
  std::thread waiter([&] {
    cancelled = RunProcess({SERVE_FIXTURE, "remote", "trigger", "Slow", "--server", s->url(),
                            "--filter", "^Step", "--wait"},
                           {}, 60s);
  });
  std::int64_t slow = 0;
  EXPECT_TRUE(Eventually([&] {
    std::vector<json::value> runs = ListRuns(s, "suite=Slow");
    if (runs.empty()) return false;
    slow = Int(runs.front(), "id");
    return TestStatuses(GetRun(s, slow))["Step1"] == "passed";
  }));
  Json(s, "POST", fmt::format("/api/v1/runs/{}/cancel", slow), {}, 200);
  waiter.join();
  EXPECT_EQ(cancelled.exit_code, 1) << cancelled.out << cancelled.err;
  EXPECT_NE(cancelled.out.find("--- CANCELLED: Step6"), std::string::npos) << cancelled.out;
  EXPECT_EQ(cancelled.out.find("--- SKIP"), std::string::npos) << cancelled.out;
  EXPECT_NE(cancelled.out.find(fmt::format("run {} cancelled", slow)), std::string::npos)
      << cancelled.out;
}

// --- A store that never lies (issue 14, section 4) -------------------------------------------

// Returns the full path of program `name` found on PATH (RunProcess does not search it), or
// `name` itself if it is not found.
std::string OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;
}

// Runs the fixture's `serve` in the foreground (it is expected to exit), with `flags`.
ProcessResult RunServeExpectingExit(std::vector<std::string> flags) {
  std::vector<std::string> argv = {SERVE_FIXTURE, "serve"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return RunProcess(argv, {}, std::chrono::seconds(30));
}

TEST_F(ServeTest, SecondServerOnOneDatabaseExitsTwoNamingTheFirst) {
  Server* first = Start();
  ASSERT_NE(first, nullptr);
  ProcessResult second = RunServeExpectingExit({"--port", "0", "--db", Db()});
  EXPECT_EQ(second.exit_code, 2) << second.out << second.err;
  EXPECT_NE(second.err.find("is in use by another handoff server: pid " +
                            std::to_string(first->pid()) + " on host "),
            std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find(" since 20"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find(dir_ + "/h.db.lock"), std::string::npos) << second.err;
  EXPECT_EQ(second.out.find("serving"), std::string::npos) << second.out;

  // The first keeps serving, alone.
  const std::int64_t id = Trigger(first, "Fast", R"({"filter":"^Hello$"})");
  EXPECT_EQ(Str(AwaitFinished(first, id), "status"), "passed");

  // A lock left by a server that died does not block the next one.
  first->Signal(SIGKILL);
  ASSERT_EQ(first->WaitExit(5s), -SIGKILL);
  EXPECT_FALSE(ReadFile(dir_ + "/h.db.lock").empty());
  Server* next = Start();
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(Str(GetRun(next, id), "status"), "passed");
}

// Issue 14: a second server on the database of a running one "resumed" the first one's
// running run and executed it again, and when the first cancelled that run the second's
// result overwrote the cancel: the database said passed for a run the API said cancelled.
// Whatever a second server does, the first one's cancel is what the database keeps.
TEST_F(ServeTest, ACancelIsNotOverwrittenByASecondServerOnTheDatabase) {
  const std::string hook_log = dir_ + "/second-hooks.jsonl";
  Server* first = Start();
  ASSERT_NE(first, nullptr);
  const std::int64_t id = Trigger(first, "Gate");
  AwaitRun(first, id, [](const json::value& run) {
    return Str(run, "status") == "running" && TestStatuses(run)["Wait"] == "running";
  });

  // A second server on the same file; only it has a hook, so its log says what it ran.
  Server second({SERVE_FIXTURE, "serve", "--port", "0", "--db", Db(), "--grace", "200ms",
                 "--shutdown-timeout", "2s"},
                {{"SERVE_FIXTURE_GATE", gate_}, {"SERVE_FIXTURE_HOOK_LOG", hook_log}},
                dir_ + "/second-out.txt", dir_ + "/second-err.txt");
  std::string why_not;
  const bool second_serves = second.Start(&why_not);
  if (ServeTestsOnPostgres()) {
    // On PostgreSQL the second server is a replica (docs/scale-out.md): it serves, and must
    // neither run the first one's run nor undo its cancel.
    EXPECT_TRUE(second_serves) << why_not;
  } else {
    EXPECT_FALSE(second_serves) << "a second server serves the database of a running one";
  }

  Json(first, "POST", fmt::format("/api/v1/runs/{}/cancel", id), {}, 200);
  EXPECT_EQ(Str(AwaitFinished(first, id), "status"), "cancelled");
  OpenGate();
  if (second_serves) {
    // Lets the second server finish whatever it made of the run before the database is read.
    (void)Eventually([&] { return HookSawRunFinish(hook_log, id); }, 10s);
    EXPECT_EQ(ReadFile(hook_log).find("OnRunStarted"), std::string::npos)
        << "the second server executed the first one's run again:\n"
        << ReadFile(hook_log);
    second.Signal(SIGTERM);
    second.WaitExit(20s);
  }
  first->Signal(SIGTERM);
  ASSERT_EQ(first->WaitExit(20s), 0) << first->Err();

  // What the database says, read by the next server.
  Server* next = Start();
  ASSERT_NE(next, nullptr);
  const json::value stored = GetRun(next, id);
  EXPECT_EQ(Str(stored, "status"), "cancelled") << json::serialize(stored);
  EXPECT_EQ(TestStatuses(stored)["Wait"], "cancelled") << json::serialize(stored);
}

TEST_F(ServeTest, ACorruptDatabaseIsRefusedAndAnEmptyFileIsANewStore) {
  const std::string path = dir_ + "/h.db";
  {
    Server* s = Start();
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 20; ++i) {
      Trigger(s, "Fast", R"({"reference":"fill the database with a few pages of runs"})");
    }
    EXPECT_TRUE(Eventually([&] { return ListRuns(s, "status=passed&limit=100").size() == 20u; },
                           60s));
    s->Signal(SIGTERM);
    ASSERT_EQ(s->WaitExit(20s), 0) << s->Err();
  }
  const auto size = std::filesystem::file_size(path);
  ASSERT_GE(size, 4u * 4096u);
  {
    // Overwritten pages: every page after the first.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    const std::string garbage(size - 4096, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  ProcessResult corrupt = RunServeExpectingExit({"--port", "0", "--db", Db()});
  EXPECT_EQ(corrupt.exit_code, 2) << corrupt.out << corrupt.err;
  EXPECT_NE(corrupt.err.find("database \"" + path + "\" is corrupt"), std::string::npos)
      << corrupt.err;
  EXPECT_EQ(corrupt.err.find("--help"), std::string::npos) << corrupt.err;
  EXPECT_EQ(corrupt.out.find("serving"), std::string::npos) << corrupt.out;

  // A file that is not a database at all (a garbage header).
  std::filesystem::remove(path);
  std::ofstream(path) << std::string(10000, 'g');
  ProcessResult garbage = RunServeExpectingExit({"--port", "0", "--db", Db()});
  EXPECT_EQ(garbage.exit_code, 2) << garbage.out << garbage.err;
  EXPECT_NE(garbage.err.find("database \"" + path + "\" is corrupt or not a SQLite database"),
            std::string::npos)
      << garbage.err;
  EXPECT_EQ(std::filesystem::file_size(path), 10000u);  // left as it was

  // An empty file is a new store, and says so.
  std::filesystem::remove(path);
  std::ofstream(path).close();
  Server* fresh = Start();
  ASSERT_NE(fresh, nullptr);
  EXPECT_NE(fresh->Err().find("new store: the database file is empty; initialising it"),
            std::string::npos)
      << fresh->Err();
  const std::int64_t id = Trigger(fresh, "Fast", R"({"filter":"^Hello$"})");
  EXPECT_EQ(Str(AwaitFinished(fresh, id), "status"), "passed");
}

// A 2 MiB tmpfs mounted for one test, unmounted on every path out of it (lazily: a server
// killed in TearDown may still have its files open), and a way to fill it to the brim.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(std::string path) : path_(std::move(path)) {}
  ~SmallTmpfs() {
    if (mounted_) RunProcess({OnPath("umount"), "-l", path_});
  }

  // Mounts it; returns "" or why it could not be mounted.
  std::string Mount() {
    if (::geteuid() != 0) return "mounting a small tmpfs needs root (run as root, e.g. in .ci/run)";
    std::filesystem::create_directories(path_);
    ProcessResult r = RunProcess({OnPath("mount"), "-t", "tmpfs", "-o", "size=2m", "tmpfs", path_});
    if (r.exit_code != 0) return "cannot mount a tmpfs here: " + r.err;
    mounted_ = true;
    return {};
  }

  // Writes a file until the file system has no byte left.
  void Fill() {
    const int fd = ::open(FillPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    const std::string chunk(64 * 1024, 'f');
    std::size_t size = chunk.size();
    while (size > 0) {
      if (::write(fd, chunk.data(), size) < 0) {
        if (errno != ENOSPC) break;
        size /= 2;  // the last pages, down to a byte
      }
    }
    ::close(fd);
  }

  // Frees what Fill took.
  void Free() { std::filesystem::remove(FillPath()); }

  const std::string& path() const { return path_; }

 private:
  std::string FillPath() const { return path_ + "/fill"; }

  std::string path_;
  bool mounted_ = false;
};

// Mounts `tmpfs`, or skips the test (fails it when CI=true, where it must run).
#define HANDOFF_MOUNT_OR_SKIP(tmpfs)                                    \
  do {                                                                  \
    const std::string why_not = (tmpfs).Mount();                        \
    if (!why_not.empty()) {                                             \
      if (InCi()) FAIL() << why_not << " (CI=true requires this test)"; \
      GTEST_SKIP() << why_not;                                          \
    }                                                                   \
  } while (0)

TEST_F(ServeTest, AFullDiskIsNeverAcknowledgedAndReadinessRecovers) {
  SmallTmpfs tmpfs(dir_ + "/small");
  HANDOFF_MOUNT_OR_SKIP(tmpfs);
  const std::string mount_point = tmpfs.path();

  const std::string db = "sqlite:" + mount_point + "/h.db";
  Server* s = Start({"--db", db, "--store-probe-interval", "100ms"});
  ASSERT_NE(s, nullptr);
  const std::int64_t before = Trigger(s, "Fast", R"({"filter":"^Hello$"})");
  EXPECT_EQ(Str(AwaitFinished(s, before), "status"), "passed");
  EXPECT_EQ(Call(s, "GET", "/readyz").status, 200);

  tmpfs.Fill();

  // A run that cannot be stored is refused, not acknowledged.
  http::ClientResult refused = Call(s, "POST", "/api/v1/suites/Fast/runs", "{}");
  ASSERT_TRUE(refused.ok()) << refused.error;
  EXPECT_EQ(refused.status, 503) << refused.body;
  const json::value error = Parse(refused.body);
  ASSERT_NE(Field(error, "error"), nullptr) << refused.body;
  EXPECT_EQ(Str(*Field(error, "error"), "code"), "unavailable") << refused.body;
  http::ClientResult ready = Call(s, "GET", "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(Str(Parse(ready.body), "reason").find("the store cannot write"), std::string::npos)
      << ready.body;
  // The probe keeps it red while the disk is full.
  for (int i = 0; i < 5; ++i) {
    ::usleep(100'000);  // a probe interval: the probes run meanwhile, nothing is awaited
    EXPECT_EQ(Call(s, "GET", "/readyz").status, 503);
  }
  EXPECT_EQ(ListRuns(s, "limit=100").size(), 1u);  // nothing was queued
  // Nor is a schedule that cannot be stored.
  http::ClientResult schedule = Call(s, "POST", "/api/v1/schedules",
                                     R"({"name":"hourly","suite":"Fast","spec":"@every 1h"})");
  EXPECT_EQ(schedule.status, 503) << schedule.body;
  EXPECT_EQ(Call(s, "GET", "/api/v1/schedules/hourly").status, 404);
  // The error is in the server's log format, not printed beside it: said by the refused
  // write, or by the probe when it found the full disk first.
  const std::string err = s->Err();
  EXPECT_TRUE(err.find(" ERROR store write failed; not ready") != std::string::npos ||
              err.find(" ERROR store cannot write; not ready") != std::string::npos)
      << err;
  EXPECT_EQ(err.find("handoff: store"), std::string::npos) << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(\dZ ERROR [^\n]*(full|FULL|space))")))
      << err;

  // Space again: ready within seconds, and runs are accepted and executed.
  tmpfs.Free();
  EXPECT_TRUE(Eventually([&] { return Call(s, "GET", "/readyz").status == 200; }, 5s))
      << Call(s, "GET", "/readyz").body;
  const std::int64_t after = Trigger(s, "Fast", R"({"filter":"^Hello$"})");
  ASSERT_GT(after, 0);
  EXPECT_EQ(Str(AwaitFinished(s, after), "status"), "passed");
  EXPECT_NE(s->Err().find("store writes again; ready"), std::string::npos) << s->Err();
}

TEST_F(ServeTest, ARunWhoseResultsCannotBeStoredIsNotReportedFinishedAndResumes) {
  SmallTmpfs tmpfs(dir_ + "/small");
  HANDOFF_MOUNT_OR_SKIP(tmpfs);
  const std::string db = "sqlite:" + tmpfs.path() + "/h.db";
  const std::string hook_log = dir_ + "/hooks.jsonl";
  Server* s = Start({"--db", db, "--store-probe-interval", "100ms"},
                    {{"SERVE_FIXTURE_HOOK_LOG", hook_log}});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Gate");
  AwaitRun(s, id, [](const json::value& run) {
    return Str(run, "status") == "running" && TestStatuses(run)["Wait"] == "running";
  });

  // The test ends while nothing can be written.
  tmpfs.Fill();
  OpenGate();
  EXPECT_TRUE(Eventually([&] {
    return s->Err().find("run not finished: some of its results could not be stored") !=
           std::string::npos;
  })) << s->Err();
  EXPECT_EQ(Call(s, "GET", "/readyz").status, 503);
  tmpfs.Free();
  EXPECT_TRUE(Eventually([&] { return Call(s, "GET", "/readyz").status == 200; }, 5s));

  // Nothing said it finished: not the API, not the hooks.
  const json::value run = GetRun(s, id);
  EXPECT_EQ(Str(run, "status"), "running") << json::serialize(run);
  EXPECT_EQ(TestStatuses(run)["Wait"], "running") << json::serialize(run);
  EXPECT_EQ(ReadFile(hook_log).find("OnRunFinished"), std::string::npos) << ReadFile(hook_log);
  EXPECT_EQ(ReadFile(hook_log).find("OnTestFinished"), std::string::npos) << ReadFile(hook_log);
  http::ClientResult cancel = Call(s, "POST", fmt::format("/api/v1/runs/{}/cancel", id));
  EXPECT_EQ(cancel.status, 409) << cancel.body;
  EXPECT_NE(cancel.body.find("resumes at the next start"), std::string::npos) << cancel.body;

  // It resumes at the next start and finishes there.
  s->Signal(SIGTERM);
  ASSERT_EQ(s->WaitExit(20s), 0) << s->Err();
  Server* again = Start({"--db", db}, {{"SERVE_FIXTURE_HOOK_LOG", hook_log}});
  ASSERT_NE(again, nullptr);
  const json::value resumed = AwaitFinished(again, id);
  EXPECT_EQ(Str(resumed, "status"), "passed") << json::serialize(resumed);
  EXPECT_EQ(Int(resumed, "resumed"), 1) << json::serialize(resumed);
  EXPECT_EQ(TestStatuses(resumed)["Wait"], "passed");
}

TEST_F(ServeTest, BackupsWhileServingRestoreRunsWithTheirTests) {
  const std::string backup_dir = dir_ + "/backups";
  Server* s = Start({"--backup-dir", backup_dir});
  ASSERT_NE(s, nullptr);
  const std::int64_t passed = Trigger(s, "Fast", R"({"params":{"greeting":"hello"}})");
  const std::int64_t failed = Trigger(s, "Fast", R"({"params":{"greeting":"bye"}})");
  const json::value original = AwaitFinished(s, failed);
  EXPECT_EQ(Str(AwaitFinished(s, passed), "status"), "passed");
  ASSERT_EQ(Str(original, "status"), "failed");

  // Over the API: a file in the server's backup directory.
  EXPECT_EQ(Call(s, "GET", "/api/v1/admin/backup").status, 405);
  const json::value made = Json(s, "POST", "/api/v1/admin/backup", "", 200);
  const std::string api_copy = Str(made, "path");
  EXPECT_EQ(api_copy.rfind(backup_dir + "/handoff-", 0), 0u) << json::serialize(made);
  EXPECT_TRUE(std::filesystem::exists(api_copy)) << api_copy;
  EXPECT_EQ(Int(made, "bytes"), static_cast<std::int64_t>(std::filesystem::file_size(api_copy)));

  // With the command, beside the running server (which holds the lock).
  const std::string cli_copy = dir_ + "/cli-copy.db";
  ProcessResult cli = RunProcess({SERVE_FIXTURE, "backup", "--db", Db(), "--to", cli_copy});
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("backed up " + Db() + " to " + cli_copy), std::string::npos) << cli.out;

  // The server went on serving.
  const std::int64_t later = Trigger(s, "Fast", R"({"filter":"^Hello$"})");
  EXPECT_EQ(Str(AwaitFinished(s, later), "status"), "passed");

  // Each backup is a store a fresh server serves, with the runs and their tests.
  for (const std::string& copy : {api_copy, cli_copy}) {
    Server* restored = Start({"--db", "sqlite:" + copy});
    ASSERT_NE(restored, nullptr) << copy;
    const json::value run = GetRun(restored, failed);
    EXPECT_EQ(Str(run, "status"), "failed") << copy;
    EXPECT_EQ(TestStatuses(run), TestStatuses(original)) << copy << ": " << json::serialize(run);
    ASSERT_NE(FindTest(run, "Greeting"), nullptr) << copy;
    EXPECT_NE(Str(*FindTest(run, "Greeting"), "message").find("want hello, got bye"),
              std::string::npos)
        << copy;
    EXPECT_EQ(Str(GetRun(restored, passed), "status"), "passed") << copy;
  }

  // Bad uses of the command say why.
  ProcessResult missing =
      RunProcess({SERVE_FIXTURE, "backup", "--db", "sqlite:" + dir_ + "/none.db", "--to",
                  dir_ + "/x.db"});
  EXPECT_EQ(missing.exit_code, 2) << missing.out << missing.err;
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  ProcessResult no_to = RunProcess({SERVE_FIXTURE, "backup", "--db", Db()});
  EXPECT_EQ(no_to.exit_code, 2) << no_to.out << no_to.err;
  EXPECT_NE(no_to.err.find("--to"), std::string::npos) << no_to.err;
}

// --- Start-up messages of a server that cannot start (issue 14, section 7) ---------------------

TEST_F(ServeTest, APortInUseSaysSoAndSuggestsPortZero) {
  Server* first = Start();
  ASSERT_NE(first, nullptr);
  ProcessResult second = RunServeExpectingExit(
      {"--port", std::to_string(first->port()), "--db", "sqlite:" + dir_ + "/other.db"});
  EXPECT_EQ(second.exit_code, 2) << second.out << second.err;
  EXPECT_NE(second.err.find(fmt::format("cannot listen on 127.0.0.1:{}: the port is already in "
                                        "use",
                                        first->port())),
            std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find("--port 0"), std::string::npos) << second.err;
  EXPECT_EQ(second.err.find("--help"), std::string::npos) << second.err;
}

TEST_F(ServeTest, ADatabaseThatCannotBeOpenedSaysWhy) {
  const std::string missing_dir = dir_ + "/no/such/dir";
  ProcessResult missing = RunServeExpectingExit({"--port", "0", "--db", "sqlite:" + missing_dir + "/h.db"});
  EXPECT_EQ(missing.exit_code, 2) << missing.out << missing.err;
  EXPECT_NE(missing.err.find("cannot open database \"" + missing_dir + "/h.db\""),
            std::string::npos)
      << missing.err;
  EXPECT_NE(missing.err.find("the directory \"" + missing_dir + "\" does not exist"),
            std::string::npos)
      << missing.err;
  EXPECT_EQ(missing.err.find("--help"), std::string::npos) << missing.err;

  // A directory this user cannot write to. Root writes anywhere: run the server as
  // nobody then.
  const std::string locked = dir_ + "/locked";
  std::filesystem::create_directories(locked);
  std::filesystem::permissions(dir_, std::filesystem::perms(0755));
  std::filesystem::permissions(locked, std::filesystem::perms(0555));
  std::vector<std::string> argv;
  if (::geteuid() == 0) {
    argv = {OnPath("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
    ProcessResult can_run = RunProcess({OnPath("setpriv"), "--reuid=65534", "--regid=65534",
                                        "--clear-groups", "--", SERVE_FIXTURE, "list"});
    if (can_run.exit_code != 0) {
      GTEST_SKIP() << "as root, this test runs the server as nobody, who cannot run "
                   << SERVE_FIXTURE << ": " << can_run.err;
    }
  }
  argv.insert(argv.end(), {SERVE_FIXTURE, "serve", "--port", "0", "--db",
                           "sqlite:" + locked + "/h.db"});
  ProcessResult denied = RunProcess(argv, {}, std::chrono::seconds(30));
  EXPECT_EQ(denied.exit_code, 2) << denied.out << denied.err;
  EXPECT_NE(denied.err.find("cannot open database \"" + locked + "/h.db\": permission denied"),
            std::string::npos)
      << denied.err;
  EXPECT_NE(denied.err.find("\"" + locked + "\""), std::string::npos) << denied.err;
}

// `serve --check-config` (for init containers and CI) checks what serve checks, plus the
// store, without changing anything, says what serve would do, and exits 0 or 2.
TEST_F(ServeTest, CheckConfigSaysWhatServeWouldDoAndChangesNothing) {
  const std::string token(40, 'k');
  const std::map<std::string, std::string> env = {{"HANDOFF_AUTH_TOKEN", token}};
  auto check = [&](std::vector<std::string> flags, std::map<std::string, std::string> more = {}) {
    std::vector<std::string> argv = {SERVE_FIXTURE, "serve", "--check-config"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    more.insert(env.begin(), env.end());
    return RunProcess(argv, more, std::chrono::seconds(30));
  };
  const auto files = [&] {
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      names.insert(entry.path().filename().string());
    }
    return names;
  };
  const std::set<std::string> before = files();

  ProcessResult ok = check({"--db", Db(), "--host", "0.0.0.0", "--environment", "staging"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("serve would start with this configuration"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("listen     http://0.0.0.0:1337 for Hosts localhost, "), std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("auth       1 token\n"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("Fast (3 tests), Secrets (1 test)"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("environment staging"), std::string::npos) << ok.out;
  EXPECT_EQ(ok.out.find(token), std::string::npos) << ok.out;
  if (ServeTestsOnPostgres()) {
    EXPECT_NE(ok.out.find(": PostgreSQL 15"), std::string::npos) << ok.out;
    EXPECT_NE(ok.out.find("no schema yet"), std::string::npos) << ok.out;
    EXPECT_NE(ok.out.find("replica    "), std::string::npos) << ok.out;
  } else {
    EXPECT_NE(ok.out.find("does not exist yet: created at start"), std::string::npos) << ok.out;
  }
  // Nothing was created: no file, no lock, no schema (a second check finds the same).
  EXPECT_EQ(files(), before);
  EXPECT_EQ(check({"--db", Db(), "--host", "0.0.0.0", "--environment", "staging"}).out, ok.out);

  // Once a server has the store: SQLite is one server's (a second would be refused);
  // replicas share PostgreSQL.
  {
    Server* s = Start();
    ASSERT_NE(s, nullptr);
    AwaitFinished(s, Trigger(s, "Fast"));
    ProcessResult served = check({"--db", Db()});
    if (ServeTestsOnPostgres()) {
      EXPECT_EQ(served.exit_code, 0) << served.out << served.err;
      EXPECT_NE(served.out.find(", 1 run\n"), std::string::npos) << served.out;
    } else {
      EXPECT_EQ(served.exit_code, 2) << served.out << served.err;
      EXPECT_NE(served.err.find("is in use by another handoff server: pid " +
                                std::to_string(s->pid())),
                std::string::npos)
          << served.err;
    }
    servers_.clear();
  }
  const std::set<std::string> served = files();
  ProcessResult after = check({"--db", Db()});
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
  EXPECT_NE(after.out.find("schema version "), std::string::npos) << after.out;
  EXPECT_NE(after.out.find(", 1 run\n"), std::string::npos) << after.out;
  // Nor on a database a server has left: no -wal or -shm file appears.
  EXPECT_EQ(files(), served);

  // A SQLite file of something else is refused, as serve refuses to migrate it.
  const std::string foreign = dir_ + "/foreign.db";
  ASSERT_EQ(RunProcess({"/usr/bin/python3", "-c",
                        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                        "c.execute('CREATE TABLE runs(x)'); c.commit()",
                        foreign})
                .exit_code,
            0);
  ProcessResult other = check({"--db", "sqlite:" + foreign});
  EXPECT_EQ(other.exit_code, 2) << other.out << other.err;
  EXPECT_NE(other.err.find("is a SQLite database of something else"), std::string::npos)
      << other.err;

  // What serve would refuse, --check-config refuses with serve's message and exit 2.
  const std::string garbage = dir_ + "/garbage";
  std::ofstream(garbage) << "not a certificate\n";
  const struct {
    std::vector<std::string> flags;
    std::map<std::string, std::string> env;
    std::string says;
  } refused[] = {
      {{"--retention", "soon"}, {}, "--retention: invalid period \"soon\""},
      {{}, {{"HANDOFF_LEASE_TTL", "0s"}}, "--lease-ttl: invalid duration \"0s\""},
      {{"--auth-file", dir_ + "/missing"}, {}, "--auth-file: cannot read " + dir_ + "/missing"},
      {{"--tls-cert", garbage, "--tls-key", garbage}, {}, "not a usable PEM certificate"},
      {{"--webhook-url", "ftp://example.com/hook"}, {}, "url is not an http:// or https:// URL"},
      {{"--db", "postgres://handoff@127.0.0.1:1/handoff"}, {}, "--db: "},
      {{"--db", "sqlite:" + garbage}, {}, "is not a SQLite database or is corrupt"},
      {{"--db", "sqlite:" + dir_ + "/no/such/dir/h.db"}, {}, "the directory \"" + dir_ + "/no/such/dir\" does not exist"},
      {{"--host", "0.0.0.0"}, {{"HANDOFF_AUTH_TOKEN", ""}}, "can be reached from other machines"},
  };
  for (const auto& r : refused) {
    std::vector<std::string> flags = r.flags;
    if (std::find(flags.begin(), flags.end(), "--db") == flags.end()) {
      flags.insert(flags.end(), {"--db", Db()});
    }
    std::map<std::string, std::string> more = r.env;
    ProcessResult bad;
    if (more.count("HANDOFF_AUTH_TOKEN") != 0) {
      std::vector<std::string> argv = {SERVE_FIXTURE, "serve", "--check-config"};
      argv.insert(argv.end(), flags.begin(), flags.end());
      bad = RunProcess(argv, {}, std::chrono::seconds(30));
    } else {
      bad = check(flags, more);
    }
    EXPECT_EQ(bad.exit_code, 2) << r.says << "\n" << bad.out << bad.err;
    EXPECT_NE(bad.err.find(r.says), std::string::npos) << bad.err;
    EXPECT_EQ(bad.out.find("serve would start"), std::string::npos) << bad.out;
  }
}

// --- Security: tokens, roles, the browser's origin, Hosts (issue 15) --------------------------

// Makes a token with the fixture's own `token` command, appending it to `auth_file`.
TEST_F(ServeTest, WithTokensEveryEndpointNeedsOneAndEachRoleDoesWhatItMay) {
  const std::string auth_file = dir_ + "/auth";
  const std::string viewer = MakeToken(SERVE_FIXTURE, "viewer", "read", auth_file);
  const std::string ci = MakeToken(SERVE_FIXTURE, "ci", "run", auth_file);
  const std::string admin = "operator-secret-0123456789";
  // The file holds hashes, never tokens, and only its owner reads it.
  const std::string file = ReadFile(auth_file);
  EXPECT_EQ(file.find(viewer), std::string::npos);
  EXPECT_EQ(file.find(ci), std::string::npos);
  EXPECT_EQ(std::filesystem::status(auth_file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  Server* s = Start({"--auth-file", auth_file}, {{"HANDOFF_AUTH_TOKEN", admin}});
  ASSERT_NE(s, nullptr);
  const auto call = [&](std::string_view method, std::string_view target,
                        const std::string& token, std::string_view body = {}) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return Call(s, method, target, body, headers);
  };
  // Without a token: nothing but the probes and the UI's files.
  for (const char* target : {"/api/v1/runs", "/api/v1/suites", "/api/v1/schedules",
                             "/api/v1/flaky", "/api/v1/runs/1/events"}) {
    const http::ClientResult r = call("GET", target, "");
    EXPECT_EQ(r.status, 401) << target << ": " << r.body;
    EXPECT_EQ(Str(*Field(Parse(r.body), "error"), "code"), "unauthenticated") << r.body;
  }
  EXPECT_EQ(call("POST", "/api/v1/suites/Fast/runs", "", "{}").status, 401);
  EXPECT_EQ(call("POST", "/api/v1/suites/Fast/runs", "not-a-token", "{}").status, 401);
  for (const char* target : {"/healthz", "/readyz", "/metrics", "/", "/app.js"}) {
    EXPECT_EQ(call("GET", target, "").status, 200) << target;
  }
  // read reads; run also triggers; admin also schedules.
  EXPECT_EQ(call("GET", "/api/v1/runs", viewer).status, 200);
  const http::ClientResult refused = call("POST", "/api/v1/suites/Fast/runs", viewer, "{}");
  EXPECT_EQ(refused.status, 403) << refused.body;
  const http::ClientResult made =
      call("POST", "/api/v1/suites/Fast/runs", ci, R"({"initiated_by":"alice"})");
  ASSERT_EQ(made.status, 201) << made.body;
  const json::value run = Parse(made.body);
  EXPECT_EQ(Str(run, "initiated_by"), "ci");  // who the server identified
  EXPECT_EQ(Str(run, "on_behalf_of"), "alice");  // what the caller said, shown
  const std::string schedule = R"({"name":"n","suite":"Fast","spec":"0 3 * * *"})";
  EXPECT_EQ(call("POST", "/api/v1/schedules", ci, schedule).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/schedules", admin, schedule).status, 201);
  EXPECT_EQ(call("DELETE", "/api/v1/schedules/n", ci).status, 403);
  EXPECT_EQ(call("DELETE", "/api/v1/schedules/n", admin).status, 204);

  // Only ci's run exists; every state-changing request is in the log with who made it, and
  // no token is.
  const http::ClientResult runs = call("GET", "/api/v1/runs", viewer);
  EXPECT_EQ(Arr(Parse(runs.body), "runs").size(), 1u) << runs.body;
  const std::string log = s->Err();
  EXPECT_NE(log.find("api request method=POST path=/api/v1/suites/Fast/runs status=201 "
                     "user=ci role=run via=token peer=127.0.0.1"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("api request refused method=POST path=/api/v1/suites/Fast/runs "
                     "status=403 user=viewer"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("path=/api/v1/schedules status=201 user=admin role=admin"),
            std::string::npos)
      << log;
  for (const std::string& secret : {viewer, ci, admin}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "a token in the log";
    EXPECT_EQ(s->Out().find(secret), std::string::npos) << "a token on stdout";
  }
}

// With auth on, the name a caller gives is kept as on_behalf_of: shown, so a secret param's
// value pasted there is masked as in the run's labels and reference.
TEST_F(ServeTest, ACallersOwnNameIsMaskedForTheRunsSecretsAsItsOtherFieldsAre) {
  const std::string admin = "operator-secret-0123456789";
  Server* s = Start({}, {{"HANDOFF_AUTH_TOKEN", admin}});
  ASSERT_NE(s, nullptr);
  const std::string secret = "pw-Behalf-4c1d2e";
  const http::ClientResult made = Call(
      s, "POST", "/api/v1/suites/Secrets/runs",
      fmt::format(R"({{"params":{{"DB_PASSWORD":"{0}"}},"initiated_by":"alice {0}",)"
                  R"("reference":"v2 {0}"}})",
                  secret),
      {{"Authorization", "Bearer " + admin}});
  ASSERT_EQ(made.status, 201) << made.body;
  const json::value run = Parse(made.body);
  EXPECT_EQ(Str(run, "initiated_by"), "admin");
  EXPECT_EQ(Str(run, "on_behalf_of"), "alice [redacted]");
  EXPECT_EQ(Str(run, "reference"), "v2 [redacted]");
  std::string shown;
  ASSERT_TRUE(Eventually([&] {
    shown = Call(s, "GET", fmt::format("/api/v1/runs/{}", Int(run, "id")), {},
                 {{"Authorization", "Bearer " + admin}})
                .body;
    return shown.find("\"status\":\"passed\"") != std::string::npos;
  })) << shown;
  EXPECT_EQ(shown.find(secret), std::string::npos) << shown;
}

TEST_F(ServeTest, TokensAreAddedAndRevokedByEditingTheAuthFileWithoutARestart) {
  const std::string auth_file = dir_ + "/auth";
  const std::string old_token = MakeToken(SERVE_FIXTURE, "ci", "run", auth_file);
  Server* s = Start({"--auth-file", auth_file, "--auth-reload-interval", "50ms"});
  ASSERT_NE(s, nullptr);
  const auto status = [&](const std::string& token) {
    return Call(s, "GET", "/api/v1/runs", {}, {{"Authorization", "Bearer " + token}}).status;
  };
  ASSERT_EQ(status(old_token), 200);
  // Rotation: a second token of the same name, then the old one's line removed.
  const std::string new_token = MakeToken(SERVE_FIXTURE, "ci", "run", auth_file);
  EXPECT_TRUE(Eventually([&] { return status(new_token) == 200; }))
      << "the added token was never accepted";
  EXPECT_EQ(status(old_token), 200) << "both work until the old line goes";
  std::string file = ReadFile(auth_file);
  file = file.substr(file.find('\n') + 1);  // drop the first (old) line
  std::ofstream(auth_file, std::ios::trunc) << file;
  EXPECT_TRUE(Eventually([&] { return status(old_token) == 401; }))
      << "the revoked token still works";
  EXPECT_EQ(status(new_token), 200);
  // A file that does not parse changes nothing; the log says so.
  std::ofstream(auth_file, std::ios::app) << "intruder root sha256:00\n";
  EXPECT_TRUE(Eventually([&] {
    return s->Err().find("auth file not reloaded") != std::string::npos;
  }));
  EXPECT_EQ(status(new_token), 200);
  EXPECT_EQ(status(old_token), 401);
  EXPECT_NE(s->Err().find("auth file reloaded"), std::string::npos);
}

TEST_F(ServeTest, RemoteSendsItsTokenAndSaysWhatToDoWithout) {
  const std::string auth_file = dir_ + "/auth";
  const std::string ci = MakeToken(SERVE_FIXTURE, "ci", "run", auth_file);
  Server* s = Start({"--auth-file", auth_file});
  ASSERT_NE(s, nullptr);
  const ProcessResult without = RunProcess({SERVE_FIXTURE, "remote", "runs", "--server",
                                            s->url()},
                                           {{"HANDOFF_TOKEN", ""}});
  EXPECT_EQ(without.exit_code, 2) << without.out;
  EXPECT_NE(without.err.find("authentication required"), std::string::npos) << without.err;
  EXPECT_NE(without.err.find("HANDOFF_TOKEN"), std::string::npos) << without.err;

  const ProcessResult by_env = RunProcess(
      {SERVE_FIXTURE, "remote", "trigger", "Fast", "--wait", "--server", s->url()},
      {{"HANDOFF_TOKEN", ci}});
  EXPECT_EQ(by_env.exit_code, 0) << by_env.out << by_env.err;
  const std::string token_file = dir_ + "/token";
  std::ofstream(token_file) << ci << "\n";
  const ProcessResult by_file =
      RunProcess({SERVE_FIXTURE, "remote", "runs", "--server", s->url(), "--token-file",
                  token_file, "--format", "json"},
                 {{"HANDOFF_TOKEN", ""}});
  EXPECT_EQ(by_file.exit_code, 0) << by_file.err;
  EXPECT_NE(by_file.out.find("\"initiated_by\":\"ci\""), std::string::npos) << by_file.out;
}

// --- Verdicts
// ---------------------------------------------------------------------------------------

// A deploy gate asks for the verdict of a suite at a reference: the latest finished run's,
// read from the run's recorded status; none yet is a 404 that says whether a run is on its
// way ("pending") or there is none ("not_found").
TEST_F(ServeTest, AVerdictIsTheLatestFinishedRunOfTheSuiteAtTheReference) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const auto verdict = [&](const std::string& suite, const std::string& query, int want) {
    return Json(s, "GET", "/api/v1/suites/" + suite + "/verdict" + query, {}, want);
  };
  const auto error_code = [](const json::value& v) {
    const json::value* e = Field(v, "error");
    return e == nullptr ? std::string() : Str(*e, "code");
  };
  // Bad requests say what is wrong.
  EXPECT_EQ(error_code(verdict("Fast", "", 400)), "invalid_argument");
  EXPECT_EQ(error_code(verdict("Fast", "?reference=", 400)), "invalid_argument");
  EXPECT_EQ(error_code(verdict("NoSuch", "?reference=abc", 404)), "not_found");
  // No run at all with this reference.
  json::value none = verdict("Fast", "?reference=abc", 404);
  EXPECT_EQ(error_code(none), "not_found");
  EXPECT_TRUE(IsNull(none, "unfinished_run"));

  // A run in progress: pending, naming it.
  const std::int64_t gate = Trigger(s, "Gate", R"({"reference":"release/1.2 rc"})");
  ASSERT_GT(gate, 0);
  json::value pending = verdict("Gate", "?reference=release%2F1.2%20rc", 404);
  EXPECT_EQ(error_code(pending), "pending") << pending;
  const json::value* unfinished = Field(pending, "unfinished_run");
  ASSERT_NE(unfinished, nullptr) << pending;
  EXPECT_EQ(Int(*unfinished, "id"), gate);
  EXPECT_EQ(Str(*unfinished, "run_url"), fmt::format("/api/v1/runs/{}", gate));

  // Passed and failed, each as its run says.
  const std::int64_t pass = Trigger(s, "Fast", R"({"reference":"abc"})");
  const std::int64_t fail = Trigger(s, "Mixed", R"({"reference":"abc"})");
  const json::value pass_run = AwaitFinished(s, pass);
  const json::value fail_run = AwaitFinished(s, fail);
  json::value passed = verdict("Fast", "?reference=abc", 200);
  EXPECT_TRUE(Bool(passed, "passed")) << passed;
  EXPECT_EQ(Str(passed, "status"), "passed");
  EXPECT_EQ(Str(passed, "status"), Str(pass_run, "status"));
  EXPECT_EQ(Int(passed, "run_id"), pass);
  EXPECT_EQ(Str(passed, "suite"), "Fast");
  EXPECT_EQ(Str(passed, "reference"), "abc");
  EXPECT_EQ(Str(passed, "finished_at"), Str(pass_run, "finished_at"));
  EXPECT_FALSE(Str(passed, "finished_at").empty());
  EXPECT_EQ(Str(passed, "run_url"), fmt::format("/api/v1/runs/{}", pass));
  EXPECT_EQ(Str(passed, "web_url"), fmt::format("/runs/{}", pass));
  ASSERT_NE(Field(passed, "totals"), nullptr);
  // The run's own totals (every test and subtest of Fast passed).
  ASSERT_NE(Field(pass_run, "totals"), nullptr);
  EXPECT_EQ(*Field(passed, "totals"), *Field(pass_run, "totals")) << passed;
  EXPECT_EQ(Int(*Field(passed, "totals"), "passed"), 4) << passed;
  EXPECT_EQ(Int(*Field(passed, "totals"), "failed"), 0) << passed;
  EXPECT_FALSE(Bool(passed, "partial"));
  EXPECT_TRUE(IsNull(passed, "unfinished_run"));
  json::value failed = verdict("Mixed", "?reference=abc", 200);
  EXPECT_FALSE(Bool(failed, "passed")) << failed;
  ASSERT_NE(Field(failed, "passed"), nullptr);
  EXPECT_TRUE(Field(failed, "passed")->is_bool());
  EXPECT_EQ(Str(failed, "status"), "failed");
  EXPECT_EQ(Str(failed, "status"), Str(fail_run, "status"));
  EXPECT_EQ(Int(failed, "run_id"), fail);
  EXPECT_GE(Int(*Field(failed, "totals"), "failed"), 1) << failed;
  // Another reference of the same suite has no verdict.
  EXPECT_EQ(error_code(verdict("Fast", "?reference=abcd", 404)), "not_found");

  // The latest finished run decides: a later run of Fast at abc that fails replaces it.
  const std::int64_t again =
      Trigger(s, "Fast", R"({"reference":"abc","params":{"greeting":"bye"}})");
  AwaitFinished(s, again);
  json::value replaced = verdict("Fast", "?reference=abc", 200);
  EXPECT_EQ(Int(replaced, "run_id"), again);
  EXPECT_FALSE(Bool(replaced, "passed")) << replaced;
  // A run of part of the suite says nothing of the suite: a passing run of one test, and a
  // retry of the failed tests that passes, leave the failed verdict as it is.
  const std::int64_t part = Trigger(s, "Fast", R"({"reference":"abc","filter":"^Hello$"})");
  EXPECT_EQ(Str(AwaitFinished(s, part), "status"), "passed");
  const json::value retried =
      Json(s, "POST", fmt::format("/api/v1/runs/{}/retry", again), R"({"only_failed":true})", 201);
  AwaitFinished(s, Int(retried, "id"));
  EXPECT_EQ(Int(verdict("Fast", "?reference=abc", 200), "run_id"), again);

  // The run in progress finishes: its verdict.
  OpenGate();
  AwaitFinished(s, gate);
  json::value done = verdict("Gate", "?reference=release%2F1.2%20rc", 200);
  EXPECT_EQ(Int(done, "run_id"), gate);
  EXPECT_TRUE(Bool(done, "passed")) << done;
  EXPECT_EQ(Str(done, "reference"), "release/1.2 rc");

  // A newer run of the whole suite in progress: no verdict until it finishes (a gate
  // retried after a failure never decides on the older run).
  std::filesystem::remove(gate_);
  const std::int64_t second = Trigger(s, "Gate", R"({"reference":"release/1.2 rc"})");
  json::value waiting = verdict("Gate", "?reference=release%2F1.2%20rc", 404);
  EXPECT_EQ(error_code(waiting), "pending") << waiting;
  ASSERT_NE(Field(waiting, "unfinished_run"), nullptr) << waiting;
  EXPECT_EQ(Int(*Field(waiting, "unfinished_run"), "id"), second);
  OpenGate();
  AwaitFinished(s, second);
  EXPECT_EQ(Int(verdict("Gate", "?reference=release%2F1.2%20rc", 200), "run_id"), second);
}

// With tokens, a verdict is a read: the read role suffices, no token is refused.
TEST_F(ServeTest, AVerdictNeedsTheReadRoleWithTokens) {
  const std::string auth_file = dir_ + "/auth";
  const std::string viewer = MakeToken(SERVE_FIXTURE, "viewer", "read", auth_file);
  const std::string ci = MakeToken(SERVE_FIXTURE, "ci", "run", auth_file);
  Server* s = Start({"--auth-file", auth_file});
  ASSERT_NE(s, nullptr);
  const std::string target = "/api/v1/suites/Fast/verdict?reference=v9";
  const auto call = [&](const std::string& token) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return Call(s, "GET", target, {}, headers);
  };
  EXPECT_EQ(call("").status, 401);
  EXPECT_EQ(call("not-a-token").status, 401);
  EXPECT_EQ(call(viewer).status, 404);  // authenticated: no run yet
  const http::ClientResult made = Call(s, "POST", "/api/v1/suites/Fast/runs",
                                       R"({"reference":"v9"})",
                                       {{"Authorization", "Bearer " + ci}});
  ASSERT_EQ(made.status, 201) << made.body;
  const std::int64_t id = Int(Parse(made.body), "id");
  EXPECT_TRUE(Eventually([&] { return call(viewer).status == 200; })) << call(viewer).body;
  const json::value v = Parse(call(viewer).body);
  EXPECT_EQ(Int(v, "run_id"), id);
  EXPECT_TRUE(Bool(v, "passed")) << v;
  EXPECT_EQ(call(ci).status, 200);
  for (const std::string& secret : {viewer, ci}) {
    EXPECT_EQ(s->Err().find(secret), std::string::npos) << "a token in the log";
  }
}

// Any web page a developer has open could POST to a server on localhost: a form sends
// text/plain or urlencoded, and a fetch from another origin says so in Origin and
// Sec-Fetch-Site. Neither may start a run, with or without authentication (the server
// before answered 201 Created to all of them).
TEST_F(ServeTest, AnotherSiteCannotStartARunEvenWithoutAuthentication) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::string target = "/api/v1/suites/Fast/runs";
  const http::ClientResult form =
      Call(s, "POST", target, "filter=x", {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(form.status, 415) << form.body;
  const http::ClientResult text =
      Call(s, "POST", target, "{}", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(text.status, 415) << text.body;
  const http::ClientResult origin =
      Call(s, "POST", target, "{}", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(origin.status, 403) << origin.body;
  const http::ClientResult site =
      Call(s, "POST", target, "{}", {{"Sec-Fetch-Site", "cross-site"}});
  EXPECT_EQ(site.status, 403) << site.body;
  const json::value runs = Get(s, "/api/v1/runs");
  EXPECT_TRUE(Arr(runs, "runs").empty()) << json::serialize(runs);
  // The UI's own request still works.
  const http::ClientResult own =
      Call(s, "POST", target, "{}",
           {{"Origin", s->url()}, {"Sec-Fetch-Site", "same-origin"}});
  EXPECT_EQ(own.status, 201) << own.body;
}

// DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 reads the API as
// same-origin, but its requests say Host: evil.example. The server before answered them.
TEST_F(ServeTest, AHostTheServerDoesNotAnswerToIsRefused) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  Trigger(s, "Fast");
  const std::string rebound =
      RawHttp(s->port(), "GET /api/v1/runs HTTP/1.1\r\nHost: evil.example:" +
                             std::to_string(s->port()) + "\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(rebound.starts_with("HTTP/1.1 403 ")) << rebound;
  EXPECT_NE(rebound.find("host_not_allowed"), std::string::npos) << rebound;
  EXPECT_EQ(rebound.find("\"suite\""), std::string::npos) << rebound;
  const std::string local = RawHttp(
      s->port(), "GET /api/v1/runs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(local.starts_with("HTTP/1.1 200 ")) << local;
  // An operator names the hosts a proxy or a Service sends.
  Server* named = Start({"--allowed-hosts", "handoff.example.com,*.svc.cluster.local", "--db",
                         "sqlite:" + dir_ + "/named.db"});
  ASSERT_NE(named, nullptr);
  const std::string service = RawHttp(
      named->port(),
      "GET /healthz HTTP/1.1\r\nHost: handoff.ci.svc.cluster.local\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(service.starts_with("HTTP/1.1 200 ")) << service;
}

TEST_F(ServeTest, BeyondLoopbackWithoutAuthenticationItRefusesToStartUnlessToldSo) {
  const ProcessResult refused = RunProcess(
      {SERVE_FIXTURE, "serve", "--host", "0.0.0.0", "--port", "0", "--db", Db()}, {},
      std::chrono::seconds(30));
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_NE(refused.err.find("--host 0.0.0.0 can be reached from other machines"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("--auth=none"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/h.db")) << "nothing may happen before";

  Server* open = Start({"--host", "0.0.0.0", "--auth", "none"});
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(Call(open, "GET", "/api/v1/runs").status, 200);

  const std::string auth_file = dir_ + "/auth";
  MakeToken(SERVE_FIXTURE, "ci", "run", auth_file);
  const ProcessResult both = RunProcess({SERVE_FIXTURE, "serve", "--port", "0", "--db", Db(),
                                         "--auth", "none", "--auth-file", auth_file});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("choose one"), std::string::npos) << both.err;
  std::ofstream(dir_ + "/bad-auth") << "ci root sha256:00\n";
  const ProcessResult bad = RunProcess(
      {SERVE_FIXTURE, "serve", "--port", "0", "--db", Db(), "--auth-file", dir_ + "/bad-auth"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("line 1: unknown role \"root\""), std::string::npos) << bad.err;
  const ProcessResult bad_role =
      RunProcess({SERVE_FIXTURE, "token", "--name", "x", "--role", "root"});
  EXPECT_EQ(bad_role.exit_code, 2);
  const ProcessResult weak = RunProcess({SERVE_FIXTURE, "serve", "--port", "0", "--db", Db()},
                                        {{"HANDOFF_AUTH_TOKEN", "admin123"}});
  EXPECT_EQ(weak.exit_code, 2);
  EXPECT_NE(weak.err.find("HANDOFF_AUTH_TOKEN has 8 characters"), std::string::npos) << weak.err;
  EXPECT_EQ(weak.err.find("admin123"), std::string::npos) << "the token is never echoed";
}

// --- Security: TLS and client certificates (issue 15) ------------------------------------------

// A CA and certificates made with the openssl command for one test, as a platform team
// would make them (EC keys: quick to generate).
class TestPki {
 public:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {
    ok_ = MakeCa("ca", "handoff test CA") && MakeCa("other-ca", "another CA") &&
          // The server's: for the address and the name tests use.
          Issue("server", "localhost", "ca", 1001, 2,
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n") &&
          Issue("ci", "ci", "ca", 2001, 2, kClientExtensions) &&
          Issue("ops", "ops", "ca", 2002, 2, kClientExtensions) &&
          Issue("stranger", "ci", "other-ca", 2003, 2, kClientExtensions) &&
          Issue("expired", "ci", "ca", 2004, -1, kClientExtensions);
  }

  bool ok() const { return ok_; }
  std::string Path(const std::string& file) const { return dir_ + "/" + file; }
  std::string Cert(const std::string& name) const { return Path(name + ".pem"); }
  std::string Key(const std::string& name) const { return Path(name + ".key"); }

  // Signs `name`'s request again with serial `serial` into `out` (a new certificate for
  // the same key: a rotation).
  bool Reissue(const std::string& name, int serial, const std::string& out) {
    return Openssl({"x509", "-req", "-in", Path(name + ".csr"), "-CA", Cert("ca"), "-CAkey",
                    Key("ca"), "-set_serial", std::to_string(serial), "-days", "2", "-out", out,
                    "-extfile", Path(name + ".ext")});
  }

  // Runs openssl with `args`; false (and a failure recorded) if it fails.
  static bool Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    const ProcessResult r = RunProcess(args, {}, std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 0) << fmt::format("{}", fmt::join(args, " ")) << "\n" << r.err;
    return r.exit_code == 0;
  }

 private:
  static constexpr const char* kClientExtensions = "extendedKeyUsage=clientAuth\n";

  bool MakeCa(const std::string& name, const std::string& cn) {
    return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", Key(name), "-out", Cert(name), "-days", "2", "-subj",
                    "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign"});
  }

  // A key, a request for CN `cn`, and a certificate for it signed by `ca`, valid for `days`
  // (-1: expired yesterday).
  bool Issue(const std::string& name, const std::string& cn, const std::string& ca, int serial,
             int days, const std::string& extensions) {
    std::ofstream(Path(name + ".ext")) << extensions;
    return Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", Key(name), "-out", Path(name + ".csr"), "-subj",
                    "/CN=" + cn}) &&
           Openssl({"x509", "-req", "-in", Path(name + ".csr"), "-CA", Cert(ca), "-CAkey",
                    Key(ca), "-set_serial", std::to_string(serial), "-days",
                    std::to_string(days), "-out", Cert(name), "-extfile",
                    Path(name + ".ext")});
  }

  std::string dir_;
  bool ok_ = false;
};

// curl's answer to a GET of `url` with `flags`: its exit code, and the body or its error.
ProcessResult Curl(const std::string& url, std::vector<std::string> flags = {}) {
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--max-time", "20"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(url);
  return RunProcess(argv, {}, std::chrono::seconds(30));
}

// The serial number of the certificate the server on `port` presents, as openssl prints
// it ("serial=3E9"), or what went wrong.
std::string ServedSerial(std::uint16_t port, const std::string& ca) {
  const ProcessResult r = RunProcess(
      {"/bin/sh", "-c",
       fmt::format("openssl s_client -connect 127.0.0.1:{} -CAfile {} -verify_return_error "
                   "</dev/null 2>/dev/null | openssl x509 -noout -serial",
                   port, ca)},
      {}, std::chrono::seconds(30));
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST_F(ServeTest, OverTlsItAnswersHttpsOnlyAndItsClientsVerifyTheServer) {
  TestPki pki(dir_);
  ASSERT_TRUE(pki.ok());
  Server* s = Start({"--tls-cert", pki.Cert("server"), "--tls-key", pki.Key("server")});
  ASSERT_NE(s, nullptr);
  EXPECT_NE(s->Out().find(fmt::format("on https://127.0.0.1:{} ", s->port())), std::string::npos)
      << s->Out();
  const std::string https = fmt::format("https://127.0.0.1:{}", s->port());

  // curl, trusting the test CA, by address and by name.
  const ProcessResult health = Curl(https + "/healthz", {"--cacert", pki.Cert("ca")});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  const ProcessResult suites = Curl(fmt::format("https://localhost:{}/api/v1/suites", s->port()),
                                    {"--cacert", pki.Cert("ca")});
  EXPECT_EQ(suites.exit_code, 0) << suites.err;
  EXPECT_NE(suites.out.find("\"Fast\""), std::string::npos) << suites.out;
  // Without the CA, curl does not trust the server.
  EXPECT_NE(Curl(https + "/healthz").exit_code, 0);

  // Plain HTTP to the port gets no HTTP answer, only a closed connection.
  const std::string plain = RawHttp(
      s->port(), "GET /api/v1/suites HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(plain.starts_with("HTTP/")) << plain;
  EXPECT_EQ(plain.find("Fast"), std::string::npos) << plain;
  const ProcessResult plain_curl =
      Curl(fmt::format("http://127.0.0.1:{}/healthz", s->port()));
  EXPECT_NE(plain_curl.exit_code, 0) << plain_curl.out;

  // remote over https: a run triggered and followed to its end over the event stream.
  const ProcessResult waited =
      RunProcess({SERVE_FIXTURE, "remote", "trigger", "Fast", "--wait", "--server", https,
                  "--cacert", pki.Cert("ca")},
                 {}, std::chrono::seconds(60));
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  EXPECT_NE(waited.out.find("--- PASS: Hello ("), std::string::npos) << waited.out;
  EXPECT_NE(waited.out.find(" passed"), std::string::npos) << waited.out;
  const ProcessResult by_env = RunProcess(
      {SERVE_FIXTURE, "remote", "runs", "--server", https, "--format", "json"},
      {{"HANDOFF_CACERT", pki.Cert("ca")}}, std::chrono::seconds(30));
  EXPECT_EQ(by_env.exit_code, 0) << by_env.err;
  EXPECT_EQ(Arr(Parse(by_env.out), "runs").size(), 1u) << by_env.out;

  // Without --cacert it refuses the server's certificate and says what to do.
  const ProcessResult untrusted = RunProcess(
      {SERVE_FIXTURE, "remote", "runs", "--server", https}, {}, std::chrono::seconds(30));
  EXPECT_EQ(untrusted.exit_code, 2) << untrusted.out;
  EXPECT_NE(untrusted.err.find("certificate verify failed"), std::string::npos) << untrusted.err;
  EXPECT_NE(untrusted.err.find("--cacert"), std::string::npos) << untrusted.err;
  // A CA that did not sign it is no better.
  const ProcessResult wrong_ca =
      RunProcess({SERVE_FIXTURE, "remote", "runs", "--server", https, "--cacert",
                  pki.Cert("other-ca")},
                 {}, std::chrono::seconds(30));
  EXPECT_EQ(wrong_ca.exit_code, 2);
  EXPECT_NE(wrong_ca.err.find("certificate verify failed"), std::string::npos) << wrong_ca.err;
  // An http:// URL to the HTTPS port: a clear error, not a hang.
  const ProcessResult as_plain = RunProcess(
      {SERVE_FIXTURE, "remote", "runs", "--server", fmt::format("http://127.0.0.1:{}", s->port())},
      {}, std::chrono::seconds(30));
  EXPECT_EQ(as_plain.exit_code, 2);
  EXPECT_FALSE(as_plain.err.empty());
  const ProcessResult missing_ca =
      RunProcess({SERVE_FIXTURE, "remote", "runs", "--server", https, "--cacert",
                  dir_ + "/nowhere.pem"},
                 {}, std::chrono::seconds(30));
  EXPECT_EQ(missing_ca.exit_code, 2);
  EXPECT_NE(missing_ca.err.find(dir_ + "/nowhere.pem: cannot read it"), std::string::npos)
      << missing_ca.err;

  // /metrics still answers, and counts the plain-HTTP attempts refused at the handshake.
  const ProcessResult metrics = Curl(https + "/metrics", {"--cacert", pki.Cert("ca")});
  EXPECT_EQ(metrics.exit_code, 0) << metrics.err;
  EXPECT_GE(MetricValue(metrics.out,
                        "handoff_http_tls_handshake_failures_total{reason=\"not_tls\"}"),
            1)
      << metrics.out;
  EXPECT_NE(s->Err().find("TLS handshake failed reason=not_tls"), std::string::npos)
      << s->Err();
}

TEST_F(ServeTest, WithClientCertificatesTheNameIsTheCallerAndOthersAreRefusedAtTheHandshake) {
  TestPki pki(dir_);
  ASSERT_TRUE(pki.ok());
  // The auth file names a certificate holder without a token: ops is admin; ci, not named,
  // gets the run role.
  const std::string auth_file = dir_ + "/auth";
  std::ofstream(auth_file) << "ops admin\n";
  // Client certificates are authentication: the server may listen beyond loopback.
  Server* s = Start({"--host", "0.0.0.0", "--tls-cert", pki.Cert("server"), "--tls-key",
                     pki.Key("server"), "--tls-client-ca", pki.Cert("ca"), "--auth-file",
                     auth_file});
  ASSERT_NE(s, nullptr);
  const std::string https = fmt::format("https://127.0.0.1:{}", s->port());
  const auto remote = [&](std::vector<std::string> args, const std::string& who) {
    std::vector<std::string> argv = {SERVE_FIXTURE, "remote"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--server", https, "--cacert", pki.Cert("ca")});
    if (!who.empty()) argv.insert(argv.end(), {"--cert", pki.Cert(who), "--key", pki.Key(who)});
    return RunProcess(argv, {}, std::chrono::seconds(60));
  };

  // ci's certificate: ci triggers (the run role), and is the run's initiated_by whatever
  // the body says.
  const ProcessResult triggered =
      remote({"trigger", "Fast", "--wait", "--initiated-by", "mallory"}, "ci");
  EXPECT_EQ(triggered.exit_code, 0) << triggered.out << triggered.err;
  const ProcessResult runs = remote({"runs", "--format", "json"}, "ci");
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  const json::array listed = Arr(Parse(runs.out), "runs");
  ASSERT_EQ(listed.size(), 1u) << runs.out;
  EXPECT_EQ(Str(listed[0], "initiated_by"), "ci") << runs.out;
  EXPECT_EQ(Str(listed[0], "on_behalf_of"), "mallory") << runs.out;
  EXPECT_NE(s->Err().find("user=ci role=run via=certificate"), std::string::npos) << s->Err();

  // The UI's session says who the certificate names; its cookie is Secure over TLS.
  const std::vector<std::string> as_ci = {"--cacert", pki.Cert("ca"), "--cert", pki.Cert("ci"),
                                          "--key", pki.Key("ci")};
  const ProcessResult session = Curl(https + "/api/v1/session", as_ci);
  EXPECT_NE(session.out.find(R"("name":"ci","role":"run","via":"certificate")"),
            std::string::npos)
      << session.out << session.err;
  std::vector<std::string> log_out = as_ci;
  log_out.insert(log_out.end(), {"-i", "-X", "DELETE"});
  const ProcessResult logged_out = Curl(https + "/api/v1/session", log_out);
  EXPECT_NE(logged_out.out.find("HttpOnly; SameSite=Strict; Secure"), std::string::npos)
      << logged_out.out << logged_out.err;

  // The role comes from the auth file: ops may schedule, ci may not.
  const std::string schedule =
      R"({"name":"nightly","suite":"Fast","spec":"0 3 * * *"})";
  const auto post_schedule = [&](const std::string& who) {
    return Curl(https + "/api/v1/schedules",
                {"--cacert", pki.Cert("ca"), "--cert", pki.Cert(who), "--key", pki.Key(who),
                 "-o", "/dev/null", "-w", "%{http_code}", "-H",
                 "Content-Type: application/json", "--data", schedule});
  };
  EXPECT_EQ(post_schedule("ci").out, "403");
  EXPECT_EQ(post_schedule("ops").out, "201");

  // No certificate, an expired one, one from another CA: refused in the handshake, before
  // any request is read.
  for (const std::string who : {"", "expired", "stranger"}) {
    std::vector<std::string> flags = {"--cacert", pki.Cert("ca")};
    if (!who.empty()) flags.insert(flags.end(), {"--cert", pki.Cert(who), "--key", pki.Key(who)});
    const ProcessResult refused = Curl(https + "/healthz", flags);
    EXPECT_NE(refused.exit_code, 0) << who << ": " << refused.out;
    EXPECT_EQ(refused.out.find("ok"), std::string::npos) << who << ": " << refused.out;
    const ProcessResult by_remote = remote({"runs"}, who);
    EXPECT_EQ(by_remote.exit_code, 2) << who << ": " << by_remote.out;
    EXPECT_NE(by_remote.err.find("certificate"), std::string::npos) << who << ": "
                                                                    << by_remote.err;
  }
  // Each refusal is counted (by the handshake's handler, which may run just after the
  // client saw the alert: polled).
  std::string metrics;
  const auto counted = [&] {
    const ProcessResult r = Curl(
        https + "/metrics",
        {"--cacert", pki.Cert("ca"), "--cert", pki.Cert("ci"), "--key", pki.Key("ci")});
    metrics = r.out;
    return MetricValue(metrics, "handoff_http_tls_handshake_failures_total{reason=\""
                                "no_client_certificate\"}") >= 2 &&
           MetricValue(metrics, "handoff_http_tls_handshake_failures_total{reason=\""
                                "client_certificate_refused\"}") >= 4;
  };
  EXPECT_TRUE(Eventually(counted, 10s)) << metrics;
  // Still only ci's run, and the schedule ops made.
  const ProcessResult after = remote({"runs", "--format", "json"}, "ops");
  EXPECT_EQ(Arr(Parse(after.out), "runs").size(), 1u) << after.out;
  const std::string log = s->Err();
  EXPECT_NE(log.find("TLS handshake failed reason=no_client_certificate"), std::string::npos)
      << log;
  EXPECT_NE(log.find("TLS handshake failed reason=client_certificate_refused"),
            std::string::npos)
      << log;
}

TEST_F(ServeTest, ARotatedCertificateIsServedWithoutARestartAndABrokenOneIsNot) {
  TestPki pki(dir_);
  ASSERT_TRUE(pki.ok());
  // The served files are copies the test replaces, as cert-manager does.
  const std::string cert = dir_ + "/tls.crt";
  const std::string key = dir_ + "/tls.key";
  std::filesystem::copy_file(pki.Cert("server"), cert);
  std::filesystem::copy_file(pki.Key("server"), key);
  Server* s = Start(
      {"--tls-cert", cert, "--tls-key", key, "--tls-reload-interval", "100ms"});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(ServedSerial(s->port(), pki.Cert("ca")), "serial=03E9");  // 1001

  // A new certificate (serial 3003) for the same key, moved into place.
  ASSERT_TRUE(pki.Reissue("server", 3003, dir_ + "/next.crt"));
  std::filesystem::rename(dir_ + "/next.crt", cert);
  EXPECT_TRUE(Eventually([&] { return ServedSerial(s->port(), pki.Cert("ca")) == "serial=0BBB"; },
                         20s))
      << ServedSerial(s->port(), pki.Cert("ca"));
  EXPECT_NE(s->Err().find("TLS certificate reloaded"), std::string::npos) << s->Err();

  // A broken file: logged, and the last good certificate stays.
  std::ofstream(dir_ + "/broken.crt") << "-----BEGIN CERTIFICATE-----\nnot base64\n";
  std::filesystem::rename(dir_ + "/broken.crt", cert);
  EXPECT_TRUE(Eventually(
      [&] {
        ServedSerial(s->port(), pki.Cert("ca"));  // a handshake looks at the files
        return s->Err().find("cannot reload the TLS certificate") != std::string::npos;
      },
      20s))
      << s->Err();
  EXPECT_EQ(ServedSerial(s->port(), pki.Cert("ca")), "serial=0BBB");
  const ProcessResult health = Curl(fmt::format("https://127.0.0.1:{}/healthz", s->port()),
                                    {"--cacert", pki.Cert("ca")});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_NE(s->Err().find("--tls-cert " + cert), std::string::npos) << s->Err();
}

TEST_F(ServeTest, ACertificateThatCannotBeServedStopsTheStartWithExitTwo) {
  TestPki pki(dir_);
  ASSERT_TRUE(pki.ok());
  const auto serve = [&](std::vector<std::string> flags) {
    std::vector<std::string> argv = {SERVE_FIXTURE, "serve", "--port", "0", "--db", Db()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunProcess(argv, {}, std::chrono::seconds(30));
  };
  const auto expect_refused = [&](const ProcessResult& r, const std::string& message) {
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("serving"), std::string::npos) << r.out;
  };
  expect_refused(serve({"--tls-cert", dir_ + "/missing.pem", "--tls-key", pki.Key("server")}),
                 "--tls-cert " + dir_ + "/missing.pem: cannot read it");
  std::ofstream(dir_ + "/garbage.pem") << "not a certificate\n";
  expect_refused(serve({"--tls-cert", dir_ + "/garbage.pem", "--tls-key", pki.Key("server")}),
                 "--tls-cert " + dir_ + "/garbage.pem: not a usable PEM certificate");
  expect_refused(serve({"--tls-cert", pki.Cert("server"), "--tls-key", pki.Key("ci")}),
                 "does not match the certificate");
  expect_refused(serve({"--tls-cert", pki.Cert("server")}), "--tls-cert needs --tls-key");
  // The same from the environment.
  expect_refused(RunProcess({SERVE_FIXTURE, "serve", "--port", "0", "--db", Db()},
                            {{"HANDOFF_TLS_CERT", dir_ + "/missing.pem"},
                             {"HANDOFF_TLS_KEY", pki.Key("server")}},
                            std::chrono::seconds(30)),
                 "--tls-cert " + dir_ + "/missing.pem: cannot read it");
  expect_refused(serve({"--tls-client-ca", pki.Cert("ca")}),
                 "--tls-client-ca needs --tls-cert and --tls-key");
  expect_refused(serve({"--tls-cert", pki.Cert("server"), "--tls-key", pki.Key("server"),
                        "--tls-client-ca", dir_ + "/garbage.pem"}),
                 "--tls-client-ca " + dir_ + "/garbage.pem: no usable PEM certificate");
  expect_refused(serve({"--tls-cert", pki.Cert("server"), "--tls-key", pki.Key("server"),
                        "--tls-client-ca", pki.Cert("ca"), "--auth", "none"}),
                 "choose one");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/h.db")) << "nothing may happen before";
}

// --- Traces and logs (issue 19) ----------------------------------------------------------------

TEST_F(ServeTest, AttemptsLinkToTheirTracesAndTheirSpansAreExported) {
  Receiver collector;
  Server* s = Start({"--otlp-endpoint", collector.url(), "--otlp-service-name", "e2e",
                     "--traces-link-template",
                     "https://tempo.example.com/trace/{trace_id}?from={start_ms}&to={end_ms}"},
                    {{"HANDOFF_LOGS_LINK_TEMPLATE",
                      "https://logs.example.com/?q=trace_id%3D{trace_id}&test={test}"}});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Fast");
  AwaitFinished(s, id);
  // Values stores its attempt; Greeting passes quietly and is given back from its row.
  for (const std::string test : {"Values", "Greeting", "Hello/sub"}) {
    const json::value detail = Get(s, fmt::format("/api/v1/runs/{}/tests/{}", id, test));
    ASSERT_EQ(Arr(detail, "attempts").size(), 1u) << json::serialize(detail);
    const json::value& attempt = Arr(detail, "attempts")[0];
    const std::string trace_id = Str(attempt, "trace_id");
    ASSERT_TRUE(std::regex_match(trace_id, std::regex("[0-9a-f]{32}"))) << json::serialize(attempt);
    const json::value* links = Field(attempt, "links");
    ASSERT_NE(links, nullptr) << json::serialize(attempt);
    EXPECT_TRUE(Str(*links, "traces").starts_with("https://tempo.example.com/trace/" + trace_id +
                                                   "?from="))
        << json::serialize(*links);
    std::string encoded = test;
    if (encoded == "Hello/sub") encoded = "Hello%2Fsub";
    EXPECT_EQ(Str(*links, "logs"),
              "https://logs.example.com/?q=trace_id%3D" + trace_id + "&test=" + encoded);
    // The collector gets the attempt's span under the same trace id, with the run's id.
    EXPECT_TRUE(Eventually([&] {
      for (const ReceivedRequest& request : collector.Requests()) {
        if (request.body.find("\"traceId\":\"" + trace_id + "\"") != std::string::npos &&
            request.body.find("{\"key\":\"handoff.run_id\",\"value\":{\"intValue\":\"" +
                              std::to_string(id) + "\"}}") != std::string::npos &&
            request.body.find("\"stringValue\":\"e2e\"") != std::string::npos) {
          return true;
        }
      }
      return false;
    })) << test;
  }
  const std::string metrics = Call(s, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("handoff_otlp_spans_exported_total "), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("handoff_otlp_spans_dropped_total 0"), std::string::npos) << metrics;
}

TEST_F(ServeTest, WithoutTemplatesAttemptsHaveTraceIdsAndNoLinks) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "Fast");
  AwaitFinished(s, id);
  const json::value detail = Get(s, fmt::format("/api/v1/runs/{}/tests/Values", id));
  const json::value& attempt = Arr(detail, "attempts")[0];
  EXPECT_EQ(Str(attempt, "trace_id").size(), 32u) << json::serialize(attempt);
  ASSERT_NE(Field(attempt, "links"), nullptr);
  EXPECT_TRUE(IsNull(*Field(attempt, "links"), "traces"));
  EXPECT_TRUE(IsNull(*Field(attempt, "links"), "logs"));
  EXPECT_EQ(Call(s, "GET", "/metrics").body.find("handoff_otlp_"), std::string::npos);
}

TEST_F(ServeTest, LinkTemplatesAndTheCollectorAreCheckedAtStart) {
  auto check = [&](std::vector<std::string> flags) {
    std::vector<std::string> argv = {SERVE_FIXTURE, "serve", "--check-config", "--db", Db()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunProcess(argv, {}, std::chrono::seconds(30));
  };
  ProcessResult ok = check({"--traces-link-template", "https://jaeger.example.com/trace/{trace_id}",
                            "--otlp-endpoint", "http://collector:4318"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("traces     http://collector:4318 as service serve_fixture (0 headers)"),
            std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("links      traces https://jaeger.example.com/trace/{trace_id}, logs none"),
            std::string::npos)
      << ok.out;
  ProcessResult unknown = check({"--logs-link-template", "https://loki/{trace}"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("--logs-link-template: unknown placeholder {trace}"), std::string::npos)
      << unknown.err;
  ProcessResult relative = check({"--traces-link-template", "/trace/{trace_id}"});
  EXPECT_EQ(relative.exit_code, 2);
  EXPECT_NE(relative.err.find("--traces-link-template"), std::string::npos) << relative.err;
  ProcessResult endpoint = check({"--otlp-endpoint", "collector:4318"});
  EXPECT_EQ(endpoint.exit_code, 2);
  EXPECT_NE(endpoint.err.find("--otlp-endpoint"), std::string::npos) << endpoint.err;
}


// --- Hunts (issue 21): a series of runs of a suite until it fails ------------------------------

class HuntTest : public ServeTest {
 protected:
  // Starts a hunt of `suite` with `body`; returns its object (status 201 checked).
  json::value StartHunt(Server* s, const std::string& suite, const std::string& body) {
    return Json(s, "POST", "/api/v1/suites/" + suite + "/hunts", body, 201);
  }

  // Polls the hunt until it has ended and none of its runs is unfinished.
  json::value AwaitHuntEnded(Server* s, std::int64_t id, std::chrono::milliseconds timeout = 60s) {
    json::value hunt;
    const bool ended = Eventually(
        [&] {
          hunt = Parse(Call(s, "GET", fmt::format("/api/v1/hunts/{}", id)).body);
          return Str(hunt, "status") != "running" && Field(hunt, "runs") != nullptr &&
                 Int(*Field(hunt, "runs"), "unfinished") == 0;
        },
        timeout);
    EXPECT_TRUE(ended) << "hunt " << id << " did not end: " << json::serialize(hunt);
    return hunt;
  }

  static std::int64_t Runs(const json::value& hunt, std::string_view key) {
    const json::value* runs = Field(hunt, "runs");
    return runs != nullptr ? Int(*runs, key) : -1;
  }

  // The params of Hunted's Intermittent: count runs in a file of the test's own, fail every
  // `every`-th.
  std::string HuntedParams(int every) const {
    return fmt::format(R"("params":{{"counter":"{}/count","fail_every":"{}"}})", dir_, every);
  }

  int CountedRuns() const {
    std::ifstream in(dir_ + "/count");
    int n = 0;
    in >> n;
    return n;
  }
};

TEST_F(HuntTest, StopsAtTheFirstFailureAndSaysWhatItFound) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  http::ClientResult created =
      Call(s, "POST", "/api/v1/suites/Hunted/hunts",
           fmt::format(R"({{"repeat":10,"until_failure":true,"reference":"v9",{}}})",
                       HuntedParams(3)));
  ASSERT_EQ(created.status, 201) << created.body;
  const json::value started = Parse(created.body);
  const std::int64_t id = Int(started, "id");
  ASSERT_GT(id, 0);
  EXPECT_EQ(created.Header("Location"), fmt::format("/api/v1/hunts/{}", id));
  EXPECT_EQ(Str(started, "status"), "running");
  EXPECT_EQ(Int(started, "repeat"), 10);
  EXPECT_TRUE(Bool(started, "until_failure"));
  // A retry that passes would hide the failure a hunt is after: one attempt by default.
  EXPECT_EQ(Int(started, "max_attempts"), 1);

  const json::value hunt = AwaitHuntEnded(s, id);
  EXPECT_EQ(Str(hunt, "status"), "failed") << json::serialize(hunt);
  EXPECT_EQ(Runs(hunt, "total"), 3);
  EXPECT_EQ(Runs(hunt, "passed"), 2);
  EXPECT_EQ(Runs(hunt, "failed"), 1);
  EXPECT_EQ(CountedRuns(), 3) << "no run after the first failure";
  EXPECT_FALSE(Str(hunt, "finished_at").empty());

  // Its runs are ordinary runs, tagged with the hunt; the third one failed.
  const std::vector<json::value> runs = ListRuns(s, fmt::format("hunt={}", id));
  ASSERT_EQ(runs.size(), 3u);
  for (const json::value& run : runs) {
    EXPECT_EQ(Int(run, "hunt"), id);
    EXPECT_EQ(Str(run, "reference"), "v9");
    EXPECT_EQ(Str(run, "suite"), "Hunted");
  }
  const std::int64_t failing = Int(runs.front(), "id");  // newest first
  EXPECT_EQ(Str(runs.front(), "status"), "failed");
  EXPECT_EQ(Int(hunt, "first_failing_run"), failing);
  EXPECT_EQ(Int(hunt, "last_run"), failing);
  EXPECT_NE(Str(hunt, "error").find(fmt::format("run {} failed", failing)), std::string::npos)
      << Str(hunt, "error");
  const json::value run = GetRun(s, failing);
  EXPECT_EQ(TestStatuses(run)["Intermittent"], "failed");
  EXPECT_NE(Str(*FindTest(run, "Intermittent"), "message").find("run 3: the order was lost"),
            std::string::npos);
  EXPECT_EQ(Int(run, "max_attempts"), 1);

  // The observed rate, 1 in 3, inside its 95% interval (Wilson: 0.0615 to 0.7923).
  const json::value* rate = Field(hunt, "failure_rate");
  ASSERT_NE(rate, nullptr);
  EXPECT_EQ(Int(*rate, "runs"), 3);
  EXPECT_EQ(Int(*rate, "failures"), 1);
  EXPECT_NEAR(Field(*rate, "observed")->to_number<double>(), 1.0 / 3, 1e-3);
  EXPECT_NEAR(Field(*rate, "low")->to_number<double>(), 0.0615, 1e-3);
  EXPECT_NEAR(Field(*rate, "high")->to_number<double>(), 0.7923, 1e-3);

  // Listed, and filtered by status and suite.
  const json::value list = Get(s, "/api/v1/hunts?status=failed&suite=Hunted");
  ASSERT_EQ(Arr(list, "hunts").size(), 1u) << json::serialize(list);
  EXPECT_EQ(Int(Arr(list, "hunts")[0], "id"), id);
  EXPECT_TRUE(Arr(Get(s, "/api/v1/hunts?status=running"), "hunts").empty());
  // Over: a stop is a conflict.
  http::ClientResult stop = Call(s, "POST", fmt::format("/api/v1/hunts/{}/stop", id));
  EXPECT_EQ(stop.status, 409) << stop.body;
  EXPECT_NE(stop.body.find("already ended (failed)"), std::string::npos) << stop.body;
}

TEST_F(HuntTest, RunsEveryRepeatWithoutUntilFailureAndPassesWhenNothingFails) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t flaky = Int(
      StartHunt(s, "Hunted", fmt::format(R"({{"repeat":6,{}}})", HuntedParams(3))), "id");
  const json::value hunt = AwaitHuntEnded(s, flaky);
  EXPECT_EQ(Str(hunt, "status"), "failed");
  EXPECT_EQ(Runs(hunt, "total"), 6);
  EXPECT_EQ(Runs(hunt, "failed"), 2);
  EXPECT_EQ(Runs(hunt, "passed"), 4);
  EXPECT_EQ(CountedRuns(), 6);
  EXPECT_NE(Str(hunt, "error").find("6 runs made: 2 of 6 runs failed"), std::string::npos)
      << Str(hunt, "error");

  // A filter to one test, and a hunt that finds nothing: passed, its rate 0 with an upper
  // bound (3 runs: below 0.5615).
  const std::int64_t clean =
      Int(StartHunt(s, "Fast", R"({"repeat":3,"until_failure":true,"filter":"^Hello$"})"), "id");
  const json::value passed = AwaitHuntEnded(s, clean);
  EXPECT_EQ(Str(passed, "status"), "passed") << json::serialize(passed);
  EXPECT_EQ(Runs(passed, "total"), 3);
  EXPECT_TRUE(IsNull(passed, "first_failing_run"));
  const json::value* rate = Field(passed, "failure_rate");
  ASSERT_NE(rate, nullptr);
  EXPECT_EQ(Field(*rate, "low")->to_number<double>(), 0);
  EXPECT_NEAR(Field(*rate, "high")->to_number<double>(), 0.5615, 1e-3);
  for (const json::value& run : ListRuns(s, fmt::format("hunt={}", clean))) {
    EXPECT_EQ(Str(run, "filter"), "^Hello$");
    EXPECT_EQ(Str(run, "status"), "passed");
  }

  // A time budget alone: the first run is made, and none after the budget is spent.
  const std::int64_t budget = Int(StartHunt(s, "Fast", R"({"max_duration":"1ms"})"), "id");
  const json::value spent = AwaitHuntEnded(s, budget);
  EXPECT_EQ(Str(spent, "status"), "passed");
  EXPECT_EQ(Runs(spent, "total"), 1);
  EXPECT_NE(Str(spent, "error").find("time budget"), std::string::npos) << Str(spent, "error");
}

TEST_F(HuntTest, StopLetsTheRunFinishAndCancelCancelsIt) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  // Gate's run waits for the gate: the hunt's first run is in progress while it is stopped.
  const std::int64_t stopped = Int(StartHunt(s, "Gate", R"({"repeat":5})"), "id");
  std::vector<json::value> runs;
  ASSERT_TRUE(Eventually([&] {
    runs = ListRuns(s, fmt::format("hunt={}", stopped));
    return runs.size() == 1 && Str(runs[0], "status") == "running";
  }));
  const json::value after_stop =
      Json(s, "POST", fmt::format("/api/v1/hunts/{}/stop", stopped), "{}", 200);
  EXPECT_EQ(Str(after_stop, "status"), "stopped");
  EXPECT_EQ(Runs(after_stop, "unfinished"), 1) << "the run in progress finishes";
  EXPECT_NE(Str(after_stop, "error").find("stopped by"), std::string::npos);

  // Cancel: the run in progress is cancelled too.
  const std::int64_t cancelled = Int(StartHunt(s, "Slow", R"({"repeat":5})"), "id");
  ASSERT_TRUE(Eventually([&] { return ListRuns(s, fmt::format("hunt={}", cancelled)).size() == 1; }));
  const json::value after_cancel =
      Json(s, "POST", fmt::format("/api/v1/hunts/{}/cancel", cancelled), "{}", 200);
  EXPECT_EQ(Str(after_cancel, "status"), "cancelled");
  const json::value gone = AwaitHuntEnded(s, cancelled);
  EXPECT_EQ(Runs(gone, "cancelled"), 1) << json::serialize(gone);
  EXPECT_EQ(Runs(gone, "total"), 1);

  OpenGate();
  const json::value finished = AwaitHuntEnded(s, stopped);
  EXPECT_EQ(Str(finished, "status"), "stopped");
  EXPECT_EQ(Runs(finished, "passed"), 1);
  EXPECT_EQ(Runs(finished, "total"), 1) << "no run after the stop";
}

TEST_F(HuntTest, HuntRunsQueueBehindOtherRuns) {
  Server* s = Start({"--max-concurrent-runs", "1"});
  ASSERT_NE(s, nullptr);
  // The one slot is taken; a hunt's run queues, then an ordinary run after it.
  const std::int64_t gate = Trigger(s, "Gate");
  AwaitRun(s, gate, [](const json::value& r) { return Str(r, "status") == "running"; });
  const std::int64_t hunt = Int(StartHunt(s, "Fast", R"({"repeat":1})"), "id");
  ASSERT_EQ(ListRuns(s, fmt::format("hunt={}", hunt)).size(), 1u);
  const std::int64_t hunted = Int(ListRuns(s, fmt::format("hunt={}", hunt))[0], "id");
  const std::int64_t later = Trigger(s, "Mixed");
  OpenGate();
  const json::value ordinary = AwaitFinished(s, later);
  const json::value hunts_run = AwaitFinished(s, hunted);
  // The ordinary run, queued after the hunt's, started first.
  EXPECT_LT(Str(ordinary, "started_at"), Str(hunts_run, "started_at"))
      << json::serialize(ordinary) << json::serialize(hunts_run);
  EXPECT_LE(Str(ordinary, "finished_at"), Str(hunts_run, "started_at"));
  EXPECT_EQ(Str(AwaitHuntEnded(s, hunt), "status"), "passed");
}

TEST_F(HuntTest, AHuntGoesOnAfterARestart) {
  Server* s = Start({"--shutdown-timeout", "200ms"});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Int(StartHunt(s, "Gate", R"({"repeat":2})"), "id");
  ASSERT_TRUE(Eventually([&] {
    const std::vector<json::value> runs = ListRuns(s, fmt::format("hunt={}", id));
    return runs.size() == 1 && Str(runs[0], "status") == "running";
  }));
  s->Signal(SIGTERM);
  ASSERT_TRUE(s->WaitExit(10s).has_value());
  OpenGate();
  Server* again = Start();
  ASSERT_NE(again, nullptr);
  const json::value hunt = AwaitHuntEnded(again, id);
  EXPECT_EQ(Str(hunt, "status"), "passed") << json::serialize(hunt);
  EXPECT_EQ(Runs(hunt, "total"), 2);
  EXPECT_EQ(Runs(hunt, "passed"), 2);
}

TEST_F(HuntTest, BadHuntsAreRefusedWithClearErrors) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const auto refused = [&](const std::string& suite, const std::string& body, int status,
                           const std::string& says) {
    http::ClientResult r = Call(s, "POST", "/api/v1/suites/" + suite + "/hunts", body);
    EXPECT_EQ(r.status, status) << body << ": " << r.body;
    EXPECT_NE(r.body.find(says), std::string::npos) << body << ": " << r.body;
  };
  refused("Fast", "{}", 400, "a hunt needs a limit");
  refused("Fast", R"({"repeat":0})", 400, "repeat");
  refused("Fast", R"({"repeat":10001})", 400, "between 1 and 10000");
  refused("Fast", R"({"repeat":"3"})", 400, "repeat");
  refused("Fast", R"({"repeat":3,"max_duration":"soon"})", 400, "max_duration");
  refused("Fast", R"({"repeat":3,"until_failure":"yes"})", 400, "until_failure");
  refused("Fast", R"({"repeat":3,"forever":true})", 400, "forever");
  refused("Fast", R"({"repeat":3,"filter":"^Nope$"})", 400, "selects no test");
  refused("Fast", R"({"repeat":3,"filter":"("})", 400, "filter");
  refused("Nope", R"({"repeat":3})", 404, "no suite named");
  EXPECT_TRUE(Arr(Get(s, "/api/v1/hunts"), "hunts").empty()) << "nothing was started";
  EXPECT_EQ(Call(s, "GET", "/api/v1/hunts/999").status, 404);
  EXPECT_EQ(Call(s, "POST", "/api/v1/hunts/999/stop").status, 404);
  EXPECT_EQ(Call(s, "POST", "/api/v1/hunts/999/cancel").status, 404);
  EXPECT_EQ(Call(s, "GET", "/api/v1/hunts?status=bogus").status, 400);
  EXPECT_EQ(Call(s, "GET", "/api/v1/runs?hunt=x").status, 400);
}

TEST_F(HuntTest, RemoteStartsFollowsListsAndStopsHunts) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  ProcessResult hunt = RunProcess(
      {SERVE_FIXTURE, "remote", "hunt", "Hunted", "--server", s->url(), "--repeat", "5",
       "--until-failure", "--param", "counter=" + dir_ + "/count", "--param", "fail_every=2",
       "--wait"});
  // A run failed: exit 1, as `remote trigger --wait` of a failed run.
  EXPECT_EQ(hunt.exit_code, 1) << hunt.out << hunt.err;
  EXPECT_NE(hunt.out.find("hunt 1 of Hunted started: " + s->url() + "/hunts/1"),
            std::string::npos)
      << hunt.out;
  EXPECT_NE(hunt.out.find(" passed\n"), std::string::npos) << hunt.out;
  EXPECT_NE(hunt.out.find(" failed\n"), std::string::npos) << hunt.out;
  EXPECT_NE(hunt.out.find("runs 2: 1 passed, 1 failed"), std::string::npos) << hunt.out;
  EXPECT_NE(hunt.out.find("failure rate 50.0% (95% CI 9.5%-90.5%)"), std::string::npos)
      << hunt.out;
  EXPECT_EQ(CountedRuns(), 2);

  ProcessResult list = RunProcess({SERVE_FIXTURE, "remote", "hunts", "--server", s->url()});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("Hunted"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("failed"), std::string::npos) << list.out;
  ProcessResult one = RunProcess({SERVE_FIXTURE, "remote", "hunts", "1", "--server", s->url()});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("first failing run"), std::string::npos) << one.out;
  ProcessResult stop =
      RunProcess({SERVE_FIXTURE, "remote", "stop-hunt", "1", "--server", s->url()});
  EXPECT_EQ(stop.exit_code, 2);
  EXPECT_NE(stop.err.find("already ended"), std::string::npos) << stop.err;
  ProcessResult no_limit =
      RunProcess({SERVE_FIXTURE, "remote", "hunt", "Fast", "--server", s->url()});
  EXPECT_EQ(no_limit.exit_code, 2);
  EXPECT_NE(no_limit.err.find("--repeat"), std::string::npos) << no_limit.err;
}

// A follower that the server refuses (its token revoked while it follows) says why and
// exits 2 at once; a server it cannot reach it keeps trying for a while.
TEST_F(HuntTest, RemoteHuntWaitStopsAtARefusalWithTheServersAnswer) {
  const std::string auth_file = dir_ + "/auth";
  const std::string admin = MakeToken(SERVE_FIXTURE, "admin", "admin", auth_file);
  const std::string ci = MakeToken(SERVE_FIXTURE, "ci", "run", auth_file);
  Server* s = Start({"--auth-file", auth_file, "--auth-reload-interval", "50ms"});
  ASSERT_NE(s, nullptr);
  BackgroundProcess follower({SERVE_FIXTURE, "remote", "hunt", "Gate", "--server", s->url(),
                              "--repeat", "2", "--wait"},
                             {{"HANDOFF_TOKEN", ci}});
  ASSERT_TRUE(follower.WaitForOutput("hunt 1 of Gate started", 30s)) << follower.err();
  // ci's line goes: the next look is refused.
  std::string file = ReadFile(auth_file);
  std::ofstream(auth_file, std::ios::trunc) << file.substr(0, file.find('\n') + 1);
  const ProcessResult done = follower.Wait(std::chrono::seconds(30));
  EXPECT_EQ(done.exit_code, 2) << done.out << done.err;
  EXPECT_NE(done.err.find("hunt 1: HTTP 401"), std::string::npos) << done.err;
  // The hunt goes on without its follower.
  OpenGate();
  http::ClientResult hunt;
  EXPECT_TRUE(Eventually([&] {
    hunt = Call(s, "GET", "/api/v1/hunts/1", {}, {{"Authorization", "Bearer " + admin}});
    return hunt.body.find("\"status\":\"passed\"") != std::string::npos;
  }, 60s)) << hunt.body;
}

TEST_F(HuntTest, ASchedulesHuntStartsAtItsFiringAndOneAtATime) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const json::value created = Json(
      s, "POST", "/api/v1/schedules",
      R"({"name":"hunt-gate","suite":"Gate","spec":"@every 1s","hunt":{"repeat":2,"until_failure":true}})",
      201);
  ASSERT_TRUE(Field(created, "hunt") != nullptr && Field(created, "hunt")->is_object())
      << json::serialize(created);
  EXPECT_EQ(Int(*Field(created, "hunt"), "repeat"), 2);
  EXPECT_TRUE(Bool(*Field(created, "hunt"), "until_failure"));
  json::value hunts;
  ASSERT_TRUE(Eventually([&] {
    hunts = Get(s, "/api/v1/hunts?schedule=hunt-gate");
    return !Arr(hunts, "hunts").empty();
  }));
  const std::int64_t first = Int(Arr(hunts, "hunts").back(), "id");
  EXPECT_EQ(Str(Arr(hunts, "hunts").back(), "trigger"), "schedule");
  EXPECT_EQ(Str(Arr(hunts, "hunts").back(), "initiated_by"), "schedule hunt-gate");

  // Its first run waits at the gate: the firings meanwhile are skipped, one hunt at a time.
  ASSERT_TRUE(Eventually(
      [&] {
        return s->Err().find("schedule skipped: its previous hunt has not ended") !=
               std::string::npos;
      },
      20s))
      << s->Err();
  EXPECT_EQ(Arr(Get(s, "/api/v1/hunts?schedule=hunt-gate"), "hunts").size(), 1u);
  // The schedule's last run is its hunt's.
  const std::vector<json::value> hunt_runs = ListRuns(s, fmt::format("hunt={}", first));
  ASSERT_EQ(hunt_runs.size(), 1u);
  const json::value schedules = Get(s, "/api/v1/schedules");
  bool listed = false;
  for (const json::value& schedule : Arr(schedules, "schedules")) {
    if (Str(schedule, "name") != "hunt-gate") continue;
    listed = true;
    EXPECT_EQ(Int(schedule, "last_run_id"), Int(hunt_runs[0], "id")) << json::serialize(schedule);
  }
  EXPECT_TRUE(listed) << json::serialize(schedules);

  Json(s, "DELETE", "/api/v1/schedules/hunt-gate", {}, 204);
  OpenGate();
  const json::value ended = AwaitHuntEnded(s, first);
  EXPECT_EQ(Str(ended, "status"), "passed");
  EXPECT_EQ(Runs(ended, "total"), 2);
  for (const json::value& run : ListRuns(s, fmt::format("hunt={}", first))) {
    EXPECT_EQ(Str(run, "schedule"), "hunt-gate");
    EXPECT_EQ(Str(run, "trigger"), "schedule");
  }

  http::ClientResult bad = Call(
      s, "POST", "/api/v1/schedules",
      R"({"name":"bad-hunt","suite":"Fast","spec":"@every 1s","hunt":{"until_failure":true}})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("hunt: a hunt needs a limit"), std::string::npos) << bad.body;
  bad = Call(s, "POST", "/api/v1/schedules",
             R"({"name":"bad-hunt","suite":"Fast","spec":"@every 1s","hunt":{"repeat":0}})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("hunt: "), std::string::npos) << bad.body;
}

TEST_F(HuntTest, SecretsAreMaskedInTheHuntAsInItsRuns) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::string secret = "hunter2s3cret";
  const json::value started = StartHunt(
      s, "Secrets",
      fmt::format(R"({{"repeat":1,"params":{{"DB_PASSWORD":"{0}","region":"eu"}},)"
                  R"("labels":{{"note":"pw {0}"}},"reference":"deploy {0}","initiated_by":"me {0}"}})",
                  secret));
  const json::value hunt = AwaitHuntEnded(s, Int(started, "id"));
  const std::string shown = json::serialize(hunt) + json::serialize(started);
  EXPECT_EQ(shown.find(secret), std::string::npos) << shown;
  EXPECT_EQ(Str(*Field(hunt, "params"), "DB_PASSWORD"), "[redacted]");
  EXPECT_EQ(Str(*Field(hunt, "params"), "region"), "eu");
  EXPECT_EQ(Str(hunt, "reference"), "deploy [redacted]");
  // Its run got the real value, and shows it masked too.
  const std::vector<json::value> runs = ListRuns(s, fmt::format("hunt={}", Int(hunt, "id")));
  ASSERT_EQ(runs.size(), 1u);
  const json::value run = GetRun(s, Int(runs[0], "id"));
  EXPECT_EQ(json::serialize(run).find(secret), std::string::npos) << json::serialize(run);
  EXPECT_EQ(Str(run, "status"), "passed");
}

TEST_F(HuntTest, AClientCannotTakeAHuntsStepAndCancellingItsRunEndsIt) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  // The keys of hunts' runs are the server's: a client's run under one would take a step.
  http::ClientResult squat = Call(s, "POST", "/api/v1/suites/Fast/runs", "{}",
                                  {{"Idempotency-Key", "hunt-1-after-0"}});
  EXPECT_EQ(squat.status, 400) << squat.body;
  EXPECT_NE(squat.body.find("server's own"), std::string::npos) << squat.body;

  const std::int64_t id = Int(StartHunt(s, "Gate", R"({"repeat":3})"), "id");
  std::vector<json::value> runs;
  ASSERT_TRUE(Eventually([&] {
    runs = ListRuns(s, fmt::format("hunt={}", id));
    return runs.size() == 1 && Str(runs[0], "status") == "running";
  }));
  Json(s, "POST", fmt::format("/api/v1/runs/{}/cancel", Int(runs[0], "id")), "{}", 200);
  const json::value hunt = AwaitHuntEnded(s, id);
  EXPECT_EQ(Str(hunt, "status"), "cancelled") << json::serialize(hunt);
  EXPECT_EQ(Runs(hunt, "total"), 1);
  EXPECT_NE(Str(hunt, "error").find(fmt::format("run {} was cancelled", Int(runs[0], "id"))),
            std::string::npos)
      << Str(hunt, "error");
}

}  // namespace
}  // namespace handoff::testing
