// Black-box tests of several `serve` replicas on one PostgreSQL database (issue 17): each
// test starts tests/fixtures/replica_fixture.cc as three servers on a database of its own and
// talks HTTP to any of them, as clients behind one Service would. They wait on conditions
// (the API polled with a deadline), never on sleeps.
//
// Needs a PostgreSQL server (support/postgres_cluster.h): skipped without one, failed under
// HANDOFF_REQUIRE_POSTGRES=1 (CI).

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "blackbox/process.h"
#include "blackbox/serve_harness.h"

namespace handoff::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool Finished(const json::value& run) {
  const std::string s = Str(run, "status");
  return s == "passed" || s == "failed" || s == "cancelled" || s == "error";
}

// PgBouncer in transaction pooling mode in front of the tests' PostgreSQL server: each
// transaction of a client may run on another server connection. Debian's is 1.18, which
// keeps no prepared statements, so the replicas run with --pg-prepared-statements=off.
class PgBouncer {
 public:
  // Starts it on a free port; returns why not ("" when it serves).
  std::string Start() {
    if (::access(kBinary, X_OK) != 0) return "no /usr/sbin/pgbouncer (Debian's pgbouncer)";
    const std::string server = PostgresServerUrl();
    static const std::regex kHostPort(R"(@([^:/]+):(\d+)/)");
    std::smatch m;
    if (!std::regex_search(server, m, kHostPort)) return "cannot read the server's port: " + server;
    // A directory the postgres user can read when run as root (PgBouncer refuses root).
    dir_ = (std::filesystem::temp_directory_path() / "handoff-pgbouncer-XXXXXX").string();
    if (::mkdtemp(dir_.data()) == nullptr) return "cannot make a directory for PgBouncer";
    ::chmod(dir_.c_str(), 0755);
    port_ = FreePort();
    std::ofstream(dir_ + "/users.txt") << "\"postgres\" \"\"\n";
    std::ofstream(dir_ + "/pgbouncer.ini")
        << "[databases]\n* = host=" << m[1] << " port=" << m[2] << "\n"
        << "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " << port_ << "\n"
        << "auth_type = trust\nauth_file = " << dir_ << "/users.txt\n"
        << "pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 8\n"
        << "unix_socket_dir =\nignore_startup_parameters = extra_float_digits\n";
    std::vector<std::string> argv = {kBinary, dir_ + "/pgbouncer.ini"};
    if (::geteuid() == 0) {
      const passwd* user = ::getpwnam("postgres");
      if (user == nullptr) return "running as root, and there is no postgres user to run PgBouncer";
      for (const char* file : {"", "/users.txt", "/pgbouncer.ini"}) {
        if (::chown((dir_ + file).c_str(), user->pw_uid, user->pw_gid) != 0) {
          return "cannot give PgBouncer's files to the postgres user";
        }
      }
      argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
    }
    process_ = std::make_unique<BackgroundProcess>(argv);
    const auto deadline = Clock::now() + 15s;
    while (Clock::now() < deadline) {
      if (PostgresQuery(Url("postgres"), "SELECT 1").ok()) return "";
      ::usleep(20'000);
    }
    return "PgBouncer did not answer within 15s: " + process_->err();
  }

  ~PgBouncer() {
    process_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // The URL of `database` through PgBouncer.
  std::string Url(const std::string& database) const {
    return fmt::format("postgres://postgres@127.0.0.1:{}/{}", port_, database);
  }

 private:
  static constexpr const char* kBinary = "/usr/sbin/pgbouncer";
  std::string dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

class ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HANDOFF_NEED_POSTGRES();
    dir_ = MakeTempDir();
    auto created = PostgresTestDatabase::Create();
    ASSERT_TRUE(created.ok()) << created.error().message;
    database_ = std::move(created).value();
    db_url_ = database_->url();
  }
  void TearDown() override {
    servers_.clear();
    database_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Starts replica `name` of the fixture on the test's database.
  Server* Start(const std::string& name, std::map<std::string, std::string> env = {},
                std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {REPLICA_FIXTURE, "serve",       "--port",
                                     "0",             "--db",        db_url_,
                                     "--replica-id",  name,          "--lease-ttl",
                                     "5s",            "--grace",     "200ms",
                                     "--shutdown-timeout", "2s"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    env.emplace("REPLICA_FIXTURE_RUN_LOG", dir_ + "/steps.log");
    env.emplace("REPLICA_FIXTURE_GATE", dir_ + "/gate");
    return StartServer(servers_, starts_, dir_, std::move(argv), std::move(env));
  }

  json::value Json(Server* s, std::string_view method, std::string_view target,
                   std::string_view body, int want_status) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (method != "GET") headers.emplace_back("Content-Type", "application/json");
    http::ClientResult r = s->client().Request(method, target, body, headers, 10s);
    EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.error;
    EXPECT_EQ(r.status, want_status) << method << " " << target << ": " << r.body;
    return Parse(r.body);
  }

  json::value GetRun(Server* s, std::int64_t id) {
    return Json(s, "GET", fmt::format("/api/v1/runs/{}", id), {}, 200);
  }

  // Waits (at most 20 s) until run `id` runs, and returns the replica executing it ("" if
  // it never ran).
  std::string AwaitExecutor(Server* s, std::int64_t id) {
    std::string executor;
    const bool running = Eventually(
        [&] {
          const json::value run = GetRun(s, id);
          executor = Str(run, "replica");
          return Str(run, "status") == "running" && !executor.empty();
        },
        20s);
    return running ? executor : std::string();
  }

  // Polls `probe` until it holds, at most `timeout`.
  bool Eventually(const std::function<bool()>& probe, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (probe()) return true;
      ::usleep(20'000);
    }
    return probe();
  }

  // 30 runs of six suites triggered at random replicas of three, one of them killed (with
  // its workers) while it executes a run: every run finishes once, no step is lost or run
  // twice but where the killed replica's runs resumed.
  void ThirtyRunsThroughAKilledReplica(const std::vector<std::string>& flags);

  std::string dir_;
  std::string db_url_;  // what the replicas' --db says
  std::unique_ptr<PostgresTestDatabase> database_;
  std::vector<std::unique_ptr<Server>> servers_;
  int starts_ = 0;
};

void ReplicasTest::ThirtyRunsThroughAKilledReplica(const std::vector<std::string>& flags) {
  std::vector<Server*> replicas;
  for (const char* name : {"r1", "r2", "r3"}) {
    std::vector<std::string> all = {"--max-concurrent-runs", "2"};
    all.insert(all.end(), flags.begin(), flags.end());
    replicas.push_back(Start(name, {}, all));
    ASSERT_NE(replicas.back(), nullptr);
  }
  // 30 runs of six suites, each triggered at a random replica.
  std::mt19937 random(17);
  std::vector<std::int64_t> ids;
  std::map<std::int64_t, std::string> suite_of;
  for (int i = 0; i < 30; ++i) {
    Server* at = replicas[random() % replicas.size()];
    const std::string suite = fmt::format("Spread{}", i % 6 + 1);
    const json::value run = Json(at, "POST", "/api/v1/suites/" + suite + "/runs",
                                 fmt::format(R"({{"params":{{"tag":"run{}"}}}})", i), 201);
    ids.push_back(Int(run, "id"));
    suite_of[ids.back()] = suite;
  }
  // Kill r2 (the server and its workers, as a node lost) once it has a run half done: a
  // step finished and another running.
  Server* r2 = replicas[1];
  std::int64_t killed_run = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        for (std::int64_t id : ids) {
          const json::value run = GetRun(replicas[0], id);
          if (Str(run, "replica") != "r2" || Str(run, "status") != "running") continue;
          int passed = 0, running = 0;
          for (const json::value& t : Arr(run, "tests")) {
            passed += Str(t, "status") == "passed";
            running += Str(t, "status") == "running";
          }
          if (passed >= 1 && running == 1) {
            killed_run = id;
            return true;
          }
        }
        return false;
      },
      60s))
      << "r2 never had a run half done";
  ::kill(-r2->pid(), SIGKILL);
  ASSERT_TRUE(r2->WaitExit(10s).has_value());

  // Every run finishes exactly once, on the replicas left.
  std::set<std::int64_t> resumed;  // the runs r2 was executing when it died
  for (std::int64_t id : ids) {
    ASSERT_TRUE(Eventually([&] { return Finished(GetRun(replicas[2], id)); }, 120s))
        << "run " << id << ": " << json::serialize(GetRun(replicas[2], id));
    const json::value run = GetRun(replicas[0], id);
    EXPECT_EQ(Str(run, "status"), "passed") << json::serialize(run);
    std::vector<std::string> names;
    for (const json::value& t : Arr(run, "tests")) {
      names.push_back(Str(t, "name"));
      EXPECT_EQ(Str(t, "status"), "passed") << json::serialize(run);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"A", "B", "C"})) << json::serialize(run);
    EXPECT_EQ(Int(*Field(run, "totals"), "passed"), 3) << json::serialize(run);
    if (Int(run, "resumed") > 0) resumed.insert(id);
    if (id == killed_run) {
      // Resumed elsewhere, with the step that had finished kept.
      EXPECT_GE(Int(run, "resumed"), 1) << json::serialize(run);
      EXPECT_NE(Str(run, "replica"), "r2") << json::serialize(run);
    } else {
      EXPECT_FALSE(Str(run, "replica").empty()) << json::serialize(run);
    }
  }
  // Only r2's runs were resumed (that is, at most its two), each on another replica.
  EXPECT_LE(resumed.size(), 2u);
  for (std::int64_t id : resumed) EXPECT_NE(Str(GetRun(replicas[0], id), "replica"), "r2");
  // Each step of each run ended once; only a step of a run r2 was executing may have ended
  // there just before its result could be written, and ended again where it resumed.
  std::map<std::string, int> ended;
  std::ifstream log(dir_ + "/steps.log");
  for (std::string line; std::getline(log, line);) ++ended[line];
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string suite = suite_of[ids[i]];
    for (const char* test : {"A", "B", "C"}) {
      const std::string key = fmt::format("run{} {}.{}", i, suite, test);
      if (resumed.count(ids[i]) != 0) {
        EXPECT_GE(ended[key], 1) << key;
        EXPECT_LE(ended[key], 2) << key;
      } else {
        EXPECT_EQ(ended[key], 1) << key;
      }
    }
  }
  // Each replica's metrics carry its name.
  http::ClientResult metrics = replicas[2]->client().Request("GET", "/metrics", {}, {}, 10s);
  EXPECT_NE(metrics.body.find("handoff_runs_running{replica=\"r3\"}"), std::string::npos)
      << metrics.body.substr(0, 2000);
}

