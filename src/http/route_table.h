#pragma once

// The HTTP API of `serve` as one table (route_table.cc): each entry is a method, a path
// pattern, the function that answers, and whether the route changes state. Route()
// (router.h) looks a request up with MatchRoute and calls the entry's handler; the handlers
// live in routes_<resource>.cc (declared in routes.h).
//
// A pattern is a path whose segments are literals or parameters:
//   {name}      one segment, percent-decoded and not empty. A segment that is not valid
//               percent-encoding is answered 400 "malformed <name> name" as soon as the
//               literals before it match, whatever follows it.
//   {name:id}   one segment holding a positive integer id, checked once the route and
//               method are known: 400 "\"<text>\" is not a <name> id".
//   {name...}   the rest of the path, slashes included, as sent (not decoded): the last
//               segment of a pattern.
// A path that fits no pattern is 404; one that fits only patterns of other methods is 405
// with an Allow header listing those methods in table order.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/auth.h"
#include "engine/serve_api.h"
#include "http/router.h"
#include "store/store.h"

namespace handoff::http {

// Decoded query parameters in the order sent (a name may repeat).
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// The parameters a route's pattern took from the path.
class PathParams {
 public:
  // Records parameter `name` (a name from the pattern) with `value`.
  void Add(std::string_view name, std::string value);
  // Returns the value of parameter `name`: decoded for {name}, as sent for {name:id} and
  // {name...}. Throws std::logic_error if the pattern has no such parameter (a table bug).
  const std::string& Get(std::string_view name) const;
  // Returns the number in id parameter `name`, valid once MatchRoute has checked it.
  std::int64_t Id(std::string_view name) const;
  // Stores the number checked in id parameter `name`.
  void SetId(std::string_view name, std::int64_t id);

 private:
  struct Param {
    std::string_view name;  // points into the pattern, which lives as long as the table
    std::string value;
    std::int64_t id = 0;
  };
  const Param& Find(std::string_view name) const;

  std::vector<Param> params_;
};

// Everything a handler may use to answer one request.
struct RouteContext {
  const Request& req;
  std::string_view path;     // the path as sent, without the query
  const QueryParams& query;
  const PathParams& params;
  ServeApi& api;
  store::Store& store;
  RunTestsCache* cache;      // may be null
  const AccessPolicy* policy = nullptr;  // null: no authentication, any Host
  const auth::Principal* who = nullptr;  // the authenticated caller; null without one
};

// The function that answers the requests of one route.
using RouteHandler = Response (*)(const RouteContext& ctx);

// Value of RouteSpec::changes_state for routes that write: they must be same-origin and
// JSON (access.h), and each request is logged with who made it.
inline constexpr bool kChangesState = true;
// Value of RouteSpec::changes_state for routes that only read.
inline constexpr bool kReadOnly = false;

// Who may call a route once authentication is on (access.h decides).
enum class Access {
  kPublic,  // anyone: the UI's files, logging in and out, who am I
  kProbe,   // anyone unless the operator closes it: /healthz, /readyz, /metrics
  kRead,    // a caller with the read role or more
  kRun,     // the run role or more: trigger, cancel, retry
  kAdmin,   // the admin role: schedules, backups
};

// What the body of a route that changes state may be (access.h): JSON, as every form of
// the API sends, or a report in another format (POST /suites/{suite}/ingest), which the
// handler reads by its Content-Type.
enum class Body {
  kJson,
  kReport,
};

// One entry of the route table.
struct RouteSpec {
  std::string_view method;   // "GET", "POST", "DELETE"
  std::string_view pattern;  // "/api/v1/runs/{run:id}/tests/{test...}"
  RouteHandler handler;
  bool changes_state;        // kChangesState or kReadOnly
  Access access;
  // When set, the route fits only the paths for which this returns true (the web UI's
  // catch-all pattern names only embedded files and the app's pages).
  bool (*only_if)(std::string_view path) = nullptr;
  Body body = Body::kJson;
};

// Returns the API's route table, in matching order: the first route that fits the path
// and method answers.
const std::vector<RouteSpec>& Routes();

// One segment of a parsed pattern.
struct PatternSegment {
  enum class Kind { kLiteral, kName, kId, kRest };
  Kind kind = Kind::kLiteral;
  std::string_view text;  // the literal, or the parameter's name
};

// Returns the segments of `pattern`, or nullopt if it is not a well-formed pattern (not
// starting with '/', an unclosed or empty brace, a {rest...} that is not last, a parameter
// name used twice).
std::optional<std::vector<PatternSegment>> ParsePattern(std::string_view pattern);

// What looking a request up in a table found: a route with its parameters, or the error
// response (400, 404 or 405) to send instead.
struct RouteMatch {
  const RouteSpec* route = nullptr;
  PathParams params;
  Response error;  // meaningful only when route is null
};

// Looks `method` and `path` (starting with '/', no query) up in `routes`.
RouteMatch MatchRoute(std::span<const RouteSpec> routes, std::string_view method,
                      std::string_view path);

}  // namespace handoff::http
