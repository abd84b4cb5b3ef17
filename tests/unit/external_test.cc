// External suites (issue 20) without the real tools: the arguments that select tests for
// each tool, listings, --suites-config, the plan on the wire, the catalog's checks, and a
// command run by RunCommand (sh scripts standing in for a tool) with its retries, output
// cap, timeout and failures of the suite. The real tools run in blackbox/external_test.cc.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "event/wire.h"
#include "external/external_runner.h"
#include "external/suites_config.h"
#include "handoff/external.h"
#include "runner/registry.h"

namespace handoff::external {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "handoff-ext-XXXXXX").string();
  return ::mkdtemp(pattern.data());
}

TEST(ExternalArgsTest, EachToolSelectsTestsWithItsOwnFilter) {
  EXPECT_THAT(SelectArgs(ExternalTool::kGo, {"TestA", "shop.pay.TestB"}, ""),
              ElementsAre("-test.run", "^(TestA|TestB)$"));
  EXPECT_THAT(SelectArgs(ExternalTool::kNode, {"adds (1+1)", "a.b"}, ""),
              ElementsAre("--test-name-pattern=^(?:adds \\(1\\+1\\)|a\\.b)$"));
  EXPECT_TRUE(SelectArgs(ExternalTool::kOther, {"x"}, "").empty());
  EXPECT_TRUE(SelectArgs(ExternalTool::kGo, {}, "").empty());

  const std::string dir = TempDir();
  std::filesystem::create_directories(dir + "/tests");
  std::ofstream(dir + "/tests/test_cart.py") << "";
  EXPECT_THAT(SelectArgs(ExternalTool::kPytest,
                         {"tests.test_cart.test_total[1.5-eur]", "tests.test_cart.TestRefund.test_full"}, dir),
              ElementsAre("tests/test_cart.py::test_total[1.5-eur]",
                          "tests/test_cart.py::TestRefund::test_full"));
  // A name whose file is not there cannot be a node id: the whole command runs again.
  EXPECT_TRUE(SelectArgs(ExternalTool::kPytest, {"elsewhere.test_x"}, dir).empty());
  std::filesystem::remove_all(dir);

  // The readers write a '/' of a top-level name as '∕': the tool gets its own name back.
  EXPECT_THAT(SelectArgs(ExternalTool::kNode, {"GET \u2215cart"}, ""),
              ElementsAre("--test-name-pattern=^(?:GET \\/cart)$"));
  EXPECT_THAT(*PatternArgs(ExternalTool::kPytest, "total"), ElementsAre("-k", "total"));
  EXPECT_THAT(PatternArgs(ExternalTool::kOther, "x").error().message, HasSubstr("cannot select tests"));
  EXPECT_THAT(WithArgs(ExternalTool::kNode, {"node", "--test", "a.mjs"}, {"--test-name-pattern=x"}),
              ElementsAre("node", "--test", "--test-name-pattern=x", "a.mjs"));
  EXPECT_THAT(WithArgs(ExternalTool::kGo, {"go", "test", "./..."}, {"-test.run", "^A$"}),
              ElementsAre("go", "test", "./...", "-test.run", "^A$"));
  EXPECT_EQ(ParamVariable("base-url.v2"), "HANDOFF_PARAM_BASE_URL_V2");
}

TEST(ExternalArgsTest, ListingsAreReadAsEachToolPrintsThem) {
  EXPECT_THAT(ParseList(ExternalTool::kGo, "TestA\nTestB\nExampleC\nnot a test\nok  \texample.com/x\t0.01s\n"),
              ElementsAre("TestA", "TestB", "ExampleC"));
  EXPECT_THAT(ParseList(ExternalTool::kPytest,
                        "tests/test_cart.py::test_adds\ntests/test_cart.py::TestRefund::test_full[a::b]\n"
                        "\n3 tests collected in 0.01s\n"),
              ElementsAre("tests.test_cart.test_adds", "tests.test_cart.TestRefund.test_full[a.b]"));
  EXPECT_THAT(ParseList(ExternalTool::kOther, "one\n\ntwo\r\n"), ElementsAre("one", "two"));
}

