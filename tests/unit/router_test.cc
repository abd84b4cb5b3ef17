#include "http/router.h"

#include <gtest/gtest.h>

#include <zlib.h>

#include <boost/json.hpp>

#include "http/web_assets.h"
#include "serve_fakes.h"
#include "store/run_json.h"

namespace handoff::http {
namespace {

namespace json = boost::json;
using testing::FakeApi;
using testing::FakeStore;

// Inflates a gzip stream (windowBits 15 + 16); fails the test on a malformed stream.
std::string Gunzip(const std::string& gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  int rc = Z_OK;
  char buf[1 << 16];
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  EXPECT_EQ(zs.avail_in, 0u);  // nothing after the gzip member
  inflateEnd(&zs);
  return out;
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : api_(store_) {
    api_.suites.push_back(SuiteInfo{.name = "Checkout",
                                    .namespace_name = "shop",
                                    .description = "Buying things",
                                    .labels = {{"team", "payments"}},
                                    .tests = {"Card", "Declined"},
                                    .max_attempts = 2,
                                    .timeout_ms = 60000});
    api_.suites.push_back(SuiteInfo{.name = "Search", .tests = {"Query"}});
    api_.schedules.push_back(ScheduleInfo{.name = "nightly",
                                          .suite = "Checkout",
                                          .spec = "0 3 * * *",
                                          .from_code = true,
                                          .next_run_ns = 1'800'000'000'000'000'000,
                                          .last_run_id = 0});
  }

  Response Do(std::string method, std::string target, std::string body = "",
              HeaderList headers = {}) {
    // What every client of the API sends with a body (a body of another type is 415:
    // AccessTest checks that).
    if (!body.empty() && FindHeader(headers, "Content-Type") == nullptr) {
      headers.emplace_back("Content-Type", "application/json");
    }
    Request req{std::move(method), std::move(target), std::move(headers), std::move(body)};
    return Route(req, api_, store_, &cache_);
  }

  static json::value Parse(const Response& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.FullBody(), ec);
    EXPECT_FALSE(ec) << r.FullBody();
    return v;
  }

  static std::string ErrorCode(const Response& r) {
    const json::value v = Parse(r);
    if (!v.is_object() || !v.as_object().contains("error")) return "<no error>";
    EXPECT_TRUE(v.at("error").at("message").is_string());
    return std::string(v.at("error").at("code").as_string());
  }

  std::int64_t FinishedRun(int tests) {
    store::Run run;
    run.suite = "Checkout";
    run.status = store::RunStatus::kFailed;
    run.created_at_ns = 1'700'000'000'000'000'000;
    run.started_at_ns = run.created_at_ns + 1'000'000;
    run.finished_at_ns = run.started_at_ns + 2'000'000'000;
    std::vector<store::TestRow> rows;
    for (int i = 0; i < tests; ++i) {
      rows.push_back(store::TestRow{.name = "Test" + std::to_string(i),
                                    .status = i % 2 ? store::TestStatus::kFailed
                                                    : store::TestStatus::kPassed,
                                    .attempt = 1});
    }
    return store_.AddRun(run, rows);
  }

