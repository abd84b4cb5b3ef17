// History and grouping (issue 19): one test across the runs of its suite, the failures of a
// run and of a suite's recent runs grouped by cause, and a search of stored tests by name and
// failure text. What a test's row says of its change (new failure, still failing since…) was
// decided when its run finished (engine/test_changes.h); these only read.

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "engine/failure_groups.h"
#include "http/routes.h"
#include "json/json_writer.h"
#include "store/run_json.h"

namespace handoff::http {
namespace {

constexpr int kDefaultHistoryLimit = 50;
constexpr int kMaxHistoryLimit = 500;
// Runs whose failures a suite's ranking reads by default, and at most.
constexpr int kDefaultFailureRuns = 20;
constexpr int kMaxFailureRuns = 100;
constexpr int kDefaultSearchLimit = 50;
constexpr int kMaxSearchLimit = 500;
// The longest name or text a search takes.
constexpr std::size_t kMaxSearchText = 1000;

// Reads the query parameter "cursor" (a run id: only older runs) into `before`; returns the
// 400 to send instead when it is not one.
std::optional<Response> CursorParam(const QueryParams& query, std::int64_t* before) {
  *before = 0;
  const std::string* v = QueryValue(query, "cursor");
  if (v == nullptr || v->empty()) return std::nullopt;
  const std::optional<std::int64_t> cursor = ParsePositiveId(*v);
  if (!cursor) return BadRequest(fmt::format("cursor \"{}\" is not a run id", *v));
  *before = *cursor;
  return std::nullopt;
}

// {"run_id":…,"suite":…,"reference":…,"environment":…,"run_status":…,"run_created_at":…,
//  "test":{row}}
void AppendTestInRun(std::string& out, const store::TestInRun& t) {
  fmt::format_to(std::back_inserter(out), "{{\"run_id\":{},\"suite\":", t.run_id);
  AppendJsonString(out, t.suite);
  out += ",\"reference\":";
  AppendJsonString(out, t.reference);
  out += ",\"environment\":";
  AppendJsonString(out, t.environment);
  out += ",\"run_status\":\"";
  out += store::RunStatusName(t.run_status);
  out += "\",\"run_created_at\":";
  store::AppendTimeJson(out, t.run_created_at_ns);
  out += ",\"test\":";
  store::AppendTestRowJson(out, t.test);
  out += '}';
}

// {"run_id":…,"reference":…,"created_at":…} of a row's run, or null.
void AppendRunRef(std::string& out, const std::optional<store::TestInRun>& t) {
  if (!t) {
    out += "null";
    return;
  }
  fmt::format_to(std::back_inserter(out), "{{\"run_id\":{},\"reference\":", t->run_id);
  AppendJsonString(out, t->reference);
  out += ",\"created_at\":";
  store::AppendTimeJson(out, t->run_created_at_ns);
  out += '}';
}

void AppendGroups(std::string& out, const std::vector<FailureGroup>& groups) {
  out += '[';
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const FailureGroup& g = groups[i];
    if (i > 0) out += ',';
    out += "{\"signature\":";
    AppendJsonString(out, g.signature);
    out += ",\"message\":";
    AppendJsonString(out, g.message);
    fmt::format_to(std::back_inserter(out),
                   ",\"failures\":{},\"runs\":{},\"first_run\":{},\"last_run\":{},"
                   "\"last_seen\":",
                   g.failures, g.runs, g.first_run, g.last_run);
    store::AppendTimeJson(out, g.last_seen_ns);
    out += ",\"tests\":[";
    for (std::size_t k = 0; k < g.tests.size(); ++k) {
      if (k > 0) out += ',';
      AppendJsonString(out, g.tests[k]);
    }
    fmt::format_to(std::back_inserter(out), "],\"tests_left_out\":{}}}", g.tests_left_out);
  }
  out += ']';
}

// Reads the text query parameter `name` into `value` (empty when absent); returns the 400
// to send instead when it is too long.
std::optional<Response> TextParam(const QueryParams& query, const char* name,
                                  std::string* value) {
  value->clear();
  const std::string* v = QueryValue(query, name);
  if (v == nullptr) return std::nullopt;
  if (v->size() > kMaxSearchText) {
    return BadRequest(fmt::format("{} is longer than {} bytes", name, kMaxSearchText));
  }
  *value = *v;
  return std::nullopt;
}

}  // namespace

