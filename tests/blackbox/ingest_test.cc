// Black-box tests of ingest (issue 20, section 2): reports that other tools wrote, sent to
// a real `serve` over HTTP (POST /api/v1/suites/{suite}/ingest) and with `remote ingest`,
// stored as runs. The reports are real: Go 1.19's go test -json, pytest 7.2.1's --junitxml
// and Node 20's TAP (tests/unit/testdata/, with the programs that wrote them), GoogleTest
// 1.12.1's --gtest_output=xml (tests/unit/testdata/gtest_cart.xml, with its program), and a
// Maven Surefire 3 report with reruns (tests/blackbox/testdata/). Run on SQLite (`blackbox`)
// and on PostgreSQL (`serve_postgres`).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "blackbox/process.h"
#include "blackbox/serve_harness.h"

namespace handoff::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kUnitTestdata = std::string(HANDOFF_SOURCE_DIR) + "/tests/unit/testdata/";
const std::string kSurefire =
    std::string(HANDOFF_SOURCE_DIR) + "/tests/blackbox/testdata/TEST-com.shop.PaymentIT.xml";

// A go test -json stream of package shop with TestA and TestB passing or failing.
std::string GoStream(bool a_passes, bool b_passes) {
  std::string out;
  for (const auto& [test, passes] : {std::pair{"TestA", a_passes}, std::pair{"TestB", b_passes}}) {
    out += fmt::format(
        "{{\"Time\":\"2026-12-05T10:00:00Z\",\"Action\":\"run\",\"Package\":\"shop\",\"Test\":\"{0}\"}}\n"
        "{{\"Time\":\"2026-12-05T10:00:00Z\",\"Action\":\"output\",\"Package\":\"shop\",\"Test\":\"{0}\","
        "\"Output\":\"    shop_test.go:7: {1}\\n\"}}\n"
        "{{\"Time\":\"2026-12-05T10:00:01Z\",\"Action\":\"{2}\",\"Package\":\"shop\",\"Test\":\"{0}\",\"Elapsed\":1}}\n",
        test, passes ? "fine" : "broken", passes ? "pass" : "fail");
  }
  out += fmt::format(
      "{{\"Time\":\"2026-12-05T10:00:02Z\",\"Action\":\"{}\",\"Package\":\"shop\",\"Elapsed\":2}}\n",
      a_passes && b_passes ? "pass" : "fail");
  return out;
}

// The totals of a run as "total/passed/failed/soft_failed/skipped/flaky".
std::string Totals(const json::value& run) {
  const json::value* t = Field(run, "totals");
  if (t == nullptr) return "none";
  return fmt::format("{}/{}/{}/{}/{}/{}", Int(*t, "total"), Int(*t, "passed"), Int(*t, "failed"),
                     Int(*t, "soft_failed"), Int(*t, "skipped"), Int(*t, "flaky"));
}

class IngestTest : public ServeDatabaseTest {
 protected:
  Server* Start(std::vector<std::string> flags = {}, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {SERVE_FIXTURE, "serve", "--port", "0", "--db", db_.url(),
                                     "--shutdown-timeout", "2s"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return StartServer(servers_, starts_, dir_, std::move(argv), std::move(env));
  }

  // POSTs `report` to the suite's ingest with `content_type` and `query`.
  http::ClientResult Ingest(Server* s, const std::string& suite, const std::string& report,
                            const std::string& content_type, const std::string& query = "",
                            const std::string& token = "") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return s->client().Request("POST", fmt::format("/api/v1/suites/{}/ingest{}", suite, query),
                               report, headers, 30s);
  }

  // Ingests `report`, which must be stored; returns the run as GET /runs/{id} shows it.
  json::value Stored(Server* s, const std::string& suite, const std::string& report,
                     const std::string& content_type, const std::string& query = "") {
    const http::ClientResult r = Ingest(s, suite, report, content_type, query);
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 201) << r.body;
    const json::value answer = Parse(r.body);
    EXPECT_EQ(r.Header("Location"), fmt::format("/api/v1/runs/{}", Int(answer, "id")));
    return Get(s, fmt::format("/api/v1/runs/{}", Int(answer, "id")));
  }

  json::value Get(Server* s, const std::string& target) {
    const http::ClientResult r = s->client().Request("GET", target, {}, {}, 10s);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return Parse(r.body);
  }

  std::size_t RunCount(Server* s) { return Arr(Get(s, "/api/v1/runs?limit=500"), "runs").size(); }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    return path;
  }
};

