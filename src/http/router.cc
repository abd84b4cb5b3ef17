// Route(): a request's target split into path and query, looked up in the route table
// (route_table.cc), answered by the route's handler (routes_<resource>.cc), and large JSON
// answers gzipped. Every error, thrown ones included, becomes a JSON error response.

#include "http/router.h"

#include <fmt/format.h>

#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "http/access.h"
#include "http/route_table.h"
#include "http/routes.h"

namespace handoff::http {
namespace {

// JSON bodies this large are gzipped for clients that accept it (a suite's history, a long
// list of runs); smaller ones are not worth the CPU.
constexpr std::size_t kGzipJsonAbove = 16 * 1024;
constexpr int kGzipJsonLevel = 1;  // fast: JSON still shrinks about tenfold

// Parses "a=1&b=x+y" into decoded pairs; false on a malformed escape.
bool ParseQuery(std::string_view query, QueryParams* out) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string key;
    std::string value;
    if (!PercentDecode(pair.substr(0, eq), true, &key)) return false;
    if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, &value)) {
      return false;
    }
    out->emplace_back(std::move(key), std::move(value));
  }
  return true;
}

Response RouteUnchecked(const Request& req, ServeApi& api, store::Store& store,
                        RunTestsCache* cache, const AccessPolicy& policy) {
  const std::string_view target = req.target;
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  QueryParams query;
  if (question != std::string_view::npos && !ParseQuery(target.substr(question + 1), &query)) {
    return BadRequest("malformed query string");
  }
  if (path.empty() || path.front() != '/') return BadRequest("the target must be a path");
  RouteMatch match = MatchRoute(Routes(), req.method, path);
  const Admission admission = Admit(req, path, match.route, policy);
  Response response;
  if (admission.refusal) {
    response = *admission.refusal;
  } else if (match.route == nullptr) {
    response = path == kApiPrefix || path == std::string(kApiPrefix) + "/"
                   ? NotFound("see /api/v1/suites, /api/v1/runs, /api/v1/schedules")
                   : std::move(match.error);
  } else {
    response = match.route->handler(
        RouteContext{req, path, query, match.params, api, store, cache, &policy,
                     admission.who ? &*admission.who : nullptr});
  }
  if (match.route != nullptr && match.route->changes_state) {
    Audit(req, path, admission, response, policy);
  }
  return response;
}

void GzipLargeJson(const Request& req, Response& r) {
  if (r.stream || r.status != 200 || !r.content_type.starts_with("application/json") ||
      r.BodySize() <= kGzipJsonAbove || FindHeader(r.headers, "Content-Encoding") != nullptr ||
      !AcceptsGzip(req.Header("Accept-Encoding"))) {
    return;
  }
  std::string gz = GzipCompress(
      {r.body, r.shared_body ? std::string_view(*r.shared_body) : std::string_view()},
      kGzipJsonLevel);
  r.body = std::move(gz);
  r.shared_body = nullptr;
  r.headers.emplace_back("Content-Encoding", "gzip");
  r.headers.emplace_back("Vary", "Accept-Encoding");
}

}  // namespace

Response Route(const Request& req, ServeApi& api, store::Store& store, RunTestsCache* cache,
               const AccessPolicy* policy) {
  static const AccessPolicy kAdmitAll;
  try {
    Response r = RouteUnchecked(req, api, store, cache, policy ? *policy : kAdmitAll);
    GzipLargeJson(req, r);
    return r;
  } catch (const std::exception& e) {
    return ErrorResponse(500, "internal", e.what());
  } catch (...) {
    return ErrorResponse(500, "internal", "unexpected error");
  }
}

}  // namespace handoff::http
