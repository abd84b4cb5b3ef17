// Black-box tests of hold on failure (issue 21) with the example examples/hold/hold.cc: its
// test starts a local HTTP service and fails. Held, the service answers and the test's temp
// dir is there; released (by the API, `remote release`, the max hold, a cancel, kill -URG or
// Ctrl-C under `run`), the cleanups run and both are gone. The serve tests run on SQLite
// and, under ctest's serve_postgres, on PostgreSQL.

#include <signal.h>

#include <filesystem>
#include <regex>
#include <string>

#include "blackbox/serve_harness.h"

namespace handoff::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

#ifdef EXAMPLE_HOLD

constexpr const char* kHold = EXAMPLE_HOLD;

// Returns true if an HTTP GET of `endpoint` (host:port) gets any answer.
bool Answers(const std::string& endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  http::Client client(endpoint.substr(0, colon),
                      static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  const http::ClientResult r = client.Request("GET", "/prices.txt", {}, {}, 2s);
  return r.ok() && r.status == 200;
}

bool ProcessExists(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

class HoldServeTest : public ServeDatabaseTest {
 protected:
  Server* Start(std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {kHold, "serve", "--port", "0", "--db", db_.url(),
                                     "--grace", "2s"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return StartServer(servers_, starts_, dir_, std::move(argv), {});
  }

  http::ClientResult Call(Server* s, std::string_view method, std::string_view target,
                          std::string_view body = {}) {
    return s->client().Request(method, target, body, {{"Content-Type", "application/json"}}, 10s);
  }

  // Triggers a run of Checkout with `body`; returns its id (0 on failure).
  std::int64_t Trigger(Server* s, std::string_view body) {
    const http::ClientResult r = Call(s, "POST", "/api/v1/suites/Checkout/runs", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return std::max<std::int64_t>(0, Int(Parse(r.body), "id"));
  }

  // Polls the run until `done` holds (at most 30s); returns the last state seen.
  json::value AwaitRun(Server* s, std::int64_t id,
                       const std::function<bool(const json::value&)>& done) {
    json::value run;
    const bool reached = Eventually(
        [&] {
          const http::ClientResult r = Call(s, "GET", fmt::format("/api/v1/runs/{}", id));
          run = Parse(r.body);
          return r.ok() && r.status == 200 && done(run);
        },
        30s);
    EXPECT_TRUE(reached) << "run " << id << " last seen: " << json::serialize(run);
    return run;
  }

  json::value AwaitStatus(Server* s, std::int64_t id, const std::string& status) {
    return AwaitRun(s, id, [&](const json::value& run) { return Str(run, "status") == status; });
  }

  // Checks what a held run shows: the test, the worker's pid (alive), the temp dir (with
  // the file the test wrote) and the service's endpoint, which answers. Returns the hold.
  json::value ExpectHeld(const json::value& run) {
    EXPECT_TRUE(Bool(run, "hold_on_failure")) << json::serialize(run);
    const json::value* hold = Field(run, "hold");
    if (hold == nullptr || !hold->is_object()) {
      ADD_FAILURE() << "no hold: " << json::serialize(run);
      return {};
    }
    EXPECT_EQ(Str(*hold, "test"), "PriceList");
    EXPECT_TRUE(ProcessExists(static_cast<int>(Int(*hold, "pid")))) << json::serialize(*hold);
    EXPECT_TRUE(std::filesystem::exists(Str(*hold, "temp_dir") + "/expected.txt"))
        << json::serialize(*hold);
    EXPECT_FALSE(Str(*hold, "held_at").empty());
    EXPECT_FALSE(Str(*hold, "release_at").empty());
    EXPECT_TRUE(IsNull(*hold, "released_at"));
    EXPECT_TRUE(IsNull(*hold, "ended"));
    const json::array& endpoints = Arr(*hold, "endpoints");
    EXPECT_EQ(endpoints.size(), 1u) << json::serialize(*hold);
    if (endpoints.empty()) return *hold;
    EXPECT_EQ(Str(endpoints[0], "runnable"), "prices");
    EXPECT_EQ(Str(endpoints[0], "port"), "http");
    EXPECT_TRUE(ProcessExists(static_cast<int>(Int(endpoints[0], "pid"))));
    EXPECT_TRUE(Answers(Str(endpoints[0], "endpoint"))) << "the held test's service does not answer";
    return *hold;
  }

  // Checks that the held world is gone: the service's endpoint answers no more, the temp dir
  // was removed.
  void ExpectCleanedUp(const json::value& held) {
    const json::array& endpoints = Arr(held, "endpoints");
    ASSERT_FALSE(endpoints.empty());
    const std::string endpoint = Str(endpoints[0], "endpoint");
    EXPECT_TRUE(Eventually([&] { return !Answers(endpoint); }, 10s))
        << "the service still answers at " << endpoint;
    EXPECT_FALSE(std::filesystem::exists(Str(held, "temp_dir")));
  }
};

TEST_F(HoldServeTest, AHeldTestsServiceAnswersUntilTheReleaseThenTheRunFails) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, R"({"hold_on_failure":true})");
  ASSERT_GT(id, 0);
  const json::value held = ExpectHeld(AwaitStatus(s, id, "held"));

  // remote get shows the hold.
  const ProcessResult get = RunProcess({kHold, "remote", "get", std::to_string(id), "--server",
                                        s->url()});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_NE(get.out.find("held: PriceList (attempt 1) before its cleanups"), std::string::npos)
      << get.out;
  EXPECT_NE(get.out.find("endpoint  prices http " + Str(Arr(held, "endpoints")[0], "endpoint")),
            std::string::npos)
      << get.out;

  // Nothing else to release: 404 for no such run.
  const http::ClientResult unknown = Call(s, "POST", "/api/v1/runs/999999/release", "{}");
  EXPECT_EQ(unknown.status, 404) << unknown.body;

  const http::ClientResult released = Call(s, "POST", fmt::format("/api/v1/runs/{}/release", id), "{}");
  EXPECT_EQ(released.status, 200) << released.body;
  const json::value run = AwaitRun(s, id, [](const json::value& r) {
    return !Str(r, "finished_at").empty();
  });
  EXPECT_EQ(Str(run, "status"), "failed") << json::serialize(run);
  EXPECT_EQ(TestStatuses(run)["PriceList"], "failed");
  const json::value* hold = Field(run, "hold");
  ASSERT_NE(hold, nullptr);
  EXPECT_EQ(Str(*hold, "ended"), "released");
  EXPECT_FALSE(Str(*hold, "released_at").empty());
  ExpectCleanedUp(held);

  // Finished: not held any more.
  const http::ClientResult again = Call(s, "POST", fmt::format("/api/v1/runs/{}/release", id), "{}");
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_NE(again.body.find("is not held"), std::string::npos) << again.body;
}

TEST_F(HoldServeTest, AHuntThatHoldsStopsAtTheHeldFailureAndEndsAfterTheRelease) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const http::ClientResult started = Call(
      s, "POST", "/api/v1/suites/Checkout/hunts",
      R"({"repeat":5,"until_failure":true,"hold_on_failure":true})");
  ASSERT_EQ(started.status, 201) << started.body;
  const std::int64_t hunt = Int(Parse(started.body), "id");
  EXPECT_TRUE(Bool(Parse(started.body), "hold_on_failure"));
  // Its first run fails, and holds: the hunt waits, running, with its run unfinished.
  std::int64_t id = 0;
  ASSERT_TRUE(Eventually([&] {
    const json::value runs = Parse(Call(s, "GET", fmt::format("/api/v1/runs?hunt={}", hunt)).body);
    if (Arr(runs, "runs").empty()) return false;
    id = Int(Arr(runs, "runs")[0], "id");
    return true;
  }, 30s));
  const json::value held = ExpectHeld(AwaitStatus(s, id, "held"));
  json::value during = Parse(Call(s, "GET", fmt::format("/api/v1/hunts/{}", hunt)).body);
  EXPECT_EQ(Str(during, "status"), "running");
  EXPECT_EQ(Int(*Field(during, "runs"), "unfinished"), 1) << json::serialize(during);

  EXPECT_EQ(Call(s, "POST", fmt::format("/api/v1/runs/{}/release", id), "{}").status, 200);
  json::value ended;
  ASSERT_TRUE(Eventually([&] {
    ended = Parse(Call(s, "GET", fmt::format("/api/v1/hunts/{}", hunt)).body);
    return Str(ended, "status") != "running";
  }, 30s));
  EXPECT_EQ(Str(ended, "status"), "failed") << json::serialize(ended);
  EXPECT_EQ(Int(ended, "first_failing_run"), id);
  EXPECT_EQ(Int(*Field(ended, "runs"), "total"), 1);
  ExpectCleanedUp(held);
}

TEST_F(HoldServeTest, RemoteTriggersAHoldAndReleasesIt) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const ProcessResult trigger = RunProcess(
      {kHold, "remote", "trigger", "Checkout", "--hold-on-failure", "--server", s->url()});
  ASSERT_EQ(trigger.exit_code, 0) << trigger.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(trigger.out, m, std::regex(R"(run (\d+) of Checkout queued)")))
      << trigger.out;
  const std::int64_t id = std::stoll(m[1]);
  const json::value held = ExpectHeld(AwaitStatus(s, id, "held"));
  const ProcessResult release =
      RunProcess({kHold, "remote", "release", std::to_string(id), "--server", s->url()});
  EXPECT_EQ(release.exit_code, 0) << release.err;
  EXPECT_NE(release.out.find(fmt::format("run {}: release requested", id)), std::string::npos)
      << release.out;
  const json::value run = AwaitStatus(s, id, "failed");
  EXPECT_EQ(Str(*Field(run, "hold"), "ended"), "released");
  ExpectCleanedUp(held);

  // A finished run is not held: remote release says so and exits 2.
  const ProcessResult late =
      RunProcess({kHold, "remote", "release", std::to_string(id), "--server", s->url()});
  EXPECT_EQ(late.exit_code, 2);
  EXPECT_NE(late.err.find("is not held"), std::string::npos) << late.err;
}