  FakeStore store_;
  FakeApi api_;
  RunTestsCache cache_;
};

TEST_F(RouterTest, HealthReadyMetricsAndIndex) {
  Response r = Do("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r).at("status"), "ok");
  r = Do("GET", "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r).at("status"), "ready");
  api_.ready = false;
  r = Do("GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Parse(r).at("status"), "not ready");
  EXPECT_EQ(Parse(r).at("reason"), "not ready");
  r = Do("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "# TYPE handoff_runs_total counter\n");
}

TEST_F(RouterTest, AdminBackupIsAPostAnsweringWhatWasWritten) {
  EXPECT_EQ(Do("GET", "/api/v1/admin/backup").status, 405);
  EXPECT_EQ(api_.backups, 0);
  api_.backup = store::BackupInfo{"/data/backups/handoff-20261203T180000Z.db", 8192, 2, 5};
  Response r = Do("POST", "/api/v1/admin/backup");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r), boost::json::parse(R"({"path":"/data/backups/handoff-20261203T180000Z.db",
                                             "bytes":8192,"pages":2,"duration_ms":5})"));
  api_.backup = Error{handoff::ErrorCode::kConflict, "a backup is already running"};
  r = Do("POST", "/api/v1/admin/backup");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Parse(r).at("error").at("code"), "conflict");
  api_.backup = Error{handoff::ErrorCode::kUnavailable, "disk full"};
  r = Do("POST", "/api/v1/admin/backup");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Parse(r).at("error").at("message"), "disk full");
  EXPECT_EQ(api_.backups, 3);
}

TEST_F(RouterTest, EngineErrorsTheClientCannotFixAre500Internal) {
  for (const handoff::ErrorCode code : {handoff::ErrorCode::kCorrupt,
                                        handoff::ErrorCode::kUnsupported,
                                        handoff::ErrorCode::kInternal}) {
    api_.backup = Error{code, "the snapshot could not be read back"};
    const Response r = Do("POST", "/api/v1/admin/backup");
    EXPECT_EQ(r.status, 500) << ErrorCodeName(code);
    EXPECT_EQ(ErrorCode(r), "internal") << ErrorCodeName(code);
    EXPECT_EQ(Parse(r).at("error").at("message"), "the snapshot could not be read back");
  }
}

TEST_F(RouterTest, ServesTheWebUiForEveryPageItRoutes) {
  const Response index = Do("GET", "/");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.FullBody().find("/app.js"), std::string::npos) << index.FullBody();
  ASSERT_NE(FindHeader(index.headers, "Content-Security-Policy"), nullptr);
  EXPECT_NE(FindHeader(index.headers, "Content-Security-Policy")->find("script-src 'self'"),
            std::string::npos);
  ASSERT_NE(FindHeader(index.headers, "ETag"), nullptr);
  const std::string etag = *FindHeader(index.headers, "ETag");
  // Deep links get the app, which routes them.
  for (const char* page : {"/suites", "/suites/Checkout", "/runs/7", "/runs/7/tests/A%2FB",
                           "/flaky", "/schedules", "/activity", "/search",
                           "/suites/Checkout/tests/Pay%2Fcard"}) {
    const Response r = Do("GET", page);
    EXPECT_EQ(r.status, 200) << page;
    EXPECT_EQ(r.FullBody(), index.FullBody()) << page;
  }
  for (const char* path : {"/runsx", "/nope.js", "/flaky/x", "/index.htm"}) {
    EXPECT_EQ(Do("GET", path).status, 404) << path;
  }
  EXPECT_EQ(Do("POST", "/").status, 405);
  // Revalidation is cheap; gzip when asked.
  const Response again = Do("GET", "/", "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.BodySize(), 0u);
  ASSERT_FALSE(WebAssets().empty());
  bool compressed = false;
  for (const WebAsset& asset : WebAssets()) {
    const std::string path(asset.path);
    const Response plain = Do("GET", path);
    EXPECT_EQ(plain.status, 200) << path;
    EXPECT_EQ(plain.content_type, asset.content_type) << path;
    EXPECT_EQ(plain.FullBody(), asset.data) << path;
    const Response gz = Do("GET", path, "", {{"Accept-Encoding", "gzip"}});
    if (FindHeader(gz.headers, "Content-Encoding") != nullptr) {
      compressed = true;
      EXPECT_EQ(Gunzip(gz.FullBody()), asset.data) << path;
    }
  }
  EXPECT_TRUE(compressed) << "no embedded file was large enough to gzip";
}

TEST_F(RouterTest, HistoryAndFlakyRankTestsOverRecentFinishedRuns) {
  auto add = [&](store::RunStatus status, std::vector<store::TestRow> rows) {
    store::Run run;
    run.suite = "Checkout";
    run.status = status;
    if (store::IsFinished(status)) run.totals = store::RunTotals{2, 1, 1, 0};
    return store_.AddRun(run, std::move(rows));
  };
  using store::TestStatus;
  const std::int64_t first = add(store::RunStatus::kPassed,
                                 {{.name = "Card", .status = TestStatus::kPassed, .attempt = 1},
                                  {.name = "Declined", .status = TestStatus::kPassed, .attempt = 1}});
  const std::int64_t second =
      add(store::RunStatus::kFailed,
          {{.name = "Card", .status = TestStatus::kFailed, .attempt = 2},
           {.name = "Declined", .status = TestStatus::kPassed, .attempt = 1},
           {.name = "Declined/Sub", .status = TestStatus::kFailed, .attempt = 1}});
  add(store::RunStatus::kRunning, {{.name = "Card", .status = TestStatus::kRunning}});

  Response r = Do("GET", "/api/v1/suites/Checkout/history?runs=10");
  ASSERT_EQ(r.status, 200) << r.FullBody();
  json::value v = Parse(r);
  const json::array& runs = v.at("runs").as_array();
  ASSERT_EQ(runs.size(), 2u);  // the running one is not history yet
  EXPECT_EQ(runs[0].at("id").as_int64(), first);
  EXPECT_EQ(runs[1].at("id").as_int64(), second);
  EXPECT_EQ(runs[1].at("totals").at("failed").as_int64(), 1);
  const json::array& tests = v.at("tests").as_array();
  ASSERT_EQ(tests.size(), 2u);  // no subtests
  EXPECT_EQ(tests[0].at("name"), "Card");
  EXPECT_EQ(tests[0].at("statuses"), (json::array{"passed", "failed"}));
  EXPECT_EQ(tests[0].at("flips").as_int64(), 1);
  EXPECT_EQ(tests[0].at("retried").as_int64(), 1);
  EXPECT_EQ(Do("GET", "/api/v1/suites/Checkout/history?runs=1").FullBody().find(
                "\"statuses\":[\"failed\"]") != std::string::npos,
            true);

  r = Do("GET", "/api/v1/flaky");
  ASSERT_EQ(r.status, 200);
  v = Parse(r);
  EXPECT_EQ(v.at("runs").as_int64(), 20);
  const json::array& flaky = v.at("tests").as_array();
  ASSERT_EQ(flaky.size(), 1u);  // Declined never flipped nor retried
  EXPECT_EQ(flaky[0].at("suite"), "Checkout");
  EXPECT_EQ(flaky[0].at("test"), "Card");
  EXPECT_EQ(flaky[0].at("score").as_int64(), 2);
  EXPECT_EQ(flaky[0].at("last_status"), "failed");
  EXPECT_EQ(flaky[0].at("last_run").as_int64(), second);
  EXPECT_TRUE(Parse(Do("GET", "/api/v1/flaky?suite=Search")).at("tests").as_array().empty());

  EXPECT_EQ(Do("GET", "/api/v1/suites/Nope/history").status, 404);
  EXPECT_EQ(Do("GET", "/api/v1/flaky?suite=Nope").status, 404);
  for (const char* bad : {"/api/v1/flaky?runs=0", "/api/v1/flaky?runs=101",
                          "/api/v1/flaky?limit=x", "/api/v1/suites/Checkout/history?runs=-1"}) {
    const Response e = Do("GET", bad);
    EXPECT_EQ(e.status, 400) << bad;
    EXPECT_EQ(ErrorCode(e), "invalid_argument") << bad;
  }
  EXPECT_EQ(Do("POST", "/api/v1/flaky").status, 405);

  // A large answer is gzipped when the client accepts it, and says so.
  for (int i = 0; i < 300; ++i) {
    store::Run run;
    run.suite = "Checkout";
    run.status = store::RunStatus::kPassed;
    run.reference = "release-" + std::to_string(i);
    store_.AddRun(run, {});
  }
  const Response plain = Do("GET", "/api/v1/runs?limit=300");
  ASSERT_EQ(plain.status, 200);
  EXPECT_GT(plain.BodySize(), 16u * 1024);
  EXPECT_EQ(FindHeader(plain.headers, "Content-Encoding"), nullptr);
  const Response gz = Do("GET", "/api/v1/runs?limit=300", "", {{"Accept-Encoding", "gzip"}});
  ASSERT_NE(FindHeader(gz.headers, "Content-Encoding"), nullptr);
  EXPECT_EQ(*FindHeader(gz.headers, "Content-Encoding"), "gzip");
  EXPECT_LT(gz.BodySize(), plain.BodySize() / 4);
  EXPECT_EQ(Gunzip(gz.FullBody()), plain.FullBody());
  // Small answers and errors are left alone.
  EXPECT_EQ(FindHeader(Do("GET", "/api/v1/flaky", "", {{"Accept-Encoding", "gzip"}}).headers,
                       "Content-Encoding"),
            nullptr);
  EXPECT_EQ(Do("POST", "/api/v1/suites/Checkout/history").status, 405);
}

TEST_F(RouterTest, UnknownPathsAre404AndWrongMethods405WithAllow) {
  for (const char* path : {"/nope", "/api/v1", "/api/v1/", "/api/v1/things", "/api/v1/runs/1/x",
                           "/api/v1/suites/Checkout/x", "/api/v1/schedules/a/b"}) {
    const Response r = Do("GET", path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(ErrorCode(r), "not_found") << path;
  }
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  };
  for (const Case& c : {Case{"POST", "/healthz", "GET"}, Case{"DELETE", "/api/v1/suites", "GET"},
                        Case{"GET", "/api/v1/suites/Checkout/runs", "POST"},
                        Case{"POST", "/api/v1/runs/1", "GET"},
                        Case{"GET", "/api/v1/runs/1/cancel", "POST"},
                        Case{"PUT", "/api/v1/schedules", "GET, POST"},
                        Case{"POST", "/api/v1/schedules/nightly", "GET, DELETE"},
                        Case{"GET", "/api/v1/schedules/nightly/pause", "POST"}}) {
    const Response r = Do(c.method, c.path);
    EXPECT_EQ(r.status, 405) << c.method << " " << c.path;
    EXPECT_EQ(ErrorCode(r), "method_not_allowed");
    ASSERT_NE(FindHeader(r.headers, "allow"), nullptr);
    EXPECT_EQ(*FindHeader(r.headers, "ALLOW"), c.allow);
  }
}

TEST_F(RouterTest, ListsSuitesWithScheduleNamesAndLastRun) {
  const std::int64_t id = FinishedRun(2);
  const Response r = Do("GET", "/api/v1/suites");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  const json::value v = Parse(r);
  const json::array& suites = v.at("suites").as_array();
  ASSERT_EQ(suites.size(), 2u);
  const json::object& checkout = suites[0].as_object();
  EXPECT_EQ(checkout.at("name"), "Checkout");
  EXPECT_EQ(checkout.at("namespace"), "shop");
  EXPECT_EQ(checkout.at("description"), "Buying things");
  EXPECT_EQ(checkout.at("labels").at("team"), "payments");
  EXPECT_EQ(checkout.at("tests"), json::parse(R"(["Card","Declined"])"));
  EXPECT_EQ(checkout.at("max_attempts"), 2);
  EXPECT_EQ(checkout.at("timeout_ms"), 60000);
  EXPECT_EQ(checkout.at("concurrency"), "queue");
  EXPECT_EQ(checkout.at("schedules"), json::parse(R"(["nightly"])"));
  EXPECT_EQ(checkout.at("last_run").at("id"), id);
  EXPECT_FALSE(checkout.at("last_run").as_object().contains("tests"));
  EXPECT_TRUE(suites[1].at("last_run").is_null());
  EXPECT_TRUE(suites[1].at("schedules").as_array().empty());
}

TEST_F(RouterTest, GetsOneSuiteWithFullSchedulesAndLastRuns) {
  for (int i = 0; i < 25; ++i) FinishedRun(1);
  Response r = Do("GET", "/api/v1/suites/Checkout");
  ASSERT_EQ(r.status, 200);
  const json::value v = Parse(r);
  EXPECT_EQ(v.at("name"), "Checkout");
  EXPECT_EQ(v.at("tests").as_array().size(), 2u);
  const json::object& schedule = v.at("schedules").at(0).as_object();
  EXPECT_EQ(schedule.at("name"), "nightly");
  EXPECT_EQ(schedule.at("spec"), "0 3 * * *");
  EXPECT_EQ(schedule.at("from_code"), true);
  EXPECT_EQ(schedule.at("next_run"), "2027-01-15T08:00:00.000Z");
  EXPECT_TRUE(schedule.at("last_run_id").is_null());
  EXPECT_EQ(v.at("last_runs").as_array().size(), 20u);
  EXPECT_EQ(v.at("last_runs").at(0).at("id"), 25);

  r = Do("GET", "/api/v1/suites/Nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");
}

TEST_F(RouterTest, IngestReadsTheWholeReportBeforeTheEngineStoresIt) {
  const std::string report =
      "{\"Action\":\"run\",\"Package\":\"shop\",\"Test\":\"TestPay\"}\n"
      "{\"Action\":\"pass\",\"Package\":\"shop\",\"Test\":\"TestPay\",\"Elapsed\":0.2}\n"
      "{\"Action\":\"pass\",\"Package\":\"shop\",\"Elapsed\":0.3}\n";
  Response r = Do("POST", "/api/v1/suites/go.shop/ingest?reference=abc%20123&environment=ci&initiated_by=ana",
                  report, {{"Content-Type", "application/x-ndjson"}});
  ASSERT_EQ(r.status, 201) << r.FullBody();
  const json::value v = Parse(r);
  EXPECT_EQ(*FindHeader(r.headers, "Location"),
            "/api/v1/runs/" + std::to_string(v.at("id").as_int64()));
  EXPECT_EQ(v.at("trigger"), "ingest");
  EXPECT_EQ(v.at("reference"), "abc 123");
  const IngestRequest& req = api_.last_ingest;
  EXPECT_EQ(req.suite, "go.shop");
  EXPECT_EQ(req.environment, "ci");
  EXPECT_EQ(req.initiated_by, "ana");
  EXPECT_EQ(req.tests, std::vector<std::string>{"TestPay"});
  EXPECT_FALSE(req.suite_failed);
  const std::size_t runs = store_.ListRuns(store::RunQuery{}).size();

  // Refused before the engine sees anything: a bad line, a cut stream, a bad parameter,
  // a type that is no report's, an empty body.
  struct Case {
    std::string target, type, body;
    int status;
    std::string message;
  };
  const std::string ingest = "/api/v1/suites/go.shop/ingest";
  for (const Case& c : {
           Case{ingest, "application/json", report + "FAIL\tshop\n", 400, "line 4: not JSON"},
           Case{ingest, "application/json", report.substr(0, report.rfind("{\"Action\":\"pass\",\"Package")),
                400, "line 2: the report ends before the result of package shop: is it cut short?"},
           Case{ingest, "application/xml", "<testsuite><testcase name=\"a\">", 400, "line 1"},
           Case{ingest + "?ref=x", "application/json", report, 400, "unknown query parameter"},
           Case{ingest + "?reference=a&reference=b", "application/json", report, 400, "given twice"},
           Case{ingest, "image/png", report, 415, "Content-Type image/png is not a report format"},
           Case{ingest, "application/octet-stream", "hello", 415, "cannot be told from its content"},
           Case{ingest, "application/json", " \n", 400, "the body is empty"},
       }) {
    r = Do("POST", c.target, c.body, {{"Content-Type", c.type}});
    EXPECT_EQ(r.status, c.status) << c.target << " " << c.type << ": " << r.FullBody();
    EXPECT_NE(r.FullBody().find(c.message), std::string::npos) << r.FullBody();
  }
  EXPECT_EQ(store_.ListRuns(store::RunQuery{}).size(), runs);

  // Several reports of one run: multipart/mixed, each named by its file.
  const std::string body =
      "--b0\r\nContent-Type: application/xml\r\nContent-Disposition: attachment; "
      "filename=\"TEST-a.xml\"\r\n\r\n<testsuite><testcase classname=\"A\" name=\"x\"/></testsuite>\r\n"
      "--b0\r\nContent-Disposition: attachment; filename=\"b.tap\"\r\n\r\nok 1 - y\n1..1\n\r\n"
      "--b0--\r\n";
  r = Do("POST", ingest, body, {{"Content-Type", "multipart/mixed; boundary=b0"}});
  ASSERT_EQ(r.status, 201) << r.FullBody();
  EXPECT_EQ(api_.last_ingest.tests, (std::vector<std::string>{"A.x", "y"}));
  r = Do("POST", ingest, body.substr(0, body.size() - 10), {{"Content-Type", "multipart/mixed; boundary=b0"}});
  EXPECT_EQ(r.status, 400) << r.FullBody();
  EXPECT_NE(r.FullBody().find("multipart body: part 2 does not end with --b0: the body is cut short"),
            std::string::npos)
      << r.FullBody();
}

TEST_F(RouterTest, TriggerCreatesARunWithItsTests) {
  const Response r = Do("POST", "/api/v1/suites/Checkout/runs", R"({
      "filter": "Card", "labels": {"env": "staging"}, "reference": "abc123",
      "initiated_by": "ana", "max_attempts": 3, "timeout": "1m30s",
      "params": {"user": "u1"}, "tests": ["Card"], "trigger": "ui", "hold_on_failure": true})");
  ASSERT_EQ(r.status, 201) << r.FullBody();
  ASSERT_NE(FindHeader(r.headers, "Location"), nullptr);
  const json::value v = Parse(r);
  const std::int64_t id = v.at("id").as_int64();
  EXPECT_EQ(*FindHeader(r.headers, "Location"), "/api/v1/runs/" + std::to_string(id));
  EXPECT_EQ(v.at("suite"), "Checkout");
  EXPECT_EQ(v.at("status"), "queued");
  EXPECT_EQ(v.at("trigger"), "ui");
  EXPECT_EQ(v.at("reference"), "abc123");
  EXPECT_EQ(v.at("labels").at("env"), "staging");
  EXPECT_EQ(v.at("counts").at("total"), 2);
  EXPECT_EQ(v.at("counts").at("pending"), 2);
  EXPECT_EQ(v.at("tests").at(0).at("name"), "Card");
  EXPECT_EQ(v.at("tests").at(0).at("status"), "pending");

