// The ready-made services (include/handoff/workload_services.h) in the process environment,
// used for real: Prometheus scraping another target and answering PromQL, PostgreSQL
// answering SQL from the test and from beside it, Redis storing and returning a value.

#include "handoff/workload_services.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "blackbox/process.h"
#include "blackbox/service_queries.h"
#include "handoff/workload.h"

namespace handoff::workload {
namespace {

using namespace std::chrono_literals;

using testing::CreateOrders;
using testing::kPostgresBin;
using testing::QueryFirstValue;
using testing::SumOrders;

// Polls `done` until it holds or `within` has passed.
bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

TEST(WorkloadServicesTest, PrometheusScrapesAnotherTargetAndAnswersQueries) {
  auto env = Environment::NewProcess("prometheus");
  ASSERT_NE(env, nullptr);
  // The target: a static metrics page served by python3's http.server.
  FutureRunnable target_future = env->Runnable("target").WithPorts({{"http", 0}}).Future();
  auto target = target_future.Init(
      {.executable = "python3",
       .args = {"-m", "http.server", "--bind", "127.0.0.1", target_future.InternalPortText("http")},
       .readiness = Probe::Http("http", "/metrics")});
  std::filesystem::create_directories(target->Dir());
  std::ofstream(target->Dir() + "/metrics")
      << "# TYPE handoff_demo_answer gauge\nhandoff_demo_answer 42\n";
  auto prometheus = NewPrometheus(
      *env, "prom",
      {.scrape_targets = {target->InternalEndpoint("http")}, .scrape_interval = 200ms});
  EXPECT_EQ(prometheus->Options().metrics_port, "http");

  const Status started = StartAndWaitReady({target, prometheus});
  ASSERT_TRUE(started.ok()) << started.message();
  // Its own metrics: it discovered two targets and keeps appending samples.
  Status st = prometheus->WaitSumMetrics(Equals(2), {"prometheus_sd_discovered_targets"},
                                         {.deadline = 30s});
  EXPECT_TRUE(st.ok()) << st.message();
  st = prometheus->WaitSumMetrics(Greater(0), {"prometheus_tsdb_head_samples_appended_total"},
                                  // A labelled counter: no series before the first sample.
                                  {.wait_missing = true, .deadline = 30s});
  EXPECT_TRUE(st.ok()) << st.message();

  // Through its HTTP API: both targets are up, and the target's metric was scraped.
  std::string answer;
  EXPECT_TRUE(
      Eventually([&] { return QueryFirstValue(*prometheus, "sum(up)", &answer) == "2"; }, 30s))
      << answer;
  EXPECT_TRUE(Eventually(
      [&] { return QueryFirstValue(*prometheus, "handoff_demo_answer", &answer) == "42"; }, 30s))
      << answer;
  EXPECT_NE(answer.find(target->InternalEndpoint("http")), std::string::npos) << answer;
  EXPECT_TRUE(std::filesystem::exists(prometheus->Dir() + "/prometheus.yml"));
}

TEST(WorkloadServicesTest, PostgresAnswersSqlFromTheTestAndFromBesideIt) {
  auto env = Environment::NewProcess("postgres");
  auto db = NewPostgres(*env, "db", {.user = "alice", .database = "shop", .password = "s3 cr'et"});
  EXPECT_EQ(PostgresUrl(*db), "") << "no URL before Start";
  EXPECT_EQ(PostgresInternalUrl(*db),
            "postgresql://alice:s3%20cr%27et@" + db->InternalEndpoint("postgres") + "/shop");

  const Status started = StartAndWaitReady({db});
  ASSERT_TRUE(started.ok()) << started.message();
  // Beside it: psql finds the server, user, database and password in its environment.
  const ExecResult created = CreateOrders(*db);
  ASSERT_TRUE(created.status.ok()) << created.status.message();
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;

  // From the test, with the URL (a TCP connection, so the password is checked).
  const std::string url = PostgresUrl(*db);
  EXPECT_EQ(url, "postgresql://alice:s3%20cr%27et@" + db->Endpoint("postgres") + "/shop");
  const testing::ProcessResult sum = SumOrders(url, {{"PGPASSWORD", ""}});
  EXPECT_EQ(sum.exit_code, 0) << sum.err;
  EXPECT_EQ(sum.out, "42|alice|shop\n") << sum.err;
  // A wrong password is refused: the password is really required.
  const testing::ProcessResult refused = testing::RunProcess(
      {std::string(kPostgresBin) + "/psql",
       "postgresql://alice:wrong@" + db->Endpoint("postgres") + "/shop", "-c", "SELECT 1"},
      {}, 30s);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("password authentication failed"), std::string::npos) << refused.err;
}

TEST(WorkloadServicesTest, RedisStoresAndReturnsAValue) {
  auto env = Environment::NewProcess("redis");
  auto cache = NewRedis(*env, "cache");
  const Status started = StartAndWaitReady({cache});
  ASSERT_TRUE(started.ok()) << started.message();
  const std::string port = std::to_string(cache->InternalPort("redis"));
  const ExecResult set =
      cache->Exec({"redis-cli", "-h", "127.0.0.1", "-p", port, "SET", "greeting", "hello"});
  ASSERT_TRUE(set.status.ok()) << set.status.message();
  EXPECT_EQ(set.out, "OK\n") << set.err;
  // From the test, through its endpoint.
  const std::string endpoint = cache->Endpoint("redis");
  const testing::ProcessResult get =
      testing::RunProcess({"/usr/bin/redis-cli", "-h", endpoint.substr(0, endpoint.rfind(':')),
                           "-p", port, "GET", "greeting"},
                          {}, 30s);
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "hello\n") << get.err;
  // No persistence: nothing is written to its directory.
  EXPECT_TRUE(cache->Stop(5s).ok());
  EXPECT_FALSE(std::filesystem::exists(cache->Dir() + "/dump.rdb"));
}

TEST(WorkloadServicesTest, APostgresThatNeverListensFailsWithTheProbesLastAnswer) {
  auto env = Environment::NewProcess("postgres-deaf");
  // Listening on no TCP address, pg_isready (on 127.0.0.1) can never get an answer.
  auto db = NewPostgres(*env, "deaf",
                        {.extra_args = {"-c", "listen_addresses="},
                         .wait_backoff = {.initial = 50ms, .max = 200ms, .deadline = 4s}});
  const Status st = StartAndWaitReady({db});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("deaf: not ready after"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("no response"), std::string::npos) << st.message();
}

TEST(WorkloadServicesTest, ABadDatabaseNameFailsStartNamingTheRunnable) {
  auto env = Environment::NewProcess("postgres-bad");
  auto db = NewPostgres(*env, "bad", {.database = "shop; DROP"});
  const Status st = db->Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bad: database \"shop; DROP\""), std::string::npos) << st.message();
  EXPECT_FALSE(db->IsRunning());
}

}  // namespace
}  // namespace handoff::workload
