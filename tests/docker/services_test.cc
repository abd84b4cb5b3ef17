// The ready-made services against a real engine: their images, built from the host's
// Debian packages and run with the Docker client alone, the older images a rebuild removes,
// and the services themselves in the Docker environment, used for real.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "blackbox/process.h"
#include "blackbox/service_queries.h"
#include "docker/docker_test_env.h"
#include "handoff/workload_services.h"
#include "http_client/http_client.h"
#include "workload/image_builder.h"
#include "workload/service_images.h"

namespace handoff::workload {
namespace {

namespace fs = std::filesystem;
using testing::DockerTest;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::UniqueName;
using namespace std::chrono_literals;

using handoff::testing::CreateOrders;
using handoff::testing::kPostgresBin;
using handoff::testing::QueryFirstValue;
using handoff::testing::SumOrders;

// Skips (or, with HANDOFF_REQUIRE_DOCKER=1, fails) when a Debian package is missing.
#define NEED_FILE(path)                                                 \
  do {                                                                  \
    if (!fs::exists(path)) {                                            \
      if (testing::DockerRequired()) FAIL() << (path) << " is missing"; \
      GTEST_SKIP() << (path) << " is missing";                          \
    }                                                                   \
  } while (0)

// Runs a container of `image` on a network of its own, with a temporary directory of the
// host mounted at its host path (as the Docker environment mounts its directory).
class ServiceImageTest : public DockerTest {
 protected:
  std::string Run(const std::string& image, ContainerSpec spec) {
    network_ = UniqueName("net");
    const auto net = engine().CreateNetwork(network_, TestLabels());
    EXPECT_TRUE(net.ok()) << net.error().ToString();
    spec.name = UniqueName("service");
    spec.image = image;
    spec.network = network_;
    spec.labels = TestLabels();
    spec.binds.push_back(dir_ + ":" + dir_);
    const auto id = engine().CreateContainer(spec);
    if (!id.ok()) {
      ADD_FAILURE() << id.error().ToString();
      return "";
    }
    const DockerStatus started = engine().StartContainer(*id);
    EXPECT_TRUE(started.ok()) << started.error().ToString();
    return *id;
  }

  // Runs `cmd` in the container until it exits 0 (true) or `within` passes; *last gets
  // what it said last.
  bool ExecUntilOk(const std::string& id, const std::vector<std::string>& cmd,
                   std::chrono::milliseconds within, std::string* last, ExecSpec spec = {}) {
    spec.cmd = cmd;
    return Eventually(
        [&] {
          const auto r = engine().Exec(id, spec, 30s);
          if (!r.ok()) {
            *last = r.error().ToString();
            return false;
          }
          *last = r->stdout_data + r->stderr_data;
          return r->exit_code == 0;
        },
        within);
  }

  // The container's output so far, for failure messages.
  std::string Logs(const std::string& id) {
    std::string text;
    (void)engine().FollowLogs(
        id,
        [&](auto, std::string_view line) {
          text += std::string(line) + "\n";
          return true;
        },
        2s);
    return text;
  }

  std::string dir_ = [] {
    const std::string dir = handoff::testing::MakeTempDir();
    fs::permissions(dir, fs::perms::all);  // the container's users write it
    return dir;
  }();
  std::string network_;
};

TEST_F(ServiceImageTest, PrometheusImageIsBuiltOnceAndServes) {
  NEED_FILE("/usr/bin/prometheus");
  const ServiceImage recipe = PrometheusImage("/usr/bin/prometheus");
  const auto tag = EnsureServiceImage(engine(), recipe);
  ASSERT_TRUE(tag.ok()) << tag.error().ToString();
  EXPECT_THAT(*tag, ::testing::StartsWith("handoff/prometheus:"));
  // The same files give the same tag, which is reused rather than rebuilt.
  const auto again = EnsureServiceImage(engine(), recipe);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(*again, *tag);
  const auto info = engine().InspectImage(*tag);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->labels.at("handoff.service"), "handoff/prometheus");