TEST_F(IngestTest, RealReportsOfGoPytestNodeGoogleTestAndSurefireAreRuns) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);

  // Go 1.19, sent as JSON lines: named as go test names them, the subtests under their test.
  json::value go = Stored(s, "go.shop", ReadFile(kUnitTestdata + "go119_test.json"),
                          "application/x-ndjson", "?reference=abc123&environment=ci");
  EXPECT_EQ(Str(go, "status"), "failed");
  EXPECT_EQ(Str(go, "trigger"), "ingest");
  EXPECT_EQ(Str(go, "reference"), "abc123");
  EXPECT_EQ(Str(go, "environment"), "ci");
  EXPECT_EQ(Totals(go), "6/2/3/0/1/0");
  EXPECT_EQ(TestStatuses(go), (std::map<std::string, std::string>{{"TestCharge", "failed"},
                                                               {"TestRefund", "passed"},
                                                               {"TestSkip", "skipped"},
                                                               {"TestTable", "failed"},
                                                               {"TestTable/amex", "failed"},
                                                               {"TestTable/visa", "passed"}}));
  ASSERT_NE(FindTest(go, "TestCharge"), nullptr);
  EXPECT_EQ(Str(*FindTest(go, "TestCharge"), "message").substr(0, 39),
            "charge_test.go:10: charging 4242\n    ch");
  // The report's times: its first event to its last.
  EXPECT_EQ(Str(go, "started_at").substr(0, 19), "2026-12-05T11:50:36");
  EXPECT_GE(Int(go, "duration_ms"), 0);
  // The test's output, line by line.
  const json::value charge = Get(s, fmt::format("/api/v1/runs/{}/tests/TestCharge", Int(go, "id")));
  EXPECT_NE(json::serialize(charge).find("charging 4242"), std::string::npos)
      << json::serialize(charge);

  // pytest 7, sent as bytes of no type: told by its first byte.
  json::value pytest = Stored(s, "pytest-cart", ReadFile(kUnitTestdata + "pytest7_junit.xml"),
                              "application/octet-stream");
  EXPECT_EQ(Str(pytest, "status"), "failed");
  EXPECT_EQ(Totals(pytest), "6/3/2/0/1/0");
  EXPECT_EQ(TestStatuses(pytest)["tests.test_cart.test_total[eur]"], "failed");
  EXPECT_EQ(TestStatuses(pytest)["tests.test_cart.TestRefund.test_full"], "passed");
  EXPECT_NE(Str(*FindTest(pytest, "tests.test_cart.test_later"), "message").find("not yet"),
            std::string::npos);

  // Node 20's TAP: a TODO test's failure is a soft one.
  json::value node = Stored(s, "node-cart", ReadFile(kUnitTestdata + "node20_tap.txt"), "text/x-tap");
  EXPECT_EQ(Str(node, "status"), "failed");
  EXPECT_EQ(Totals(node), "6/2/2/1/1/0");
  EXPECT_EQ(TestStatuses(node)["cart/totals"], "failed");

  // GoogleTest 1.12.1's XML, sent as application/xml: failures at their file and line.
  json::value gtest = Stored(s, "gtest-cart", ReadFile(kUnitTestdata + "gtest_cart.xml"),
                             "application/xml");
  EXPECT_EQ(Str(gtest, "status"), "failed");
  EXPECT_EQ(Totals(gtest), "5/2/2/0/1/0");
  ASSERT_NE(FindTest(gtest, "Cart.Totals"), nullptr) << json::serialize(gtest);
  EXPECT_EQ(Str(*FindTest(gtest, "Cart.Totals"), "status"), "failed");
  EXPECT_NE(Str(*FindTest(gtest, "Cart.Totals"), "message").find("cart_test.cc:7"),
            std::string::npos)
      << Str(*FindTest(gtest, "Cart.Totals"), "message");
  EXPECT_EQ(TestStatuses(gtest)["Cart.NeedsADatabase"], "skipped");

  // Maven Surefire with reruns: a pass after a flaky failure is flaky, a failure after its
  // reruns failed three attempts.
  json::value surefire = Stored(s, "shop-it", ReadFile(kSurefire), "text/xml");
  EXPECT_EQ(Str(surefire, "status"), "failed");
  EXPECT_EQ(Totals(surefire), "4/2/1/0/1/1");
  EXPECT_TRUE(Bool(surefire, "flaky"));
  const json::value* charges = FindTest(surefire, "com.shop.PaymentIT.chargesACard");
  ASSERT_NE(charges, nullptr) << json::serialize(surefire);
  EXPECT_EQ(Str(*charges, "status"), "passed");
  EXPECT_TRUE(Bool(*charges, "flaky"));
  EXPECT_EQ(Int(*charges, "attempt"), 2);
  const json::value* refunds = FindTest(surefire, "com.shop.PaymentIT.refundsACharge");
  ASSERT_NE(refunds, nullptr);
  EXPECT_EQ(Str(*refunds, "status"), "failed");
  EXPECT_EQ(Int(*refunds, "attempt"), 3);
  const json::value attempts =
      Get(s, fmt::format("/api/v1/runs/{}/tests/com.shop.PaymentIT.chargesACard", Int(surefire, "id")));
  EXPECT_EQ(Arr(attempts, "attempts").size(), 2u) << json::serialize(attempts);

  // Every one of them is a suite of the server now, after the binary's own, with nothing
  // to run; the flaky test is in the flaky list.
  const json::value suites = Get(s, "/api/v1/suites");
  std::map<std::string, bool> ingest_only;
  for (const json::value& suite : Arr(suites, "suites")) {
    ingest_only[Str(suite, "name")] = Bool(suite, "ingest_only");
  }
  for (const char* name : {"go.shop", "pytest-cart", "node-cart", "gtest-cart", "shop-it"}) {
    EXPECT_TRUE(ingest_only[name]) << name << ": " << json::serialize(suites);
  }
  EXPECT_FALSE(ingest_only["Fast"]);
  const json::value flaky = Get(s, "/api/v1/flaky");
  EXPECT_NE(json::serialize(flaky).find("com.shop.PaymentIT.chargesACard"), std::string::npos)
      << json::serialize(flaky);
  // The metrics count their tests under their suites.
  const std::string metrics = WithoutReplicaLabel(s->client().Request("GET", "/metrics").body);
  EXPECT_NE(metrics.find(R"(handoff_tests_run_total{namespace="",suite="shop-it",result="failed"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(handoff_testsuite_runs_total{namespace="",suite="shop-it",result="failed",flaky="true"} 1)"),
            std::string::npos)
      << metrics;
}