TEST_F(ReplicasTest, ThirtyRunsFinishOnceEachThroughAReplicaKilledMidRun) {
  ThirtyRunsThroughAKilledReplica({});
}

TEST_F(ReplicasTest, ThirtyRunsFinishOnceEachThroughPgBouncerInTransactionMode) {
  PgBouncer bouncer;
  if (const std::string why = bouncer.Start(); !why.empty()) {
    if (PostgresRequired()) FAIL() << why << " (HANDOFF_REQUIRE_POSTGRES=1 requires it)";
    GTEST_SKIP() << why;
  }
  db_url_ = bouncer.Url(database_->name());
  ThirtyRunsThroughAKilledReplica({"--pg-prepared-statements", "off"});
  servers_.clear();  // before PgBouncer stops
}

TEST_F(ReplicasTest, AScheduleFiresOncePerDueSecondOnThreeReplicas) {
  std::vector<Server*> replicas;
  for (const char* name : {"r1", "r2", "r3"}) {
    replicas.push_back(Start(name, {{"REPLICA_FIXTURE_SCHEDULE", "1"}}));
    ASSERT_NE(replicas.back(), nullptr);
  }
  // Twenty due seconds fired (or skipped while the previous run had not finished).
  ASSERT_TRUE(Eventually(
      [&] {
        const json::value page =
            Json(replicas[0], "GET", "/api/v1/runs?suite=Tick&limit=200", {}, 200);
        return Arr(page, "runs").size() >= 20;
      },
      60s));
  // Paused (on every replica), and every run it started finished: nothing fires any more.
  Json(replicas[1], "POST", "/api/v1/schedules/tick-every-second/pause", "{}", 200);
  for (Server* s : replicas) {
    ASSERT_TRUE(Eventually(
        [&] {
          const json::value list = Json(s, "GET", "/api/v1/schedules", {}, 200);
          for (const json::value& schedule : Arr(list, "schedules")) {
            if (Str(schedule, "name") == "tick-every-second") return Bool(schedule, "paused");
          }
          return false;
        },
        10s));
  }
  std::vector<std::int64_t> runs;
  ASSERT_TRUE(Eventually(
      [&] {
        runs.clear();
        const json::value page =
            Json(replicas[0], "GET", "/api/v1/runs?suite=Tick&limit=200", {}, 200);
        for (const json::value& run : Arr(page, "runs")) {
          if (!Finished(run)) return false;
          EXPECT_EQ(Str(run, "schedule"), "tick-every-second");
          runs.push_back(Int(run, "id"));
        }
        return true;
      },
      20s));
  // Every run came from one firing that one replica claimed for its due time (a row of
  // schedule_firings, unique by schedule and due time), and no firing started two.
  Result<std::vector<std::string>> fired = PostgresQuery(
      database_->url(),
      "SELECT run_id FROM schedule_firings WHERE schedule = 'tick-every-second' AND run_id <> 0 "
      "ORDER BY run_id");
  ASSERT_TRUE(fired.ok()) << fired.error().message;
  std::vector<std::int64_t> fired_runs;
  for (const std::string& id : *fired) fired_runs.push_back(std::stoll(id));
  std::sort(runs.begin(), runs.end());
  EXPECT_EQ(fired_runs, runs);
  Result<std::vector<std::string>> firers = PostgresQuery(
      database_->url(),
      "SELECT count(*), count(DISTINCT replica) FROM schedule_firings "
      "WHERE schedule = 'tick-every-second'");
  ASSERT_TRUE(firers.ok()) << firers.error().message;
  ASSERT_EQ(firers->size(), 1u);
  // Each due second was claimed once: as many firings as due seconds went by, at least the
  // runs (a firing is skipped while the previous run is unfinished).
  EXPECT_GE(std::stoll(firers->front().substr(0, firers->front().find('|'))),
            static_cast<long long>(runs.size()));
}