  const RunRequest& req = api_.last_request;
  EXPECT_EQ(req.suite, "Checkout");
  EXPECT_EQ(req.filter, "Card");
  EXPECT_EQ(req.trigger, store::Trigger::kUi);
  EXPECT_EQ(req.max_attempts, 3);
  EXPECT_EQ(req.timeout_ms, 90'000);
  EXPECT_EQ(req.initiated_by, "ana");
  EXPECT_EQ(req.tests, std::vector<std::string>{"Card"});
  EXPECT_EQ(req.params, (store::KeyValues{{"user", "u1"}}));
  EXPECT_TRUE(req.hold_on_failure);
  EXPECT_EQ(v.at("hold_on_failure"), true);
  EXPECT_TRUE(v.at("hold").is_null());
}

TEST_F(RouterTest, TriggerAcceptsAnEmptyBodyAndDefaultsToApi) {
  for (const char* body : {"", "{}", "  \n"}) {
    const Response r = Do("POST", "/api/v1/suites/Search/runs", body);
    EXPECT_EQ(r.status, 201) << r.FullBody();
    EXPECT_EQ(Parse(r).at("trigger"), "api");
    EXPECT_EQ(api_.last_request.trigger, store::Trigger::kApi);
    EXPECT_EQ(api_.last_request.max_attempts, 0);
    EXPECT_FALSE(api_.last_request.hold_on_failure);
    EXPECT_EQ(Parse(r).as_object().if_contains("hold"), nullptr);
  }
}

TEST_F(RouterTest, TriggerWithARepeatedIdempotencyKeyAnswers200WithTheSameRun) {
  const HeaderList headers = {{"idempotency-key", "deploy-42"}};
  const Response first = Do("POST", "/api/v1/suites/Checkout/runs", "{}", headers);
  const Response second = Do("POST", "/api/v1/suites/Checkout/runs", "{}", headers);
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(Parse(first).at("id"), Parse(second).at("id"));
  EXPECT_EQ(api_.last_request.idempotency_key, "deploy-42");
}

TEST_F(RouterTest, TriggerRejectsBadBodiesNamingTheField) {
  struct Case {
    const char* body;
    const char* mentions;
  };
  for (const Case& c : {Case{"{", "JSON"}, Case{"[]", "object"}, Case{R"({"bogus":1})", "bogus"},
                        Case{R"({"filter":1})", "filter"},
                        Case{R"({"labels":{"a":1}})", "labels"},
                        Case{R"({"labels":[]})", "labels"},
                        Case{R"({"max_attempts":0})", "max_attempts"},
                        Case{R"({"max_attempts":"2"})", "max_attempts"},
                        Case{R"({"max_attempts":1.5})", "max_attempts"},
                        // Out of int64's range: undefined behaviour before fuzz/json_body.
                        Case{R"({"max_attempts":1e400})", "max_attempts"},
                        Case{R"({"max_attempts":-1e300})", "max_attempts"},
                        Case{R"({"timeout":"soon"})", "timeout"},
                        Case{R"({"timeout":30})", "timeout"},
                        Case{R"({"tests":"Card"})", "tests"},
                        Case{R"({"tests":[1]})", "tests"},
                        Case{R"({"hold_on_failure":"yes"})", "hold_on_failure"},
                        Case{R"({"hold_on_failure":1})", "hold_on_failure"},
                        Case{R"({"trigger":"schedule"})", "trigger"}}) {
    const Response r = Do("POST", "/api/v1/suites/Checkout/runs", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(ErrorCode(r), "invalid_argument") << c.body;
    EXPECT_NE(r.body.find(c.mentions), std::string::npos) << r.body;
  }
}

TEST_F(RouterTest, TriggerMapsEngineErrors) {
  Response r = Do("POST", "/api/v1/suites/Nope/runs");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");
  r = Do("POST", "/api/v1/suites/Checkout/runs", R"({"filter":"("})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "invalid_argument");
  EXPECT_NE(r.body.find("bad regex"), std::string::npos);
}

TEST_F(RouterTest, ListsRunsNewestFirstWithACursor) {
  for (int i = 0; i < 5; ++i) FinishedRun(1);
  Response r = Do("GET", "/api/v1/runs?limit=2");
  ASSERT_EQ(r.status, 200);
  json::value v = Parse(r);
  ASSERT_EQ(v.at("runs").as_array().size(), 2u);
  EXPECT_EQ(v.at("runs").at(0).at("id"), 5);
  EXPECT_EQ(v.at("runs").at(1).at("id"), 4);
  EXPECT_FALSE(v.at("runs").at(0).as_object().contains("tests"));
  EXPECT_EQ(v.at("next_cursor"), "4");

  r = Do("GET", "/api/v1/runs?limit=2&cursor=2");
  v = Parse(r);
  ASSERT_EQ(v.at("runs").as_array().size(), 1u);
  EXPECT_EQ(v.at("runs").at(0).at("id"), 1);
  EXPECT_TRUE(v.at("next_cursor").is_null());

  r = Do("GET", "/api/v1/runs?suite=Checkout&status=failed&reference=r%201&limit=1000");
  EXPECT_EQ(r.status, 200);
  const store::RunQuery q = store_.last_query();
  EXPECT_EQ(q.suite, "Checkout");
  EXPECT_EQ(q.status, store::RunStatus::kFailed);
  EXPECT_EQ(q.reference, "r 1");
  EXPECT_EQ(q.limit, 501);  // capped at 500, plus one to see if there is more

  r = Do("GET", "/api/v1/runs");
  EXPECT_EQ(store_.last_query().limit, 51);
  EXPECT_EQ(Parse(r).at("runs").as_array().size(), 5u);
}

TEST_F(RouterTest, ListRunsRejectsBadParameters) {
  for (const char* target : {"/api/v1/runs?status=done", "/api/v1/runs?limit=0",
                             "/api/v1/runs?limit=x", "/api/v1/runs?limit=-1",
                             "/api/v1/runs?cursor=abc", "/api/v1/runs?suite=%zz"}) {
    const Response r = Do("GET", target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(ErrorCode(r), "invalid_argument") << target;
  }
}

TEST_F(RouterTest, GetsARunWithItsTests) {
  const std::int64_t id = FinishedRun(3);
  const Response r = Do("GET", "/api/v1/runs/" + std::to_string(id));
  ASSERT_EQ(r.status, 200);
  const json::value v = Parse(r);
  EXPECT_EQ(v.at("id"), id);
  EXPECT_EQ(v.at("status"), "failed");
  EXPECT_EQ(v.at("duration_ms"), 2000);
  EXPECT_EQ(v.at("started_at"), "2023-11-14T22:13:20.001Z");
  EXPECT_EQ(v.at("counts").at("passed"), 2);
  EXPECT_EQ(v.at("counts").at("failed"), 1);
  EXPECT_EQ(v.at("tests").as_array().size(), 3u);

  // Byte for byte what AppendRunJson writes.
  std::string expected;
  const std::vector<store::TestRow> tests = store_.GetTests(id);
  store::AppendRunJson(expected, *store_.GetRun(id), &tests);
  EXPECT_EQ(r.FullBody(), expected);

  for (const char* bad : {"/api/v1/runs/abc", "/api/v1/runs/0", "/api/v1/runs/-3",
                          "/api/v1/runs/1x", "/api/v1/runs/99999999999999999999"}) {
    const Response e = Do("GET", bad);
    EXPECT_EQ(e.status, 400) << bad;
    EXPECT_EQ(ErrorCode(e), "invalid_argument");
  }
  const Response missing = Do("GET", "/api/v1/runs/4242");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "not_found");
}

TEST_F(RouterTest, CachesTheTestsOfFinishedRunsOnly) {
  const std::int64_t id = FinishedRun(1000);
  const std::string target = "/api/v1/runs/" + std::to_string(id);
  const int calls = store_.get_tests_calls();
  const Response first = Do("GET", target);
  const Response second = Do("GET", target);
  EXPECT_EQ(store_.get_tests_calls(), calls + 1);
  EXPECT_EQ(first.FullBody(), second.FullBody());
  EXPECT_EQ(first.shared_body, second.shared_body);  // shared, not copied
  EXPECT_EQ(cache_.size(), 1u);

  // The run header is rendered each time, the cached tail reused.
  store::Run run = *store_.GetRun(id);
  run.values = {{"k", "v"}};
  store_.AddRun(run, store_.GetTests(id));
  const Response third = Do("GET", target);
  EXPECT_EQ(third.shared_body, first.shared_body);
  EXPECT_EQ(Parse(third).at("values").at("k"), "v");

  store::Run running;
  running.suite = "Checkout";
  running.status = store::RunStatus::kRunning;
  const std::int64_t live = store_.AddRun(running, {store::TestRow{.name = "A"}});
  const int before = store_.get_tests_calls();
  Do("GET", "/api/v1/runs/" + std::to_string(live));
  Do("GET", "/api/v1/runs/" + std::to_string(live));
  EXPECT_EQ(store_.get_tests_calls(), before + 2);
  EXPECT_EQ(cache_.size(), 1u);
}

TEST_F(RouterTest, GzipsFinishedRunsWhenAcceptedAndRecompressesOnHeaderChange) {
  const std::int64_t id = FinishedRun(1000);
  const std::string target = "/api/v1/runs/" + std::to_string(id);
  const HeaderList gzip = {{"accept-encoding", "deflate, gzip;q=0.8, br"}};

  const Response identity = Do("GET", target);
  ASSERT_EQ(identity.status, 200);
  EXPECT_EQ(FindHeader(identity.headers, "Content-Encoding"), nullptr);
  ASSERT_NE(FindHeader(identity.headers, "Vary"), nullptr);
  EXPECT_EQ(*FindHeader(identity.headers, "vary"), "Accept-Encoding");

  const int calls = store_.get_tests_calls();
  const Response first = Do("GET", target, "", gzip);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.content_type, "application/json");
  ASSERT_NE(FindHeader(first.headers, "content-encoding"), nullptr);
  EXPECT_EQ(*FindHeader(first.headers, "Content-Encoding"), "gzip");
  ASSERT_NE(FindHeader(first.headers, "Vary"), nullptr);
  EXPECT_EQ(*FindHeader(first.headers, "Vary"), "Accept-Encoding");
  ASSERT_NE(first.shared_body, nullptr);
  EXPECT_TRUE(first.body.empty());
  EXPECT_LT(first.BodySize(), identity.BodySize() / 4);
  EXPECT_EQ(Gunzip(first.FullBody()), identity.FullBody());
  EXPECT_EQ(store_.get_tests_calls(), calls);  // the cached tail was compressed

  // The same header: the cached gzip, shared, not copied or compressed again.
  const Response second = Do("GET", target, "", gzip);
  EXPECT_EQ(second.shared_body, first.shared_body);
  EXPECT_EQ(store_.get_tests_calls(), calls);
  EXPECT_EQ(cache_.size(), 1u);
  EXPECT_EQ(cache_.bytes(), identity.shared_body->size() +
                                identity.body.size() + first.shared_body->size());

  // Values attached to the finished run change the header: a fresh gzip replaces the old.
  store::Run run = *store_.GetRun(id);
  run.values = {{"k", "v"}};
  store_.AddRun(run, store_.GetTests(id));
  const Response changed = Do("GET", target, "", gzip);
  ASSERT_NE(FindHeader(changed.headers, "Content-Encoding"), nullptr);
  EXPECT_NE(changed.shared_body, first.shared_body);
  const Response changed_identity = Do("GET", target);
  EXPECT_EQ(FindHeader(changed_identity.headers, "Content-Encoding"), nullptr);
  EXPECT_EQ(changed_identity.shared_body, identity.shared_body);  // the tail is unchanged
  EXPECT_NE(changed_identity.FullBody(), identity.FullBody());
  EXPECT_EQ(Gunzip(changed.FullBody()), changed_identity.FullBody());
  EXPECT_EQ(Parse(changed_identity).at("values").at("k"), "v");
  EXPECT_EQ(Do("GET", target, "", gzip).shared_body, changed.shared_body);
  EXPECT_EQ(cache_.size(), 1u);
  EXPECT_EQ(cache_.bytes(), identity.shared_body->size() + changed_identity.body.size() +
                                changed.shared_body->size());

  // Not accepted: identity, as before.
  for (const char* value : {"identity", "gzip;q=0", "br, gzip; q=0.0", "gzipx", ""}) {
    const Response r = Do("GET", target, "", {{"Accept-Encoding", value}});
    EXPECT_EQ(FindHeader(r.headers, "Content-Encoding"), nullptr) << value;
    EXPECT_EQ(r.FullBody(), changed_identity.FullBody()) << value;
  }

  // A run still going is never compressed (its tests change): identity, uncached.
  store::Run running;
  running.suite = "Checkout";
  running.status = store::RunStatus::kRunning;
  const std::int64_t live = store_.AddRun(running, {store::TestRow{.name = "A"}});
  const Response r = Do("GET", "/api/v1/runs/" + std::to_string(live), "", gzip);
  EXPECT_EQ(FindHeader(r.headers, "Content-Encoding"), nullptr);
  EXPECT_EQ(Parse(r).at("status"), "running");
}

TEST(AcceptsGzipTest, ParsesCodingsAndQValues) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("GZip"));
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, gzip;q=0.5"));
  EXPECT_TRUE(AcceptsGzip(" x-gzip "));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("deflate, br"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip ; q=0.000"));
  EXPECT_FALSE(AcceptsGzip("gzipped"));
}

TEST(GzipCompressTest, RoundTripsConcatenatedParts) {
  std::string big;
  for (int i = 0; i < 100000; ++i) big += std::to_string(i * 7919 % 10007) + ",";
  for (int level : {Z_BEST_SPEED, 6}) {
    EXPECT_EQ(Gunzip(GzipCompress({"[", big, "]"}, level)), "[" + big + "]");
  }
  EXPECT_EQ(Gunzip(GzipCompress({}, 6)), "");
  EXPECT_EQ(Gunzip(GzipCompress({"", "x", ""}, 6)), "x");
}

TEST(GzipCompressTest, GrowsItsOutputForInputThatDoesNotCompress) {
  // The output starts at an eighth of the input: random bytes need it to grow.
  std::string noise(300000, '\0');
  std::uint32_t x = 2463534242u;
  for (char& c : noise) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  const std::string gz = GzipCompress({noise.substr(0, 1000), noise.substr(1000)}, 6);
  EXPECT_GT(gz.size(), noise.size());
  EXPECT_EQ(Gunzip(gz), noise);
}

TEST(RunTestsCacheTest, CountsGzipBodiesAndDropsThemWithTheirTail) {
  RunTestsCache cache(100);
  cache.PutGzip(1, std::make_shared<GzipBody>(GzipBody{"h", "z"}));  // no tail: not kept
  EXPECT_EQ(cache.GetGzip(1), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
  cache.Put(1, std::make_shared<std::string>(40, 'a'));
  cache.PutGzip(1, std::make_shared<GzipBody>(GzipBody{std::string(5, 'h'), std::string(15, 'z')}));
  ASSERT_NE(cache.GetGzip(1), nullptr);
  EXPECT_EQ(cache.bytes(), 60u);
  cache.PutGzip(1, std::make_shared<GzipBody>(GzipBody{std::string(5, 'h'), std::string(5, 'z')}));
  EXPECT_EQ(cache.GetGzip(1)->gzip, std::string(5, 'z'));
  EXPECT_EQ(cache.bytes(), 50u);
  cache.Put(2, std::make_shared<std::string>(40, 'b'));
  EXPECT_EQ(cache.bytes(), 90u);
  cache.PutGzip(2, std::make_shared<GzipBody>(GzipBody{"", std::string(61, 'z')}));  // too big
  EXPECT_EQ(cache.GetGzip(2), nullptr);
  EXPECT_EQ(cache.bytes(), 90u);
  cache.PutGzip(2, std::make_shared<GzipBody>(GzipBody{"", std::string(20, 'z')}));  // evicts 1
  EXPECT_EQ(cache.Get(1), nullptr);
  EXPECT_EQ(cache.GetGzip(1), nullptr);
  EXPECT_EQ(cache.bytes(), 60u);
  cache.Put(2, std::make_shared<std::string>(30, 'c'));  // a new tail drops the gzip
  EXPECT_EQ(cache.GetGzip(2), nullptr);
  EXPECT_EQ(cache.bytes(), 30u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(RunTestsCacheTest, EvictsLeastRecentlyUsedByBytes) {
  RunTestsCache cache(100);
  cache.Put(1, std::make_shared<std::string>(40, 'a'));
  cache.Put(2, std::make_shared<std::string>(40, 'b'));
  ASSERT_NE(cache.Get(1), nullptr);  // 1 is now the most recent
  cache.Put(3, std::make_shared<std::string>(40, 'c'));
  EXPECT_NE(cache.Get(1), nullptr);
  EXPECT_EQ(cache.Get(2), nullptr);
  EXPECT_NE(cache.Get(3), nullptr);
  EXPECT_EQ(cache.bytes(), 80u);
  cache.Put(4, std::make_shared<std::string>(101, 'd'));  // larger than the budget
  EXPECT_EQ(cache.Get(4), nullptr);
  cache.Put(1, std::make_shared<std::string>(10, 'e'));  // replaces
  EXPECT_EQ(*cache.Get(1), std::string(10, 'e'));
  EXPECT_EQ(cache.bytes(), 50u);
}

TEST_F(RouterTest, GetsOneTestWithItsAttemptsDecodingTheName) {
  store::Run run;
  run.suite = "Checkout";
  run.status = store::RunStatus::kFailed;
  const std::int64_t id =
      store_.AddRun(run, {store::TestRow{.name = "Checkout"},
                          store::TestRow{.name = "Checkout/card declined",
                                         .status = store::TestStatus::kFailed,
                                         .attempt = 2}});
  store_.AddAttempt(id, store::Attempt{.test = "Checkout/card declined",
                                       .attempt = 1,
                                       .status = store::TestStatus::kFailed,
                                       .lines = {store::OutputLine{.text = "line 1"}},
                                       .failures = {{"boom", "a.cc", 12}}});
  store_.AddAttempt(id, store::Attempt{.test = "Checkout/card declined", .attempt = 2});
  store_.AddAttempt(id, store::Attempt{.test = "Checkout", .attempt = 1});
  const std::string base = "/api/v1/runs/" + std::to_string(id) + "/tests/";
  for (const std::string& name :
       {std::string("Checkout/card%20declined"), std::string("Checkout%2Fcard%20declined")}) {
    const Response r = Do("GET", base + name);
    ASSERT_EQ(r.status, 200) << r.FullBody();
    const json::value v = Parse(r);
    EXPECT_EQ(v.at("run_id"), id);
    EXPECT_EQ(v.at("test").at("name"), "Checkout/card declined");
    EXPECT_EQ(v.at("test").at("attempt"), 2);
    ASSERT_EQ(v.at("attempts").as_array().size(), 2u);
    EXPECT_EQ(v.at("attempts").at(0).at("output").at(0), "line 1");
    EXPECT_EQ(v.at("attempts").at(0).at("failures").at(0).at("line"), 12);
  }
  EXPECT_EQ(Do("GET", base + "Checkout").status, 200);
  EXPECT_EQ(Do("GET", base + "Nope").status, 404);
  EXPECT_EQ(Do("GET", base + "Bad%2").status, 400);
  EXPECT_EQ(Do("GET", "/api/v1/runs/777/tests/Checkout").status, 404);
}

TEST_F(RouterTest, CancelsRunningRunsOnly) {
  store::Run run;
  run.suite = "Checkout";
  run.status = store::RunStatus::kRunning;
  const std::int64_t id = store_.AddRun(run, {store::TestRow{.name = "Card"}});
  const std::string target = "/api/v1/runs/" + std::to_string(id) + "/cancel";
  Response r = Do("POST", target);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r).at("status"), "cancelled");
  EXPECT_EQ(Parse(r).at("tests").as_array().size(), 1u);
  r = Do("POST", target);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCode(r), "conflict");
  EXPECT_EQ(Do("POST", "/api/v1/runs/999/cancel").status, 404);
  EXPECT_EQ(Do("POST", "/api/v1/runs/x/cancel").status, 400);
}

TEST_F(RouterTest, ReleasesHeldRunsOnly) {
  store::Run run;
  run.suite = "Checkout";
  run.status = store::RunStatus::kHeld;
  const std::int64_t id = store_.AddRun(run, {store::TestRow{.name = "Card"}});
  const std::string target = "/api/v1/runs/" + std::to_string(id) + "/release";
  Response r = Do("POST", target);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r).at("status"), "running");
  r = Do("POST", target);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCode(r), "conflict");
  EXPECT_EQ(Do("POST", "/api/v1/runs/999/release").status, 404);
  EXPECT_EQ(Do("POST", "/api/v1/runs/x/release").status, 400);
  EXPECT_EQ(Do("GET", target).status, 405);
}

