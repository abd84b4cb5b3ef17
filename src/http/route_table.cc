// The route table of `serve`'s HTTP API and the matcher that looks requests up in it.
//
// To add an endpoint: write its handler in the routes_<resource>.cc of its resource, declare
// it in routes.h, and add a line below with the role it needs (Access). A route that writes
// (any method but GET) is marked kChangesState: route_table_test.cc lists every route with
// its access and fails until a new one is added there too, so that no route is left open
// by mistake.

#include "http/route_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "http/routes.h"

namespace handoff::http {

const std::vector<RouteSpec>& Routes() {
  static const std::vector<RouteSpec> routes = {
      // Operations.
      {"GET", "/healthz", Healthz, kReadOnly, Access::kProbe},
      {"GET", "/readyz", Readyz, kReadOnly, Access::kProbe},
      {"GET", "/metrics", Metrics, kReadOnly, Access::kProbe},
      {"POST", "/api/v1/admin/backup", AdminBackup, kChangesState, Access::kAdmin},
      // Suites and their stability.
      {"GET", "/api/v1/suites", ListSuites, kReadOnly, Access::kRead},
      {"GET", "/api/v1/suites/{suite}", GetSuite, kReadOnly, Access::kRead},
      {"GET", "/api/v1/suites/{suite}/history", SuiteHistory, kReadOnly, Access::kRead},
      {"GET", "/api/v1/suites/{suite}/verdict", SuiteVerdict, kReadOnly, Access::kRead},
      {"GET", "/api/v1/suites/{suite}/failures", SuiteFailures, kReadOnly, Access::kRead},
      {"GET", "/api/v1/suites/{suite}/tests/{test...}", TestHistory, kReadOnly, Access::kRead},
      {"GET", "/api/v1/search/tests", SearchTests, kReadOnly, Access::kRead},
      {"GET", "/api/v1/flaky", Flaky, kReadOnly, Access::kRead},
      // Runs.
      {"POST", "/api/v1/suites/{suite}/runs", TriggerRun, kChangesState, Access::kRun},
      {"POST", "/api/v1/suites/{suite}/ingest", IngestReport, kChangesState, Access::kRun,
       nullptr, Body::kReport},
      {"GET", "/api/v1/runs", ListRuns, kReadOnly, Access::kRead},
      {"GET", "/api/v1/runs/{run:id}", GetRun, kReadOnly, Access::kRead},
      {"GET", "/api/v1/runs/{run:id}/tests/{test...}", GetTest, kReadOnly, Access::kRead},
      {"GET", "/api/v1/runs/{run:id}/failures", RunFailures, kReadOnly, Access::kRead},
      {"POST", "/api/v1/runs/{run:id}/cancel", CancelRun, kChangesState, Access::kRun},
      {"POST", "/api/v1/runs/{run:id}/release", ReleaseRun, kChangesState, Access::kRun},
      {"POST", "/api/v1/runs/{run:id}/retry", RetryRun, kChangesState, Access::kRun},
      {"GET", "/api/v1/runs/{run:id}/report", RunReport, kReadOnly, Access::kRead},
      {"GET", "/api/v1/runs/{run:id}/deliveries", RunDeliveries, kReadOnly, Access::kRead},
      {"GET", "/api/v1/runs/{run:id}/events", RunEvents, kReadOnly, Access::kRead},
      {"GET", "/api/v1/runs/{run:id}/attachments", ListRunAttachments, kReadOnly, Access::kRead},
      {"GET", "/api/v1/runs/{run:id}/attachments/{path...}", DownloadAttachment, kReadOnly,
       Access::kRead},
      // Hunts: a series of runs of a suite to provoke a flaky failure.
      {"POST", "/api/v1/suites/{suite}/hunts", StartHunt, kChangesState, Access::kRun},
      {"GET", "/api/v1/hunts", ListHunts, kReadOnly, Access::kRead},
      {"GET", "/api/v1/hunts/{hunt:id}", GetHunt, kReadOnly, Access::kRead},
      {"POST", "/api/v1/hunts/{hunt:id}/stop", StopHunt, kChangesState, Access::kRun},
      {"POST", "/api/v1/hunts/{hunt:id}/cancel", CancelHunt, kChangesState, Access::kRun},
      // Schedules.
      {"GET", "/api/v1/schedules", ListSchedules, kReadOnly, Access::kRead},
      {"POST", "/api/v1/schedules", CreateSchedule, kChangesState, Access::kAdmin},
      {"GET", "/api/v1/schedules/{schedule}", GetSchedule, kReadOnly, Access::kRead},
      {"DELETE", "/api/v1/schedules/{schedule}", DeleteSchedule, kChangesState,
       Access::kAdmin},
      {"POST", "/api/v1/schedules/{schedule}/pause", PauseSchedule, kChangesState,
       Access::kAdmin},
      {"POST", "/api/v1/schedules/{schedule}/resume", ResumeSchedule, kChangesState,
       Access::kAdmin},
      // The browser's session: log in with a token (an HttpOnly cookie), out, who am I.
      {"GET", "/api/v1/session", GetSession, kReadOnly, Access::kPublic},
      {"POST", "/api/v1/session", LogIn, kChangesState, Access::kPublic},
      {"DELETE", "/api/v1/session", LogOut, kChangesState, Access::kPublic},
      // The web UI: embedded files and the app's pages; last, so that it never shadows the
      // routes above.
      {"GET", "/{file...}", ServeWebFile, kReadOnly, Access::kPublic, IsWebPath},
  };
  return routes;
}

// --- PathParams ----------------------------------------------------------------------------

void PathParams::Add(std::string_view name, std::string value) {
  params_.push_back(Param{name, std::move(value), 0});
}

const PathParams::Param& PathParams::Find(std::string_view name) const {
  for (const Param& param : params_) {
    if (param.name == name) return param;
  }
  throw std::logic_error(fmt::format("the route has no path parameter {{{}}}", name));
}

const std::string& PathParams::Get(std::string_view name) const { return Find(name).value; }

std::int64_t PathParams::Id(std::string_view name) const { return Find(name).id; }

void PathParams::SetId(std::string_view name, std::int64_t id) {
  for (Param& param : params_) {
    if (param.name == name) param.id = id;
  }
}

// --- Patterns and matching -----------------------------------------------------------------

std::optional<std::vector<PatternSegment>> ParsePattern(std::string_view pattern) {
  if (!pattern.starts_with('/')) return std::nullopt;
  std::vector<PatternSegment> segments;
  std::size_t start = 1;
  while (true) {
    const std::size_t slash = pattern.find('/', start);
    const std::string_view text = pattern.substr(start, slash - start);
    PatternSegment segment{PatternSegment::Kind::kLiteral, text};
    if (text.starts_with('{')) {
      if (!text.ends_with('}')) return std::nullopt;
      std::string_view name = text.substr(1, text.size() - 2);
      segment.kind = PatternSegment::Kind::kName;
      if (name.ends_with("...")) {
        segment.kind = PatternSegment::Kind::kRest;
        name.remove_suffix(3);
      } else if (name.ends_with(":id")) {
        segment.kind = PatternSegment::Kind::kId;
        name.remove_suffix(3);
      }
      if (name.empty() || name.find_first_of("{}:./") != std::string_view::npos) {
        return std::nullopt;
      }
      for (const PatternSegment& before : segments) {
        if (before.kind != PatternSegment::Kind::kLiteral && before.text == name) {
          return std::nullopt;
        }
      }
      segment.text = name;
    } else if (text.find_first_of("{}") != std::string_view::npos) {
      return std::nullopt;
    }
    if (!segments.empty() && segments.back().kind == PatternSegment::Kind::kRest) {
      return std::nullopt;  // {rest...} must be last
    }
    segments.push_back(segment);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

namespace {

// Splits a path after its leading '/': "/a/b" is {"a", "b"}, "/a/" is {"a", ""}. The
// segments point into `path`.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    segments.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

enum class Fit { kNo, kYes, kMalformedName };

// Whether `route` fits the path split into `segments`; on kYes, `params` holds its
// parameters; on kMalformedName, `bad` names the parameter that could not be decoded.
Fit FitRoute(const RouteSpec& route, std::string_view path,
             const std::vector<std::string_view>& segments, PathParams* params,
             std::string_view* bad) {
  const std::optional<std::vector<PatternSegment>> pattern = ParsePattern(route.pattern);
  if (!pattern) throw std::logic_error(fmt::format("bad route pattern {}", route.pattern));
  std::size_t i = 0;
  for (const PatternSegment& want : *pattern) {
    if (i >= segments.size()) return Fit::kNo;
    const std::string_view have = segments[i];
    switch (want.kind) {
      case PatternSegment::Kind::kLiteral:
        if (have != want.text) return Fit::kNo;
        break;
      case PatternSegment::Kind::kName: {
        std::string decoded;
        if (!PercentDecode(have, false, &decoded)) {
          *bad = want.text;
          return Fit::kMalformedName;
        }
        if (decoded.empty()) return Fit::kNo;
        params->Add(want.text, std::move(decoded));
        break;
      }
      case PatternSegment::Kind::kId:
        params->Add(want.text, std::string(have));
        break;
      case PatternSegment::Kind::kRest:
        // The rest of the path as sent, from this segment on.
        params->Add(want.text, std::string(path.substr(have.data() - path.data())));
        i = segments.size();
        continue;
    }
    ++i;
  }
  if (i != segments.size()) return Fit::kNo;
  if (route.only_if != nullptr && !route.only_if(path)) return Fit::kNo;
  return Fit::kYes;
}

Response MethodNotAllowed(std::string_view method, const std::vector<std::string_view>& allowed) {
  std::string allow;
  for (const std::string_view m : allowed) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  Response r = ErrorResponse(
      405, "method_not_allowed",
      fmt::format("method {} is not allowed here; allowed: {}", method, allow));
  r.headers.emplace_back("Allow", std::move(allow));
  return r;
}

}  // namespace

RouteMatch MatchRoute(std::span<const RouteSpec> routes, std::string_view method,
                      std::string_view path) {
  const std::vector<std::string_view> segments = SplitPath(path);
  RouteMatch match;
  std::vector<std::string_view> allowed;  // the methods of the routes that fit the path
  for (const RouteSpec& route : routes) {
    PathParams params;
    std::string_view bad;
    switch (FitRoute(route, path, segments, &params, &bad)) {
      case Fit::kNo:
        continue;
      case Fit::kMalformedName:
        match.error = BadRequest(fmt::format("malformed {} name", bad));
        return match;
      case Fit::kYes:
        break;
    }
    if (route.method == method) {
      if (match.route == nullptr) {
        match.route = &route;
        match.params = std::move(params);
      }
    } else if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
      allowed.push_back(route.method);
    }
  }
  if (match.route != nullptr) {
    // Ids are checked once the route is known: a bad id on a path no route has is 404.
    const std::optional<std::vector<PatternSegment>> pattern =
        ParsePattern(match.route->pattern);
    for (const PatternSegment& segment : *pattern) {
      if (segment.kind != PatternSegment::Kind::kId) continue;
      const std::string& text = match.params.Get(segment.text);
      const std::optional<std::int64_t> id = ParsePositiveId(text);
      if (!id) {
        match.error = BadRequest(fmt::format("\"{}\" is not a {} id", text, segment.text));
        match.route = nullptr;
        return match;
      }
      match.params.SetId(segment.text, *id);
    }
    return match;
  }
  if (allowed.empty()) {
    match.error = NotFound(fmt::format("no such endpoint: {}", path));
  } else {
    match.error = MethodNotAllowed(method, allowed);
  }
  return match;
}

}  // namespace handoff::http