TEST_F(ReplicasTest, NoReplicaStartsWhileSomethingHasTheDatabaseToItself) {
  // What `db migrate`, or a server of a handoff from before replicas, holds: the lease row of
  // handoff_owner, here of a process of another host.
  Result<std::vector<std::string>> held = PostgresQuery(
      database_->url(),
      "CREATE TABLE handoff_owner (singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK "
      "(singleton), holder TEXT NOT NULL, host TEXT NOT NULL, pid BIGINT NOT NULL, token "
      "BIGINT NOT NULL, acquired_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL); "
      "INSERT INTO handoff_owner VALUES (TRUE, 'old-host|4242|x|y', 'old-host', 4242, 1, now(), "
      "now() + interval '1 hour')");
  ASSERT_TRUE(held.ok()) << held.error().message;
  Server refused({REPLICA_FIXTURE, "serve", "--port", "0", "--db", db_url_}, {},
                 dir_ + "/refused-out.txt", dir_ + "/refused-err.txt");
  std::string why;
  EXPECT_FALSE(refused.Start(&why));
  EXPECT_EQ(refused.WaitExit(10s), 2);
  EXPECT_NE(refused.Err().find("is held by pid 4242 on host old-host"), std::string::npos)
      << refused.Err();
  // Once that lease is gone, replicas serve.
  ASSERT_TRUE(
      PostgresQuery(database_->url(), "UPDATE handoff_owner SET expires_at = now()").ok());
  EXPECT_NE(Start("r1"), nullptr);
}

