// Suites as the API shows them: the list, one suite with its schedules and last runs,
// stability over recent runs (a suite's history, the flaky tests of every suite), and a
// suite's verdict at a reference (what a deploy gate asks).

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "engine/stability.h"
#include "http/routes.h"
#include "json/json_writer.h"
#include "store/run_json.h"

namespace handoff::http {
namespace {

constexpr int kSuiteLastRuns = 20;
// Runs looked back over by /suites/{suite}/history and /flaky.
constexpr int kDefaultHistoryRuns = 20;
constexpr int kMaxHistoryRuns = 100;
constexpr int kDefaultFlakyLimit = 100;
constexpr int kMaxFlakyLimit = 1000;

void AppendStringArray(std::string& out, const std::vector<std::string>& values) {
  out += '[';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, values[i]);
  }
  out += ']';
}

// The fields every suite object has, without the closing brace.
void AppendSuiteHead(std::string& out, const SuiteInfo& suite) {
  out += "{\"name\":";
  AppendJsonString(out, suite.name);
  out += ",\"namespace\":";
  AppendJsonString(out, suite.namespace_name);
  out += ",\"description\":";
  AppendJsonString(out, suite.description);
  out += ",\"labels\":";
  store::AppendStringObjectJson(out, suite.labels);
  out += ",\"tests\":";
  AppendStringArray(out, suite.tests);
  fmt::format_to(std::back_inserter(out),
                 ",\"max_attempts\":{},\"timeout_ms\":{},\"concurrency\":", suite.max_attempts,
                 suite.timeout_ms);
  AppendJsonString(out, suite.concurrency);
  out += ",\"external\":";
  if (suite.external_format.empty()) {
    out += "null";
  } else {
    out += "{\"format\":";
    AppendJsonString(out, suite.external_format);
    out += ",\"tool\":";
    AppendJsonString(out, suite.external_tool);
    out += '}';
  }
  out += suite.ingest_only ? ",\"ingest_only\":true" : ",\"ingest_only\":false";
}

// The last `count` finished runs of `suite`, oldest first, with their tests.
struct RecentRuns {
  std::vector<store::Run> runs;
  std::vector<std::int64_t> ids;
  std::vector<std::vector<store::TestRow>> tests;
};

RecentRuns ReadRecentRuns(store::Store& store, const std::string& suite, int count) {
  RecentRuns recent;
  recent.runs = store.LastRuns(suite, count);
  std::reverse(recent.runs.begin(), recent.runs.end());
  for (const store::Run& run : recent.runs) {
    recent.ids.push_back(run.id);
    recent.tests.push_back(store.GetTests(run.id));
  }
  return recent;
}

void AppendTestStatusOrNull(std::string& out, const std::optional<store::TestStatus>& status) {
  if (status) {
    AppendJsonString(out, store::TestStatusName(*status));
  } else {
    out += "null";
  }
}

}  // namespace

Response ListSuites(const RouteContext& ctx) {
  ServeApi& api = ctx.api;
  store::Store& store = ctx.store;
  const std::vector<SuiteInfo> suites = api.Suites();
  const std::vector<ScheduleInfo> schedules = api.Schedules();
  std::string out = "{\"suites\":[";
  for (std::size_t i = 0; i < suites.size(); ++i) {
    const SuiteInfo& suite = suites[i];
    if (i > 0) out += ',';
    AppendSuiteHead(out, suite);
    out += ",\"schedules\":[";
    bool first = true;
    for (const ScheduleInfo& s : schedules) {
      if (s.suite != suite.name) continue;
      if (!first) out += ',';
      first = false;
      AppendJsonString(out, s.name);
    }
    out += "],\"last_run\":";
    const std::vector<store::Run> last = store.LastRuns(suite.name, 1);
    if (last.empty()) {
      out += "null";
    } else {
      store::AppendRunJson(out, last.front(), nullptr);
    }
    out += '}';
  }
  out += "]}";
  return JsonResponse(200, std::move(out));
}