TEST_F(RouterTest, RetriesFinishedRuns) {
  const std::int64_t id = FinishedRun(1);
  const std::string target = "/api/v1/runs/" + std::to_string(id) + "/retry";
  Response r = Do("POST", target, R"({"only_failed":true,"initiated_by":"bo"})");
  ASSERT_EQ(r.status, 201) << r.FullBody();
  const json::value v = Parse(r);
  EXPECT_EQ(v.at("retry_of"), id);
  EXPECT_EQ(v.at("trigger"), "retry");
  EXPECT_EQ(v.at("initiated_by"), "bo");
  EXPECT_TRUE(api_.last_retry_only_failed);
  EXPECT_EQ(Do("POST", target).status, 201);
  EXPECT_EQ(Do("POST", target, R"({"only_failed":"yes"})").status, 400);
  EXPECT_EQ(Do("POST", target, R"({"x":1})").status, 400);
  // The new run is queued: retrying it conflicts.
  const std::string queued = "/api/v1/runs/" + std::to_string(v.at("id").as_int64()) + "/retry";
  r = Do("POST", queued);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCode(r), "conflict");
  EXPECT_EQ(Do("POST", "/api/v1/runs/999/retry").status, 404);
}

TEST_F(RouterTest, RendersReportsAsAttachments) {
  const std::int64_t id = FinishedRun(2);
  const std::string base = "/api/v1/runs/" + std::to_string(id) + "/report";
  Response r = Do("GET", base + "?format=junit");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/xml");
  EXPECT_EQ(*FindHeader(r.headers, "Content-Disposition"),
            "attachment; filename=\"run-" + std::to_string(id) + ".xml\"");
  EXPECT_NE(r.body.find("<testsuite"), std::string::npos);
  r = Do("GET", base + "?format=json");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-ndjson");
  EXPECT_EQ(*FindHeader(r.headers, "Content-Disposition"),
            "attachment; filename=\"run-" + std::to_string(id) + ".json\"");
  EXPECT_EQ(Do("GET", base).status, 200);
  r = Do("GET", base + "?format=html");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "invalid_argument");
  EXPECT_EQ(Do("GET", "/api/v1/runs/999/report").status, 404);
}

