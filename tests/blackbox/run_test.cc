// Black-box tests of `run` and `list`: they start the fixture binary as a user would and
// check exit codes, the go test -json stream, JUnit XML and the traces tests leave.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "blackbox/go_json.h"
#include "blackbox/process.h"

namespace handoff::testing {
namespace {

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs the fixture binary with `args`, with traces written under dir_.
  ProcessResult Fixture(std::vector<std::string> args,
                        std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), FIXTURE_SUITES);
    env["HANDOFF_FIXTURE_DIR"] = dir_;
    return RunProcess(args, env);
  }

  // Runs with --format json and parses the stream.
  GoReport FixtureJson(std::vector<std::string> args, int want_exit) {
    args.insert(args.begin(), {"run", "--format", "json"});
    return ExpectGoReport(Fixture(args), want_exit);
  }

  std::string Trace(const std::string& name) { return ReadFile(dir_ + "/" + name); }

  // Starts the fixture with `args` (shell words) in the background, output to `out_path`,
  // for tests that must signal it while it runs. Returns its pid.
  pid_t StartFixture(const std::string& args, const std::string& out_path) {
    std::string command = fmt::format("HANDOFF_FIXTURE_DIR={} exec {} {} > {} 2>&1", dir_,
                                      FIXTURE_SUITES, args, out_path);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
      ::_exit(127);
    }
    return pid;
  }

  // Waits (at most 10s) until a test has left the trace `name`; returns whether it did.
  bool AwaitTrace(const std::string& name) {
    for (int i = 0; i < 1000 && Trace(name).empty(); ++i) ::usleep(10'000);
    return !Trace(name).empty();
  }

  std::string dir_;
};

const std::string kFixtureSource = std::string(HANDOFF_SOURCE_DIR) + "/tests/fixtures/fixture_suites.cc";

// Returns the line number of the first line containing `text` after the first line containing
// `after`, in the fixture's source.
int FixtureLine(const std::string& after, const std::string& text) {
  std::istringstream in(ReadFile(kFixtureSource));
  std::string line;
  bool seen = false;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!seen) seen = line.find(after) != std::string::npos;
    if (seen && line.find(text) != std::string::npos) return n;
  }
  return -1;
}

// A frame line of a symbolized stack: "#N FUNCTION at .../fixture_suites.cc:LINE".
std::string FrameAt(const std::string& function, int line) {
  return fmt::format("{} at {}:{}", function, kFixtureSource, line);
}


// A handoff binary that is PID 1 (a container without an init, `docker run` of its image)
// runs its tests: its workers told their supervisor's death by a parent of 1, and every
// test failed with "worker exited with status 2".
TEST_F(RunTest, AsPidOneOfItsNamespaceItsWorkersRun) {
  const ProcessResult probe = RunProcess({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "true"});
  if (probe.exit_code != 0) {
    if (InCi()) FAIL() << "unshare --pid is required in CI (root): " << probe.err;
    GTEST_SKIP() << "unshare --pid needs root (CAP_SYS_ADMIN): " << probe.err;
  }
  ProcessResult r = RunProcess({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "sh", "-c",
                                "echo \"pid $$\"; exec \"$0\" run --suite Order", FIXTURE_SUITES},
                               {{"HANDOFF_FIXTURE_DIR", dir_}});
  EXPECT_NE(r.out.find("pid 1\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 passed, 0 failed"), std::string::npos) << r.out;
}

TEST_F(RunTest, BasicOutcomesAndExitCode) {
  GoReport r = FixtureJson({"--suite", "^Basic$"}, 1);
  EXPECT_EQ(r.Find("Basic", "Passes")->Final(), "pass");
  EXPECT_EQ(r.Find("Basic", "Fails")->Final(), "fail");
  EXPECT_EQ(r.Find("Basic", "Skips")->Final(), "skip");
  EXPECT_EQ(r.Find("Basic", "FatalStops")->Final(), "fail");
  EXPECT_EQ(r.Find("Basic", "ValuesAndSpans")->Final(), "pass");
  EXPECT_EQ(r.Find("Basic", "")->Final(), "fail");
  // Each failure carries file:line, and the test goes on after Error.
  const std::string& fails = r.Find("Basic", "Fails")->output;
  EXPECT_NE(fails.find(fmt::format("fixture_suites.cc:{}: want 200, got 503",
                                   LineOf(kFixtureSource, "t.Errorf(\"want {}, got {}\""))),
            std::string::npos)
      << fails;
  EXPECT_NE(fails.find("second failure"), std::string::npos);
  EXPECT_NE(fails.find("still running after Error"), std::string::npos);
  EXPECT_NE(r.Find("Basic", "Skips")->output.find("not on this environment"), std::string::npos);
  EXPECT_EQ(r.Find("Basic", "Skips")->output.find("unreachable"), std::string::npos);
}

TEST_F(RunTest, ExceptionsFailTheTestWithWhat) {
  GoReport r = FixtureJson({"--suite", "^Basic$", "--run", "Throws"}, 1);
  EXPECT_NE(r.Find("Basic", "ThrowsStd")->output.find("connection refused"), std::string::npos);
  EXPECT_NE(r.Find("Basic", "ThrowsOther")->output.find("unknown exception"), std::string::npos);
  // Where it was thrown, after the message.
  const std::string& o = r.Find("Basic", "ThrowsStd")->output;
  EXPECT_NE(o.find(fmt::format("unexpected exception: connection refused\n        \n        thrown at:\n"
                               "          #0 HandoffTest_Basic_ThrowsStd(handoff::T&) at {}:{}",
                               kFixtureSource, FixtureLine("HANDOFF_TEST(Basic, ThrowsStd)", "throw"))),
            std::string::npos)
      << o;
  EXPECT_EQ(r.Find("Basic", "Passes"), nullptr);
}

TEST_F(RunTest, StdoutAndStderrBecomeTheTestsOutput) {
  GoReport r = FixtureJson({"--suite", "^Basic$", "--run", "^(Passes|Fails)$"}, 1);
  const std::string& passes = r.Find("Basic", "Passes")->output;
  EXPECT_NE(passes.find("hello from stdout"), std::string::npos) << passes;
  EXPECT_NE(passes.find("hello from stderr"), std::string::npos) << passes;
  EXPECT_NE(passes.find("logged 3 items"), std::string::npos) << passes;
  EXPECT_EQ(r.Find("Basic", "Fails")->output.find("hello from"), std::string::npos);
}