TEST_F(HoldServeTest, AHoldEndsByItselfAfterTheMaxHold) {
  Server* s = Start({"--max-hold", "1s"});
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, R"({"hold_on_failure":true})");
  ASSERT_GT(id, 0);
  const json::value held = AwaitStatus(s, id, "held");
  const json::value run = AwaitStatus(s, id, "failed");
  const json::value* hold = Field(run, "hold");
  ASSERT_NE(hold, nullptr) << json::serialize(run);
  EXPECT_EQ(Str(*hold, "ended"), "timed_out");
  ExpectCleanedUp(*Field(held, "hold"));
}

TEST_F(HoldServeTest, CancelOfAHeldRunReleasesItAndTheRunEndsCancelled) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, R"({"hold_on_failure":true})");
  ASSERT_GT(id, 0);
  const json::value held = ExpectHeld(AwaitStatus(s, id, "held"));
  const http::ClientResult cancel = Call(s, "POST", fmt::format("/api/v1/runs/{}/cancel", id), "{}");
  EXPECT_EQ(cancel.status, 200) << cancel.body;
  const json::value run = AwaitStatus(s, id, "cancelled");
  EXPECT_EQ(Str(*Field(run, "hold"), "ended"), "cancelled");
  ExpectCleanedUp(held);
}