TEST_F(IngestTest, TestsAreMarkedAgainstThePreviousIngestedRun) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const json::value first = Stored(s, "go.shop", GoStream(false, true), "application/json");
  EXPECT_EQ(Str(first, "status"), "failed");
  EXPECT_EQ(Str(*FindTest(first, "TestA"), "message"), "shop_test.go:7: broken");
  const json::value second = Stored(s, "go.shop", GoStream(true, false), "application/json");
  EXPECT_EQ(Str(*FindTest(second, "TestA"), "change"), "fixed");
  EXPECT_EQ(Str(*FindTest(second, "TestB"), "change"), "new_failure");
  const json::value third = Stored(s, "go.shop", GoStream(true, false), "application/json");
  EXPECT_EQ(Str(*FindTest(third, "TestB"), "change"), "still_failing");
  // The history of a test reads the ingested runs like any others.
  const json::value history = Get(s, "/api/v1/suites/go.shop/tests/TestB");
  EXPECT_EQ(Arr(history, "runs").size(), 3u) << json::serialize(history);
  // The journal of an ingested run ends with its final state, as a run's does.
  const http::ClientResult events = s->client().Request(
      "GET", fmt::format("/api/v1/runs/{}/events", Int(third, "id")), {}, {}, 10s);
  EXPECT_EQ(events.status, 200);
  EXPECT_NE(events.body.find("\"status\":\"failed\""), std::string::npos) << events.body;
}