Response TestHistory(const RouteContext& ctx) {
  const std::string& suite_name = ctx.params.Get("suite");
  const std::optional<SuiteInfo> suite = FindSuite(ctx.api, suite_name);
  if (!suite) return NoSuchSuite(suite_name);
  // Everything after ".../tests/" is the test's name: subtests have '/' in theirs.
  std::string test;
  if (!PercentDecode(ctx.params.Get("test"), false, &test)) {
    return BadRequest("malformed test name in the path");
  }
  if (test.empty()) return NotFound("empty test name");
  store::TestHistoryQuery q;
  q.suite = suite_name;
  q.test = test;
  if (std::optional<Response> error =
          IntParam(ctx.query, "limit", kDefaultHistoryLimit, kMaxHistoryLimit, &q.limit)) {
    return std::move(*error);
  }
  if (std::optional<Response> error = CursorParam(ctx.query, &q.before_id)) {
    return std::move(*error);
  }
  const int limit = q.limit;
  q.limit = limit + 1;  // one more tells whether there is a next page
  std::vector<store::TestInRun> rows = ctx.store.TestHistory(q);
  const bool declared =
      std::find(suite->tests.begin(), suite->tests.end(), test) != suite->tests.end();
  if (rows.empty() && q.before_id == 0 && !declared) {
    return NotFound(fmt::format("suite \"{}\" has no test named \"{}\" in its stored runs",
                                suite_name, test));
  }
  const bool more = static_cast<int>(rows.size()) > limit;
  if (more) rows.resize(static_cast<std::size_t>(limit));
  std::string out = "{\"suite\":";
  AppendJsonString(out, suite_name);
  out += ",\"test\":";
  AppendJsonString(out, test);
  out += ",\"first_failure\":";
  AppendRunRef(out, ctx.store.FirstFailure(suite_name, test));
  out += ",\"runs\":[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) out += ',';
    AppendTestInRun(out, rows[i]);
  }
  out += ']';
  AppendNextCursor(out, more && !rows.empty() ? rows.back().run_id : 0);
  out += '}';
  return JsonResponse(200, std::move(out));
}

Response SuiteFailures(const RouteContext& ctx) {
  const std::string& suite_name = ctx.params.Get("suite");
  if (!FindSuite(ctx.api, suite_name)) return NoSuchSuite(suite_name);
  int count = 0;
  if (std::optional<Response> error =
          IntParam(ctx.query, "runs", kDefaultFailureRuns, kMaxFailureRuns, &count)) {
    return std::move(*error);
  }
  const std::vector<store::Run> runs = ctx.store.LastRuns(suite_name, count);
  std::vector<std::vector<store::TestRow>> rows;
  rows.reserve(runs.size());
  for (const store::Run& run : runs) rows.push_back(ctx.store.GetTests(run.id));
  std::string out = "{\"suite\":";
  AppendJsonString(out, suite_name);
  fmt::format_to(std::back_inserter(out), ",\"runs\":{},\"groups\":", runs.size());
  AppendGroups(out, GroupFailures(runs, rows));
  out += '}';
  return JsonResponse(200, std::move(out));
}

Response RunFailures(const RouteContext& ctx) {
  const std::optional<store::Run> run = ctx.store.GetRun(ctx.params.Id("run"));
  if (!run) return NoSuchRun(ctx.params.Id("run"));
  std::string out = fmt::format("{{\"run_id\":{},\"groups\":", run->id);
  AppendGroups(out, GroupFailures({*run}, {ctx.store.GetTests(run->id)}));
  out += '}';
  return JsonResponse(200, std::move(out));
}

Response SearchTests(const RouteContext& ctx) {
  store::TestSearch q;
  for (auto [name, value] : {std::pair{"suite", &q.suite}, std::pair{"test", &q.test},
                             std::pair{"failure", &q.failure}}) {
    if (std::optional<Response> error = TextParam(ctx.query, name, value)) {
      return std::move(*error);
    }
  }
  if (q.test.empty() && q.failure.empty()) {
    return BadRequest("give test (a part of a test's name), failure (a part of a failure's "
                      "message), or both");
  }
  if (!q.suite.empty() && !FindSuite(ctx.api, q.suite)) return NoSuchSuite(q.suite);
  if (std::optional<Response> error =
          IntParam(ctx.query, "limit", kDefaultSearchLimit, kMaxSearchLimit, &q.limit)) {
    return std::move(*error);
  }
  if (std::optional<Response> error = CursorParam(ctx.query, &q.before_id)) {
    return std::move(*error);
  }
  const int limit = q.limit;
  q.limit = limit + 1;
  std::vector<store::TestInRun> found = ctx.store.SearchTests(q);
  std::int64_t next = 0;
  if (static_cast<int>(found.size()) > limit) {
    // A page ends with a whole run: the next one starts at the run after it. The rows of the
    // last run of a full page are dropped unless it is the page's only run (then a run
    // shows at most `limit` of its matches).
    found.resize(static_cast<std::size_t>(limit));
    const std::int64_t last = found.back().run_id;
    if (found.front().run_id != last) {
      while (found.back().run_id == last) found.pop_back();
    }
    next = found.back().run_id;
  }
  std::string out = "{\"results\":[";
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (i > 0) out += ',';
    AppendTestInRun(out, found[i]);
  }
  out += ']';
  AppendNextCursor(out, next);
  out += '}';
  return JsonResponse(200, std::move(out));
}

}  // namespace handoff::http