TEST_F(ReplicasTest, ACancelOnOneReplicaStopsTheRunWhereverItRuns) {
  Server* r1 = Start("r1");
  Server* r2 = Start("r2");
  ASSERT_TRUE(r1 && r2);
  const json::value queued = Json(r1, "POST", "/api/v1/suites/Gate/runs", "{}", 201);
  const std::int64_t id = Int(queued, "id");
  const std::string executor = AwaitExecutor(r1, id);
  ASSERT_FALSE(executor.empty()) << "run " << id << " never ran";
  // Cancelled through the replica that does not execute it.
  Server* other = executor == "r1" ? r2 : r1;
  Json(other, "POST", fmt::format("/api/v1/runs/{}/cancel", id), "{}", 200);
  ASSERT_TRUE(Eventually([&] { return Finished(GetRun(r2, id)); }, 20s));
  const json::value run = GetRun(r2, id);
  EXPECT_EQ(Str(run, "status"), "cancelled") << json::serialize(run);
  EXPECT_EQ(Str(run, "replica"), executor) << json::serialize(run);

  // A queued run (the suite is busy) cancelled on any replica ends at once.
  const json::value busy = Json(r1, "POST", "/api/v1/suites/Gate/runs", "{}", 201);
  ASSERT_TRUE(Eventually([&] { return Str(GetRun(r1, Int(busy, "id")), "status") == "running"; },
                         20s));
  const json::value waiting = Json(r2, "POST", "/api/v1/suites/Gate/runs", "{}", 201);
  const json::value cancelled =
      Json(r1, "POST", fmt::format("/api/v1/runs/{}/cancel", Int(waiting, "id")), "{}", 200);
  EXPECT_EQ(Str(cancelled, "status"), "cancelled") << json::serialize(cancelled);
  std::ofstream(dir_ + "/gate") << "open\n";
  ASSERT_TRUE(Eventually([&] { return Finished(GetRun(r2, Int(busy, "id"))); }, 20s));
  EXPECT_EQ(Str(GetRun(r2, Int(busy, "id")), "status"), "passed");
}