TEST_F(IngestTest, ABadReportIsRefusedNamingTheLineAndCreatesNothing) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  struct Case {
    std::string type, body;
    int status;
    std::string message;
  };
  const std::string go = GoStream(true, true);
  for (const Case& c : {
           // Cut in the middle of its third line.
           Case{"application/json", go.substr(0, go.find('\n', go.find('\n') + 1) + 20), 400,
                "line 3: not JSON"},
           Case{"application/json", go.substr(0, go.rfind("{\"Time\"")), 400,
                "line 6: the report ends before the result of package shop: is it cut short?"},
           Case{"application/xml", "<testsuite>\n<testcase name=\"a\">\n", 400, "line 3"},
           Case{"text/x-tap", "TAP version 13\nok 1 - a\n", 400,
                "line 2: the report ends before its plan (1..N)"},
           Case{"application/pdf", go, 415, "Content-Type application/pdf is not a report format"},
           Case{"text/plain", "hello", 415, "cannot be told from its content"},
       }) {
    const http::ClientResult r = Ingest(s, "go.bad", c.body, c.type);
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, c.status) << c.type << ": " << r.body;
    const json::value body = Parse(r.body);
    const json::value* error = Field(body, "error");
    ASSERT_NE(error, nullptr) << r.body;
    EXPECT_NE(Str(*error, "message").find(c.message), std::string::npos) << r.body;
  }
  EXPECT_EQ(RunCount(s), 0u);
  // Nor was the suite created.
  const json::value suites = Get(s, "/api/v1/suites");
  for (const json::value& suite : Arr(suites, "suites")) EXPECT_NE(Str(suite, "name"), "go.bad");
  // A bad suite name, a bad query parameter.
  EXPECT_EQ(Ingest(s, "go%2Fbad", go, "application/json").status, 400);
  EXPECT_EQ(Ingest(s, "go.shop", go, "application/json", "?ref=x").status, 400);
  // Larger than the server takes: 413, as every request.
  EXPECT_EQ(Ingest(s, "go.shop", std::string(2 << 20, ' '), "application/json").status, 413);
  EXPECT_EQ(RunCount(s), 0u);
}

TEST_F(IngestTest, ALargeReportNeedsALargerBodyLimit) {
  // 3 MiB of a test's output: a chatty go test.
  std::string report =
      "{\"Action\":\"run\",\"Package\":\"shop\",\"Test\":\"TestChatty\"}\n";
  const std::string line =
      "{\"Action\":\"output\",\"Package\":\"shop\",\"Test\":\"TestChatty\",\"Output\":\"" +
      std::string(1000, 'x') + "\\n\"}\n";
  while (report.size() < (3u << 20)) report += line;
  report += "{\"Action\":\"pass\",\"Package\":\"shop\",\"Test\":\"TestChatty\"}\n"
            "{\"Action\":\"pass\",\"Package\":\"shop\"}\n";
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Ingest(s, "go.shop", report, "application/json").status, 413);
  servers_.clear();
  s = Start({"--max-request-body", "8MiB"});
  ASSERT_NE(s, nullptr);
  const json::value run = Stored(s, "go.shop", report, "application/json");
  EXPECT_EQ(Str(run, "status"), "passed");
  const ProcessResult bad = RunProcess({SERVE_FIXTURE, "serve", "--port", "0", "--db", db_.url(),
                                        "--max-request-body", "lots"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--max-request-body: invalid size \"lots\""), std::string::npos)
      << bad.err;
}

TEST_F(IngestTest, AnIngestOnlySuiteIsListedAndHasNothingToRunOrSchedule) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const json::value run = Stored(s, "go.shop", GoStream(true, true), "application/json");
  EXPECT_EQ(Str(run, "status"), "passed");
  const json::value suite = Get(s, "/api/v1/suites/go.shop");
  EXPECT_TRUE(Bool(suite, "ingest_only")) << json::serialize(suite);
  EXPECT_EQ(Arr(suite, "last_runs").size(), 1u);

  http::ClientResult r = s->client().Request("POST", "/api/v1/suites/go.shop/runs", "{}",
                                             {{"Content-Type", "application/json"}}, 10s);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("suite \\\"go.shop\\\" only has ingested runs: it has no command to run"),
            std::string::npos)
      << r.body;
  r = s->client().Request("POST", "/api/v1/schedules",
                          R"({"name":"nightly","suite":"go.shop","spec":"@daily"})",
                          {{"Content-Type", "application/json"}}, 10s);
  EXPECT_EQ(r.status, 409) << r.body;
  r = s->client().Request("POST", fmt::format("/api/v1/runs/{}/retry", Int(run, "id")), "{}",
                          {{"Content-Type", "application/json"}}, 10s);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(RunCount(s), 1u);

  // A declared suite takes reports too; its runs are its own, ingested or not.
  const json::value declared = Stored(s, "Fast", GoStream(true, true), "application/json");
  EXPECT_EQ(Str(declared, "suite"), "Fast");
  EXPECT_FALSE(Bool(Get(s, "/api/v1/suites/Fast"), "ingest_only"));

  // Both stay after a restart.
  servers_.clear();
  s = Start();
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(Bool(Get(s, "/api/v1/suites/go.shop"), "ingest_only"));
  EXPECT_EQ(RunCount(s), 2u);
}