TEST(SuitesConfigTest, DeclaresSuitesAndSaysWhatIsWrong) {
  Result<std::vector<Suite>> suites = ParseSuitesConfig(R"({"suites": [
      {"name": "py", "namespace": "shop", "labels": {"team": "cart"}, "command": ["pytest", "--junitxml=r.xml"],
       "working_dir": "py", "env": {"A": "1"}, "format": "junit", "report_file": "r.xml", "tool": "pytest",
       "max_attempts": 3, "timeout": "90s", "concurrency": "skip", "secret_params": ["*_TOKEN"]}]})",
                                                        "suites.json", "/etc/handoff");
  ASSERT_TRUE(suites.ok()) << suites.error().message;
  ASSERT_EQ(suites->size(), 1u);
  const Suite& s = (*suites)[0];
  EXPECT_EQ(s.name, "py");
  EXPECT_EQ(s.max_attempts, 3);
  EXPECT_EQ(s.timeout, std::chrono::seconds(90));
  EXPECT_EQ(s.concurrency, Suite::Concurrency::kSkip);
  ASSERT_NE(s.external, nullptr);
  EXPECT_EQ(s.external->working_dir, "/etc/handoff/py");
  EXPECT_EQ(s.external->format, ReportFormat::kJUnitXml);
  EXPECT_EQ(s.external->tool, ExternalTool::kPytest);
  EXPECT_EQ(s.external->env.at("A"), "1");

  auto error = [](const std::string& doc) {
    Result<std::vector<Suite>> r = ParseSuitesConfig(doc, "f.json", "");
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_THAT(error("{"), HasSubstr("f.json: not valid JSON"));
  EXPECT_EQ(error(R"({"suite": []})"), "f.json: unknown key \"suite\" (suites)");
  EXPECT_EQ(error(R"({"suites": [{"command": ["x"]}]})"), "f.json: suite 1: \"name\" is required");
  EXPECT_THAT(error(R"({"suites": [{"name": "a"}]})"), HasSubstr("\"command\" is required"));
  EXPECT_THAT(error(R"({"suites": [{"name": "a", "command": ["x"], "format": "junit"}]})"),
              HasSubstr("\"report_file\" is required"));
  EXPECT_THAT(error(R"({"suites": [{"name": "a", "command": ["x"], "format": "xml"}]})"),
              HasSubstr("\"format\" must be go-test-json, junit or tap"));
  EXPECT_THAT(error(R"({"suites": [{"name": "a", "command": "go test"}]})"),
              HasSubstr("\"command\" must be a list of strings"));
  EXPECT_THAT(error(R"({"suites": [{"name": "a", "command": ["x"], "timeout": "soon"}]})"),
              HasSubstr("\"timeout\" must be a duration"));
  EXPECT_THAT(error(R"({"suites": [{"name": "a", "command": ["x"], "max_attempts": 0}]})"),
              HasSubstr("from 1 to 100"));
  EXPECT_THAT(error(R"({"suites": [{"name": "a", "command": ["x"], "colour": 1}]})"),
              HasSubstr("unknown key \"colour\""));
  EXPECT_EQ(error(R"({"suites": [{"name": "a", "command": ["x"]}, {"name": "a", "command": ["y"]}]})"),
            "f.json: suite \"a\" is declared twice");
}

TEST(ExternalPlanTest, ThePlanCarriesTheCommandToTheWorker) {
  wire::WorkerPlan plan;
  plan.suite = "go";
  plan.params = {{"who", "ops"}};
  wire::ExternalPlan& x = plan.external.emplace();
  x.command = {"go", "test", "-json"};
  x.working_dir = "/src";
  x.env = {{"A", "1"}};
  x.format = 2;
  x.tool = 1;
  x.report_file = "r.xml";
  x.grace_ms = 1234;
  x.tests = {"TestA"};
  wire::FrameReader frames;
  frames.Feed(wire::EncodePlan(plan));
  std::optional<std::string_view> payload = frames.Next();
  ASSERT_TRUE(payload);
  std::optional<wire::WorkerPlan> back = wire::DecodePlan(*payload);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->external);
  EXPECT_EQ(back->external->command, x.command);
  EXPECT_EQ(back->external->working_dir, "/src");
  EXPECT_EQ(back->external->env, x.env);
  EXPECT_EQ(back->external->format, 2);
  EXPECT_EQ(back->external->tool, 1);
  EXPECT_EQ(back->external->report_file, "r.xml");
  EXPECT_EQ(back->external->grace_ms, 1234);
  EXPECT_EQ(back->external->tests, x.tests);
  // A truncated plan is refused, as every plan is.
  EXPECT_FALSE(wire::DecodePlan(payload->substr(0, payload->size() - 3)));
}

