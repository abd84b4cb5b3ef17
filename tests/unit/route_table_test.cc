#include "http/route_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "http/router.h"
#include "serve_fakes.h"

namespace handoff::http {
namespace {

using testing::FakeApi;
using testing::FakeStore;

constexpr std::string_view kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};

// Returns "METHOD pattern" for `route`.
std::string Key(const RouteSpec& route) {
  return std::string(route.method) + " " + std::string(route.pattern);
}

class RouteTableTest : public ::testing::Test {
 protected:
  RouteTableTest() : api_(store_) {
    api_.suites.push_back(SuiteInfo{.name = "Checkout", .tests = {"Card"}});
    api_.schedules.push_back(ScheduleInfo{.name = "nightly", .suite = "Checkout",
                                          .spec = "0 3 * * *", .from_code = true});
    store::Run run;
    run.suite = "Checkout";
    run.status = store::RunStatus::kPassed;
    run_id_ = store_.AddRun(run, {store::TestRow{.name = "Card"}});
    store_.AddAttachment(run_id_, store::StoredAttachment{
                                      {"Card", 1, "shot.png", "image/png", 3}, "png"});
    hunt_id_ = store_.AddHunt(store::Hunt{.suite = "Checkout", .repeat = 3});
  }

  // A path that `pattern` matches, each parameter naming something the fakes hold. A new
  // parameter name fails the test until it is given a value here.
  std::string SamplePath(std::string_view pattern) const {
    const auto segments = ParsePattern(pattern);
    EXPECT_TRUE(segments.has_value()) << pattern;
    if (!segments) return "";
    std::string path;
    for (const PatternSegment& s : *segments) {
      path += '/';
      if (s.kind == PatternSegment::Kind::kLiteral) {
        path += s.text;
      } else if (s.text == "suite") {
        path += "Checkout";
      } else if (s.text == "schedule") {
        path += "nightly";
      } else if (s.text == "run") {
        path += std::to_string(run_id_);
      } else if (s.text == "hunt") {
        path += std::to_string(hunt_id_);
      } else if (s.text == "test") {
        path += "Card";
      } else if (s.text == "file") {
        path += "index.html";
      } else if (s.text == "path") {
        path += "Card/1/shot.png";  // an attachment: {test}/{attempt}/{name}
      } else {
        ADD_FAILURE() << "no sample value for {" << s.text << "} in " << pattern;
      }
    }
    return path;
  }

  Response Do(std::string_view method, std::string_view path) {
    return Route(Request{std::string(method), std::string(path), {}, ""}, api_, store_);
  }

