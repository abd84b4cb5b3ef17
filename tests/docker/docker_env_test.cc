// The Docker environment of the workload API (include/handoff/workload.h) against a real
// engine, with busybox containers: lifecycle, the network and names, the shared directory,
// probes that fail, Exec, metric waits, two environments at once, cleanup of leftovers, and
// no container left by a test that crashes.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "blackbox/process.h"
#include "docker/docker_test_env.h"
#include "handoff/workload.h"
#include "handoff/workload_images.h"
#include "http_client/http_client.h"
#include "workload/internal.h"

namespace handoff::workload {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::BusyboxImage;
using testing::Engine;
using testing::Eventually;
using testing::UniqueName;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Splits "host:port" for our HTTP client.
http::ClientResult Get(const std::string& endpoint, const std::string& path) {
  const std::size_t colon = endpoint.rfind(':');
  http::Client client(endpoint.substr(0, colon),
                      static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  return client.Request("GET", path, {}, {}, 5s);
}

class DockerEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HANDOFF_NEED_DOCKER();
    std::string error;
    image_ = BusyboxImage(&error);
    ASSERT_FALSE(image_.empty()) << error;
  }

  // A standalone environment with a unique name, closed at the end of the test.
  std::unique_ptr<Environment> NewEnv() {
    Status st;
    auto env = Environment::NewDocker(UniqueName("env"), &st);
    EXPECT_NE(env, nullptr) << st.message();
    return env;
  }

  // busybox's httpd serving the runnable's directory on port "http", after saying hello.
  std::shared_ptr<Runnable> Httpd(Environment& env, const std::string& name,
                                  Backoff backoff = {}) {
    FutureRunnable f = env.Runnable(name).WithPorts({{"http", 8080}}).Future();
    return f.Init({.image = image_,
                   .args = {"sh", "-c",
                            fmt::format("echo hello from {0}; echo up > {1}/index.html; "
                                        "exec httpd -f -v -p 8080 -h {1}",
                                        name, f.Dir())},
                   .readiness = Probe::Http("http", "/"),
                   .wait_backoff = backoff,
                   .metrics_port = "http"});
  }

  std::size_t ContainersOf(const std::string& env) {
    auto listed = Engine().ListContainers("handoff.env=" + env);
    EXPECT_TRUE(listed.ok()) << listed.error().ToString();
    return listed.ok() ? listed->size() : 0;
  }
  std::size_t NetworksOf(const std::string& env) {
    auto listed = Engine().ListNetworks("handoff.env=" + env);
    EXPECT_TRUE(listed.ok()) << listed.error().ToString();
    return listed.ok() ? listed->size() : 0;
  }

  // Runs the workload fixture's test `test` (under `prefix`, a command that runs it as
  // another user, when given) with the busybox image; it records what it made in `dir`.
  handoff::testing::ProcessResult RunFixture(const std::string& test, const std::string& dir,
                                             std::vector<std::string> prefix = {}) {
    std::vector<std::string> argv = std::move(prefix);
    argv.insert(argv.end(), {WORKLOAD_FIXTURE, "run", "-v", "--run", "^" + test + "$"});
    return handoff::testing::RunProcess(
        argv, {{"WORKLOAD_FIXTURE_DIR", dir}, {"WORKLOAD_FIXTURE_IMAGE", image_}});
  }
  // What the fixture recorded in `file` of `dir`, without its newline ("" if nothing).
  static std::string Recorded(const std::string& dir, const std::string& file) {
    std::string value = handoff::testing::ReadFile(dir + "/" + file);
    if (!value.empty() && value.back() == '\n') value.pop_back();
    return value;
  }

  std::string image_;
};