TEST_F(RunTest, SubtestsAreNamedAndSelectable) {
  GoReport r = FixtureJson({"--suite", "^Basic$", "--run", "Subtests"}, 1);
  EXPECT_EQ(r.Find("Basic", "Subtests/double_one")->Final(), "pass");
  EXPECT_EQ(r.Find("Basic", "Subtests/broken")->Final(), "fail");
  EXPECT_EQ(r.Find("Basic", "Subtests/nested/deeper")->Final(), "pass");
  EXPECT_EQ(r.Find("Basic", "Subtests")->Final(), "fail");
  // Run returns whether the subtest passed.
  EXPECT_NE(r.Find("Basic", "Subtests")->output.find("broken: failed"), std::string::npos);

  GoReport only = FixtureJson({"--suite", "^Basic$", "--run", "Subtests/double_one"}, 0);
  EXPECT_EQ(only.Find("Basic", "Subtests/double_one")->Final(), "pass");
  EXPECT_EQ(only.Find("Basic", "Subtests/broken"), nullptr);
  EXPECT_EQ(only.Find("Basic", "Subtests")->Final(), "pass");

  GoReport skipped = FixtureJson({"--suite", "^Basic$", "--run", "Subtests", "--skip", "Subtests/broken"}, 0);
  EXPECT_EQ(skipped.Find("Basic", "Subtests/broken"), nullptr);
  EXPECT_EQ(skipped.Find("Basic", "Subtests/double_two")->Final(), "pass");
}