  FakeStore store_;
  FakeApi api_;
  std::int64_t run_id_ = 0;
  std::int64_t hunt_id_ = 0;
};

TEST(RouteTableSpecTest, EveryPatternIsWellFormedAndUniquePerMethod) {
  std::set<std::string> seen;
  for (const RouteSpec& route : Routes()) {
    EXPECT_TRUE(ParsePattern(route.pattern).has_value()) << route.pattern;
    EXPECT_TRUE(route.handler != nullptr) << Key(route);
    EXPECT_NE(std::find(std::begin(kMethods), std::end(kMethods), route.method),
              std::end(kMethods))
        << Key(route);
    EXPECT_TRUE(seen.insert(Key(route)).second) << "twice in the table: " << Key(route);
  }
  EXPECT_GE(seen.size(), 20u);
}

TEST(RouteTableSpecTest, ParsePatternNamesParametersAndRefusesMalformedOnes) {
  const auto segments = ParsePattern("/api/{a}/{b:id}/x/{c...}");
  ASSERT_TRUE(segments.has_value());
  ASSERT_EQ(segments->size(), 5u);
  using Kind = PatternSegment::Kind;
  EXPECT_EQ((*segments)[0].kind, Kind::kLiteral);
  EXPECT_EQ((*segments)[0].text, "api");
  EXPECT_EQ((*segments)[1].kind, Kind::kName);
  EXPECT_EQ((*segments)[1].text, "a");
  EXPECT_EQ((*segments)[2].kind, Kind::kId);
  EXPECT_EQ((*segments)[2].text, "b");
  EXPECT_EQ((*segments)[4].kind, Kind::kRest);
  EXPECT_EQ((*segments)[4].text, "c");
  for (const char* bad : {"", "api", "/{", "/{}", "/{a", "/a}", "/x{a}", "/{a...}/b",
                          "/{a}/{a}", "/{a:int}", "/{:id}"}) {
    EXPECT_FALSE(ParsePattern(bad).has_value()) << bad;
  }
}

TEST_F(RouteTableTest, EveryRouteReachesItsHandler) {
  for (const RouteSpec& route : Routes()) {
    const std::string path = SamplePath(route.pattern);
    const RouteMatch match = MatchRoute(Routes(), route.method, path);
    EXPECT_EQ(match.route, &route) << Key(route) << " as " << path << ": "
                                   << match.error.FullBody();
    const Response r = Do(route.method, path);
    EXPECT_NE(r.status, 404) << Key(route) << " as " << path << ": " << r.FullBody();
    EXPECT_NE(r.status, 405) << Key(route) << " as " << path << ": " << r.FullBody();
  }
}

TEST_F(RouteTableTest, AttachmentsDownloadWithTheirHeadersAndAnUnreadableStoreIs503) {
  const std::string base = "/api/v1/runs/" + std::to_string(run_id_) + "/attachments";
  Response r = Do("GET", base + "/Card/1/shot.png");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "image/png");
  EXPECT_EQ(r.FullBody(), "png");
  EXPECT_NE(r.FullBody(), "");
  bool sandboxed = false;
  for (const auto& [name, value] : r.headers) {
    if (name == "Content-Security-Policy") sandboxed = value.find("sandbox") != std::string::npos;
  }
  EXPECT_TRUE(sandboxed);
  EXPECT_EQ(Do("GET", base + "/Card/1/other.png").status, 404);
  EXPECT_EQ(Do("GET", base + "/Card/one/shot.png").status, 400);
  EXPECT_NE(Do("GET", base).FullBody().find(R"("name":"shot.png")"), std::string::npos);
  store_.FailAttachmentReads();
  EXPECT_EQ(Do("GET", base + "/Card/1/shot.png").status, 503);
  EXPECT_EQ(Do("GET", base).status, 503);
  EXPECT_EQ(Do("GET", "/api/v1/runs/" + std::to_string(run_id_) + "/tests/Card").status, 503);
}

TEST_F(RouteTableTest, AWrongMethodIs405AllowingExactlyTheTablesMethodsForThePath) {
  std::set<std::string_view> patterns;
  for (const RouteSpec& route : Routes()) {
    if (!patterns.insert(route.pattern).second) continue;
    std::string allow;  // the table's methods for this pattern, in table order
    std::set<std::string_view> methods;
    for (const RouteSpec& other : Routes()) {
      if (other.pattern != route.pattern) continue;
      if (!allow.empty()) allow += ", ";
      allow += other.method;
      methods.insert(other.method);
    }
    const std::string path = SamplePath(route.pattern);
    for (const std::string_view method : kMethods) {
      if (methods.contains(method)) continue;
      const Response r = Do(method, path);
      EXPECT_EQ(r.status, 405) << method << " " << path;
      const std::string* header = FindHeader(r.headers, "Allow");
      ASSERT_NE(header, nullptr) << method << " " << path;
      EXPECT_EQ(*header, allow) << method << " " << path;
    }
  }
}