TEST_F(DockerEnvTest, StartsServesStopsAndClosesEverything) {
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->kind(), Environment::Kind::kDocker);
  auto web = Httpd(*env, "web");
  EXPECT_EQ(web->Endpoint("http"), "") << "no endpoint before Start";
  EXPECT_EQ(web->InternalEndpoint("http"), "web:8080");
  EXPECT_FALSE(web->IsRunning());

  ASSERT_TRUE(StartAndWaitReady({web})) << "start";
  EXPECT_TRUE(web->IsRunning());
  EXPECT_TRUE(web->Endpoint("http").starts_with("127.0.0.1:")) << web->Endpoint("http");
  EXPECT_NE(web->Endpoint("http"), "127.0.0.1:8080");
  // The container is named <env>-<runnable> and carries the runnable's name as host name.
  auto info = Engine().InspectContainer(env->Name() + "-web");
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_TRUE(info->running);
  ExecResult host = web->Exec({"hostname"});
  ASSERT_TRUE(host.status) << host.status.message();
  EXPECT_EQ(host.out, "web\n");
  // The runnable's directory is the same path inside: a file the test writes is served.
  std::ofstream(web->Dir() + "/hello.txt") << "written by the test";
  http::ClientResult got = Get(web->Endpoint("http"), "/hello.txt");
  ASSERT_TRUE(got.ok()) << got.error;
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "written by the test");
  // Its output is forwarded and kept.
  EXPECT_TRUE(Eventually([&] { return ReadAll(web->Dir() + "/output.log").find("hello from web") !=
                                      std::string::npos; },
                         5s))
      << ReadAll(web->Dir() + "/output.log");
  EXPECT_FALSE(web->LastOutput().empty());
  ASSERT_EQ(env->Started().size(), 1u);

  EXPECT_TRUE(web->Stop(2s)) << "stop";
  EXPECT_FALSE(web->IsRunning());
  EXPECT_TRUE(web->Stop(2s)) << "a second Stop";
  EXPECT_TRUE(web->Kill()) << "Kill after Stop";

  const std::string name = env->Name();
  const std::string dir = env->SharedDir();
  EXPECT_EQ(NetworksOf(name), 1u);
  env->Close();
  EXPECT_EQ(ContainersOf(name), 0u);
  EXPECT_EQ(NetworksOf(name), 0u);
  EXPECT_FALSE(fs::exists(dir));
  env->Close();  // idempotent
}

TEST_F(DockerEnvTest, RunnablesReachEachOtherByNameAndShareTheDirectory) {
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  auto a = Httpd(*env, "alpha");
  auto b = Httpd(*env, "beta");
  ASSERT_TRUE(StartAndWaitReady({a, b}));
  std::ofstream(a->Dir() + "/who") << "I am alpha";
  ExecResult r = b->Exec({"wget", "-qO-", "http://" + a->InternalEndpoint("http") + "/who"});
  ASSERT_TRUE(r.status) << r.status.message();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "I am alpha");
  // A file one container writes in the shared directory is seen by the other and the test.
  ExecResult wrote = a->Exec({"sh", "-c", "echo shared > " + env->SharedDir() + "/note"});
  ASSERT_EQ(wrote.exit_code, 0) << wrote.err;
  ExecResult read = b->Exec({"cat", env->SharedDir() + "/note"});
  EXPECT_EQ(read.out, "shared\n");
  EXPECT_EQ(ReadAll(env->SharedDir() + "/note"), "shared\n");
}

TEST_F(DockerEnvTest, ExecReturnsOutputsExitCodeAndTakesInput) {
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  auto box = env->Runnable("box").Init(
      {.image = image_, .args = {"sleep", "300"}, .env = {{"GREETING", "hi"}}});
  ExecResult before = box->Exec({"true"});
  EXPECT_FALSE(before.status) << "Exec before Start";
  ASSERT_TRUE(StartAndWaitReady({box}));
  ExecResult r = box->Exec({"sh", "-c", "echo $GREETING; echo oops >&2; pwd; exit 7"});
  ASSERT_TRUE(r.status) << r.status.message();
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.out, "hi\n" + box->Dir() + "\n");
  EXPECT_EQ(r.err, "oops\n");
  ExecResult counted = box->Exec({"wc", "-l"}, "one\ntwo\nthree\n");
  EXPECT_EQ(counted.exit_code, 0);
  EXPECT_NE(counted.out.find('3'), std::string::npos) << counted.out;
  EXPECT_TRUE(box->Kill());
  EXPECT_FALSE(box->IsRunning());
  EXPECT_TRUE(box->Kill()) << "a second Kill";
  EXPECT_FALSE(box->Exec({"true"}).status) << "Exec after Kill";
}