TEST_F(RunTest, CleanupRunsLifoAfterFatalAndRestoresState) {
  ProcessResult r = Fixture({"run", "--suite", "^Basic$", "--run", "FatalStops|ValuesAndSpans|AfterValues"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Trace("cleanup.txt"), "second registered\nfirst registered\n");
  std::string tempdir = Trace("tempdir.txt");
  ASSERT_FALSE(tempdir.empty());
  tempdir.pop_back();
  EXPECT_FALSE(std::filesystem::exists(tempdir)) << tempdir << " should be removed";
  EXPECT_EQ(Trace("env.txt"), "during=inside\nafter=<unset>\n");
}

TEST_F(RunTest, TestsRunInDeclarationOrder) {
  ProcessResult r = Fixture({"run", "--suite", "^Order$"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Trace("order.txt"), "Zulu\nAlpha\nMike\n");
}

TEST_F(RunTest, EveryCrashKindFailsOnlyItsTest) {
  GoReport r = FixtureJson({"--suite", "^Crashes$"}, 1);
  struct Want {
    const char* test;
    std::vector<const char*> output;
  };
  for (const Want& w : std::vector<Want>{
           {"Segfault", {"SIGSEGV", "about to dereference null"}},
           {"Abort", {"SIGABRT", "calling abort"}},
           {"Exit3", {"exited with status 3", "exiting with 3"}},
           {"Terminate", {"SIGABRT", "terminate called"}},
           {"InSubtest/child", {"SIGSEGV"}},
       }) {
    const GoTest* t = r.Find("Crashes", w.test);
    ASSERT_NE(t, nullptr) << w.test;
    EXPECT_EQ(t->Final(), "fail") << w.test;
    for (const char* text : w.output) {
      EXPECT_NE(t->output.find(text), std::string::npos) << w.test << " lacks " << text << ":\n" << t->output;
    }
  }
  EXPECT_EQ(r.Find("Crashes", "InSubtest")->Final(), "fail");
  EXPECT_EQ(r.Find("Crashes", "Before")->Final(), "pass");
  EXPECT_EQ(r.Find("Crashes", "After")->Final(), "pass");
  EXPECT_EQ(Trace("crash_after.txt"), "ran\n");
  // One worker to start with and a fresh one (with setup) after each of the 7 crashes.
  EXPECT_EQ(Lines(Trace("crash_setup.txt")).size(), 8u);
  EXPECT_EQ(Trace("crash_teardown.txt"), "teardown\n");
}

TEST_F(RunTest, TeardownRunsWhenTheLastTestCrashed) {
  GoReport r = FixtureJson({"--suite", "^CrashLast$"}, 1);
  EXPECT_EQ(r.Find("CrashLast", "Fine")->Final(), "pass");
  EXPECT_EQ(r.Find("CrashLast", "Dies")->Final(), "fail");
  // The crashed worker could not tear down; one more worker sets up and tears down.
  EXPECT_EQ(Trace("crashlast.txt"), "setup\nFine\nsetup\nteardown\n");
}

TEST_F(RunTest, HangingTestsAreStoppedThenKilled) {
  GoReport r = FixtureJson({"--suite", "^Hang$", "--grace", "300ms"}, 1);
  const GoTest* cooperative = r.Find("Hang", "Cooperative");
  EXPECT_EQ(cooperative->Final(), "fail");
  EXPECT_NE(cooperative->output.find("timed out after 300ms"), std::string::npos) << cooperative->output;
  EXPECT_EQ(Trace("hang.txt"), "cooperative returned\n");
  const GoTest* stubborn = r.Find("Hang", "Stubborn");
  EXPECT_EQ(stubborn->Final(), "fail");
  EXPECT_NE(stubborn->output.find("timed out after 300ms (killed"), std::string::npos) << stubborn->output;
  EXPECT_NE(stubborn->output.find("ignoring the stop request"), std::string::npos);
  EXPECT_GE(stubborn->elapsed, 0.5);
  EXPECT_EQ(r.Find("Hang", "ExtendsTimeout")->Final(), "pass");
  EXPECT_EQ(r.Find("Hang", "CappedByFlag")->Final(), "pass") << "SetTimeout beyond the suite's";
  EXPECT_EQ(r.Find("Hang", "After")->Final(), "pass");
}

TEST_F(RunTest, ACrashReportsTheCrashingThreadsStackWithFunctionFileAndLine) {
  GoReport r = FixtureJson({"--suite", "^Crashes$"}, 1);
  struct Want {
    const char* test;
    const char* signal;
    std::vector<std::string> frames;  // in this order, innermost first
  };
  const int segv = FixtureLine("HANDOFF_TEST(Crashes, Segfault)", "*p = 1;");
  const int abort = FixtureLine("HANDOFF_TEST(Crashes, Abort)", "std::abort();");
  const int terminate = FixtureLine("HANDOFF_TEST(Crashes, Terminate)", "std::terminate();");
  const int raise = FixtureLine("HANDOFF_TEST(Crashes, InSubtest)", "::raise(SIGSEGV);");
  for (const Want& w : std::vector<Want>{
           {"Segfault", "SIGSEGV",
            {"#0 " + FrameAt("HandoffTest_Crashes_Segfault(handoff::T&)", segv)}},
           {"Abort", "SIGABRT",
            {" abort ", FrameAt("HandoffTest_Crashes_Abort(handoff::T&)", abort)}},
           {"Terminate", "SIGABRT",
            {"std::terminate()", FrameAt("HandoffTest_Crashes_Terminate(handoff::T&)", terminate)}},
           {"CallsNull", "SIGSEGV",
#if defined(HANDOFF_UBSAN_FUNCTION_CHECKS)
            // The check before the call faults in the caller, at the call: no jump to 0.
            {"#0 " + FrameAt("HandoffTest_Crashes_CallsNull(handoff::T&)",
                             FixtureLine("HANDOFF_TEST(Crashes, CallsNull)", "callback();"))}},
#else
            {"#0 0x0\n", FrameAt("HandoffTest_Crashes_CallsNull(handoff::T&)",
                                FixtureLine("HANDOFF_TEST(Crashes, CallsNull)", "callback();"))}},
#endif
           {"ThrowsInItsThread", "SIGABRT",
            {"std::terminate()", "__cxa_throw",
             fmt::format("at {}:{}", kFixtureSource,
                         FixtureLine("HANDOFF_TEST(Crashes, ThrowsInItsThread)", "lost in a thread"))}},
           {"InSubtest/child", "SIGSEGV",
            {" raise ", fmt::format("at {}:{}", kFixtureSource, raise),
             "HandoffTest_Crashes_InSubtest(handoff::T&) at "}},
       }) {
    const GoTest* t = r.Find("Crashes", w.test);
    ASSERT_NE(t, nullptr) << w.test;
    EXPECT_EQ(t->Final(), "fail") << w.test;
    std::smatch head;
    ASSERT_TRUE(std::regex_search(t->output, head,
                                  std::regex(fmt::format("thread [0-9]+ \"[^\"]+\" crashed with {}:\\n", w.signal))))
        << w.test << ":\n" << t->output;
    std::size_t at = head.position(0);
    for (const std::string& frame : w.frames) {
      const std::size_t found = t->output.find(frame, at);
      ASSERT_NE(found, std::string::npos) << w.test << " lacks, in order, " << frame << ":\n" << t->output;
      at = found;
    }
  }
  // exit() is no crash of a thread: no stack.
  EXPECT_EQ(r.Find("Crashes", "Exit3")->output.find(" crashed with "), std::string::npos);
}

TEST_F(RunTest, ATimedOutTestReportsTheStacksOfEveryThreadOfItsProcess) {
  GoReport r = FixtureJson({"--suite", "^Hang$", "--run", "Stubborn", "--grace", "200ms"}, 1);
  const GoTest* stubborn = r.Find("Hang", "Stubborn");
  ASSERT_NE(stubborn, nullptr);
  const std::string& o = stubborn->output;
  EXPECT_NE(o.find("timed out after 300ms (killed"), std::string::npos) << o;
  // The test's thread and the one it started; handoff's own threads are counted, not shown.
  EXPECT_TRUE(std::regex_search(
      o, std::regex("stacks of the 2 threads of the test's process just before it was killed "
                    "\\([0-9]+ of handoff's own not shown\\):")))
      << o;
  const int pause = FixtureLine("HANDOFF_TEST(Hang, Stubborn)", "for (;;) ::pause();");
  const int main_pause = FixtureLine("Trace(\"stubborn_started.txt\"", "for (;;) ::pause();");
  EXPECT_NE(o.find(FrameAt("HandoffTest_Hang_Stubborn(handoff::T&)", main_pause)), std::string::npos)
      << o;
  EXPECT_NE(o.find(fmt::format("at {}:{}", kFixtureSource, pause)), std::string::npos)
      << "the test's own thread, at line " << pause << ":\n" << o;
  // libc's own frame: its file and line with Debian's libc6-dbg, else its library.
  EXPECT_TRUE(std::regex_search(o, std::regex("#0 pause (at |in libc)"))) << o;
  // What calls a test is not shown: it is handoff's runner.
  EXPECT_EQ(o.find("RunGuarded"), std::string::npos) << o;
  // The tests after it run in a fresh worker, unaffected.
  EXPECT_EQ(r.Find("Hang", "After"), nullptr);
}

TEST_F(RunTest, AStackIsInTheTextAndJUnitReportsToo) {
  const std::string junit = dir_ + "/report.xml";
  ProcessResult r = Fixture({"run", "--suite", "^Crashes$", "--run", "Segfault", "--report-junit", junit});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string frame = FrameAt("HandoffTest_Crashes_Segfault(handoff::T&)",
                                    FixtureLine("HANDOFF_TEST(Crashes, Segfault)", "*p = 1;"));
  EXPECT_NE(r.out.find("#0 " + frame), std::string::npos) << r.out;
  const std::string xml = ReadFile(junit);
  EXPECT_NE(xml.find("#0 " + std::regex_replace(frame, std::regex("&"), "&amp;")), std::string::npos)
      << xml;
}

// The server's libraries (PostgreSQL's client, OpenSSL, libdw) are opened when first needed
// (src/dynlib/lazy_library.h): a test binary names none of them, a passing run opens none in
// its supervisor or its worker, and a crash opens libdw for its stack's file and line.
TEST_F(RunTest, ARunOpensTheServersLibrariesOnlyWhenItNeedsThem) {
  const std::vector<std::string> lazy = {"libpq.so", "libssl.so", "libcrypto.so", "libdw.so",
                                         "libgnutls.so"};
  ProcessResult ldd = RunProcess({"/usr/bin/ldd", FIXTURE_SUITES});
  ASSERT_EQ(ldd.exit_code, 0) << ldd.out << ldd.err;
  for (const std::string& library : lazy) {
    EXPECT_EQ(ldd.out.find(library), std::string::npos) << library << " in\n" << ldd.out;
  }
  // The dynamic loader names each file it opens (LD_DEBUG=files), in every process.
  ProcessResult passing = Fixture({"run", "--suite", "^Basic$", "--run", "^Passes$"},
                                  {{"LD_DEBUG", "files"}});
  EXPECT_EQ(passing.exit_code, 0) << passing.out << passing.err;
  EXPECT_NE(passing.err.find("libfmt.so"), std::string::npos) << passing.err;
  for (const std::string& library : lazy) {
    EXPECT_EQ(passing.err.find(library), std::string::npos) << library << " opened:\n"
                                                            << passing.err;
  }
  ProcessResult crash = Fixture({"run", "--suite", "^Crashes$", "--run", "Segfault"},
                                {{"LD_DEBUG", "files"}});
  EXPECT_EQ(crash.exit_code, 1) << crash.out << crash.err;
  EXPECT_NE(crash.err.find("file=libdw.so.1"), std::string::npos) << crash.err;
  EXPECT_NE(crash.out.find("#0 " + FrameAt("HandoffTest_Crashes_Segfault(handoff::T&)",
                                           FixtureLine("HANDOFF_TEST(Crashes, Segfault)",
                                                       "*p = 1;"))),
            std::string::npos)
      << crash.out;
  EXPECT_EQ(crash.err.find("libssl.so"), std::string::npos) << crash.err;
}

TEST_F(RunTest, InterruptStopsTheRunAndReportsWhatRan) {
  // The test must send SIGINT while Hang/Cooperative runs.
  std::string out_path = dir_ + "/out.txt";
  pid_t pid = StartFixture("run --suite '^(Order|Hang)$' --timeout 1m --grace 1s", out_path);
  ASSERT_TRUE(AwaitTrace("hang_started.txt"));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::string out = ReadFile(out_path);
  EXPECT_NE(out.find("PASS  Order/Mike"), std::string::npos) << out;
  // The interrupted test and those that had not started are cancelled, not failed (changed
  // with the one result model: the interrupted test was a failure, the others unreported).
  EXPECT_NE(out.find("CANCELLED Hang/Cooperative"), std::string::npos) << out;
  EXPECT_NE(out.find("cancelled: the run was interrupted while the test ran"), std::string::npos)
      << out;
  EXPECT_NE(out.find("CANCELLED Hang/Stubborn (0ms): cancelled: the run was interrupted before "
                     "the test started"),
            std::string::npos)
      << "no test starts after ^C:\n" << out;
  EXPECT_EQ(out.find("ignoring the stop request"), std::string::npos) << out;
  EXPECT_NE(out.find("3 passed, 0 failed"), std::string::npos) << out;
  EXPECT_NE(out.find("STOP  interrupted"), std::string::npos) << out;
}

TEST_F(RunTest, TimeoutFlagOverridesSuiteTimeoutAndCapsSetTimeout) {
  GoReport r = FixtureJson({"--suite", "^Hang$", "--run", "Cooperative|CappedByFlag", "--timeout", "100ms"}, 1);
  EXPECT_NE(r.Find("Hang", "Cooperative")->output.find("timed out after 100ms"), std::string::npos);
  const GoTest* capped = r.Find("Hang", "CappedByFlag");
  EXPECT_EQ(capped->Final(), "fail");
  EXPECT_NE(capped->output.find("capped at --timeout 100ms"), std::string::npos) << capped->output;
  // The capped timeout counts from the SetTimeout call, a little after the test's start:
  // 101ms or more on a loaded machine or under AddressSanitizer (make asan).
  EXPECT_TRUE(std::regex_search(capped->output, std::regex("timed out after 1[0-9][0-9]ms")))
      << capped->output;
  EXPECT_LT(capped->elapsed, 0.9) << "uncapped, the test would run 1s";
}

TEST_F(RunTest, SecondInterruptKillsTheTestsToo) {
  pid_t pid = StartFixture("run --suite '^Hang$' --run Stubborn --timeout 1m --grace 1m",
                           dir_ + "/out.txt");
  ASSERT_TRUE(AwaitTrace("stubborn_started.txt"));
  // The stubborn test ignores the first ^C (its grace is a minute); the second ends all.
  ::kill(pid, SIGINT);
  // Standard signals do not queue: keep the two apart so the second is not merged.
  ::usleep(100'000);
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  ProcessResult ps = RunProcess({"/usr/bin/pgrep", "-f", std::string(FIXTURE_SUITES) + " __handoff_worker"});
  EXPECT_EQ(ps.out, "") << "a worker outlived its parent";
}

TEST_F(RunTest, FailedTestsAreRetriedAndFlakyOnesPass) {
  GoReport r = FixtureJson({"--suite", "^Flaky$"}, 1);
  const GoTest* flaky = r.Find("Flaky", "PassesOnSecond");
  EXPECT_EQ(flaky->Final(), "pass");
  // Go tools must see one result per test: the retried attempt is output, not a failure.
  EXPECT_EQ(std::count(flaky->actions.begin(), flaky->actions.end(), "fail"), 0);
  EXPECT_NE(flaky->output.find("first attempt fails"), std::string::npos);
  const GoTest* always = r.Find("Flaky", "AlwaysFails");
  EXPECT_EQ(always->Final(), "fail");
  EXPECT_NE(always->output.find("attempt 3 fails"), std::string::npos) << always->output;
  // A crash is retried in a fresh worker.
  EXPECT_EQ(r.Find("Flaky", "CrashesOnFirst")->Final(), "pass");
  EXPECT_NE(r.Find("Flaky", "CrashesOnFirst")->output.find("second attempt survived"), std::string::npos);

  GoReport once = FixtureJson({"--suite", "^Flaky$", "--run", "PassesOnSecond", "--attempts", "1"}, 1);
  EXPECT_EQ(once.Find("Flaky", "PassesOnSecond")->Final(), "fail");
}

TEST_F(RunTest, FlakyTestIsMarkedInTextAndJunit) {
  ProcessResult r = Fixture({"run", "--suite", "^Flaky$", "--run", "PassesOnSecond",
                             "--report-junit", dir_ + "/r.xml"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("FLAKY"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 passed, 0 failed"), std::string::npos) << r.out;
  EXPECT_NE(ReadFile(dir_ + "/r.xml").find("flaky"), std::string::npos);
}

TEST_F(RunTest, SoftFailuresAreReportedButDoNotFailTheRun) {
  GoReport r = FixtureJson({"--suite", "^Soft$"}, 0);
  // go test has no soft failure: a skip whose output says why, so no Go tool counts it.
  EXPECT_EQ(r.Find("Soft", "KnownIssue")->Final(), "skip");
  EXPECT_NE(r.Find("Soft", "KnownIssue")
                ->output.find("soft failure (known issue): known issue, tracked elsewhere\n"
                              "--- SKIP: KnownIssue"),
            std::string::npos)
      << r.Find("Soft", "KnownIssue")->output;
  // A known issue is not retried, though the suite allows 3 attempts.
  EXPECT_EQ(r.Find("Soft", "KnownIssue")->output.find("RETRY"), std::string::npos);
  EXPECT_EQ(r.Find("Soft", "")->Final(), "pass");
  ProcessResult text = Fixture({"run", "--suite", "^Soft$"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("known issue, tracked elsewhere"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  SOFT FAIL Soft/KnownIssue ("), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(": 1 passed, 0 failed, 1 soft failed, 0 skipped, 0 cancelled, 0 flaky\n"),
            std::string::npos)
      << text.out;
}

TEST_F(RunTest, FailingSetupSkipsEveryTestAndTeardownRuns) {
  GoReport r = FixtureJson({"--suite", "^SetupFails$"}, 1);
  for (const char* test : {"One", "Two"}) {
    EXPECT_EQ(r.Find("SetupFails", test)->Final(), "skip");
    EXPECT_NE(r.Find("SetupFails", test)->output.find("setup failed: database unreachable"),
              std::string::npos);
  }
  EXPECT_EQ(r.Find("SetupFails", "")->Final(), "fail");
  EXPECT_EQ(Trace("setupfails_tests.txt"), "");
  EXPECT_EQ(Trace("setupfails_teardown.txt"), "teardown ran\n");
}

TEST_F(RunTest, WorkerThatCannotStartFailsEveryTestOnce) {
  ProcessResult r = Fixture({"run", "--suite", "^Many$", "--format", "json"},
                            {{"HANDOFF_FIXTURE_BREAK_WORKER", "1"}});
  EXPECT_EQ(r.exit_code, 1);
  GoReport g = ParseGoJson(r.out);
  EXPECT_EQ(g.Count("fail"), 7);
  EXPECT_NE(g.Find("Many", "T6")->output.find("worker could not start: crashed: worker exited with status 7"),
            std::string::npos)
      << g.Find("Many", "T6")->output;
}

TEST_F(RunTest, FloodingTestIsBoundedAndDoesNotStall) {
  GoReport r = FixtureJson({"--suite", "^Flood$"}, 0);
  const GoTest* flood = r.Find("Flood", "TenMegabytes");
  EXPECT_EQ(flood->Final(), "pass");
  EXPECT_LT(flood->output.size(), 2u << 20);
  EXPECT_NE(flood->output.find("bytes of output dropped"), std::string::npos);
  EXPECT_NE(flood->output.find("last line"), std::string::npos);
  EXPECT_EQ(r.Find("Flood", "After")->Final(), "pass");
}

TEST_F(RunTest, SuiteAndLabelSelection) {
  GoReport smoke = FixtureJson({"--labels", "tier=smoke", "--run", "Passes"}, 0);
  EXPECT_NE(smoke.Find("Basic", "Passes"), nullptr);
  EXPECT_EQ(smoke.Find("Many", "T0"), nullptr);

  GoReport any = FixtureJson({"--labels", "tier=smoke,tier=full", "--run", "Passes|T0"}, 0);
  EXPECT_NE(any.Find("Basic", "Passes"), nullptr);
  EXPECT_NE(any.Find("Many", "T0"), nullptr);

  GoReport not_core = FixtureJson({"--skip-labels", "team=core", "--suite", "Basic|Many"}, 0);
  EXPECT_EQ(not_core.Find("Basic", ""), nullptr);
  EXPECT_EQ(not_core.Count("pass"), 7);

  GoReport by_namespace = FixtureJson({"--suite", "^library/"}, 0);
  EXPECT_EQ(by_namespace.Find("Registered", "FromLibrary")->Final(), "pass");
}

TEST_F(RunTest, BadUsageExitsTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"run", "--run", "("}, "--run"},
           {{"run", "--skip", "a/("}, "--skip"},
           {{"run", "--suite", "["}, "--suite"},
           {{"list", "--run", "[z-a]"}, "--run"},
           {{"run", "--labels", "team"}, "--labels"},
           {{"run", "--skip-labels", "=x"}, "--skip-labels"},
           {{"run", "--shard", "3/3"}, "--shard"},
           {{"run", "--shard", "x"}, "--shard"},
           {{"run", "--timeout", "soon"}, "--timeout"},
           {{"run", "--grace", "-1s"}, "--grace"},
           {{"run", "--jobs", "0"}, "--jobs"},
           {{"run", "--repeat", "0"}, "--repeat"},
           {{"run", "--format", "xml"}, "--format"},
           {{"run", "--isolation", "thread"}, "--isolation"},
           {{"run", "--bogus"}, "--bogus"},
           {{"run", "--report-json", "/nonexistent/dir/r.json"}, "--report-json"},
           {{"frobnicate"}, "frobnicate"},
       }) {
    ProcessResult r = Fixture(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[1] << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.message << " not in: " << r.err;
    EXPECT_EQ(Trace("order.txt"), "") << "nothing may run on bad usage";
  }
  ProcessResult env = Fixture({"run"}, {{"GTEST_TOTAL_SHARDS", "2"}, {"GTEST_SHARD_INDEX", "5"}});
  EXPECT_EQ(env.exit_code, 2);
  EXPECT_NE(env.err.find("GTEST_SHARD_INDEX"), std::string::npos);
}

// Every count flag states its rule, not CLI11's "Value 0 not in range 0.000000 to 1.79e308".
TEST_F(RunTest, CountFlagsSayTheyMustBeAtLeastOne) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"run", "--jobs", "0"}, "--jobs: must be at least 1, got 0"},
           {{"run", "-j", "-3"}, "must be at least 1, got -3"},
           {{"run", "--repeat", "0"}, "--repeat: must be at least 1, got 0"},
           {{"run", "--attempts", "0"}, "--attempts: must be at least 1, got 0"},
           {{"run", "--jobs", "two"}, "--jobs: want a whole number, got \"two\""},
           {{"run", "--repeat", "99999999999"}, "--repeat: must be at most 2147483647"},
           {{"run", "--shard", "0/0"}, "--shard: TOTAL must be at least 1, got \"0/0\""},
           {{"serve", "--db", "sqlite::memory:", "--max-concurrent-runs", "0"},
            "--max-concurrent-runs: must be at least 1, got 0"},
           {{"remote", "trigger", "Fast", "--server", "127.0.0.1:1", "--attempts", "0"},
            "--attempts: must be at least 1, got 0"},
           {{"remote", "runs", "--server", "127.0.0.1:1", "--limit", "0"},
            "--limit: must be between 1 and 500, got 0"},
       }) {
    ProcessResult r = Fixture(c.args);
    EXPECT_EQ(r.exit_code, 2) << fmt::format("{}", fmt::join(c.args, " ")) << ": " << r.out
                              << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.message << " not in: " << r.err;
    EXPECT_EQ(r.err.find("not in range"), std::string::npos) << r.err;
    EXPECT_EQ(Trace("order.txt"), "") << "nothing may run on bad usage";
  }
}

