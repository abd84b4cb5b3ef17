// External suites end to end (issue 20), with the real tools: Debian's Go (go test -json, and
// a compiled test binary through go tool test2json), pytest (--junitxml) and Node's test
// runner (TAP) run examples/external's suites under `run` and `serve`. Each has passing,
// failing, skipped, subtest or parametrised, flaky and hanging tests.
//
// The tools are found in /usr/bin (Debian's python3, with python3-pytest); without them the
// tests skip, and in CI (CI=true) that is a failure: scripts/bootstrap installs them.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "blackbox/go_json.h"
#include "blackbox/process.h"
#include "blackbox/serve_harness.h"

namespace handoff::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

const std::string kExamples = std::string(HANDOFF_SOURCE_DIR) + "/examples/external";

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// Debian's tools first: a python3 of its own (pyenv, a venv) may have no pytest.
std::map<std::string, std::string> ToolEnv(std::map<std::string, std::string> more = {}) {
  const char* path = std::getenv("PATH");
  more["PATH"] = std::string("/usr/bin:/bin") + (path != nullptr ? std::string(":") + path : "");
  return more;
}

// Why the tools are missing, or "".
std::string MissingTools() {
  for (const char* tool : {"/usr/bin/go", "/usr/bin/python3"}) {
    if (::access(tool, X_OK) != 0) return std::string(tool) + " is not installed";
  }
  if (RunProcess({"/bin/sh", "-c", "command -v node"}, ToolEnv()).exit_code != 0) {
    return "node is not installed";
  }
  if (RunProcess({"/usr/bin/python3", "-c", "import pytest"}).exit_code != 0) {
    return "python3-pytest is not installed";
  }
  return {};
}

#define HANDOFF_NEED_EXTERNAL_TOOLS()                                                   \
  do {                                                                                  \
    if (const std::string missing = MissingTools(); !missing.empty()) {                \
      if (InCi()) FAIL() << missing << " (CI requires it: scripts/bootstrap installs it)"; \
      GTEST_SKIP() << missing << "; run scripts/bootstrap";                             \
    }                                                                                   \
  } while (false)

// The processes still alive whose environment holds EXTERNAL_TEST_MARK=`mark`: what a run
// given that variable started, however deep (a test's environment passes down).
std::vector<std::string> LeftoverProcesses(const std::string& mark) {
  std::vector<std::string> found;
  const std::string needle = "EXTERNAL_TEST_MARK=" + mark;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) continue;
    std::string environ = ReadFile(entry.path().string() + "/environ");
    std::replace(environ.begin(), environ.end(), '\0', '\n');
    if ((environ + "\n").find(needle + "\n") == std::string::npos) continue;
    std::string cmdline = ReadFile(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    found.push_back(pid + ": " + cmdline);
  }
  return found;
}

class ExternalRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HANDOFF_NEED_EXTERNAL_TOOLS();
    dir_ = MakeTempDir();
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  ProcessResult Run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {EXAMPLE_EXTERNAL};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, ToolEnv(std::move(env)), std::chrono::seconds(180));
  }

  std::string dir_;
};