TEST_F(IngestTest, WithTokensIngestNeedsTheRunRoleAndRecordsWhoSentIt) {
  const std::string auth_file = dir_ + "/auth";
  const std::string viewer = MakeToken(SERVE_FIXTURE, "viewer", "read", auth_file);
  const std::string ci = MakeToken(SERVE_FIXTURE, "ci", "run", auth_file);
  Server* s = Start({"--auth-file", auth_file});
  ASSERT_NE(s, nullptr);
  const std::string go = GoStream(true, true);
  EXPECT_EQ(Ingest(s, "go.shop", go, "application/json").status, 401);
  EXPECT_EQ(Ingest(s, "go.shop", go, "application/json", "", viewer).status, 403);
  const http::ClientResult r =
      Ingest(s, "go.shop", go, "application/json", "?initiated_by=alice", ci);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Str(Parse(r.body), "initiated_by"), "ci");
  EXPECT_EQ(Str(Parse(r.body), "on_behalf_of"), "alice");
  EXPECT_EQ(s->Err().find(ci), std::string::npos) << "a token in the log";
}

TEST_F(IngestTest, RemoteIngestSendsSeveralFilesAsOneRun) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::string junit = WriteFile(
      "TEST-cart.xml",
      R"(<testsuite name="cart"><testcase classname="cart" name="adds" time="0.1"/></testsuite>)");
  const std::string tap = WriteFile("node.tap", ReadFile(kUnitTestdata + "node20_tap.txt"));
  ProcessResult sent =
      RunProcess({SERVE_FIXTURE, "remote", "ingest", "--server", s->url(), "--suite", "ci-job",
                  "--reference", "v1.2", "--initiated-by", "pipeline", junit, tap, kSurefire});
  ASSERT_EQ(sent.exit_code, 0) << sent.out << sent.err;
  EXPECT_NE(sent.out.find("of ci-job failed: 11 tests, 5 passed, 3 failed, 2 skipped, 1 flaky\n"),
            std::string::npos)
      << sent.out;
  const json::value listing = Get(s, "/api/v1/runs?suite=ci-job");
  const json::array& runs = Arr(listing, "runs");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_NE(sent.out.find(fmt::format("run {} of ci-job", Int(runs[0], "id"))), std::string::npos);
  EXPECT_NE(sent.out.find(fmt::format("{}/runs/{}\n", s->url(), Int(runs[0], "id"))),
            std::string::npos)
      << sent.out;
  EXPECT_EQ(Str(runs[0], "reference"), "v1.2");
  EXPECT_EQ(Str(runs[0], "initiated_by"), "pipeline");

  // A report the server refuses: its message, and a failing exit.
  const std::string cut = WriteFile("cut.tap", "TAP version 13\nok 1 - a\n");
  sent = RunProcess({SERVE_FIXTURE, "remote", "ingest", "--server", s->url(), "--suite", "ci-job", cut});
  EXPECT_EQ(sent.exit_code, 2);
  EXPECT_NE(sent.err.find("cut.tap: line 2: the report ends before its plan (1..N): is it cut "
                          "short? (400)"),
            std::string::npos)
      << sent.err;
  // Bad usage: exit 2, saying what is wrong, nothing sent.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--suite", "x", "--format", "yaml", junit},
        std::vector<std::string>{"--suite", "x"}, std::vector<std::string>{junit},
        std::vector<std::string>{"--suite", "x", dir_ + "/missing.xml"}}) {
    std::vector<std::string> argv = {SERVE_FIXTURE, "remote", "ingest", "--server", s->url()};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult bad = RunProcess(argv);
    EXPECT_EQ(bad.exit_code, 2) << fmt::format("{}", fmt::join(args, " ")) << ": " << bad.err;
    EXPECT_FALSE(bad.err.empty());
  }
  EXPECT_EQ(RunCount(s), 1u);

  // `remote suites` lists it as ingested.
  const ProcessResult listed = RunProcess({SERVE_FIXTURE, "remote", "suites", "--server", s->url()});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("ci-job"), std::string::npos) << listed.out;
  EXPECT_TRUE(std::regex_search(listed.out, std::regex(R"(ci-job +ingested +#\d+ +failed)")))
      << listed.out;
  EXPECT_TRUE(std::regex_search(listed.out, std::regex(R"(Fast +declared)"))) << listed.out;
}

}  // namespace
}  // namespace handoff::testing
