// No process outlives its test: tests/fixtures/leftovers_fixture.cc starts grandchildren
// that keep its stdout open and daemons that left its process group and session, in tests
// and in suite setup, then passes, crashes, hangs past its timeout, or blocks while `run`
// or `serve` is killed with SIGKILL. Each case checks by pid that nothing it started
// survives (and, inside the run, that a test's processes die when that test ends and a
// suite's live until the suite ends).

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "blackbox/process.h"
#include "http_client/http_client.h"

namespace handoff::testing {
namespace {

using namespace std::chrono_literals;

// True while `pid` names a process, a zombie included.
bool Exists(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

class LeftoversTest : public ::testing::Test {
 protected:
  // A failed case must not leave its sleeps behind for ten minutes.
  ~LeftoversTest() override {
    for (const char* name : {"grandchild", "daemon", "suite_grandchild", "suite_daemon",
                             "test_daemon", "suite_service", "crash_daemon", "crash_grandchild",
                             "hang_daemon", "hang_grandchild", "blocked_daemon",
                             "blocked_grandchild"}) {
      const pid_t pid = Recorded(name);
      if (pid > 0 && Trim(ReadFile("/proc/" + std::to_string(pid) + "/comm")) == "sleep") {
        ::kill(pid, SIGKILL);
      }
    }
  }

  static std::string Trim(std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

  ProcessResult Run(std::vector<std::string> args,
                    std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {LEFTOVERS_FIXTURE, "run", "-v"});
    env["LEFTOVERS_DIR"] = dir_;
    return RunProcess(args, env, 60s);
  }

  pid_t Recorded(const std::string& name) const {
    long pid = 0;
    std::ifstream(dir_ + "/" + name) >> pid;
    return static_cast<pid_t>(pid);
  }

  // Expects each recorded process to be gone within a few seconds.
  void ExpectAllGone(const std::vector<std::string>& names, const std::string& context) {
    for (const std::string& name : names) {
      const pid_t pid = Recorded(name);
      ASSERT_GT(pid, 0) << name << " was not recorded\n" << context;
      EXPECT_TRUE(Eventually([&] { return !Exists(pid); }, 10s))
          << name << " (" << pid << ") survived\n"
          << context;
    }
  }

  std::string dir_ = MakeTempDir();
};

TEST_F(LeftoversTest, ATestsGrandchildAndDaemonDieWhenTheTestEnds) {
  const ProcessResult r = Run({"--suite", "^Leftovers$"});
  const std::string all = r.out + r.err;
  // GoneWithTheirTests checks, after the two tests that started them, that they are gone.
  EXPECT_EQ(r.exit_code, 0) << all;
  EXPECT_NE(all.find("PASS  Leftovers/GoneWithTheirTests"), std::string::npos) << all;
  // The grandchild kept the test's stdout open: the run must not wait for it.
  EXPECT_LT(r.elapsed, 30s) << all;
  // Each test's output names what was killed when it ended (by pid: its name may still
  // be its parent's when it is killed between fork and exec).
  for (const char* name : {"grandchild", "daemon"}) {
    const std::string killed = "[handoff: killed 1 process the test left running: " +
                               std::to_string(Recorded(name)) + " (";
    EXPECT_NE(all.find(killed), std::string::npos) << killed << "\n" << all;
  }
  ExpectAllGone({"grandchild", "daemon"}, all);
  EXPECT_EQ(ReadFile(dir_ + "/started"), "forked\n");
}

// A thread running before the binary's initializers (a library's) makes forking the
// worker unsafe: the guardian starts it as a new process instead, with the same guarantees.
TEST_F(LeftoversTest, AWorkerWhoseBinaryStartsThreadsEarlyIsStartedAfresh) {
  const ProcessResult r = Run({"--suite", "^(Leftovers|Crash)$"}, {{"LEFTOVERS_EARLY_THREAD", "1"}});
  const std::string all = r.out + r.err;
  EXPECT_EQ(r.exit_code, 1) << all;  // Crash crashes
  EXPECT_NE(all.find("PASS  Leftovers/GoneWithTheirTests"), std::string::npos) << all;
  EXPECT_NE(all.find("crashed: worker killed by signal 11"), std::string::npos) << all;
  EXPECT_EQ(ReadFile(dir_ + "/started"), "spawned\n");
  ExpectAllGone({"grandchild", "daemon", "crash_daemon", "crash_grandchild"}, all);
}

// The guardian splits off before the binary's static initializers run (the worker does not
// copy every registered test into a fork): a thread one of them starts is the worker's,
// and the worker is still forked.
TEST_F(LeftoversTest, AThreadAStaticInitializerStartsIsTheWorkers) {
  const ProcessResult r = Run({"--suite", "^Leftovers$"}, {{"LEFTOVERS_STATIC_THREAD", "1"}});
  const std::string all = r.out + r.err;
  EXPECT_EQ(r.exit_code, 0) << all;
  EXPECT_EQ(ReadFile(dir_ + "/started"), "forked\n");
  ExpectAllGone({"grandchild", "daemon"}, all);
}

TEST_F(LeftoversTest, WhatSetupStartedLivesUntilTheSuiteEnds) {
  const ProcessResult r = Run({"--suite", "^SuiteProcesses$"});
  const std::string all = r.out + r.err;
  // The tests check that setup's processes run through them and the test's own do not.
  EXPECT_EQ(r.exit_code, 0) << all;
  ExpectAllGone({"suite_grandchild", "suite_daemon", "test_daemon"}, all);
}

TEST_F(LeftoversTest, ASuiteLevelProcessEnvironmentServesEveryTest) {
  const ProcessResult r = Run({"--suite", "^SuiteEnvironment$"});
  const std::string all = r.out + r.err;
  EXPECT_EQ(r.exit_code, 0) << all;
  EXPECT_EQ(all.find("[handoff: killed"), std::string::npos) << all;
  ExpectAllGone({"suite_service"}, all);
}

TEST_F(LeftoversTest, NothingSurvivesAWorkerThatCrashes) {
  const ProcessResult r = Run({"--suite", "^Crash$"});
  const std::string all = r.out + r.err;
  EXPECT_EQ(r.exit_code, 1) << all;
  EXPECT_NE(all.find("crashed: worker killed by signal 11"), std::string::npos) << all;
  ExpectAllGone({"crash_daemon", "crash_grandchild"}, all);
}

TEST_F(LeftoversTest, NothingSurvivesAWorkerKilledAtItsTimeout) {
  const ProcessResult r = Run({"--suite", "^Hang$", "--grace", "100ms"});
  const std::string all = r.out + r.err;
  EXPECT_EQ(r.exit_code, 1) << all;
  EXPECT_NE(all.find("timed out after 200ms (killed"), std::string::npos) << all;
  ExpectAllGone({"hang_daemon", "hang_grandchild"}, all);
}

// Waits until EscapesThenWaits has started everything, kills `process` with SIGKILL, and
// expects the test's processes, its worker and the worker's guardian to die.
class KilledOutrightTest : public LeftoversTest {
 protected:
  void KillAndExpectNothingLeft(BackgroundProcess& process) {
    ASSERT_TRUE(Eventually([&] { return Recorded("ready") == 1; }, 30s))
        << process.out() << process.err();
    ASSERT_TRUE(Exists(Recorded("blocked_daemon")));
    ::kill(process.pid(), SIGKILL);
    const ProcessResult r = process.Wait(30s);
    EXPECT_EQ(r.exit_code, -SIGKILL);
    ExpectAllGone({"blocked_daemon", "blocked_grandchild", "worker", "guardian"},
                  r.out + r.err);
  }
};

TEST_F(KilledOutrightTest, NothingSurvivesRunKilledWithSigkill) {
  BackgroundProcess run({LEFTOVERS_FIXTURE, "run", "--suite", "^Blocks$"},
                        {{"LEFTOVERS_DIR", dir_}});
  KillAndExpectNothingLeft(run);
}

TEST_F(KilledOutrightTest, NothingSurvivesServeKilledWithSigkill) {
  BackgroundProcess serve(
      {LEFTOVERS_FIXTURE, "serve", "--port", "0", "--db", "sqlite:" + dir_ + "/h.db"},
      {{"LEFTOVERS_DIR", dir_}});
  ASSERT_TRUE(serve.WaitForOutput("serving ", 30s)) << serve.out() << serve.err();
  ASSERT_TRUE(serve.WaitForOutput("\n", 5s)) << serve.out();
  std::smatch port;
  const std::string out = serve.out();
  ASSERT_TRUE(std::regex_search(out, port, std::regex(R"(http://127\.0\.0\.1:(\d+))"))) << out;
  http::Client client("127.0.0.1", static_cast<std::uint16_t>(std::stoi(port[1])));
  const http::ClientResult started = client.Request("POST", "/api/v1/suites/Blocks/runs", "{}");
  ASSERT_TRUE(started.ok()) << started.error;
  ASSERT_EQ(started.status, 201) << started.body;
  KillAndExpectNothingLeft(serve);
}

}  // namespace
}  // namespace handoff::testing