TEST_F(DockerEnvTest, UserLimitsAndVolumesReachTheContainer) {
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  const std::string extra = handoff::testing::MakeTempDir();
  std::ofstream(extra + "/data") << "mounted";
  fs::permissions(extra, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
  auto box = env->Runnable("limited").Init({.image = image_,
                                            .args = {"sleep", "300"},
                                            .user = "65534:65534",
                                            .volumes = {extra + ":/data:ro"},
                                            .memory_bytes = 64 << 20,
                                            .cpus = 0.5});
  ASSERT_TRUE(StartAndWaitReady({box}));
  EXPECT_EQ(box->Exec({"id", "-u"}).out, "65534\n");
  EXPECT_EQ(box->Exec({"cat", "/data/data"}).out, "mounted");
  // It may write its own directory though it is not root.
  EXPECT_EQ(box->Exec({"sh", "-c", "echo ok > " + box->Dir() + "/w"}).exit_code, 0);
  auto info = Engine().InspectContainer(env->Name() + "-limited");
  ASSERT_TRUE(info.ok());
  fs::remove_all(extra);
}

TEST_F(DockerEnvTest, ProbeFailuresNameTheRunnableAndTheLastAnswer) {
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  const Backoff quick{.initial = 20ms, .max = 100ms, .multiplier = 2, .deadline = 1500ms};
  // Listens on another port than the probe's.
  FutureRunnable f = env->Runnable("deaf").WithPorts({{"http", 8080}}).Future();
  auto deaf = f.Init({.image = image_,
                      .args = {"httpd", "-f", "-p", "9999"},
                      .readiness = Probe::Http("http", "/"),
                      .wait_backoff = quick});
  Status st = StartAndWaitReady({deaf});
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("deaf: not ready after"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("GET http://127.0.0.1:"), std::string::npos) << st.message();

  // Exits at once: the error says how, with its last output.
  auto quitter = env->Runnable("quitter").WithPorts({{"tcp", 7000}}).Init(
      {.image = image_,
       .args = {"sh", "-c", "echo cannot open the config; exit 3"},
       .readiness = Probe::Tcp("tcp"),
       .wait_backoff = quick});
  st = StartAndWaitReady({quitter});
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("quitter: exited (exit code 3) before it was ready"),
            std::string::npos)
      << st.message();

  // A TCP probe is not fooled by the engine's port proxy: nothing listens on 7000 here.
  auto silent = env->Runnable("silent").WithPorts({{"tcp", 7000}}).Init(
      {.image = image_, .args = {"sleep", "300"}, .readiness = Probe::Tcp("tcp"),
       .wait_backoff = quick});
  st = StartAndWaitReady({silent});
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("silent: not ready"), std::string::npos) << st.message();

  // A command probe's last answer is its output.
  auto waiting = env->Runnable("waiting").Init(
      {.image = image_, .args = {"sleep", "300"},
       .readiness = Probe::Command({"sh", "-c", "echo no flag yet; test -f /flag"}),
       .wait_backoff = quick});
  st = StartAndWaitReady({waiting});
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("command exited 1: no flag yet"), std::string::npos)
      << st.message();

  auto no_image = env->Runnable("nothing").Init({.image = "handoff-test/does-not-exist:1"});
  st = no_image->Start();
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("nothing: docker: create container"), std::string::npos)
      << st.message();
}