TEST_F(RunTest, HelpExitsZero) {
  ProcessResult r = Fixture({"run", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--report-junit"), std::string::npos);
}

TEST_F(RunTest, ShardsPartitionTheTests) {
  std::multiset<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    GoReport r = FixtureJson({"--suite", "^Many$", "--shard", fmt::format("{}/3", i)}, 0);
    int in_shard = 0;
    for (const auto& [key, t] : r.tests) {
      if (!key.second.empty()) seen.insert(key.second), ++in_shard;
    }
    EXPECT_GE(in_shard, 2);
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 7u) << "shards overlap";

  // GoogleTest's environment variables, and its status-file protocol.
  std::string status = dir_ + "/shard_status";
  ProcessResult r = Fixture({"run", "--suite", "^Many$", "--format", "json"},
                            {{"GTEST_TOTAL_SHARDS", "7"}, {"GTEST_SHARD_INDEX", "3"},
                             {"GTEST_SHARD_STATUS_FILE", status}});
  EXPECT_EQ(r.exit_code, 0);
  GoReport g = ParseGoJson(r.out);
  EXPECT_EQ(g.Count("pass"), 1);
  EXPECT_NE(g.Find("Many", "T3"), nullptr);
  EXPECT_TRUE(std::filesystem::exists(status));
}

TEST_F(RunTest, RepeatRunsEverythingAgain) {
  ProcessResult r = Fixture({"run", "--suite", "^Order$", "--repeat", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Lines(Trace("order.txt")).size(), 9u);
  EXPECT_NE(r.out.find("9 passed, 0 failed"), std::string::npos) << r.out;
}

TEST_F(RunTest, FailFastStopsAfterTheFirstFailure) {
  GoReport r = FixtureJson({"--suite", "^(Basic|Order)$", "--fail-fast"}, 1);
  EXPECT_EQ(r.Find("Basic", "Fails")->Final(), "fail");
  // The suite's tests after the failure never start: reported cancelled (a skip with why,
  // for go test JSON), so that no report shows fewer tests than were selected. (Changed with
  // the one result model: they were left out.) Suites not started yet stay out.
  const GoTest* unrun = r.Find("Basic", "Skips");
  ASSERT_NE(unrun, nullptr);
  EXPECT_EQ(unrun->Final(), "skip");
  EXPECT_NE(unrun->output.find("cancelled: the run stopped at the first failure (--fail-fast)"),
            std::string::npos)
      << unrun->output;
  EXPECT_EQ(r.Find("Order", "Zulu"), nullptr);
  EXPECT_EQ(Trace("order.txt"), "");
  ProcessResult text = Fixture({"run", "--suite", "^(Basic|Order)$", "--fail-fast"});
  EXPECT_NE(text.out.find("STOP  stopped at the first failure (--fail-fast)"), std::string::npos) << text.out;
}

TEST_F(RunTest, SelectingNothingWarns) {
  ProcessResult r = Fixture({"run", "--run", "NoSuchTest"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find("warning: no tests to run"), std::string::npos) << r.err;
}

TEST_F(RunTest, ParallelJobsGiveTheSameResults) {
  GoReport serial = FixtureJson({"--suite", "^(Basic|Order|Soft|Many|Flaky)$"}, 1);
  GoReport parallel = FixtureJson({"--suite", "^(Basic|Order|Soft|Many|Flaky)$", "--jobs", "3"}, 1);
  ASSERT_EQ(serial.tests.size(), parallel.tests.size());
  for (const auto& [key, t] : serial.tests) {
    const GoTest* p = parallel.Find(key.first, key.second);
    ASSERT_NE(p, nullptr) << key.first << "/" << key.second;
    EXPECT_EQ(p->Final(), t.Final()) << key.first << "/" << key.second;
  }
}

TEST_F(RunTest, IsolationNoneRunsInProcess) {
  GoReport r = FixtureJson({"--suite", "^(Basic|Order|Flaky)$", "--run", "^(Fails|Subtests|Zulu|PassesOnSecond)$",
                            "--isolation", "none"}, 1);
  EXPECT_EQ(r.Find("Basic", "Fails")->Final(), "fail");
  EXPECT_EQ(r.Find("Basic", "Subtests/broken")->Final(), "fail");
  EXPECT_EQ(r.Find("Order", "Zulu")->Final(), "pass");
  EXPECT_EQ(r.Find("Flaky", "PassesOnSecond")->Final(), "pass");
}

TEST_F(RunTest, ListShowsSuitesTestsAndLabels) {
  ProcessResult text = Fixture({"list"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("fixtures/Basic  [team=core,tier=smoke]\n  Passes\n  Fails\n"),
            std::string::npos)
      << text.out;

  ProcessResult json = Fixture({"list", "--format", "json", "--suite", "^(Basic|Order)$"});
  EXPECT_EQ(json.exit_code, 0);
  boost::json::value v = boost::json::parse(json.out);
  const auto& suites = v.at("suites").as_array();
  ASSERT_EQ(suites.size(), 2u);
  EXPECT_EQ(suites[0].at("name").as_string(), "Basic");
  EXPECT_EQ(suites[0].at("namespace").as_string(), "fixtures");
  EXPECT_EQ(suites[0].at("labels").at("tier").as_string(), "smoke");
  const auto& order = suites[1].at("tests").as_array();
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0].as_string(), "Zulu");
  EXPECT_EQ(order[1].as_string(), "Alpha");
}

TEST_F(RunTest, InvalidRegistrationsAreReportedTogether) {
  ProcessResult r = RunProcess({FIXTURE_INVALID, "run"});
  EXPECT_EQ(r.exit_code, 2);
  for (const char* problem : {"duplicate suite name \"Dup\"", "empty name",
                              "suite \"Empty\" has no tests", "duplicate test name \"A\""}) {
    EXPECT_NE(r.err.find(problem), std::string::npos) << problem << " not in:\n" << r.err;
  }
  EXPECT_EQ(RunProcess({FIXTURE_INVALID, "list"}).exit_code, 2);
}

TEST_F(RunTest, JsonReportIsReadByGotestsum) {
  if (::access("/usr/bin/gotestsum", X_OK) != 0) {
    if (InCi()) FAIL() << "gotestsum is required in CI (scripts/bootstrap installs it)";
    GTEST_SKIP() << "gotestsum not installed; run scripts/bootstrap";
  }
  std::string report = dir_ + "/report.json";
  ProcessResult r = Fixture({"run", "--suite", "^(Basic|Flaky|Soft)$", "--report-json", report});
  EXPECT_EQ(r.exit_code, 1);
  ProcessResult g = RunProcess({"/usr/bin/gotestsum", "--format", "testname", "--raw-command",
                                "--", "cat", report});
  // Basic: 14 tests (9 + 5 subtests), Flaky: 3, Soft: 2. Failures: Basic's 6, Flaky's 1.
  // Skipped: Basic's 1 and Soft's known issue (a soft failure does not fail the run).
  EXPECT_NE(g.out.find("DONE 19 tests, 2 skipped, 7 failures"), std::string::npos) << g.out << g.err;
  EXPECT_NE(g.out.find("=== SKIP: Soft KnownIssue "), std::string::npos) << g.out;
  EXPECT_NE(g.out.find("FAIL Basic.Fails"), std::string::npos) << g.out;
  EXPECT_NE(g.out.find("PASS Flaky.PassesOnSecond"), std::string::npos) << g.out;
}

TEST_F(RunTest, JunitReportIsReadByJunitparser) {
  if (::access("/usr/bin/python3", X_OK) != 0 ||
      RunProcess({"/usr/bin/python3", "-c", "import junitparser"}).exit_code != 0) {
    if (InCi()) FAIL() << "python3-junitparser is required in CI";
    GTEST_SKIP() << "python3-junitparser not installed; run scripts/bootstrap";
  }
  std::string xml = dir_ + "/report.xml", json = dir_ + "/report.json";
  ProcessResult r = Fixture({"run", "--suite", "^(Basic|Crashes|SetupFails)$", "--report-junit", xml,
                             "--report-json", json});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAIL"), std::string::npos) << "text output goes on alongside reports";
  EXPECT_TRUE(ParseGoJson(ReadFile(json)).valid);
  const char* script = R"PY(
import sys
from junitparser import JUnitXml, Failure, Skipped, Error
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    for case in suite:
        kinds = sorted(type(r).__name__ for r in case.result)
        msg = case.result[0].message if case.result else ""
        print(f"{suite.name}|{case.name}|{','.join(kinds)}|{msg}")
    print(f"SUITE {suite.name} tests={suite.tests} failures={suite.failures} errors={suite.errors} skipped={suite.skipped} hostname={suite.hostname} timestamp={suite.timestamp}")
)PY";
  ProcessResult p = RunProcess({"/usr/bin/python3", "-c", script, xml});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const std::string& o = p.out;
  EXPECT_NE(o.find("Basic|Fails|Failure|want 200, got 503"), std::string::npos) << o;
  EXPECT_NE(o.find("Basic|Skips|Skipped|"), std::string::npos) << o;
  EXPECT_NE(o.find("Basic|Passes||"), std::string::npos) << o;
  EXPECT_NE(o.find("Basic|Subtests/broken|Failure|"), std::string::npos) << o;
  EXPECT_NE(o.find("Crashes|Segfault|Error|crashed: worker killed by signal 11"), std::string::npos) << o;
  EXPECT_NE(o.find("SUITE Basic tests=14 failures=6 errors=0 skipped=1"), std::string::npos) << o;
  // The seven crashes are errors; InSubtest failed through its crashed subtest.
  EXPECT_NE(o.find("SUITE Crashes tests=10 failures=1 errors=7"), std::string::npos) << o;
  EXPECT_NE(o.find("SetupFails|One|Skipped|setup failed: database unreachable"), std::string::npos) << o;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_NE(o.find(std::string("hostname=") + host), std::string::npos) << o;
  EXPECT_EQ(o.find("timestamp=None"), std::string::npos) << o;
}

// Runs a python3 script over a JUnit file: junitparser's view of each testcase
// ("suite|case|Kind:type:message|..." with Surefire's rerun and flaky elements read from
// the tree) and of each suite's counts. Skips (or fails, in CI) without junitparser.
class JunitTest : public RunTest {
 protected:
  void SetUp() override {
    RunTest::SetUp();
    if (RunProcess({"/usr/bin/python3", "-c", "import junitparser"}).exit_code != 0) {
      if (InCi()) FAIL() << "python3-junitparser is required in CI";
      GTEST_SKIP() << "python3-junitparser not installed; run scripts/bootstrap";
    }
  }

  // Runs the fixture with `args` and --report-junit; returns junitparser's reading.
  std::string RunAndRead(std::vector<std::string> args, int want_exit) {
    const std::string xml = dir_ + "/report.xml";
    args.insert(args.begin(), "run");
    args.insert(args.end(), {"--report-junit", xml});
    ProcessResult r = Fixture(args);
    EXPECT_EQ(r.exit_code, want_exit) << r.out << r.err;
    const char* script = R"PY(
import sys
from junitparser import JUnitXml
RERUNS = ("rerunFailure", "rerunError", "flakyFailure", "flakyError")
for suite in JUnitXml.fromfile(sys.argv[1]):
    for case in suite:
        kinds = [type(r).__name__ + ":" + (r.type or "") + ":" + (r.message or "")
                 for r in case.result]
        kinds += [e.tag + ":" + e.get("type") + ":" + e.get("message") for e in case._elem
                  if e.tag in RERUNS]
        print("|".join([suite.name, case.name] + kinds))
    print(f"SUITE {suite.name} tests={suite.tests} failures={suite.failures} "
          f"errors={suite.errors} skipped={suite.skipped}")
)PY";
    ProcessResult p = RunProcess({"/usr/bin/python3", "-c", script, xml});
    EXPECT_EQ(p.exit_code, 0) << p.err;
    if (::access("/usr/bin/xmllint", X_OK) == 0) {
      ProcessResult valid = RunProcess(
          {"/usr/bin/xmllint", "--noout", "--schema",
           std::string(HANDOFF_SOURCE_DIR) + "/tests/unit/testdata/junit.xsd", xml});
      EXPECT_EQ(valid.exit_code, 0) << valid.err;
    } else if (InCi()) {
      ADD_FAILURE() << "xmllint is required in CI (libxml2-utils)";
    }
    return p.out;
  }
};

