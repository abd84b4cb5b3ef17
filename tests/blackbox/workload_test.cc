// The process environment (include/handoff/workload.h) with real processes: lifecycle,
// probes, Exec, output capture, cleanup, and no orphan after a test that crashes.

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "blackbox/process.h"
#include "handoff/workload.h"
#include "http_client/http_client.h"

namespace handoff::workload {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using testing::Eventually;

bool ProcessExists(pid_t pid) { return ::kill(pid, 0) == 0; }

// A small HTTP server on the named port "http": python3's http.server in its directory.
StartOptions HttpServer(const FutureRunnable& future) {
  return {.executable = "python3",
          .args = {"-m", "http.server", "--bind", "127.0.0.1", future.InternalPortText("http")},
          .readiness = Probe::Http("http", "/", 200, 299, {"Directory listing"})};
}

TEST(ProcessEnvironmentTest, StartsWaitsServesStopsIdempotently) {
  auto env = Environment::NewProcess("lifecycle");
  ASSERT_NE(env, nullptr);
  FutureRunnable future = env->Runnable("web").WithPorts({{"http", 0}}).Future();
  EXPECT_EQ(future.Name(), "web");
  ASSERT_GT(future.InternalPort("http"), 0);
  EXPECT_EQ(future.InternalEndpoint("http"),
            "127.0.0.1:" + std::to_string(future.InternalPort("http")));
  EXPECT_TRUE(fs::path(future.Dir()).parent_path() == fs::path(env->SharedDir()));
  std::shared_ptr<Runnable> web = future.Init(HttpServer(future));
  EXPECT_EQ(web->Endpoint("http"), "") << "no endpoint before Start";
  EXPECT_FALSE(web->IsRunning());

  ASSERT_TRUE(StartAndWaitReady({web}).ok());
  EXPECT_TRUE(web->IsRunning());
  EXPECT_EQ(web->Endpoint("http"), future.InternalEndpoint("http"));
  // It serves its own directory, which is the runnable's.
  std::ofstream(web->Dir() + "/hello.txt") << "hello from the test";
  http::Client client("127.0.0.1", static_cast<std::uint16_t>(web->InternalPort("http")));
  const http::ClientResult got = client.Request("GET", "/hello.txt");
  ASSERT_TRUE(got.ok()) << got.error;
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "hello from the test");

  EXPECT_TRUE(web->Stop(5s).ok());
  EXPECT_FALSE(web->IsRunning());
  EXPECT_FALSE(client.Request("GET", "/", {}, {}, 2s).ok()) << "it still answers after Stop";
  EXPECT_TRUE(web->Stop(5s).ok());
  EXPECT_TRUE(web->Kill().ok());
  // Its output was kept (python logs each request on stderr).
  std::ifstream log(web->Dir() + "/output.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("GET /hello.txt"), std::string::npos) << text;
}

TEST(ProcessEnvironmentTest, ARunnableThatExitsFailsItsWaitWithItsOutput) {
  auto env = Environment::NewProcess("exits");
  auto broken = env->Runnable("broken").WithPorts({{"http", 0}}).Init(
      {.executable = "sh",
       .args = {"-c", "echo cannot bind the port >&2; exit 3"},
       .readiness = Probe::Tcp("http")});
  const Status st = StartAndWaitReady({broken});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("broken: exited (status 3) before it was ready"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("cannot bind the port"), std::string::npos) << st.message();
}

TEST(ProcessEnvironmentTest, AProbeThatNeverPassesGivesUpSayingWhatItSawLast) {
  auto env = Environment::NewProcess("probe");
  FutureRunnable future = env->Runnable("web").WithPorts({{"http", 0}}).Future();
  StartOptions options = HttpServer(future);
  options.readiness = Probe::Http("http", "/", 200, 299, {"no such text"});
  options.wait_backoff = Backoff{.initial = 10ms, .max = 50ms, .multiplier = 2, .deadline = 3s};
  auto web = future.Init(options);
  const Status st = StartAndWaitReady({web});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("web: not ready after"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("body lacks \"no such text\""), std::string::npos) << st.message();
  EXPECT_TRUE(web->IsRunning()) << "a failed wait leaves it to the caller";
  env->Close();
  EXPECT_FALSE(web->IsRunning());
}

TEST(ProcessEnvironmentTest, StartAndWaitReadyNamesTheRunnableThatFailed) {
  auto env = Environment::NewProcess("many");
  std::vector<std::shared_ptr<Runnable>> runnables;
  for (const char* name : {"one", "two", "three"}) {
    FutureRunnable f = env->Runnable(name).WithPorts({{"http", 0}}).Future();
    runnables.push_back(f.Init(HttpServer(f)));
  }
  runnables.push_back(env->Runnable("bad").Init({.executable = "/no/such/program"}));
  const Status st = StartAndWaitReady(runnables);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("bad: cannot run /no/such/program", 0), 0u) << st.message();
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(runnables[i]->IsRunning()) << i;
}

