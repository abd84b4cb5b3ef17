#include "http/access.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "http/route_table.h"
#include "http/router.h"
#include "serve_fakes.h"

namespace handoff::http {
namespace {

using testing::FakeApi;
using testing::FakeStore;

auth::Authenticator MakeAuth() {
  const Result<std::vector<auth::AuthEntry>> entries = auth::ParseAuthFile(
      "viewer read " + auth::FormatTokenHash(auth::HashToken("read-token")) + "\n" +
      "ci run " + auth::FormatTokenHash(auth::HashToken("run-token")) + "\n" +
      "ops admin " + auth::FormatTokenHash(auth::HashToken("admin-token")) + "\n");
  return *auth::Authenticator::Create(*entries, std::nullopt);
}

class AccessTest : public ::testing::Test {
 protected:
  AccessTest() : api_(store_), auth_(MakeAuth()) {
    api_.suites.push_back(SuiteInfo{.name = "Checkout", .tests = {"Card"}});
    policy_.auth = &auth_;
    policy_.allowed_hosts = {"localhost", "127.0.0.1", "*.svc.cluster.local"};
  }

  // A request from a well-behaved client of `localhost:1337`, with `token` when not empty.
  Response Do(std::string method, std::string target, std::string token = "",
              std::string body = "", HeaderList extra = {}) {
    HeaderList headers = {{"Host", "localhost:1337"}};
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    for (auto& header : extra) headers.push_back(std::move(header));
    Request req{std::move(method), std::move(target), std::move(headers), std::move(body)};
    req.peer_address = "10.1.2.3";
    return Route(req, api_, store_, nullptr, &policy_);
  }

  std::size_t Runs() { return store_.ListRuns(store::RunQuery{}).size(); }

  static std::string Code(const Response& r) {
    const std::string body = r.FullBody();
    const std::size_t at = body.find("\"code\":\"");
    if (at == std::string::npos) return "";
    return body.substr(at + 8, body.find('"', at + 8) - at - 8);
  }