// The table keeps the order in which the hand-written router checked a request, which
// clients may have come to rely on.
TEST_F(RouteTableTest, ChecksShapeMethodIdRunAndTestNameInTheRouterOrder) {
  struct Case {
    const char* method;
    std::string path;
    int status;
    const char* message;
  };
  const std::string run = "/api/v1/runs/" + std::to_string(run_id_);
  for (const Case& c : {
           // A suite or schedule name that cannot be decoded: 400 whatever follows.
           Case{"GET", "/api/v1/suites/%zz/nope", 400, "malformed suite name"},
           Case{"DELETE", "/api/v1/schedules/%zz", 400, "malformed schedule name"},
           // An id is checked only on a known route with a known method.
           Case{"GET", "/api/v1/runs/abc/nope", 404, "no such endpoint: /api/v1/runs/abc/nope"},
           Case{"POST", "/api/v1/runs/abc", 405, "method POST is not allowed here; allowed: GET"},
           Case{"GET", "/api/v1/runs/abc/tests/x", 400, R"(\"abc\" is not a run id)"},
           Case{"GET", "/api/v1/runs/", 400, R"(\"\" is not a run id)"},
           // The run is looked up before the test name is decoded.
           Case{"GET", "/api/v1/runs/999/tests/%zz", 404, "no run with id 999"},
           Case{"GET", run + "/tests/%zz", 400, "malformed test name in the path"},
           Case{"GET", run + "/tests/", 404, "empty test name"},
           Case{"PUT", "/api/v1/", 404, "see /api/v1/suites, /api/v1/runs, /api/v1/schedules"},
       }) {
    const Response r = Do(c.method, c.path);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path;
    EXPECT_NE(r.FullBody().find(c.message), std::string::npos)
        << c.method << " " << c.path << ": " << r.FullBody();
  }
}