TEST_F(ExternalRunTest, EachLanguagesTestsAreTestsOfTheRunWithRetriesOfOnlyTheFailedOnes) {
  const std::string report = dir_ + "/report.json";
  const ProcessResult r =
      Run({"run", "--report-json", report}, {{"EXAMPLE_FLAKY_MARKER", dir_ + "/flaky"}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const GoReport go = ParseGoJson(ReadFile(report));
  ASSERT_TRUE(go.valid) << go.error;
  const std::map<std::pair<std::string, std::string>, std::string> want = {
      {{"go", "TestAdd"}, "pass"},
      {{"go", "TestTotal"}, "fail"},
      {{"go", "TestTotal/eur"}, "pass"},
      {{"go", "TestTotal/usd"}, "fail"},
      {{"go", "TestRefund"}, "skip"},
      {{"go", "TestFlaky"}, "pass"},
      {{"go", "TestHang"}, "skip"},
      {{"pytest", "tests.test_cart.test_adds"}, "pass"},
      {{"pytest", "tests.test_cart.test_total[eur-300]"}, "pass"},
      {{"pytest", "tests.test_cart.test_total[usd-301]"}, "fail"},
      {{"pytest", "tests.test_cart.test_refund"}, "skip"},
      {{"pytest", "tests.test_cart.test_flaky"}, "pass"},
      {{"pytest", "tests.test_cart.test_hang"}, "skip"},
      {{"node", "adds"}, "pass"},
      {{"node", "totals"}, "fail"},
      {{"node", "totals/eur"}, "pass"},
      {{"node", "totals/usd"}, "fail"},
      {{"node", "refund"}, "skip"},
      {{"node", "flaky"}, "pass"},
      {{"node", "hang"}, "skip"},
  };
  for (const auto& [test, action] : want) {
    EXPECT_EQ(go.FinalOf(test.first, test.second), action) << test.first << "/" << test.second;
  }
  // Each tool's failure, at its place where the format has one.
  EXPECT_NE(go.Find("go", "TestTotal/usd")->output.find("cart_test.go:25: Total in usd = 300, want 301"),
            std::string::npos);
  EXPECT_NE(go.Find("pytest", "tests.test_cart.test_total[usd-301]")->output.find("assert 300 == 301"),
            std::string::npos);
  EXPECT_NE(go.Find("node", "totals/usd")->output.find("300 !== 301"), std::string::npos);
  EXPECT_NE(go.Find("go", "TestRefund")->output.find("refunds are not built yet"), std::string::npos);

  // A failed test ran twice (max_attempts 2), a passing one once: a retry runs only the
  // failed tests, with the tool's own filter. The flaky tests failed first, then passed.
  for (const char* line : {"FLAKY go/TestFlaky", "FLAKY pytest/tests.test_cart.test_flaky",
                           "FLAKY node/flaky"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("3 flaky"), std::string::npos) << r.out;
  for (const char* line : {"  FAIL  go/TestTotal (", "  FAIL  node/totals (",
                           "  FAIL  pytest/tests.test_cart.test_total[usd-301] ("}) {
    const std::size_t at = r.out.find(line);
    ASSERT_NE(at, std::string::npos) << line << "\n" << r.out;
    EXPECT_NE(r.out.find("=== RETRY attempt 2", at), std::string::npos) << line << "\n" << r.out;
  }
  EXPECT_EQ(go.Find("go", "TestAdd")->actions, (std::vector<std::string>{"run", "pass"}));
}

TEST_F(ExternalRunTest, AHangingTestIsKilledAtTheTimeoutWithEverythingItStarted) {
  const auto start = Clock::now();
  const std::string report = dir_ + "/report.json";
  const ProcessResult r = Run({"run", "--timeout", "3s", "--grace", "1s", "--attempts", "1",
                               "--report-json", report},
                              {{"EXAMPLE_HANG", "1"}, {"EXTERNAL_TEST_MARK", dir_}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // Three suites one after the other, each killed at 3s and given 1s after SIGINT.
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(60));
  const GoReport go = ParseGoJson(ReadFile(report));
  ASSERT_TRUE(go.valid) << go.error;
  // go test -json names the test that was running: it fails with the timeout.
  EXPECT_EQ(go.FinalOf("go", "TestHang"), "fail");
  EXPECT_NE(go.Find("go", "TestHang")->output.find("killed: the suite's command ran past its timeout of 3s"),
            std::string::npos)
      << go.Find("go", "TestHang")->output;
  EXPECT_NE(go.Find("go", "TestHang")->output.find("waiting for a reply that never comes"),
            std::string::npos);
  // pytest writes its JUnit report when interrupted, without the test it stopped, and
  // Node's TAP names a test when it ends: the suite timed out, and the tests that ended
  // before are kept.
  EXPECT_EQ(go.FinalOf("pytest", "tests.test_cart.test_adds"), "pass");
  EXPECT_EQ(go.FinalOf("node", "adds"), "pass");
  EXPECT_EQ(go.FinalOf("pytest", ""), "fail");
  EXPECT_EQ(go.FinalOf("node", ""), "fail");
  EXPECT_NE(go.Find("pytest", "")->output.find("ran past its timeout of 3s"), std::string::npos)
      << go.Find("pytest", "")->output;
  EXPECT_NE(go.Find("node", "")->output.find("ran past its timeout of 3s"), std::string::npos);
  EXPECT_EQ(LeftoverProcesses(dir_), std::vector<std::string>{});
}

TEST_F(ExternalRunTest, RunPatternGoesToTheToolsOwnFilter) {
  const ProcessResult go = Run({"run", "--suite", "^go$", "--run", "TestTotal", "--format", "json"});
  const GoReport g = ExpectGoReport(go, 1);
  EXPECT_EQ(g.FinalOf("go", "TestTotal/usd"), "fail");
  EXPECT_EQ(g.FinalOf("go", "TestAdd"), "absent");
  const ProcessResult py = Run({"run", "--suite", "^pytest$", "--run", "adds", "--format", "json"});
  const GoReport p = ExpectGoReport(py, 0);
  EXPECT_EQ(p.FinalOf("pytest", "tests.test_cart.test_adds"), "pass");
  EXPECT_EQ(p.FinalOf("pytest", "tests.test_cart.test_total[usd-301]"), "absent");
}

TEST_F(ExternalRunTest, ListShowsWhatTheToolsList) {
  const ProcessResult r = Run({"list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cart/go\n  TestAdd\n  TestTotal\n  TestRefund\n  TestFlaky\n  TestHang\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("cart/pytest\n  tests.test_cart.test_adds\n  tests.test_cart.test_total[eur-300]\n"
                       "  tests.test_cart.test_total[usd-301]\n"),
            std::string::npos)
      << r.out;
  // Node's runner cannot list: the suite is shown without tests.
  EXPECT_NE(r.out.find("cart/node\n"), std::string::npos) << r.out;
}

TEST_F(ExternalRunTest, SuitesConfigRunsACompiledGoTestBinaryThroughTest2json) {
  const ProcessResult built = RunProcess(
      {"/bin/sh", "-c", "cd " + kExamples + "/go && go test -c -o " + dir_ + "/bin.test ."}, ToolEnv(),
      std::chrono::seconds(120));
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  const std::string config = dir_ + "/suites.json";
  std::ofstream(config) << R"({"suites": [
    {"name": "binary", "namespace": "cart", "command": ["go", "tool", "test2json", "-t", "./bin.test", "-test.v"],
     "working_dir": ".", "format": "go-test-json", "tool": "go", "max_attempts": 2,
     "env": {"EXAMPLE_FLAKY_MARKER": "flaky-marker"},
     "list_command": ["./bin.test", "-test.list", "."]},
    {"name": "script", "command": ["sh", "-c", "echo 'TAP version 13'; echo 'ok 1 - from a script'; echo '1..1'"],
     "format": "tap"}]})";
  const ProcessResult r = Run({"run", "--suites-config", config, "--suite", "^(binary|script)$",
                               "--format", "json"});
  const GoReport g = ExpectGoReport(r, 1);
  EXPECT_EQ(g.FinalOf("binary", "TestAdd"), "pass");
  EXPECT_EQ(g.FinalOf("binary", "TestTotal/usd"), "fail");
  EXPECT_EQ(g.FinalOf("binary", "TestFlaky"), "pass");
  EXPECT_EQ(g.Find("binary", "TestFlaky")->actions,
            (std::vector<std::string>{"run", "pass"}));  // flaky: its first attempt failed
  EXPECT_EQ(g.FinalOf("script", "from a script"), "pass");

  const ProcessResult list = Run({"list", "--suites-config", config, "--suite", "^binary$"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, "cart/binary\n  TestAdd\n  TestTotal\n  TestRefund\n  TestFlaky\n  TestHang\n");

  // A tool that cannot select tests: --run (and --skip, for any tool) is a usage error.
  const ProcessResult filtered = Run({"run", "--suites-config", config, "--suite", "^script$",
                                      "--run", "x"});
  EXPECT_EQ(filtered.exit_code, 2);
  EXPECT_NE(filtered.err.find("--run: external suite \"script\" has no tool that selects tests"),
            std::string::npos)
      << filtered.err;
  const ProcessResult skipped = Run({"run", "--suites-config", config, "--suite", "^binary$",
                                     "--skip", "TestAdd"});
  EXPECT_EQ(skipped.exit_code, 2);
  EXPECT_NE(skipped.err.find("--skip: external suite \"binary\" cannot leave tests out"),
            std::string::npos)
      << skipped.err;

  // A bad file is a usage error naming what is wrong.
  std::ofstream(dir_ + "/bad.json") << R"({"suites": [{"name": "x", "command": [], "format": "tap"}]})";
  const ProcessResult bad = Run({"run", "--suites-config", dir_ + "/bad.json"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("suite 1: \"command\" is required"), std::string::npos) << bad.err;
  std::ofstream(dir_ + "/dup.json") << R"({"suites": [{"name": "go", "command": ["true"]}]})";
  const ProcessResult dup = Run({"run", "--suites-config", dir_ + "/dup.json"});
  EXPECT_EQ(dup.exit_code, 2);
  EXPECT_NE(dup.err.find("suite \"go\" is also built into the binary"), std::string::npos) << dup.err;
}

TEST_F(ExternalRunTest, ACommandThatCannotRunOrReportsNothingFailsTheSuiteSayingWhy) {
  const std::string config = dir_ + "/suites.json";
  std::ofstream(config) << R"({"suites": [
    {"name": "missing", "command": ["no-such-tool-here", "-json"], "format": "go-test-json"},
    {"name": "wrongformat", "command": ["sh", "-c", "echo plain text; echo more"], "format": "go-test-json"},
    {"name": "noreport", "command": ["true"], "format": "junit", "report_file": "never.xml"},
    {"name": "exits", "command": ["sh", "-c", "echo 'TAP version 13'; echo 'ok 1 - fine'; exit 3"], "format": "tap"}]})";
  const ProcessResult r = Run({"run", "--suites-config", config, "--suite",
                               "^(missing|wrongformat|noreport|exits)$", "--format", "json"});
  const GoReport g = ExpectGoReport(r, 1);
  EXPECT_NE(g.Find("missing", "")->output.find("cannot run no-such-tool-here in " + dir_ +
                                               ": No such file or directory"),
            std::string::npos)
      << g.Find("missing", "")->output;
  EXPECT_NE(g.Find("wrongformat", "")->output.find(
                "the command reported no test: none of its 2 lines of output was go test -json (the first: plain text)"),
            std::string::npos)
      << g.Find("wrongformat", "")->output;
  EXPECT_NE(g.Find("noreport", "")->output.find("the command wrote no JUnit report at never.xml"),
            std::string::npos);
  EXPECT_EQ(g.FinalOf("exits", "fine"), "pass");
  EXPECT_NE(g.Find("exits", "")->output.find("exited with status 3 and reported no failed test"),
            std::string::npos);
  for (const char* suite : {"missing", "wrongformat", "noreport", "exits"}) {
    EXPECT_EQ(g.FinalOf(suite, ""), "fail") << suite;
  }
}