TEST_F(RouterTest, EventsDescribeAStreamResumingFromLastEventId) {
  const std::int64_t id = FinishedRun(1);
  const std::string base = "/api/v1/runs/" + std::to_string(id) + "/events";
  Response r = Do("GET", base);
  ASSERT_TRUE(r.stream.has_value());
  EXPECT_EQ(r.stream->run_id, id);
  EXPECT_EQ(r.stream->after_seq, 0);
  EXPECT_TRUE(r.stream->run_finished);
  r = Do("GET", base + "?last_event_id=7");
  EXPECT_EQ(r.stream->after_seq, 7);
  r = Do("GET", base + "?last_event_id=7", "", {{"last-event-id", "9"}});
  EXPECT_EQ(r.stream->after_seq, 9);  // the header (a browser's reconnect) wins
  r = Do("GET", base, "", {{"Last-Event-ID", "x"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(r.stream.has_value());
  r = Do("GET", "/api/v1/runs/999/events");
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(r.stream.has_value());
}

TEST_F(RouterTest, ManagesSchedules) {
  Response r = Do("GET", "/api/v1/schedules");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r).at("schedules").as_array().size(), 1u);

  r = Do("POST", "/api/v1/schedules",
         R"({"name":"hourly check","suite":"Search","spec":"@every 1h","time_zone":"Europe/Paris",
             "filter":"Query","paused":false})");
  ASSERT_EQ(r.status, 201) << r.body;
  json::value v = Parse(r);
  EXPECT_EQ(v.at("name"), "hourly check");
  EXPECT_EQ(v.at("suite"), "Search");
  EXPECT_EQ(v.at("time_zone"), "Europe/Paris");
  EXPECT_EQ(v.at("paused"), false);
  EXPECT_EQ(v.at("from_code"), false);
  EXPECT_TRUE(v.at("next_run").is_string());

  r = Do("POST", "/api/v1/schedules", R"({"name":"hourly check","suite":"Search","spec":"@every 1h"})");
  EXPECT_EQ(r.status, 409);
  r = Do("POST", "/api/v1/schedules", R"({"name":"x","suite":"Search","spec":"bad"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("bad cron"), std::string::npos);
  EXPECT_EQ(Do("POST", "/api/v1/schedules", R"({"suite":"Search","spec":"@daily"})").status, 400);
  EXPECT_EQ(Do("POST", "/api/v1/schedules", R"({"name":"y","paused":"no"})").status, 400);
  EXPECT_EQ(Do("POST", "/api/v1/schedules", R"({"name":"y","when":1})").status, 400);

  r = Do("POST", "/api/v1/schedules/hourly%20check/pause");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r).at("paused"), true);
  EXPECT_TRUE(Parse(r).at("next_run").is_null());
  r = Do("POST", "/api/v1/schedules/hourly%20check/resume");
  EXPECT_EQ(Parse(r).at("paused"), false);
  EXPECT_EQ(Do("POST", "/api/v1/schedules/nope/pause").status, 404);
  EXPECT_EQ(Do("GET", "/api/v1/schedules/nightly").status, 200);

  EXPECT_EQ(Do("DELETE", "/api/v1/schedules/nightly").status, 409);  // declared in code
  r = Do("DELETE", "/api/v1/schedules/hourly%20check");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(Do("DELETE", "/api/v1/schedules/hourly%20check").status, 404);
}