// Every route with the role it needs once authentication is on, and whether it changes
// state (then it must be same-origin JSON and is logged with who made it). A new route fails
// this test until it is added here on purpose, so none is left open by mistake.
TEST(RouteTableSpecTest, EveryRouteNeedsExactlyTheseRolesAndEveryWriteChangesState) {
  const std::map<std::string, std::pair<Access, bool>> expected = {
      {"GET /healthz", {Access::kProbe, kReadOnly}},
      {"GET /readyz", {Access::kProbe, kReadOnly}},
      {"GET /metrics", {Access::kProbe, kReadOnly}},
      {"POST /api/v1/admin/backup", {Access::kAdmin, kChangesState}},
      {"GET /api/v1/suites", {Access::kRead, kReadOnly}},
      {"GET /api/v1/suites/{suite}", {Access::kRead, kReadOnly}},
      {"GET /api/v1/suites/{suite}/history", {Access::kRead, kReadOnly}},
      {"GET /api/v1/suites/{suite}/failures", {Access::kRead, kReadOnly}},
      {"GET /api/v1/suites/{suite}/tests/{test...}", {Access::kRead, kReadOnly}},
      {"GET /api/v1/search/tests", {Access::kRead, kReadOnly}},
      {"GET /api/v1/runs/{run:id}/failures", {Access::kRead, kReadOnly}},
      {"GET /api/v1/suites/{suite}/verdict", {Access::kRead, kReadOnly}},
      {"GET /api/v1/flaky", {Access::kRead, kReadOnly}},
      {"POST /api/v1/suites/{suite}/runs", {Access::kRun, kChangesState}},
      {"POST /api/v1/suites/{suite}/ingest", {Access::kRun, kChangesState}},
      {"GET /api/v1/runs", {Access::kRead, kReadOnly}},
      {"GET /api/v1/runs/{run:id}", {Access::kRead, kReadOnly}},
      {"GET /api/v1/runs/{run:id}/tests/{test...}", {Access::kRead, kReadOnly}},
      {"POST /api/v1/runs/{run:id}/cancel", {Access::kRun, kChangesState}},
      {"POST /api/v1/runs/{run:id}/release", {Access::kRun, kChangesState}},
      {"POST /api/v1/runs/{run:id}/retry", {Access::kRun, kChangesState}},
      {"GET /api/v1/runs/{run:id}/report", {Access::kRead, kReadOnly}},
      {"GET /api/v1/runs/{run:id}/deliveries", {Access::kRead, kReadOnly}},
      {"GET /api/v1/runs/{run:id}/attachments", {Access::kRead, kReadOnly}},
      {"GET /api/v1/runs/{run:id}/attachments/{path...}", {Access::kRead, kReadOnly}},
      {"GET /api/v1/runs/{run:id}/events", {Access::kRead, kReadOnly}},
      {"POST /api/v1/suites/{suite}/hunts", {Access::kRun, kChangesState}},
      {"GET /api/v1/hunts", {Access::kRead, kReadOnly}},
      {"GET /api/v1/hunts/{hunt:id}", {Access::kRead, kReadOnly}},
      {"POST /api/v1/hunts/{hunt:id}/stop", {Access::kRun, kChangesState}},
      {"POST /api/v1/hunts/{hunt:id}/cancel", {Access::kRun, kChangesState}},
      {"GET /api/v1/schedules", {Access::kRead, kReadOnly}},
      {"POST /api/v1/schedules", {Access::kAdmin, kChangesState}},
      {"GET /api/v1/schedules/{schedule}", {Access::kRead, kReadOnly}},
      {"DELETE /api/v1/schedules/{schedule}", {Access::kAdmin, kChangesState}},
      {"POST /api/v1/schedules/{schedule}/pause", {Access::kAdmin, kChangesState}},
      {"POST /api/v1/schedules/{schedule}/resume", {Access::kAdmin, kChangesState}},
      // Logging in and out is open (a token is what it checks) but changes state: a page of
      // another site may not log a browser in or out.
      {"GET /api/v1/session", {Access::kPublic, kReadOnly}},
      {"POST /api/v1/session", {Access::kPublic, kChangesState}},
      {"DELETE /api/v1/session", {Access::kPublic, kChangesState}},
      {"GET /{file...}", {Access::kPublic, kReadOnly}},
  };
  std::map<std::string, std::pair<Access, bool>> actual;
  for (const RouteSpec& route : Routes()) {
    actual[Key(route)] = {route.access, route.changes_state};
    // Only GET (and HEAD) may read without changing state; every other method writes.
    const bool safe_method = route.method == "GET" || route.method == "HEAD";
    EXPECT_EQ(route.changes_state, !safe_method) << Key(route);
  }
  EXPECT_EQ(actual, expected);
}

// --- The matcher, on a table of its own -----------------------------------------------------

Response Ok(const RouteContext&) { return Response{}; }
bool OnlyDotTxt(std::string_view path) { return path.ends_with(".txt"); }

const std::vector<RouteSpec>& TestRoutes() {
  static const std::vector<RouteSpec> routes = {
      {"GET", "/things", Ok, kReadOnly, Access::kRead},
      {"POST", "/things", Ok, kChangesState, Access::kRead},
      {"GET", "/things/{thing}", Ok, kReadOnly, Access::kRead},
      {"DELETE", "/things/{thing}", Ok, kChangesState, Access::kRead},
      {"GET", "/things/{thing}/parts/{part:id}", Ok, kReadOnly, Access::kRead},
      {"GET", "/things/{thing}/parts/{part:id}/files/{file...}", Ok, kReadOnly, Access::kRead},
      {"GET", "/{doc...}", Ok, kReadOnly, Access::kRead, OnlyDotTxt},
  };
  return routes;
}

std::string ErrorMessage(const RouteMatch& match) { return match.error.FullBody(); }