Response GetSuite(const RouteContext& ctx) {
  ServeApi& api = ctx.api;
  store::Store& store = ctx.store;
  const std::string& name = ctx.params.Get("suite");
  const std::optional<SuiteInfo> suite = FindSuite(api, name);
  if (!suite) return NoSuchSuite(name);
  std::string out;
  AppendSuiteHead(out, *suite);
  out += ",\"schedules\":[";
  bool first = true;
  for (const ScheduleInfo& s : api.Schedules()) {
    if (s.suite != name) continue;
    if (!first) out += ',';
    first = false;
    AppendScheduleJson(out, s);
  }
  out += "],\"last_runs\":[";
  const std::vector<store::Run> last = store.LastRuns(name, kSuiteLastRuns);
  for (std::size_t i = 0; i < last.size(); ++i) {
    if (i > 0) out += ',';
    store::AppendRunJson(out, last[i], nullptr);
  }
  out += "]}";
  return JsonResponse(200, std::move(out));
}

Response SuiteHistory(const RouteContext& ctx) {
  ServeApi& api = ctx.api;
  store::Store& store = ctx.store;
  const std::string& name = ctx.params.Get("suite");
  if (!FindSuite(api, name)) return NoSuchSuite(name);
  int count = 0;
  if (std::optional<Response> error =
          IntParam(ctx.query, "runs", kDefaultHistoryRuns, kMaxHistoryRuns, &count)) {
    return std::move(*error);
  }
  const RecentRuns recent = ReadRecentRuns(store, name, count);
  std::string out = "{\"suite\":";
  AppendJsonString(out, name);
  out += ",\"runs\":[";
  for (std::size_t i = 0; i < recent.runs.size(); ++i) {
    if (i > 0) out += ',';
    store::AppendRunJson(out, recent.runs[i], nullptr);
  }
  out += "],\"tests\":[";
  const std::vector<TestStability> tests = ComputeStability(recent.ids, recent.tests);
  for (std::size_t i = 0; i < tests.size(); ++i) {
    const TestStability& t = tests[i];
    if (i > 0) out += ',';
    out += "{\"name\":";
    AppendJsonString(out, t.name);
    out += ",\"statuses\":[";
    for (std::size_t r = 0; r < t.statuses.size(); ++r) {
      if (r > 0) out += ',';
      AppendTestStatusOrNull(out, t.statuses[r]);
    }
    fmt::format_to(std::back_inserter(out),
                   "],\"runs\":{},\"flips\":{},\"retried\":{},\"failed\":{}}}", t.runs,
                   t.flips, t.retried, t.failed);
  }
  out += "]}";
  return JsonResponse(200, std::move(out));
}

Response SuiteVerdict(const RouteContext& ctx) {
  const std::string& name = ctx.params.Get("suite");
  const std::string* reference = QueryValue(ctx.query, "reference");
  if (reference == nullptr || reference->empty()) {
    return BadRequest(
        "reference: required, the reference the runs were triggered with (a commit, a "
        "release): ?reference=SHA");
  }
  if (!FindSuite(ctx.api, name)) return NoSuchSuite(name);
  const store::ReferenceRuns runs = ctx.store.RunsOfReference(name, *reference);
  // A run newer than the last finished one that has not finished (a second trigger after a
  // failure): the verdict waits for it, so that a gate never decides on the older run.
  const std::optional<store::Run>& unfinished = runs.unfinished;
  auto append_unfinished = [&](std::string& out) {
    if (!unfinished) {
      out += "null";
      return;
    }
    fmt::format_to(std::back_inserter(out), "{{\"id\":{},\"status\":", unfinished->id);
    AppendJsonString(out, store::RunStatusName(unfinished->status));
    fmt::format_to(std::back_inserter(out), ",\"run_url\":\"{}/runs/{}\"}}", kApiPrefix,
                   unfinished->id);
  };
  if (!runs.finished || unfinished) {
    // No verdict yet. Not a 2xx, so that a poller that decides on the body (Argo Rollouts'
    // web provider) counts it as an error to retry, not as a failure; the code tells a run
    // in progress ("pending") from no run at all ("not_found").
    Response r;
    if (unfinished) {
      r = ErrorResponse(404, "pending",
                        fmt::format("run {} of suite \"{}\" with reference \"{}\" is {}: no "
                                    "verdict until it finishes",
                                    unfinished->id, name, *reference,
                                    store::RunStatusName(unfinished->status)));
    } else {
      r = NotFound(fmt::format("suite \"{}\" has no run with reference \"{}\"", name,
                               *reference));
    }
    r.body.pop_back();  // the closing brace: the unfinished run goes beside the error
    r.body += ",\"unfinished_run\":";
    append_unfinished(r.body);
    r.body += '}';
    return r;
  }
  const store::Run& run = *runs.finished;
  std::string out = "{\"suite\":";
  AppendJsonString(out, name);
  out += ",\"reference\":";
  AppendJsonString(out, *reference);
  // The run's status as the store recorded it (DecideRunStatus): passed means passed, and
  // failed, cancelled and error all mean not.
  fmt::format_to(std::back_inserter(out), ",\"passed\":{},\"run_id\":{},\"status\":",
                 run.status == store::RunStatus::kPassed, run.id);
  AppendJsonString(out, store::RunStatusName(run.status));
  out += ",\"finished_at\":";
  store::AppendTimeJson(out, run.finished_at_ns);
  fmt::format_to(std::back_inserter(out),
                 ",\"run_url\":\"{0}/runs/{1}\",\"web_url\":\"/runs/{1}\",\"partial\":{2}",
                 kApiPrefix, run.id, store::IsPartial(run));
  out += ",\"totals\":";
  if (run.totals) {
    store::AppendTotalsJson(out, *run.totals);
  } else {
    out += "null";
  }
  out += ",\"unfinished_run\":";
  append_unfinished(out);
  out += '}';
  return JsonResponse(200, std::move(out));
}