TEST(ExternalCatalogTest, AnExternalSuiteNeedsACommandAndNoTestsOfItsOwn) {
  std::vector<Suite> suites;
  suites.push_back(MakeSuite(ExternalSuite{.name = "ok", .command = {"true"}}));
  suites.push_back(MakeSuite(ExternalSuite{.name = "nocommand"}));
  suites.push_back(MakeSuite(
      ExternalSuite{.name = "junit", .command = {"true"}, .format = ReportFormat::kJUnitXml}));
  Suite with_tests = MakeSuite(ExternalSuite{.name = "tests", .command = {"true"}});
  with_tests.tests.push_back(handoff::Test{"T", [](handoff::T&) {}});
  suites.push_back(std::move(with_tests));
  Catalog catalog = BuildCatalog(std::move(suites));
  ASSERT_NE(catalog.Find("ok"), nullptr);
  EXPECT_EQ(catalog.Find("nocommand"), nullptr);
  EXPECT_THAT(catalog.errors,
              ElementsAre(HasSubstr("external suite \"nocommand\" has no command"),
                          HasSubstr("external suite \"junit\" reports JUnit XML but names no report_file"),
                          HasSubstr("external suite \"tests\" has tests, setup or teardown of its own")));
}

// Records the events as "kind test: text/status".
class Recorder : public EventSink {
 public:
  void OnEvent(const Event& e) override {
    std::lock_guard lock(mu_);
    events.push_back(e);
  }
  std::vector<std::string> Ends() const {
    std::vector<std::string> out;
    for (const Event& e : events) {
      if (e.kind != EventKind::kTestFinished) continue;
      out.push_back(fmt::format("{} {}{}{}", e.test, StatusName(e.status), e.flaky ? " flaky" : "",
                                e.attempt > 1 ? " #" + std::to_string(e.attempt) : ""));
    }
    return out;
  }
  std::string SuiteText() const {
    std::string out;
    for (const Event& e : events) {
      if (e.test.empty() && (e.kind == EventKind::kFailure || e.kind == EventKind::kOutput)) {
        out += e.text + "\n";
      }
    }
    return out;
  }
  std::vector<Event> events;

 private:
  std::mutex mu_;
};

class RunCommandTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A plan running `script` with sh in dir_, reporting TAP.
  wire::WorkerPlan Plan(const std::string& script, int attempts = 1) {
    wire::WorkerPlan plan;
    plan.suite = "s";
    plan.max_attempts = attempts;
    plan.params = {{"who", "ops"}};
    wire::ExternalPlan& x = plan.external.emplace();
    x.command = {"/bin/sh", "-c", script};
    x.working_dir = dir_;
    x.format = static_cast<std::uint8_t>(ReportFormat::kTap);
    x.grace_ms = 500;
    return plan;
  }

  // The process id a script wrote to `file` in dir_ (0 if none).
  int ReadPid(const std::string& file) const {
    std::ifstream in(dir_ + "/" + file);
    int pid = 0;
    in >> pid;
    return pid;
  }

  std::string dir_;
  std::atomic<bool> stop_{false};
};