TEST(MatchRouteTest, DecodesNamesAndKeepsIdsAndRestsAsSent) {
  RouteMatch m = MatchRoute(TestRoutes(), "GET", "/things/a%2Fb%20c");
  ASSERT_EQ(m.route, &TestRoutes()[2]) << ErrorMessage(m);
  EXPECT_EQ(m.params.Get("thing"), "a/b c");
  EXPECT_THROW(m.params.Get("nope"), std::logic_error);

  m = MatchRoute(TestRoutes(), "GET", "/things/x/parts/42/files/a/b%20c/");
  ASSERT_EQ(m.route, &TestRoutes()[5]) << ErrorMessage(m);
  EXPECT_EQ(m.params.Get("thing"), "x");
  EXPECT_EQ(m.params.Get("part"), "42");
  EXPECT_EQ(m.params.Id("part"), 42);
  EXPECT_EQ(m.params.Get("file"), "a/b%20c/");

  m = MatchRoute(TestRoutes(), "GET", "/things/x/parts/42/files/");
  ASSERT_EQ(m.route, &TestRoutes()[5]);
  EXPECT_EQ(m.params.Get("file"), "");
}

TEST(MatchRouteTest, UnknownShapesAre404AndWrongMethods405InTableOrder) {
  for (const char* path : {"/nope", "/things/", "/things//parts/1", "/things/x/parts",
                           "/things/x/parts/1/files", "/readme.md"}) {
    const RouteMatch m = MatchRoute(TestRoutes(), "GET", path);
    EXPECT_EQ(m.route, nullptr) << path;
    EXPECT_EQ(m.error.status, 404) << path;
    EXPECT_NE(ErrorMessage(m).find(std::string("no such endpoint: ") + path), std::string::npos);
  }
  EXPECT_EQ(MatchRoute(TestRoutes(), "GET", "/notes.txt").route, &TestRoutes()[6]);

  RouteMatch m = MatchRoute(TestRoutes(), "PUT", "/things");
  EXPECT_EQ(m.error.status, 405);
  ASSERT_NE(FindHeader(m.error.headers, "Allow"), nullptr);
  EXPECT_EQ(*FindHeader(m.error.headers, "Allow"), "GET, POST");
  EXPECT_NE(ErrorMessage(m).find("method PUT is not allowed here; allowed: GET, POST"),
            std::string::npos);
  m = MatchRoute(TestRoutes(), "POST", "/things/x");
  EXPECT_EQ(*FindHeader(m.error.headers, "Allow"), "GET, DELETE");
}

TEST(MatchRouteTest, AMalformedNameIs400WhereverItStandsAndABadIdOnlyOnAKnownRoute) {
  // A name that cannot be decoded: 400 whatever the method or the rest of the path.
  for (const auto& [method, path] :
       {std::pair{"GET", "/things/%zz"}, std::pair{"PUT", "/things/%zz"},
        std::pair{"GET", "/things/%zz/nope/deeper"}}) {
    const RouteMatch m = MatchRoute(TestRoutes(), method, path);
    EXPECT_EQ(m.route, nullptr);
    EXPECT_EQ(m.error.status, 400) << method << " " << path;
    EXPECT_NE(ErrorMessage(m).find("malformed thing name"), std::string::npos);
  }
  // A bad id: 404 if no route has the path's shape, 405 for a wrong method, else 400.
  EXPECT_EQ(MatchRoute(TestRoutes(), "GET", "/things/x/parts/abc/nope").error.status, 404);
  EXPECT_EQ(MatchRoute(TestRoutes(), "POST", "/things/x/parts/abc").error.status, 405);
  for (const char* id : {"abc", "0", "-1", "%31", "", "1234567890123456789"}) {
    const RouteMatch m =
        MatchRoute(TestRoutes(), "GET", std::string("/things/x/parts/") + id);
    EXPECT_EQ(m.route, nullptr) << id;
    EXPECT_EQ(m.error.status, 400) << id;
    EXPECT_NE(ErrorMessage(m).find(std::string("\\\"") + id + "\\\" is not a part id"),
              std::string::npos)
        << ErrorMessage(m);
  }
}

}  // namespace
}  // namespace handoff::http