TEST_F(ExternalRunTest, AnInterruptKeepsTheFailureOfATestWaitingForItsRetry) {
  // A fails, then the command hangs ignoring SIGINT: ^C of `run` must not turn A's failure
  // into a cancellation, nor end its attempt twice.
  const std::string config = dir_ + "/suites.json";
  std::ofstream(config) << R"({"suites": [{"name": "held", "max_attempts": 2, "format": "tap",
    "command": ["sh", "-c", "echo 'TAP version 13'; echo 'not ok 1 - A'; trap '' INT; touch started; exec sleep 600"]}]})";
  BackgroundProcess run({EXAMPLE_EXTERNAL, "run", "--suites-config", config, "--suite", "^held$",
                         "--grace", "2s", "--format", "json"},
                        ToolEnv());
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!std::filesystem::exists(dir_ + "/started") && Clock::now() < deadline) {
    run.WaitForOutput("never printed", std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(std::filesystem::exists(dir_ + "/started"));
  ::kill(run.pid(), SIGINT);
  const ProcessResult r = run.Wait(std::chrono::seconds(30));
  const GoReport g = ParseGoJson(r.out);
  ASSERT_TRUE(g.valid) << g.error << r.out;
  EXPECT_EQ(g.FinalOf("held", "A"), "fail") << r.out << r.err;
  EXPECT_EQ(g.Find("held", "A")->actions, (std::vector<std::string>{"run", "fail"})) << r.out;
}

// --- serve -------------------------------------------------------------------------------

class ExternalServeTest : public ServeDatabaseTest {
 protected:
  void SetUp() override {
    HANDOFF_NEED_EXTERNAL_TOOLS();
    ServeDatabaseTest::SetUp();
  }

  Server* Start() {
    return StartServer(servers_, starts_, dir_,
                       {EXAMPLE_EXTERNAL, "serve", "--port", "0", "--db", db_.url()},
                       ToolEnv({{"EXAMPLE_FLAKY_MARKER", dir_ + "/flaky"}, {"EXTERNAL_TEST_MARK", dir_}}));
  }

  http::ClientResult Request(Server* s, const std::string& method, const std::string& target,
                             const std::string& body = {}) {
    return s->client().Request(method, target, body, {}, std::chrono::seconds(10));
  }

  std::int64_t Trigger(Server* s, const std::string& suite, const std::string& body) {
    const http::ClientResult created = Request(s, "POST", "/api/v1/suites/" + suite + "/runs", body);
    EXPECT_EQ(created.status, 201) << created.body;
    return Int(Parse(created.body), "id");
  }

  // Polls the run until `done` says so (at most 60s); returns its last state.
  json::value WaitRun(Server* s, std::int64_t id,
                      const std::function<bool(const json::value&)>& done) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    json::value run;
    while (Clock::now() < deadline) {
      run = Parse(Request(s, "GET", fmt::format("/api/v1/runs/{}", id)).body);
      if (done(run)) return run;
      ::usleep(50'000);
    }
    ADD_FAILURE() << "run " << id << " did not get there: " << json::serialize(run);
    return run;
  }

  static bool Finished(const json::value& run) { return !Str(run, "finished_at").empty(); }

  static std::map<std::string, std::string> Statuses(const json::value& run) {
    std::map<std::string, std::string> out;
    for (const json::value& t : Arr(run, "tests")) out[Str(t, "name")] = Str(t, "status");
    return out;
  }
};

TEST_F(ExternalServeTest, ServeRunsThemWithParamsTraceContextRetriesAndFilters) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const json::value suites = Parse(Request(s, "GET", "/api/v1/suites").body);
  std::map<std::string, std::string> formats;
  for (const json::value& suite : Arr(suites, "suites")) {
    const json::value* external = Field(suite, "external");
    ASSERT_NE(external, nullptr);
    formats[Str(suite, "name")] = Str(*external, "format") + "/" + Str(*external, "tool");
  }
  EXPECT_EQ(formats, (std::map<std::string, std::string>{
                         {"go", "go-test-json/go"}, {"pytest", "junit/pytest"}, {"node", "tap/node"}}));

  const std::int64_t id = Trigger(s, "go", R"({"params":{"who":"ops team"}})");
  const json::value run = WaitRun(s, id, Finished);
  EXPECT_EQ(Str(run, "status"), "failed");
  EXPECT_EQ(Statuses(run), (std::map<std::string, std::string>{{"TestAdd", "passed"},
                                                               {"TestTotal", "failed"},
                                                               {"TestTotal/eur", "passed"},
                                                               {"TestTotal/usd", "failed"},
                                                               {"TestRefund", "skipped"},
                                                               {"TestFlaky", "passed"},
                                                               {"TestHang", "skipped"}}));
  EXPECT_TRUE(Bool(run, "flaky"));
  const json::value add = Parse(Request(s, "GET", fmt::format("/api/v1/runs/{}/tests/TestAdd", id)).body);
  ASSERT_EQ(Arr(add, "attempts").size(), 1u) << json::serialize(add);
  const json::value& attempt = Arr(add, "attempts")[0];
  std::string output;
  for (const json::value& line : Arr(attempt, "output")) output += std::string(line.as_string()) + "\n";
  // The run's params reach the command as HANDOFF_PARAM_<KEY>, and its trace as TRACEPARENT:
  // the same trace the attempt is stored with.
  EXPECT_NE(output.find("param who=\"ops team\""), std::string::npos) << output;
  const std::string trace = Str(attempt, "trace_id");
  ASSERT_EQ(trace.size(), 32u) << json::serialize(attempt);
  EXPECT_NE(output.find("traceparent 00-" + trace + "-"), std::string::npos) << output;
  const json::value total =
      Parse(Request(s, "GET", fmt::format("/api/v1/runs/{}/tests/TestTotal", id)).body);
  EXPECT_EQ(Arr(total, "attempts").size(), 2u);

  // A filter is the tool's own; so are the tests asked for by name.
  const std::int64_t filtered = Trigger(s, "pytest", R"({"filter":"total"})");
  EXPECT_EQ(Statuses(WaitRun(s, filtered, Finished)),
            (std::map<std::string, std::string>{{"tests.test_cart.test_total[eur-300]", "passed"},
                                                {"tests.test_cart.test_total[usd-301]", "failed"}}));
  const std::int64_t named = Trigger(s, "node", R"({"tests":["adds"]})");
  const json::value named_run = WaitRun(s, named, Finished);
  EXPECT_EQ(Str(named_run, "status"), "passed");
  EXPECT_EQ(Statuses(named_run), (std::map<std::string, std::string>{{"adds", "passed"}}));
}