// A TLS server with a self-signed certificate: python3's http.server wrapped in ssl.
TEST(ProcessEnvironmentTest, HttpsProbesPassOverTlsAndPlainHttpDoesNot) {
  auto env = Environment::NewProcess("https");
  ASSERT_NE(env, nullptr);
  const char* serve =
      "import http.server, ssl, sys\n"
      "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
      "ctx.load_cert_chain('cert.pem', 'key.pem')\n"
      "srv = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])),\n"
      "                             http.server.SimpleHTTPRequestHandler)\n"
      "srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
      "srv.serve_forever()\n";
  auto tls = [&](const std::string& name, std::optional<Probe> probe,
                 std::chrono::milliseconds deadline) {
    FutureRunnable f = env->Runnable(name).WithPorts({{"https", 0}}).Future();
    return f.Init(
        {.executable = "sh",
         .args = {"-c",
                  "openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem "
                  "-days 1 -subj /CN=localhost 2>/dev/null && exec python3 -c \"$0\" $1",
                  serve, f.InternalPortText("https")},
         .readiness = probe,
         .wait_backoff = {.initial = 20ms, .max = 200ms, .deadline = deadline}});
  };
  auto good = tls("tls", Probe::Https("https", "/", 200, 299, {"cert.pem"}), 20s);
  Status st = StartAndWaitReady({good});
  ASSERT_TRUE(st) << st.message();

  // Plain HTTP on a TLS port never passes (the server is up within the deadline: the one
  // above was), and the error says what the probe tried.
  auto plain = tls("plain", Probe::Http("https", "/"), 3s);
  st = StartAndWaitReady({plain});
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("plain: not ready after"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("GET http://127.0.0.1:"), std::string::npos) << st.message();
}

// As root, a runnable may run as another user, which owns its directory.
TEST(ProcessEnvironmentTest, ARunnableRunsAsItsUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  auto env = Environment::NewProcess("user");
  ASSERT_NE(env, nullptr);
  auto r = env->Runnable("nobody").Init(
      {.executable = "sh", .args = {"-c", "id -u > uid; exec sleep 300"}, .user = "nobody",
       .readiness = Probe::Command({"test", "-s", "uid"})});
  ASSERT_TRUE(StartAndWaitReady({r}));
  EXPECT_EQ(r->Exec({"id", "-un"}).out, "nobody\n");
  std::ifstream in(r->Dir() + "/uid");
  int uid = -1;
  in >> uid;
  EXPECT_EQ(uid, 65534);
  auto ghost = env->Runnable("ghost").Init({.executable = "true", .user = "no-such-user"});
  Status st = ghost->Start();
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("ghost: user \"no-such-user\" does not exist"), std::string::npos)
      << st.message();
}

TEST(ProcessEnvironmentTest, ExecRunsBesideTheRunnableWithItsInput) {
  auto env = Environment::NewProcess("exec");
  auto r = env->Runnable("box").Init(
      {.executable = "sleep", .args = {"300"}, .env = {{"GREETING", "hi"}}});
  ASSERT_TRUE(r->Start().ok());
  const ExecResult got =
      r->Exec({"sh", "-c", "pwd; echo $GREETING; cat; echo oops >&2; exit 4"}, "from stdin\n");
  ASSERT_TRUE(got.status.ok()) << got.status.message();
  EXPECT_EQ(got.exit_code, 4);
  EXPECT_EQ(got.out, fs::canonical(r->Dir()).string() + "\nhi\nfrom stdin\n");
  EXPECT_EQ(got.err, "oops\n");
  const ExecResult missing = r->Exec({"/no/such/tool"});
  EXPECT_FALSE(missing.status.ok());
  EXPECT_NE(missing.status.message().find("No such file"), std::string::npos)
      << missing.status.message();
  EXPECT_TRUE(r->Kill().ok());
  EXPECT_FALSE(r->IsRunning());
}