TEST_F(JunitTest, SoftFailureIsSkippedNotAFailure) {
  const std::string o = RunAndRead({"--suite", "^Soft$"}, 0);
  EXPECT_NE(o.find("Soft|KnownIssue|Skipped:handoff.soft_failure:soft failure (known issue): "
                   "known issue, tracked elsewhere\n"),
            std::string::npos)
      << o;
  EXPECT_NE(o.find("SUITE Soft tests=2 failures=0 errors=0 skipped=1"), std::string::npos) << o;
}

TEST_F(JunitTest, CrashesAreErrorsOfTypeCrash) {
  const std::string o = RunAndRead({"--suite", "^Crashes$"}, 1);
  for (const char* line : {"Crashes|Segfault|Error:crash:crashed: worker killed by signal 11",
                           "Crashes|Abort|Error:crash:crashed: worker killed by signal 6",
                           "Crashes|Exit3|Error:crash:crashed: worker exited with status 3",
                           "Crashes|Terminate|Error:crash:crashed: worker killed by signal 6",
                           "Crashes|InSubtest/child|Error:crash:crashed: worker killed by signal 11",
                           "Crashes|Before\n", "Crashes|After\n"}) {
    EXPECT_NE(o.find(line), std::string::npos) << line << " not in:\n" << o;
  }
}