  FakeStore store_;
  FakeApi api_;
  auth::Authenticator auth_;
  AccessPolicy policy_;
};

TEST_F(AccessTest, WithoutATokenOnlyTheUiSessionAndProbesAnswer) {
  for (const char* path : {"/api/v1/suites", "/api/v1/runs", "/api/v1/runs/1/events",
                           "/api/v1/schedules", "/api/v1/nope"}) {
    const Response r = Do("GET", path);
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_EQ(Code(r), "unauthenticated") << path;
    const std::string* challenge = FindHeader(r.headers, "WWW-Authenticate");
    ASSERT_NE(challenge, nullptr) << path;
    EXPECT_EQ(*challenge, "Bearer realm=\"handoff\"");
  }
  EXPECT_EQ(Do("POST", "/api/v1/suites/Checkout/runs").status, 401);
  EXPECT_EQ(Runs(), 0u);
  for (const char* path : {"/healthz", "/readyz", "/metrics", "/", "/runs/3", "/app.js",
                           "/api/v1/session"}) {
    EXPECT_EQ(Do("GET", path).status, 200) << path;
  }
}

TEST_F(AccessTest, ProbesCanBeClosedOneByOne) {
  policy_.metrics_open = false;
  EXPECT_EQ(Do("GET", "/metrics").status, 401);
  EXPECT_EQ(Do("GET", "/metrics", "read-token").status, 200);
  EXPECT_EQ(Do("GET", "/healthz").status, 200);
  policy_.healthz_open = false;
  policy_.readyz_open = false;
  EXPECT_EQ(Do("GET", "/healthz").status, 401);
  EXPECT_EQ(Do("GET", "/readyz").status, 401);
}

TEST_F(AccessTest, EachRoleDoesWhatItMayAndGets403ForMore) {
  EXPECT_EQ(Do("GET", "/api/v1/runs", "read-token").status, 200);
  const Response read_trigger = Do("POST", "/api/v1/suites/Checkout/runs", "read-token");
  EXPECT_EQ(read_trigger.status, 403);
  EXPECT_EQ(Code(read_trigger), "forbidden");
  EXPECT_NE(read_trigger.FullBody().find("viewer has the read role; this needs the run role"),
            std::string::npos)
      << read_trigger.FullBody();
  EXPECT_EQ(Runs(), 0u);

  EXPECT_EQ(Do("POST", "/api/v1/suites/Checkout/runs", "run-token").status, 201);
  const std::string schedule = R"({"name":"n","suite":"Checkout","spec":"0 3 * * *"})";
  EXPECT_EQ(Do("POST", "/api/v1/schedules", "run-token", schedule).status, 403);
  EXPECT_EQ(Do("POST", "/api/v1/admin/backup", "run-token").status, 403);
  EXPECT_EQ(Do("POST", "/api/v1/schedules", "admin-token", schedule).status, 201);
  EXPECT_EQ(Do("POST", "/api/v1/suites/Checkout/runs", "admin-token").status, 201);
}

TEST_F(AccessTest, ABadTokenIs401EvenWhereNoneIsNeededToBeRefused) {
  const Response wrong = Do("GET", "/api/v1/runs", "not-a-token");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.FullBody().find("not valid"), std::string::npos);
  const Response basic = Do("GET", "/api/v1/runs", "", "", {{"Authorization", "Basic eDp5"}});
  EXPECT_EQ(basic.status, 401);
  EXPECT_NE(basic.FullBody().find("Bearer TOKEN"), std::string::npos);
  // The scheme is case-insensitive (RFC 9110).
  EXPECT_EQ(Do("GET", "/api/v1/runs", "", "", {{"Authorization", "bearer read-token"}}).status,
            200);
  // A probe does not care about credentials.
  EXPECT_EQ(Do("GET", "/healthz", "not-a-token").status, 200);
}

TEST_F(AccessTest, TheCallerIsInitiatedByAndWhatTheBodySaysIsOnBehalfOf) {
  const Response r = Do("POST", "/api/v1/suites/Checkout/runs", "run-token",
                        R"({"initiated_by":"the boss"})");
  ASSERT_EQ(r.status, 201) << r.FullBody();
  const std::vector<store::Run> runs = store_.ListRuns(store::RunQuery{});
  ASSERT_EQ(runs.size(), 1u);
  const store::Run& run = runs.front();
  EXPECT_EQ(run.initiated_by, "ci");
  EXPECT_EQ(run.on_behalf_of, "the boss");
  EXPECT_NE(r.FullBody().find(R"("initiated_by":"ci","on_behalf_of":"the boss")"),
            std::string::npos)
      << r.FullBody();
}

TEST_F(AccessTest, TheSessionCookieLogsTheBrowserInAndOut) {
  const Response session = Do("GET", "/api/v1/session");
  EXPECT_EQ(session.FullBody(), R"({"auth":true,"authenticated":false})");

  const Response bad = Do("POST", "/api/v1/session", "", R"({"token":"wrong"})");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(FindHeader(bad.headers, "Set-Cookie"), nullptr);

  const Response login = Do("POST", "/api/v1/session", "", R"({"token":"run-token"})");
  ASSERT_EQ(login.status, 200) << login.FullBody();
  EXPECT_EQ(login.FullBody(),
            R"({"auth":true,"authenticated":true,"name":"ci","role":"run","via":"cookie"})");
  const std::string* cookie = FindHeader(login.headers, "Set-Cookie");
  ASSERT_NE(cookie, nullptr);
  EXPECT_EQ(*cookie,
            "handoff_session=run-token; Path=/; Max-Age=604800; HttpOnly; SameSite=Strict");

  const HeaderList with_cookie = {{"Cookie", "theme=dark; handoff_session=run-token"}};
  EXPECT_EQ(Do("GET", "/api/v1/runs", "", "", with_cookie).status, 200);
  EXPECT_EQ(Do("POST", "/api/v1/suites/Checkout/runs", "", "", with_cookie).status, 201);
  EXPECT_EQ(Do("GET", "/api/v1/runs", "", "", {{"Cookie", "handoff_session=stale"}}).status,
            401);

  const Response logout = Do("DELETE", "/api/v1/session", "", "", with_cookie);
  ASSERT_EQ(logout.status, 200);
  EXPECT_EQ(*FindHeader(logout.headers, "Set-Cookie"),
            "handoff_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
}

TEST_F(AccessTest, OverTlsTheCookieIsSecureAndEscapesWhatACookieCannotHold) {
  EXPECT_EQ(SessionCookie("a b;c", true),
            "handoff_session=a%20b%3Bc; Path=/; Max-Age=604800; HttpOnly; SameSite=Strict; "
            "Secure");
  EXPECT_EQ(CookieValue("x=1; handoff_session=\"q\" ", "handoff_session"), "q");
  EXPECT_EQ(CookieValue("handoff_sessionx=1", "handoff_session"), std::nullopt);
}

TEST_F(AccessTest, ACrossSiteRequestCannotChangeStateWithOrWithoutAuthentication) {
  for (AccessPolicy* policy : {&policy_, static_cast<AccessPolicy*>(nullptr)}) {
    AccessPolicy open;
    if (policy == nullptr) policy_ = open;  // no authentication at all
    const std::string token = policy_.auth != nullptr ? "run-token" : "";
    const std::string path = "/api/v1/suites/Checkout/runs";
    const std::size_t before = Runs();
    struct Case {
      HeaderList headers;
      std::string body;
      int status;
    };
    for (const Case& c : {
             Case{{{"Origin", "https://evil.example"}}, "", 403},
             Case{{{"Origin", "null"}}, "", 403},
             Case{{{"Origin", "http://localhost:1338"}}, "", 403},
             Case{{{"Sec-Fetch-Site", "cross-site"}}, "", 403},
             Case{{{"Sec-Fetch-Site", "same-site"}}, "", 403},
         }) {
      const Response r = Do("POST", path, token, c.body, c.headers);
      EXPECT_EQ(r.status, c.status) << c.headers[0].first << ": " << c.headers[0].second;
      EXPECT_EQ(Code(r), "cross_origin");
    }
    // A form posts text/plain or urlencoded: 415, even from a same-origin page.
    Request form{"POST", path, {{"Host", "localhost:1337"}, {"Content-Type", "text/plain"}},
                 R"({"filter":"x"})"};
    if (!token.empty()) form.headers.emplace_back("Authorization", "Bearer " + token);
    const Response r = Route(form, api_, store_, nullptr, &policy_);
    EXPECT_EQ(r.status, 415);
    EXPECT_EQ(Code(r), "unsupported_media_type");
    EXPECT_EQ(Runs(), before);
    // The UI itself: same origin, JSON.
    EXPECT_EQ(Do("POST", path, token, "{}",
                 {{"Origin", "http://localhost:1337"}, {"Sec-Fetch-Site", "same-origin"}})
                  .status,
              201);
    EXPECT_EQ(Runs(), before + 1);
  }
}

TEST_F(AccessTest, AReportIsSentInItsOwnFormatButNeverAsAForm) {
  const std::string path = "/api/v1/suites/go.shop/ingest";
  const std::string report = "TAP version 13\nok 1 - adds\n1..1\n";
  const auto send = [&](const HeaderList& headers) {
    Request req{"POST", path, {{"Host", "localhost:1337"}}, report};
    for (const auto& h : headers) req.headers.push_back(h);
    return Route(req, api_, store_, nullptr, &policy_);
  };
  // Ingest needs the run role, as a trigger does.
  EXPECT_EQ(send({{"Content-Type", "text/x-tap"}}).status, 401);
  EXPECT_EQ(send({{"Authorization", "Bearer read-token"}, {"Content-Type", "text/x-tap"}}).status,
            403);
  EXPECT_EQ(Runs(), 0u);
  // A client with a token sends the report as it is, any way it says it (curl's default
  // for --data-binary included).
  for (const char* type : {"text/x-tap", "text/plain", "application/octet-stream",
                           "application/x-www-form-urlencoded"}) {
    const Response r = send({{"Authorization", "Bearer run-token"}, {"Content-Type", type}});
    EXPECT_EQ(r.status, 201) << type << ": " << r.FullBody();
  }
  EXPECT_EQ(api_.last_ingest.initiated_by, "ci");
  EXPECT_EQ(Runs(), 4u);
  // Never a form's fields; and from a browser's session, no type a form can send.
  const Response fields = send({{"Authorization", "Bearer run-token"},
                                {"Content-Type", "multipart/form-data; boundary=x"}});
  EXPECT_EQ(fields.status, 415);
  EXPECT_EQ(Code(fields), "unsupported_media_type");
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded"}) {
    const Response browser = send({{"Cookie", "handoff_session=run-token"}, {"Content-Type", type}});
    EXPECT_EQ(browser.status, 415) << type << ": " << browser.FullBody();
  }
  EXPECT_EQ(send({{"Cookie", "handoff_session=run-token"}, {"Content-Type", "text/x-tap"}}).status,
            201);
  EXPECT_EQ(Runs(), 5u);
  // Another site is refused whatever the type.
  EXPECT_EQ(send({{"Authorization", "Bearer run-token"}, {"Content-Type", "text/x-tap"},
                  {"Origin", "https://evil.example"}})
                .status,
            403);
  EXPECT_EQ(Runs(), 5u);
}

TEST_F(AccessTest, AHostNotAllowedIsRefusedBeforeAnythingElse) {
  Request rebound{"GET", "/api/v1/runs", {{"Host", "evil.example:1337"}}, ""};
  rebound.headers.emplace_back("Authorization", "Bearer read-token");
  const Response r = Route(rebound, api_, store_, nullptr, &policy_);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Code(r), "host_not_allowed");
  EXPECT_TRUE(HostAllowed("LOCALHOST", policy_.allowed_hosts));
  EXPECT_TRUE(HostAllowed("127.0.0.1:8080", policy_.allowed_hosts));
  EXPECT_TRUE(HostAllowed("handoff.ci.svc.cluster.local:1337", policy_.allowed_hosts));
  EXPECT_FALSE(HostAllowed("svc.cluster.local", policy_.allowed_hosts));
  EXPECT_FALSE(HostAllowed("localhost.evil.example", policy_.allowed_hosts));
  EXPECT_FALSE(HostAllowed("", policy_.allowed_hosts));
  EXPECT_TRUE(HostAllowed("[::1]:1337", {"::1"}));
  EXPECT_TRUE(HostAllowed("anything", {"*"}));
  EXPECT_TRUE(HostAllowed("anything", {}));
  // A probe answers whatever Host a kubelet or Prometheus sends (the pod's address, which no
  // --allowed-hosts can name); a closed one still needs a token.
  const Request probe{"GET", "/healthz", {{"Host", "10.1.2.3:1337"}}, ""};
  EXPECT_EQ(Route(probe, api_, store_, nullptr, &policy_).status, 200);
  policy_.healthz_open = false;
  EXPECT_EQ(Code(Route(probe, api_, store_, nullptr, &policy_)), "unauthenticated");
  Request scrape = probe;
  scrape.headers.emplace_back("Authorization", "Bearer read-token");
  EXPECT_EQ(Route(scrape, api_, store_, nullptr, &policy_).status, 200);
}