TEST_F(ReplicasTest, TheLiveStreamFollowsARunFromAReplicaThatDoesNotExecuteIt) {
  Server* r1 = Start("r1");
  Server* r2 = Start("r2");
  ASSERT_TRUE(r1 && r2);
  const std::int64_t id = Int(Json(r1, "POST", "/api/v1/suites/Gate/runs", "{}", 201), "id");
  const std::string executor = AwaitExecutor(r1, id);
  ASSERT_FALSE(executor.empty()) << "run " << id << " never ran";
  Server* other = executor == "r1" ? r2 : r1;
  struct Event {
    std::int64_t id;
    std::string type;
    json::value data;
  };
  std::vector<Event> events;
  std::atomic<bool> saw_running{false};
  http::StreamResult result;
  std::thread follower([&] {
    http::Client client("127.0.0.1", other->port());
    result = client.StreamEvents(
        fmt::format("/api/v1/runs/{}/events", id), 0,
        [&](std::int64_t event_id, const std::string& type, const std::string& data) {
          events.push_back({event_id, type, Parse(data)});
          if (type == "test" && Str(events.back().data, "status") == "running") saw_running = true;
          return true;
        },
        20s);
  });
  // The stream is live on the other replica before the test can end.
  const bool running = Eventually([&] { return saw_running.load(); }, 15s);
  std::ofstream(dir_ + "/gate") << "open\n";
  follower.join();
  ASSERT_TRUE(running) << "no running test event before the gate opened";
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_GE(events.size(), 3u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].id, static_cast<std::int64_t>(i + 1)) << "events in seq order, no gaps";
  }
  EXPECT_EQ(Str(events.front().data, "status"), "queued");
  EXPECT_EQ(events.back().type, "run");
  EXPECT_EQ(Str(events.back().data, "status"), "passed");
  EXPECT_EQ(Str(events.back().data, "replica"), executor);
}

TEST_F(ReplicasTest, ScheduleChangesOnOneReplicaReachTheOthersWithinAPoll) {
  Server* r1 = Start("r1", {{"REPLICA_FIXTURE_SCHEDULE", "1"}});
  Server* r2 = Start("r2", {{"REPLICA_FIXTURE_SCHEDULE", "1"}});
  ASSERT_TRUE(r1 && r2);
  Json(r1, "POST", "/api/v1/schedules",
       R"({"name":"hourly","suite":"Tick","spec":"@every 1h"})", 201);
  auto find = [&](Server* s) -> std::optional<json::value> {
    const json::value list = Json(s, "GET", "/api/v1/schedules", {}, 200);
    for (const json::value& schedule : Arr(list, "schedules")) {
      if (Str(schedule, "name") == "hourly") return schedule;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(Eventually([&] { return find(r2).has_value(); }, 5s));
  // Due times are the same on every replica.
  EXPECT_EQ(Str(*find(r1), "next_run"), Str(*find(r2), "next_run"));
  EXPECT_FALSE(Str(*find(r1), "next_run").empty());
  Json(r2, "POST", "/api/v1/schedules/hourly/pause", "{}", 200);
  EXPECT_TRUE(Eventually([&] { return Bool(*find(r1), "paused"); }, 5s));
  Json(r1, "DELETE", "/api/v1/schedules/hourly", {}, 204);
  EXPECT_TRUE(Eventually([&] { return !find(r2).has_value(); }, 5s));

  // A schedule declared in code is paused and resumed on every replica too.
  auto code_paused = [&](Server* s) {
    const json::value list = Json(s, "GET", "/api/v1/schedules", {}, 200);
    for (const json::value& schedule : Arr(list, "schedules")) {
      if (Str(schedule, "name") == "tick-every-second") return Bool(schedule, "paused");
    }
    return false;
  };
  Json(r1, "POST", "/api/v1/schedules/tick-every-second/pause", "{}", 200);
  EXPECT_TRUE(Eventually([&] { return code_paused(r2); }, 5s));
  Json(r2, "POST", "/api/v1/schedules/tick-every-second/resume", "{}", 200);
  EXPECT_TRUE(Eventually([&] { return !code_paused(r1); }, 5s));
}

}  // namespace
}  // namespace handoff::testing