TEST_F(JunitTest, HangsAreErrorsOfTypeTimeout) {
  const std::string o = RunAndRead({"--suite", "^Hang$", "--run", "Cooperative|Stubborn",
                                    "--grace", "300ms"},
                                   1);
  // Stopped by the worker's own timeout, and killed by the supervisor at its timeout.
  EXPECT_NE(o.find("Hang|Cooperative|Error:timeout:timed out after 300ms\n"), std::string::npos)
      << o;
  EXPECT_NE(o.find("Hang|Stubborn|Error:timeout:timed out after 300ms (killed"), std::string::npos)
      << o;
  EXPECT_NE(o.find("SUITE Hang tests=2 failures=0 errors=2 skipped=0"), std::string::npos) << o;
}

TEST_F(JunitTest, FlakyTestPassesWithFlakyElementsAndRetriesKeepEveryAttempt) {
  const std::string o = RunAndRead({"--suite", "^Flaky$"}, 1);
  // A pass for Jenkins and GitLab, with Surefire's record of each failed attempt.
  EXPECT_NE(o.find("Flaky|PassesOnSecond|flakyFailure:failure:first attempt fails\n"),
            std::string::npos)
      << o;
  EXPECT_NE(o.find("Flaky|CrashesOnFirst|flakyError:crash:crashed: worker killed by signal 6 "),
            std::string::npos)
      << o;
  // Failed all 3 attempts: the last is the failure, the two before it reruns.
  EXPECT_NE(o.find("Flaky|AlwaysFails|Failure:failure:attempt 3 fails|"
                   "rerunFailure:failure:attempt 1 fails|rerunFailure:failure:attempt 2 fails\n"),
            std::string::npos)
      << o;
  EXPECT_NE(o.find("SUITE Flaky tests=3 failures=1 errors=0 skipped=0"), std::string::npos) << o;
}