TEST_F(AccessTest, EveryStateChangingRequestIsLoggedWithWhoMadeIt) {
  char* text = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  ServerLog log(false, out);
  policy_.log = &log;
  Do("POST", "/api/v1/suites/Checkout/runs", "run-token");
  Do("POST", "/api/v1/suites/Checkout/runs", "read-token");
  Do("POST", "/api/v1/suites/Checkout/runs");
  Do("GET", "/api/v1/runs", "read-token");  // reads are not logged
  std::fclose(out);
  const std::string lines(text, size);
  std::free(text);
  EXPECT_NE(lines.find("INFO api request method=POST path=/api/v1/suites/Checkout/runs "
                       "status=201 user=ci role=run via=token peer=10.1.2.3"),
            std::string::npos)
      << lines;
  EXPECT_NE(lines.find("WARN api request refused method=POST "
                       "path=/api/v1/suites/Checkout/runs status=403 user=viewer role=read"),
            std::string::npos)
      << lines;
  EXPECT_NE(lines.find("status=401 user=-"), std::string::npos) << lines;
  EXPECT_EQ(lines.find("GET"), std::string::npos) << lines;
  EXPECT_EQ(lines.find("run-token"), std::string::npos) << lines;
}

}  // namespace
}  // namespace handoff::http