Response Flaky(const RouteContext& ctx) {
  ServeApi& api = ctx.api;
  store::Store& store = ctx.store;
  const QueryParams& query = ctx.query;
  int count = 0;
  int limit = 0;
  if (std::optional<Response> error =
          IntParam(query, "runs", kDefaultHistoryRuns, kMaxHistoryRuns, &count)) {
    return std::move(*error);
  }
  if (std::optional<Response> error =
          IntParam(query, "limit", kDefaultFlakyLimit, kMaxFlakyLimit, &limit)) {
    return std::move(*error);
  }
  std::vector<std::string> names;
  for (const SuiteInfo& suite : api.Suites()) names.push_back(suite.name);
  if (const std::string* only = QueryValue(query, "suite"); only != nullptr && !only->empty()) {
    if (std::find(names.begin(), names.end(), *only) == names.end()) {
      return NotFound(fmt::format("no suite named \"{}\"", *only));
    }
    names = {*only};
  }
  struct Ranked {
    std::string suite;
    TestStability test;
  };
  std::vector<Ranked> ranked;
  for (const std::string& suite : names) {
    const RecentRuns recent = ReadRecentRuns(store, suite, count);
    for (TestStability& t : ComputeStability(recent.ids, recent.tests)) {
      if (t.score() > 0) ranked.push_back(Ranked{suite, std::move(t)});
    }
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.test.score() != b.test.score()) return a.test.score() > b.test.score();
    if (a.suite != b.suite) return a.suite < b.suite;
    return a.test.name < b.test.name;
  });
  if (ranked.size() > static_cast<std::size_t>(limit)) {
    ranked.resize(static_cast<std::size_t>(limit));
  }
  std::string out = fmt::format("{{\"runs\":{},\"tests\":[", count);
  for (std::size_t i = 0; i < ranked.size(); ++i) {
    const TestStability& t = ranked[i].test;
    if (i > 0) out += ',';
    out += "{\"suite\":";
    AppendJsonString(out, ranked[i].suite);
    out += ",\"test\":";
    AppendJsonString(out, t.name);
    fmt::format_to(std::back_inserter(out),
                   ",\"runs\":{},\"flips\":{},\"retried\":{},\"failed\":{},\"score\":{},"
                   "\"last_status\":",
                   t.runs, t.flips, t.retried, t.failed, t.score());
    AppendTestStatusOrNull(out, t.last_status);
    fmt::format_to(std::back_inserter(out), ",\"last_run\":{}}}", t.last_run);
  }
  out += "]}";
  return JsonResponse(200, std::move(out));
}
}  // namespace handoff::http