TEST_F(RunCommandTest, RetriesRunOnlyTheFailedTestsAndAPassAfterAFailureIsFlaky) {
  // "b" fails until its marker exists; each run appends its arguments to runs.txt.
  const std::string script =
      "echo \"$@\" >> runs.txt; echo 'TAP version 13';"
      "case \"$*\" in *b*) ;; *) echo 'ok 1 - a';; esac;"
      "if [ -e marker ]; then echo 'ok 2 - b'; else touch marker; echo 'not ok 2 - b'; fi;"
      "echo 'not ok 3 - c'";
  wire::WorkerPlan plan = Plan(script + "; exit 1", 3);
  plan.external->command = {"/bin/sh", "-c", script + "; exit 1", "sh"};
  plan.external->tool = static_cast<std::uint8_t>(ExternalTool::kNode);
  Recorder got;
  RunCommand(plan, got, stop_);
  EXPECT_THAT(got.Ends(), ElementsAre("a passed", "b passed flaky #2", "c failed #3"));
  // The node filter came after --test... which sh does not have: at the end, here.
  std::ifstream runs(dir_ + "/runs.txt");
  std::string first, second, third;
  std::getline(runs, first);
  std::getline(runs, second);
  std::getline(runs, third);
  EXPECT_EQ(first, "");
  EXPECT_EQ(second, "--test-name-pattern=^(?:b|c)$");
  EXPECT_EQ(third, "--test-name-pattern=^(?:c)$");
  // Each attempt of a test started, in order, and ended once.
  int c_attempts = 0;
  for (const Event& e : got.events) {
    if (e.kind == EventKind::kAttemptFinished && e.test == "c") ++c_attempts;
  }
  EXPECT_EQ(c_attempts, 3);
}

TEST_F(RunCommandTest, ARetryThatDoesNotRunTheTestKeepsItsFailure) {
  // The retry's filter misses the test (the tool reports it skipped): it stays failed.
  Recorder got;
  RunCommand(Plan("echo 'TAP version 13'; if [ -e again ]; then echo 'ok 1 - b # SKIP not selected';"
                  " else touch again; echo 'not ok 1 - b'; fi", 2),
             got, stop_);
  EXPECT_THAT(got.Ends(), ElementsAre("b failed"));
}

TEST_F(RunCommandTest, ARetryOfTheWholeCommandIgnoresTheTestsItDidNotRetry) {
  // tool "other": the retry runs everything again; "a" now fails, "b" passes and exits 1.
  Recorder got;
  RunCommand(Plan("echo 'TAP version 13'; if [ -e again ]; then echo 'not ok 1 - a'; echo 'ok 2 - b'; exit 1;"
                  " else touch again; echo 'ok 1 - a'; echo 'not ok 2 - b'; exit 1; fi", 2),
             got, stop_);
  EXPECT_THAT(got.Ends(), ElementsAre("a passed", "b passed flaky #2"));
  EXPECT_EQ(got.SuiteText(), "");
}

TEST_F(RunCommandTest, ACommandThatEndsIsNotWaitedForPastItsEndByWhatItLeftBehind) {
  // It exits with its test passed, leaving a process that holds its output open: that is
  // killed with the command's group and the run goes on, with no timeout.
  wire::WorkerPlan plan = Plan("echo 'TAP version 13'; echo 'ok 1 - a'; sleep 600 & exit 0");
  plan.hook_timeout_ms = 60'000;
  Recorder got;
  RunCommand(plan, got, stop_);
  EXPECT_THAT(got.Ends(), ElementsAre("a passed"));
  EXPECT_EQ(got.SuiteText(), "");
}

TEST_F(RunCommandTest, ATimeoutEndsTheRunEvenWhenAProcessOutsideTheGroupHoldsTheOutput) {
  // setsid takes the sleep out of the command's group, where no kill of the group reaches
  // it; it keeps the output open. The run still ends (the worker's guardian kills the rest).
  wire::WorkerPlan plan = Plan(
      "echo 'TAP version 13'; echo '# Subtest: slow'; setsid sleep 30 & echo $! > setsid.pid; exec sleep 600");
  plan.hook_timeout_ms = 300;
  Recorder got;
  RunCommand(plan, got, stop_);
  EXPECT_THAT(got.Ends(), ElementsAre("slow failed"));
  if (const int pid = ReadPid("setsid.pid"); pid > 0) ::kill(pid, SIGKILL);
}

TEST_F(RunCommandTest, ParamsThatWouldBeOneVariableFailTheSuiteWithoutRunningIt) {
  wire::WorkerPlan plan = Plan("touch ran; echo 'TAP version 13'; echo 'ok 1 - t'");
  plan.params = {{"base-url", "a"}, {"base_url", "b"}};
  Recorder got;
  RunCommand(plan, got, stop_);
  EXPECT_EQ(got.SuiteText(), "params \"base-url\" and \"base_url\" would both be HANDOFF_PARAM_BASE_URL: rename one\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ran"));
}