TEST_F(HoldServeTest, AShutdownReleasesAHeldTestAndTheRunFinishesAfterTheRestart) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, R"({"hold_on_failure":true})");
  ASSERT_GT(id, 0);
  const json::value held = ExpectHeld(AwaitStatus(s, id, "held"));
  s->Signal(SIGTERM);
  EXPECT_EQ(s->WaitExit(30s), 0) << s->Err();
  ExpectCleanedUp(held);
  // The held test's result was stored before the server stopped; the next start ends the
  // run (it has no test left to run).
  Server* again = Start();
  ASSERT_NE(again, nullptr);
  const json::value run = AwaitRun(again, id, [](const json::value& r) {
    return !Str(r, "finished_at").empty();
  });
  EXPECT_EQ(Str(run, "status"), "failed") << json::serialize(run);
  EXPECT_EQ(TestStatuses(run)["PriceList"], "failed");
  EXPECT_EQ(Str(*Field(run, "hold"), "ended"), "released");
}

TEST_F(HoldServeTest, WithoutHoldOnFailureNothingIsHeldAndBadInputIsRefused) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "{}");
  ASSERT_GT(id, 0);
  const json::value run = AwaitStatus(s, id, "failed");
  EXPECT_EQ(Field(run, "hold"), nullptr) << json::serialize(run);
  const http::ClientResult release = Call(s, "POST", fmt::format("/api/v1/runs/{}/release", id), "{}");
  EXPECT_EQ(release.status, 409) << release.body;
  const http::ClientResult bad =
      Call(s, "POST", "/api/v1/suites/Checkout/runs", R"({"hold_on_failure":"yes"})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("hold_on_failure"), std::string::npos) << bad.body;
}