TEST_F(ExternalServeTest, CancelStopsTheCommandAndCancelsTheTestThatRan) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = Trigger(s, "go", R"({"params":{"hang":"1"}})");
  WaitRun(s, id, [](const json::value& run) { return Statuses(run)["TestHang"] == "running"; });
  const http::ClientResult cancel = Request(s, "POST", fmt::format("/api/v1/runs/{}/cancel", id));
  EXPECT_LT(cancel.status, 300) << cancel.body;
  const json::value run = WaitRun(s, id, Finished);
  EXPECT_EQ(Str(run, "status"), "cancelled");
  EXPECT_EQ(Statuses(run)["TestHang"], "cancelled");
  EXPECT_EQ(Statuses(run)["TestAdd"], "passed");
  // The server itself carries the mark; nothing else may.
  std::vector<std::string> left = LeftoverProcesses(dir_);
  std::erase_if(left, [&](const std::string& p) { return p.starts_with(std::to_string(s->pid()) + ":"); });
  EXPECT_EQ(left, std::vector<std::string>{});
}

TEST_F(ExternalServeTest, AResumedRunKeepsWhatEndedAndCancelsWhatTheCommandDoesNotReportAgain) {
  // The first time, A passes and X starts and hangs; the server stops. Resumed, the command
  // runs whole again and reports A again and Y.
  std::ofstream(dir_ + "/flip.sh") << "echo 'TAP version 13'\necho 'ok 1 - A'\n"
                                      "if [ -e second ]; then echo 'ok 2 - Y'; exit 0; fi\n"
                                      "touch second\necho '# Subtest: X'\nexec sleep 600\n";
  std::ofstream(dir_ + "/suites.json")
      << R"({"suites": [{"name": "flip", "format": "tap", "command": ["sh", "flip.sh"]}]})";
  const std::vector<std::string> argv = {EXAMPLE_EXTERNAL, "serve", "--port", "0", "--db", db_.url(),
                                         "--suites-config", dir_ + "/suites.json", "--shutdown-timeout", "1s"};
  Server* first = StartServer(servers_, starts_, dir_, argv, ToolEnv());
  ASSERT_NE(first, nullptr);
  const std::int64_t id = Trigger(first, "flip", "{}");
  const json::value before = WaitRun(first, id, [](const json::value& run) {
    return Statuses(run)["X"] == "running" && Statuses(run)["A"] == "passed";
  });
  std::string a_started;
  for (const json::value& t : Arr(before, "tests")) {
    if (Str(t, "name") == "A") a_started = Str(t, "started_at");
  }
  first->Signal(SIGTERM);
  ASSERT_TRUE(first->WaitExit(std::chrono::seconds(30)).has_value());

  Server* second = StartServer(servers_, starts_, dir_, argv, ToolEnv());
  ASSERT_NE(second, nullptr);
  const json::value run = WaitRun(second, id, Finished);
  EXPECT_EQ(Statuses(run), (std::map<std::string, std::string>{
                               {"A", "passed"}, {"X", "cancelled"}, {"Y", "passed"}}));
  EXPECT_EQ(Int(*Field(run, "counts"), "running"), 0);
  for (const json::value& t : Arr(run, "tests")) {
    if (Str(t, "name") == "A") EXPECT_EQ(Str(t, "started_at"), a_started) << "A was reported again";
  }
  const json::value x = Parse(Request(second, "GET", fmt::format("/api/v1/runs/{}/tests/X", id)).body);
  ASSERT_FALSE(Arr(x, "attempts").empty());
  EXPECT_EQ(Str(Arr(x, "attempts").back(), "skip_reason"),
            "cancelled: the command did not report the test again when its run resumed");
}

}  // namespace
}  // namespace handoff::testing