TEST_F(DockerEnvTest, TcpProbePassesOnceTheServiceListens) {
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  auto late = env->Runnable("late").WithPorts({{"tcp", 7000}}).Init(
      {.image = image_,
       .args = {"sh", "-c", "sleep 1; exec nc -ll -p 7000 -e cat"},
       .readiness = Probe::Tcp("tcp")});
  Status st = StartAndWaitReady({late});
  ASSERT_TRUE(st) << st.message();
  // Ready means it listens now.
  EXPECT_EQ(late->Exec({"sh", "-c", "echo ping | nc -w 1 127.0.0.1 7000"}).out, "ping\n");
}

TEST_F(DockerEnvTest, WaitsForMetricSums) {
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  auto web = Httpd(*env, "metered");
  ASSERT_TRUE(StartAndWaitReady({web}));
  auto write_metrics = [&](int hits, int misses) {
    const std::string tmp = web->Dir() + "/metrics.tmp";
    std::ofstream(tmp) << "# TYPE cache_hits_total counter\n"
                       << "cache_hits_total{shard=\"a\"} " << hits << "\n"
                       << "cache_hits_total{shard=\"b\"} 1\n"
                       << "# TYPE cache_misses_total counter\n"
                       << "cache_misses_total " << misses << "\n";
    fs::rename(tmp, web->Dir() + "/metrics");
  };
  write_metrics(4, 10);
  std::vector<double> sums;
  ASSERT_TRUE(web->SumMetrics({"cache_hits_total", "cache_misses_total"}, &sums));
  EXPECT_EQ(sums, (std::vector<double>{5, 10}));
  MetricWaitOptions shard_a{.matchers = {{"shard", LabelMatcher::Op::kEqual, "a"}}};
  ASSERT_TRUE(web->SumMetrics({"cache_hits_total"}, &sums, shard_a));
  EXPECT_EQ(sums, (std::vector<double>{4}));

  // The service moves on while the wait polls.
  std::thread later([&] { write_metrics(20, 10); });
  MetricWaitOptions quick{.backoff = {.initial = 10ms, .max = 50ms}, .deadline = 20s};
  Status st = web->WaitSumMetrics(GreaterAmongTwo(), {"cache_hits_total", "cache_misses_total"},
                                  quick);
  later.join();
  EXPECT_TRUE(st) << st.message();
  EXPECT_TRUE(web->WaitSumMetrics(Equals(21), {"cache_hits_total"}, quick));

  // A wait that gives up says what it saw last.
  quick.deadline = 300ms;
  st = web->WaitSumMetrics(Greater(100), {"cache_hits_total"}, quick);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("metered: "), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("last saw 21"), std::string::npos) << st.message();
  st = web->WaitSumMetrics(Greater(0), {"not_there_total"}, quick);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("not_there_total"), std::string::npos) << st.message();
}

TEST_F(DockerEnvTest, TwoEnvironmentsWithTheSameRunnableNamesStayApart) {
  auto one = NewEnv();
  auto two = NewEnv();
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  auto web1 = Httpd(*one, "web");
  auto web2 = Httpd(*two, "web");
  auto client1 = one->Runnable("client").Init({.image = image_, .args = {"sleep", "300"}});
  auto client2 = two->Runnable("client").Init({.image = image_, .args = {"sleep", "300"}});
  ASSERT_TRUE(StartAndWaitReady({web1, web2, client1, client2}));
  std::ofstream(web1->Dir() + "/id") << "one";
  std::ofstream(web2->Dir() + "/id") << "two";
  EXPECT_NE(web1->Endpoint("http"), web2->Endpoint("http"));
  EXPECT_EQ(Get(web1->Endpoint("http"), "/id").body, "one");
  EXPECT_EQ(Get(web2->Endpoint("http"), "/id").body, "two");
  // "web" on each network is that environment's own.
  EXPECT_EQ(client1->Exec({"wget", "-qO-", "http://web:8080/id"}).out, "one");
  EXPECT_EQ(client2->Exec({"wget", "-qO-", "http://web:8080/id"}).out, "two");
  const std::string name1 = one->Name();
  one->Close();
  EXPECT_EQ(ContainersOf(name1), 0u);
  EXPECT_TRUE(web2->IsRunning()) << "closing one environment stopped the other's runnable";
}