TEST_F(RunCommandTest, ParamsAndTraceContextAreInTheEnvironment) {
  Recorder got;
  RunCommand(Plan("echo 'TAP version 13'; echo \"# $HANDOFF_PARAM_WHO $TRACEPARENT\"; echo 'ok 1 - t'"),
             got, stop_);
  std::string trace;
  for (const Event& e : got.events) {
    if (e.kind == EventKind::kTestStarted && e.test == "t") trace = e.trace_id;
  }
  ASSERT_EQ(trace.size(), 32u);
  EXPECT_THAT(got.SuiteText(), HasSubstr("ops 00-" + trace + "-"));
}

TEST_F(RunCommandTest, ATimeoutFailsTheRunningTestAndKillsWhatTheCommandStarted) {
  wire::WorkerPlan plan = Plan(
      "echo 'TAP version 13'; echo '# Subtest: slow'; sleep 600 & echo $! > child.pid; wait");
  plan.hook_timeout_ms = 300;
  Recorder got;
  RunCommand(plan, got, stop_);
  EXPECT_THAT(got.Ends(), ElementsAre("slow failed"));
  bool keyed = false;
  for (const Event& e : got.events) {
    if (e.kind == EventKind::kFailure && e.test == "slow") {
      EXPECT_THAT(e.text, HasSubstr("ran past its timeout of 300ms"));
      keyed = e.key == kCauseTimeout;
    }
  }
  EXPECT_TRUE(keyed);
  const int pid = ReadPid("child.pid");
  ASSERT_GT(pid, 0);
  // The sleep was in the command's process group: it was killed. It may still be on its way
  // out (its pipe closes before it is a zombie), so its state is read until it is.
  auto state = [&] {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const std::size_t close = line.rfind(')');
    return close == std::string::npos ? std::string("gone") : line.substr(close + 2, 1);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((state() != "gone" && state() != "Z") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(state() == "gone" || state() == "Z") << state() << " pid " << pid;
}

TEST_F(RunCommandTest, ACancelCancelsTheRunningTestInsteadOfFailingIt) {
  wire::WorkerPlan plan = Plan("echo 'TAP version 13'; echo '# Subtest: slow'; touch started; exec sleep 600");
  Recorder got;
  std::thread cancel([&] {
    while (!std::filesystem::exists(dir_ + "/started")) std::this_thread::yield();
    stop_.store(true);
  });
  RunCommand(plan, got, stop_);
  cancel.join();
  EXPECT_THAT(got.Ends(), ElementsAre("slow cancelled"));
  for (const Event& e : got.events) EXPECT_NE(e.kind, EventKind::kFailure) << e.text;
}

TEST_F(RunCommandTest, OutputBeyondTheCapKeepsItsHeadAndTail) {
  // 2 MiB of output in one test: 512 KiB first, 512 KiB last, the middle counted.
  Recorder got;
  RunCommand(Plan("echo 'TAP version 13'; echo '# Subtest: loud';"
                  "i=0; while [ $i -lt 20000 ]; do echo \"    line $i ........................................................................................................\"; i=$((i+1)); done;"
                  "echo '    ok 1 - inner'; echo 'ok 1 - loud'"),
             got, stop_);
  std::size_t bytes = 0;
  std::string last, note;
  for (const Event& e : got.events) {
    if (e.kind != EventKind::kOutput || e.test != "loud") continue;
    bytes += e.text.size() + 1;
    if (e.text.starts_with("[handoff:")) note = e.text;
    last = e.text;
  }
  EXPECT_LE(bytes, (1u << 20) + 200);
  EXPECT_THAT(note, HasSubstr("bytes of output dropped"));
  EXPECT_THAT(last, HasSubstr("line 19999"));
  // The kept tail comes before the attempt's end, when the attempt is stored.
  bool attempt_ended = false;
  for (const Event& e : got.events) {
    if (e.kind == EventKind::kAttemptFinished && e.test == "loud") attempt_ended = true;
    if (e.kind == EventKind::kOutput && e.test == "loud") EXPECT_FALSE(attempt_ended) << e.text;
  }
  EXPECT_TRUE(attempt_ended);
}

}  // namespace
}  // namespace handoff::external