TEST(ProcessEnvironmentTest, CloseKillsEverythingAndRemovesTheDirectory) {
  auto env = Environment::NewProcess("close");
  auto a = env->Runnable("a").Init({.executable = "sleep", .args = {"300"}});
  // A process group: the child the shell starts goes too.
  auto b = env->Runnable("b").Init(
      {.executable = "sh", .args = {"-c", "sleep 300 & echo $! > child; wait"},
       .readiness = Probe::Command({"test", "-s", "child"})});
  ASSERT_TRUE(StartAndWaitReady({a, b}).ok());
  pid_t child = 0;
  std::ifstream(b->Dir() + "/child") >> child;
  ASSERT_GT(child, 0);
  ASSERT_TRUE(ProcessExists(child));
  const std::string dir = env->SharedDir();
  env->Close();
  EXPECT_FALSE(a->IsRunning());
  EXPECT_FALSE(b->IsRunning());
  EXPECT_TRUE(Eventually([&] { return !ProcessExists(child); }, 5s));
  EXPECT_FALSE(fs::exists(dir));
  env->Close();  // idempotent
}

TEST(ProcessEnvironmentTest, EnvironmentsWithOneNameDoNotCollide) {
  auto first = Environment::NewProcess("same");
  auto second = Environment::NewProcess("same");
  EXPECT_NE(first->Name(), second->Name());
  EXPECT_NE(first->SharedDir(), second->SharedDir());
  EXPECT_EQ(first->Name().rfind("same-", 0), 0u);
}

// Through `run`: a test's environment is closed by its cleanup, and a test that crashes
// leaves no process and no directory behind.
class WorkloadRunTest : public ::testing::Test {
 protected:
  ~WorkloadRunTest() override { fs::remove_all(dir_); }

  testing::ProcessResult Run(const std::string& test) {
    return testing::RunProcess({WORKLOAD_FIXTURE, "run", "-v", "--run", "^" + test + "$"},
                               {{"WORKLOAD_FIXTURE_DIR", dir_}});
  }
  pid_t RecordedPid() const {
    pid_t pid = 0;
    std::ifstream(dir_ + "/pid") >> pid;
    return pid;
  }
  std::string RecordedDir() const {
    std::string dir;
    std::ifstream(dir_ + "/dir") >> dir;
    return dir;
  }
  std::string dir_ = testing::MakeTempDir();
};

TEST_F(WorkloadRunTest, ATestsEnvironmentIsClosedByItsCleanup) {
  const testing::ProcessResult r = Run("LeavesItRunning");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const pid_t pid = RecordedPid();
  ASSERT_GT(pid, 0) << r.out << r.err;
  EXPECT_FALSE(ProcessExists(pid));
  EXPECT_FALSE(fs::exists(RecordedDir()));
  // The runnable's output is part of the test's.
  EXPECT_NE(r.out.find("sleeper: sleeping"), std::string::npos) << r.out;
}

TEST_F(WorkloadRunTest, NoRunnableSurvivesATestThatCrashes) {
  const testing::ProcessResult r = Run("Crashes");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const pid_t pid = RecordedPid();
  ASSERT_GT(pid, 0) << r.out << r.err;
  EXPECT_TRUE(Eventually([&] { return !ProcessExists(pid); }, 5s))
      << "runnable " << pid << " survived its crashed test";
  const std::string dir = RecordedDir();
  ASSERT_FALSE(dir.empty()) << r.out << r.err;
  EXPECT_TRUE(Eventually([&] { return !fs::exists(dir); }, 5s))
      << "the environment's directory " << dir << " survived its crashed test";
}

}  // namespace
}  // namespace handoff::workload