TEST_F(RouterTest, UnavailableEngineIs503) {
  class Unavailable : public FakeApi {
   public:
    using FakeApi::FakeApi;
    Result<TriggeredRun> Trigger(const RunRequest&) override {
      return Error{handoff::ErrorCode::kUnavailable, "shutting down"};
    }
  } api(store_);
  api.suites = api_.suites;
  const Response r = Route(Request{"POST", "/api/v1/suites/Checkout/runs", {}, ""}, api, store_);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(ErrorCode(r), "unavailable");
}

TEST_F(RouterTest, ExceptionsBecome500) {
  class Throwing : public FakeStore {
   public:
    std::optional<store::Run> GetRun(std::int64_t) override { throw std::runtime_error("disk"); }
  } store;
  const Response r = Route(Request{"GET", "/api/v1/runs/1", {}, ""}, api_, store);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(ErrorCode(r), "internal");
}

TEST(PercentDecodeTest, DecodesEscapesAndRejectsBadOnes) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%2Fb%20c+d", false, &out));
  EXPECT_EQ(out, "a/b c+d");
  EXPECT_TRUE(PercentDecode("a+b", true, &out));
  EXPECT_EQ(out, "a b");
  EXPECT_FALSE(PercentDecode("%", false, &out));
  EXPECT_FALSE(PercentDecode("%4", false, &out));
  EXPECT_FALSE(PercentDecode("%zz", false, &out));
}

TEST(IsRunFinishedEventTest, LooksAtRunEventsStatus) {
  EXPECT_TRUE(IsRunFinishedEvent({1, "run", R"({"id":1,"status":"passed"})"}));
  EXPECT_TRUE(IsRunFinishedEvent({1, "run", R"({"id":1,"status":"error"})"}));
  EXPECT_FALSE(IsRunFinishedEvent({1, "run", R"({"id":1,"status":"running"})"}));
  EXPECT_FALSE(IsRunFinishedEvent({1, "test", R"({"status":"passed"})"}));
  EXPECT_FALSE(IsRunFinishedEvent({1, "run", "not json"}));
}

}  // namespace
}  // namespace handoff::http