TEST(HoldServeFlagsTest, ABadMaxHoldIsAUsageError) {
  const ProcessResult r =
      RunProcess({kHold, "serve", "--port", "0", "--db", "sqlite::memory:", "--max-hold", "soon"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--max-hold: invalid duration \"soon\""), std::string::npos) << r.err;
}

// --- run --------------------------------------------------------------------------------------

TEST(HoldRunTest, RunHoldsOnlyWithTheFlagAndAMaxHoldReleasesIt) {
  const ProcessResult plain = RunProcess({kHold, "run"});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_EQ(plain.err.find("held"), std::string::npos) << plain.err;

  const ProcessResult held = RunProcess({kHold, "run", "--hold-on-failure", "--max-hold", "500ms"});
  EXPECT_EQ(held.exit_code, 1) << held.err;
  EXPECT_NE(held.err.find("handoff: Checkout.PriceList failed and is held before its cleanups:"),
            std::string::npos)
      << held.err;
  EXPECT_TRUE(std::regex_search(held.err, std::regex(R"(endpoint  prices http 127\.0\.0\.1:\d+ \(pid \d+\))")))
      << held.err;
  EXPECT_TRUE(std::regex_search(held.err, std::regex(R"(temp dir  \S+handoff-PriceList-)")))
      << held.err;
  EXPECT_NE(held.err.find("hold ended (timed_out)"), std::string::npos) << held.err;

  const ProcessResult bad = RunProcess({kHold, "run", "--hold-on-failure", "--max-hold", "0s"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--max-hold: invalid duration \"0s\""), std::string::npos) << bad.err;
}

// The worker's pid, from run's notice of a held test.
int HeldPid(const std::string& out) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(R"(process   pid (\d+): gdb -p)"))) return -1;
  return std::stoi(m[1]);
}

TEST(HoldRunTest, KillUrgReleasesAndTheCleanupsRun) {
  for (const char* isolation : {"process", "none"}) {
    SCOPED_TRACE(isolation);
    // Its stderr on stdout, where BackgroundProcess waits for text.
    BackgroundProcess run({"/bin/sh", "-c",
                           fmt::format("exec {} run --hold-on-failure --isolation {} 2>&1", kHold,
                                       isolation)});
    ASSERT_TRUE(run.WaitForOutput("  release   ", 30s)) << run.out();
    const int pid = HeldPid(run.out());
    ASSERT_GT(pid, 0) << run.out();
    std::smatch m;
    const std::string out = run.out();
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(endpoint  prices http (\S+))"))) << out;
    const std::string endpoint = m[1];
    EXPECT_TRUE(Answers(endpoint));
    ASSERT_EQ(::kill(pid, SIGURG), 0);
    const ProcessResult done = run.Wait(30s);
    EXPECT_EQ(done.exit_code, 1) << done.out;
    EXPECT_NE(done.out.find("hold ended (released)"), std::string::npos) << done.out;
    EXPECT_TRUE(Eventually([&] { return !Answers(endpoint); }, 10s)) << endpoint;
  }
}

TEST(HoldRunTest, CtrlCReleasesTheHoldAndStopsTheRun) {
  BackgroundProcess run({"/bin/sh", "-c", fmt::format("exec {} run --hold-on-failure 2>&1", kHold)});
  ASSERT_TRUE(run.WaitForOutput("  release   ", 30s)) << run.out();
  ASSERT_EQ(::kill(run.pid(), SIGINT), 0);
  const ProcessResult done = run.Wait(30s);
  EXPECT_EQ(done.exit_code, 1) << done.out;
  EXPECT_NE(done.out.find("hold ended (cancelled)"), std::string::npos) << done.out;
}

#endif  // EXAMPLE_HOLD

}  // namespace
}  // namespace handoff::testing