TEST_F(DockerEnvTest, ANewEnvironmentRemovesWhatACrashedOneOfItsNameLeft) {
  const std::string name = UniqueName("env");
  // What a crashed program leaves: a network and a running container with the
  // environment's label.
  const Labels labels = {{"handoff.env", name}, {"handoff.workload", "1"}};
  auto network = Engine().CreateNetwork(name, labels);
  ASSERT_TRUE(network.ok()) << network.error().ToString();
  ContainerSpec spec{.name = name + "-web", .image = image_, .cmd = {"sleep", "300"},
                     .network = name, .labels = labels};
  auto left = Engine().CreateContainer(spec);
  ASSERT_TRUE(left.ok()) << left.error().ToString();
  ASSERT_TRUE(Engine().StartContainer(*left).ok());

  Status st;
  auto env = Environment::NewDocker(name, &st);
  ASSERT_NE(env, nullptr) << st.message();
  EXPECT_EQ(env->Name(), name);
  EXPECT_TRUE(Engine().InspectContainer(*left).error().not_found()) << "the leftover survived";
  // The same names work again.
  auto web = Httpd(*env, "web");
  ASSERT_TRUE(StartAndWaitReady({web}));
  env->Close();
  EXPECT_EQ(ContainersOf(name), 0u);
  EXPECT_EQ(NetworksOf(name), 0u);
}

TEST_F(DockerEnvTest, ATestsCleanupRemovesItsEnvironment) {
  const std::string dir = handoff::testing::MakeTempDir();
  const handoff::testing::ProcessResult r = RunFixture("DockerLeavesItRunning", dir);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string env = Recorded(dir, "env");
  ASSERT_FALSE(env.empty()) << r.out << r.err;
  // The environment's name is the suite's and the test's, with a unique suffix.
  EXPECT_TRUE(env.starts_with("workload-dockerleavesitrunning-")) << env;
  // Removed by the test's cleanup, before `run` returned.
  EXPECT_EQ(ContainersOf(env), 0u);
  EXPECT_EQ(NetworksOf(env), 0u);
}

TEST_F(DockerEnvTest, NoContainerSurvivesATestThatCrashes) {
  const std::string dir = handoff::testing::MakeTempDir();
  const handoff::testing::ProcessResult r = RunFixture("DockerCrashes", dir);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Recorded(dir, "started"), "yes") << r.out << r.err;
  const std::string env = Recorded(dir, "env");
  ASSERT_FALSE(env.empty()) << r.out << r.err;
  // The reaper removes them once the worker is gone.
  EXPECT_TRUE(Eventually([&] { return ContainersOf(env) == 0 && NetworksOf(env) == 0; }, 20s))
      << "containers or the network of " << env << " survived the crashed test";
  const std::string shared = Recorded(dir, "dir");
  ASSERT_FALSE(shared.empty());
  EXPECT_TRUE(Eventually([&] { return !fs::exists(shared); }, 20s))
      << "the environment's directory " << shared << " survived the crashed test";
}

// A container writes as root into the shared directory; the test runs as another user
// (nobody, in the engine socket's group), who may not delete that. Its cleanup still
// removes the directory, and leaves nothing on the engine.
TEST_F(DockerEnvTest, ATestNotRunAsRootRemovesWhatContainersWroteAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run the fixture as another user";
  struct stat socket_stat {};
  const std::string socket = Engine().endpoint().unix_path;
  if (socket.empty() || ::stat(socket.c_str(), &socket_stat) != 0) {
    GTEST_SKIP() << "the engine is not reached over a local Unix socket";
  }
  const std::string dir = handoff::testing::MakeTempDir();
  fs::permissions(dir, fs::perms::all);
  const handoff::testing::ProcessResult r =
      RunFixture("DockerWritesAsRoot", dir,
                 {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                  fmt::format("--groups={}", socket_stat.st_gid)});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Recorded(dir, "started"), "yes") << r.out << r.err;
  const std::string shared = Recorded(dir, "dir");
  const std::string env = Recorded(dir, "env");
  ASSERT_FALSE(shared.empty() || env.empty()) << r.out << r.err;
  EXPECT_FALSE(fs::exists(shared)) << shared << " survived the test's cleanup";
  EXPECT_EQ(ContainersOf(env), 0u);
  EXPECT_EQ(NetworksOf(env), 0u);
  fs::remove_all(shared);
}