TEST_F(RunTest, GotestsumCountsNoFailureForASoftFailure) {
  if (::access("/usr/bin/gotestsum", X_OK) != 0) {
    if (InCi()) FAIL() << "gotestsum is required in CI (scripts/bootstrap installs it)";
    GTEST_SKIP() << "gotestsum not installed; run scripts/bootstrap";
  }
  const std::string report = dir_ + "/report.json", junit = dir_ + "/gotestsum.xml";
  ProcessResult r = Fixture({"run", "--suite", "^Soft$", "--report-json", report});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ProcessResult g = RunProcess({"/usr/bin/gotestsum", "--format", "testname", "--junitfile",
                                junit, "--raw-command", "--", "cat", report});
  EXPECT_NE(g.out.find("DONE 2 tests, 1 skipped in "), std::string::npos) << g.out << g.err;
  EXPECT_EQ(g.out.find("FAIL"), std::string::npos) << g.out;
  // gotestsum's own JUnit file counts no failure either.
  const std::string xml = ReadFile(junit);
  EXPECT_NE(xml.find(R"(tests="2" failures="0")"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("<failure"), std::string::npos) << xml;
}

TEST_F(RunTest, FormatJunitOnStdout) {
  ProcessResult r = Fixture({"run", "--suite", "^Order$", "--format", "junit"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("<?xml", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("<testcase name=\"Alpha\""), std::string::npos) << r.out;
}

#if defined(EXAMPLE_HELLO) && defined(EXAMPLE_SHOP)
TEST_F(RunTest, NoArgumentsRunsEverythingLikeAGoogleTestBinary) {
  ProcessResult r = RunProcess({EXAMPLE_HELLO});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos);
}

TEST_F(RunTest, ExamplesPass) {
  ProcessResult shop = RunProcess({EXAMPLE_SHOP, "run", "--format", "json"});
  EXPECT_EQ(shop.exit_code, 0) << shop.out << shop.err;
  GoReport r = ParseGoJson(shop.out);
  EXPECT_TRUE(r.valid) << r.error;
  EXPECT_GE(r.Count("pass"), 5);
  EXPECT_GE(r.Count("skip"), 1);
  // The shop example shows a soft failure: a skip that says why, never a fail.
  EXPECT_EQ(r.Count("fail"), 0);
  const GoTest* soft = r.Find("Storefront", "ProductsHaveCurrency");
  ASSERT_NE(soft, nullptr);
  EXPECT_EQ(soft->Final(), "skip");
  EXPECT_NE(soft->output.find("soft failure (known issue): "), std::string::npos) << soft->output;
}
#endif

}  // namespace
}  // namespace handoff::testing