  std::ofstream(dir_ + "/prometheus.yml") << "global:\n  scrape_interval: 1s\n";
  const std::string id =
      Run(*tag, {.cmd = {"--config.file=" + dir_ + "/prometheus.yml",
                         "--storage.tsdb.path=" + dir_ + "/data", "--web.listen-address=:9090"},
                 .ports = {"9090"}});
  ASSERT_FALSE(id.empty());
  const auto container = engine().InspectContainer(id);
  ASSERT_TRUE(container.ok());
  ASSERT_NE(container->HostPort(9090), 0) << Logs(id);
  http::Client client("127.0.0.1", container->HostPort(9090));
  http::ClientResult ready;
  EXPECT_TRUE(Eventually(
      [&] {
        ready = client.Request("GET", "/-/ready", {}, {}, 2s);
        return ready.ok() && ready.status == 200;
      },
      60s))
      << ready.error << " " << ready.status << "\n"
      << Logs(id);
}

TEST_F(ServiceImageTest, PostgresImageInitialisesAClusterAndAnswersSql) {
  NEED_FILE(std::string(kPostgresBin) + "/postgres");
  std::string error;
  const std::optional<ServiceImage> recipe = PostgresImage(kPostgresBin, &error);
  ASSERT_TRUE(recipe) << error;
  const auto tag = EnsureServiceImage(engine(), *recipe);
  ASSERT_TRUE(tag.ok()) << tag.error().ToString();
  // initdb runs postgres through /bin/sh, loads libraries from lib/ and files from share/.
  const std::string data = dir_ + "/data";
  const std::string id = Run(
      *tag,
      {.entrypoint = std::vector<std::string>{"/bin/sh"},
       .cmd =
           {"-c",
            fmt::format(
                "initdb -D {0} -U tester --auth=trust --locale=C "
                "--encoding=UTF8 --no-sync && echo 'host all all all trust' >> {0}/pg_hba.conf && "
                "exec postgres -D {0} -p 5432 "
                "-k {1} -c listen_addresses='*' -c jit=off",
                data, dir_)},
       .user = "postgres",
       .ports = {"5432"}});
  ASSERT_FALSE(id.empty());
  std::string last;
  ASSERT_TRUE(
      ExecUntilOk(id, {"pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "tester"}, 60s, &last))
      << last << "\n"
      << Logs(id);
  ExecSpec psql{.cmd = {"psql", "-h", "127.0.0.1", "-U", "tester", "-d", "postgres", "-At", "-c",
                        "SELECT 40 + 2, current_setting('TimeZone')"}};
  const auto answer = engine().Exec(id, psql, 30s);
  ASSERT_TRUE(answer.ok()) << answer.error().ToString();
  EXPECT_EQ(answer->stdout_data, "42|UTC\n") << answer->stderr_data;
  // And from the host, through the published port.
  const auto container = engine().InspectContainer(id);
  ASSERT_TRUE(container.ok());
  const handoff::testing::ProcessResult host = handoff::testing::RunProcess(
      {std::string(kPostgresBin) + "/psql",
       fmt::format("postgresql://tester@127.0.0.1:{}/postgres", container->HostPort(5432)), "-At",
       "-c", "SELECT current_user"},
      {}, 30s);
  EXPECT_EQ(host.out, "tester\n") << host.err;
}

TEST_F(ServiceImageTest, RedisImageServesAndAnswersPing) {
  NEED_FILE("/usr/bin/redis-server");
  const auto tag =
      EnsureServiceImage(engine(), RedisImage("/usr/bin/redis-server", "/usr/bin/redis-cli"));
  ASSERT_TRUE(tag.ok()) << tag.error().ToString();
  const std::string id = Run(
      *tag, {.cmd = {"--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""},
             .ports = {"6379"}});
  ASSERT_FALSE(id.empty());
  std::string last;
  // The probe NewRedis uses: a shell comparing redis-cli's answer.
  ASSERT_TRUE(
      ExecUntilOk(id, {"/bin/sh", "-c", "[ \"$(redis-cli -p 6379 ping)\" = PONG ]"}, 30s, &last))
      << last << "\n"
      << Logs(id);
  const auto container = engine().InspectContainer(id);
  ASSERT_TRUE(container.ok());
  const std::string port = std::to_string(container->HostPort(6379));
  const auto set = handoff::testing::RunProcess(
      {"/usr/bin/redis-cli", "-h", "127.0.0.1", "-p", port, "SET", "k", "v"}, {}, 30s);
  EXPECT_EQ(set.out, "OK\n") << set.err;
  const auto get = engine().Exec(id, {.cmd = {"redis-cli", "-p", "6379", "GET", "k"}}, 30s);
  ASSERT_TRUE(get.ok()) << get.error().ToString();
  EXPECT_EQ(get->stdout_data, "v\n");
}

// Rebuilding a service's image when the host's files changed removes the older images of
// its repository. The recipes here are the static busybox in a repository of the test's
// own, so that pruning touches no other test's images; the version in their environment
// changes their tag.
class ServiceImagePruneTest : public DockerTest {
 protected:
  void TearDown() override {
    DockerTest::TearDown();  // the containers first: they hold their images
    if (!testing::EngineUnavailable().empty()) return;
    if (const auto images = engine().ListImages("handoff.service=" + repository_); images.ok()) {
      for (const ImageSummary& image : *images) (void)engine().RemoveImage(image.id);
    }
  }

  ServiceImage Recipe(const std::string& version) const {
    return {.repository = repository_, .executable = "/bin/busybox", .env = {"V=" + version}};
  }

  // Builds repository:version as EnsureServiceImage did in an earlier process.
  void BuildEarlier(const std::string& version) {
    const auto built = BuildImageFromExecutable(
        engine(), repository_ + ":" + version, "/bin/busybox", {},
        {.env = Recipe(version).env, .labels = {{"handoff.service", repository_}}});
    ASSERT_TRUE(built.ok()) << built.error().ToString();
  }

  const std::string repository_ = UniqueName("service");
};

TEST_F(ServiceImagePruneTest, ANewTagRemovesTheOlderImagesButOneAContainerUses) {
  ASSERT_NO_FATAL_FAILURE(BuildEarlier("old"));
  ASSERT_NO_FATAL_FAILURE(BuildEarlier("in-use"));
  const std::string old = repository_ + ":old";
  const std::string in_use = repository_ + ":in-use";
  const auto container = engine().CreateContainer(
      {.name = UniqueName("user"), .image = in_use, .cmd = {"true"}, .labels = TestLabels()});
  ASSERT_TRUE(container.ok()) << container.error().ToString();

  const auto tag = EnsureServiceImage(engine(), Recipe("new"));
  ASSERT_TRUE(tag.ok()) << tag.error().ToString();
  EXPECT_TRUE(engine().InspectImage(*tag).ok());
  const auto gone = engine().InspectImage(old);
  EXPECT_TRUE(!gone.ok() && gone.error().not_found()) << old << " is still there";
  EXPECT_TRUE(engine().InspectImage(in_use).ok()) << "a container uses it";
  const auto left = engine().ListImages("handoff.service=" + repository_);
  ASSERT_TRUE(left.ok()) << left.error().ToString();
  EXPECT_EQ(left->size(), 2u);
}

TEST_F(ServiceImagePruneTest, TheTagsOfOneProcessStayWhateverItBuildsNext) {
  // Two recipes of one repository (two PostgreSQL versions, say): neither prunes the other.
  const auto first = EnsureServiceImage(engine(), Recipe("first"));
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  const auto second = EnsureServiceImage(engine(), Recipe("second"));
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_NE(*first, *second);
  EXPECT_TRUE(engine().InspectImage(*first).ok());
  EXPECT_TRUE(engine().InspectImage(*second).ok());
}

// ---------------------------------------------------------------------------------------
// The services in the Docker environment.

class DockerServicesTest : public ::testing::Test {
 protected:
  void SetUp() override { HANDOFF_NEED_DOCKER(); }

  std::unique_ptr<Environment> NewEnv() {
    Status st;
    auto env = Environment::NewDocker(UniqueName("services"), &st);
    EXPECT_NE(env, nullptr) << st.message();
    return env;
  }
};

TEST_F(DockerServicesTest, PrometheusScrapesAnotherByItsInternalEndpoint) {
  NEED_FILE("/usr/bin/prometheus");
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  auto other = NewPrometheus(*env, "other");
  auto prometheus = NewPrometheus(
      *env, "prom",
      {.scrape_targets = {other->InternalEndpoint("http")}, .scrape_interval = 500ms});
  const Status started = StartAndWaitReady({other, prometheus});
  ASSERT_TRUE(started.ok()) << started.message();
  // A labelled counter: no series before the first sample.
  const Status st =
      prometheus->WaitSumMetrics(Greater(0), {"prometheus_tsdb_head_samples_appended_total"},
                                 {.wait_missing = true, .deadline = 30s});
  EXPECT_TRUE(st.ok()) << st.message();
  std::string body;
  EXPECT_TRUE(Eventually(
      [&] { return QueryFirstValue(*prometheus, "up{job=\"targets\"}", &body) == "1"; }, 60s))
      << body;
  EXPECT_THAT(body, HasSubstr(other->InternalEndpoint("http")));
  env->Close();
}

TEST_F(DockerServicesTest, PostgresAnswersSqlInsideAndFromTheTest) {
  NEED_FILE(std::string(kPostgresBin) + "/postgres");
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  auto db = NewPostgres(*env, "db", {.user = "alice", .database = "shop", .password = "secret"});
  const Status started = StartAndWaitReady({db});
  ASSERT_TRUE(started.ok()) << started.message();
  const ExecResult created = CreateOrders(*db);
  ASSERT_TRUE(created.status.ok()) << created.status.message();
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  EXPECT_EQ(PostgresInternalUrl(*db), "postgresql://alice:secret@db:" +
                                          std::to_string(db->InternalPort("postgres")) + "/shop");
  const handoff::testing::ProcessResult sum = SumOrders(PostgresUrl(*db), {});
  EXPECT_EQ(sum.out, "42|alice|shop\n") << sum.err;
  env->Close();
}

TEST_F(DockerServicesTest, APostgresThatNeverListensFailsWithTheProbesLastAnswer) {
  NEED_FILE(std::string(kPostgresBin) + "/postgres");
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  auto db = NewPostgres(*env, "deaf",
                        {.extra_args = {"-c", "listen_addresses="},
                         .wait_backoff = {.initial = 50ms, .max = 200ms, .deadline = 5s}});
  const Status st = StartAndWaitReady({db});
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("deaf: not ready after"));
  EXPECT_THAT(st.message(), HasSubstr("no response"));
  env->Close();
}

TEST_F(DockerServicesTest, RedisStoresAndReturnsAValue) {
  NEED_FILE("/usr/bin/redis-server");
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  auto cache = NewRedis(*env, "cache");
  const Status started = StartAndWaitReady({cache});
  ASSERT_TRUE(started.ok()) << started.message();
  const std::string port = std::to_string(cache->InternalPort("redis"));
  const ExecResult set = cache->Exec({"redis-cli", "-p", port, "SET", "greeting", "hello"});
  ASSERT_TRUE(set.status.ok()) << set.status.message();
  EXPECT_EQ(set.out, "OK\n") << set.err;
  const std::string endpoint = cache->Endpoint("redis");
  const handoff::testing::ProcessResult get = handoff::testing::RunProcess(
      {"/usr/bin/redis-cli", "-h", endpoint.substr(0, endpoint.rfind(':')), "-p",
       endpoint.substr(endpoint.rfind(':') + 1), "GET", "greeting"},
      {}, 30s);
  EXPECT_EQ(get.out, "hello\n") << get.err;
  env->Close();
}

}  // namespace
}  // namespace handoff::workload