TEST_F(DockerEnvTest, InteractiveModePrintsEndpointsAndEndsOnTheUrl) {
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  auto web = Httpd(*env, "web");
  ASSERT_TRUE(StartAndWaitReady({web}));
  const int port = FreePort();
  std::ostringstream printed;
  std::string ended_by;
  Status st;
  std::thread waiting([&] {
    st = RunInteractive(*env, {.out = &printed, .port = port}, &ended_by);
  });
  // The URL ends the wait once it is served.
  http::ClientResult hit;
  EXPECT_TRUE(Eventually([&] {
    hit = Get(fmt::format("127.0.0.1:{}", port), "/");
    return hit.ok();
  }, 10s));
  waiting.join();
  EXPECT_TRUE(st) << st.message();
  EXPECT_EQ(ended_by, "url");
  EXPECT_EQ(hit.status, 200);
  const std::string text = printed.str();
  EXPECT_NE(text.find(web->Endpoint("http")), std::string::npos) << text;
  EXPECT_NE(text.find("web:8080"), std::string::npos) << text;
  EXPECT_NE(text.find(fmt::format("http://127.0.0.1:{}/", port)), std::string::npos) << text;

  // And a timeout ends it too.
  st = RunInteractive(*env, {.out = &printed, .timeout = 100ms}, &ended_by);
  EXPECT_TRUE(st);
  EXPECT_EQ(ended_by, "timeout");
}

TEST_F(DockerEnvTest, ImagesBuiltFromHostFilesRunInTheEnvironment) {
  // A user's own program, with a file beside it, as a runnable: no registry involved.
  const std::string tag = UniqueName("image") + ":test";
  std::string id;
  Status built = BuildImageFromExecutable(
      tag, "/bin/cat", {ImageFile::Content("/etc/greeting", "hello from an image\n")},
      {.cmd = {"/etc/greeting"}, .labels = {{"handoff.test", "1"}}}, &id);
  ASSERT_TRUE(built) << built.message();
  EXPECT_TRUE(id.starts_with("sha256:")) << id;
  auto env = NewEnv();
  ASSERT_NE(env, nullptr);
  auto cat = env->Runnable("cat").Init({.image = tag});
  ASSERT_TRUE(cat->Start());
  EXPECT_TRUE(Eventually([&] {
    const std::vector<std::string> lines = cat->LastOutput();
    return !lines.empty() && lines.back() == "hello from an image";
  }, 10s));
  env->Close();
  EXPECT_TRUE(Engine().RemoveImage(tag).ok());

  Status missing = BuildImageFromExecutable(tag, "/nonexistent/program");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.message().find("/nonexistent/program"), std::string::npos)
      << missing.message();
}

TEST(DockerEnvAvailabilityTest, NoEngineIsAClearError) {
  const char* old = std::getenv("DOCKER_HOST");
  const std::string saved = old == nullptr ? "" : old;
  ::setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock", 1);
  Status available = Environment::DockerAvailable();
  Status st;
  auto env = Environment::NewDocker("nowhere", &st);
  if (old == nullptr) {
    ::unsetenv("DOCKER_HOST");
  } else {
    ::setenv("DOCKER_HOST", saved.c_str(), 1);
  }
  EXPECT_FALSE(available);
  EXPECT_EQ(env, nullptr);
  EXPECT_NE(st.message().find("unix:///nonexistent/docker.sock"), std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace handoff::workload
