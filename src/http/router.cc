#include "http/router.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <exception>
#include <initializer_list>
#include <stdexcept>

#include "duration/duration.h"
#include "engine/stability.h"
#include "http/web_assets.h"
#include "json/json_writer.h"
#include "engine/stored_report.h"
#include "store/run_json.h"

#include <zlib.h>

namespace handoff::http {
namespace {

namespace json = boost::json;

constexpr std::string_view kApiPrefix = "/api/v1";
constexpr int kDefaultRunsLimit = 50;
constexpr int kMaxRunsLimit = 500;
constexpr int kSuiteLastRuns = 20;
// Runs looked back over by /suites/{suite}/history and /flaky.
constexpr int kDefaultHistoryRuns = 20;
constexpr int kMaxHistoryRuns = 100;
constexpr int kDefaultFlakyLimit = 100;
constexpr int kMaxFlakyLimit = 1000;
constexpr std::size_t kMaxIdempotencyKey = 256;
// The gzip level of finished runs' bodies: compressed once per run (and header change),
// then served from the cache.
constexpr int kGzipLevel = 6;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a positive decimal integer that fits in int64; anything else is rejected.
bool ParsePositiveId(std::string_view text, std::int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return false;
  *out = value;
  return true;
}

bool ParseNonNegative(std::string_view text, std::int64_t* out) {
  if (text == "0") {
    *out = 0;
    return true;
  }
  return ParsePositiveId(text, out);
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  // `path` starts with '/'; every segment follows a '/', so "/a/" yields {"a", ""}.
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

using QueryParams = std::vector<std::pair<std::string, std::string>>;

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

const std::string* QueryValue(const QueryParams& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

Response MethodNotAllowed(std::string_view method, std::initializer_list<const char*> allowed) {
  std::string allow;
  for (const char* m : allowed) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  Response r = ErrorResponse(405, "method_not_allowed",
                             fmt::format("method {} is not allowed here; allowed: {}", method, allow));
  r.headers.emplace_back("Allow", std::move(allow));
  return r;
}

bool MethodIn(std::string_view method, std::initializer_list<const char*> allowed) {
  for (const char* m : allowed) {
    if (method == m) return true;
  }
  return false;
}

Response NotFound(std::string_view message) { return ErrorResponse(404, "not_found", message); }
Response BadRequest(std::string_view message) {
  return ErrorResponse(400, "invalid_argument", message);
}

Response FromApiCode(ApiCode code, std::string_view message) {
  switch (code) {
    case ApiCode::kOk:
      break;
    case ApiCode::kNotFound:
      return ErrorResponse(404, "not_found", message);
    case ApiCode::kInvalid:
      return ErrorResponse(400, "invalid_argument", message);
    case ApiCode::kConflict:
      return ErrorResponse(409, "conflict", message);
    case ApiCode::kUnavailable:
      return ErrorResponse(503, "unavailable", message);
  }
  return ErrorResponse(500, "internal", message);
}

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

void AppendStringArray(std::string& out, const std::vector<std::string>& values) {
  out += '[';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, values[i]);
  }
  out += ']';
}

void AppendScheduleJson(std::string& out, const ScheduleInfo& s) {
  out += "{\"name\":";
  AppendJsonString(out, s.name);
  out += ",\"suite\":";
  AppendJsonString(out, s.suite);
  out += ",\"spec\":";
  AppendJsonString(out, s.spec);
  out += ",\"time_zone\":";
  AppendJsonString(out, s.time_zone);
  out += ",\"filter\":";
  AppendJsonString(out, s.filter);
  fmt::format_to(std::back_inserter(out), ",\"paused\":{},\"from_code\":{},\"next_run\":",
                 s.paused, s.from_code);
  store::AppendTimeJson(out, s.next_run_ns);
  out += ",\"last_run_id\":";
  if (s.last_run_id != 0) {
    fmt::format_to(std::back_inserter(out), "{}", s.last_run_id);
  } else {
    out += "null";
  }
  out += '}';
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
}

// The rendered tests tail of `run`; a finished run's comes from (and goes to) `cache`.
std::shared_ptr<const std::string> RunTestsTail(const store::Run& run, store::Store& store,
                                                RunTestsCache* cache) {
  const bool finished = store::IsFinished(run.status);
  if (finished && cache != nullptr) {
    if (auto tail = cache->Get(run.id)) return tail;
  }
  const std::vector<store::TestRow> tests = store.GetTests(run.id);
  auto tail = std::make_shared<std::string>();
  tail->reserve(64 + tests.size() * 192);
  store::AppendRunJsonTestsTail(*tail, tests);
  if (finished && cache != nullptr) cache->Put(run.id, tail);
  return tail;
}

// The run object with its tests; the tests of a finished run come from `cache` if there.
// With `gzip`, a finished run's body is sent gzip-compressed: the cached gzip if the run
// header is unchanged since it was compressed, else compressed anew (and cached).
Response RunResponse(int status, const store::Run& run, store::Store& store,
                     RunTestsCache* cache, bool gzip = false) {
  Response r;
  r.status = status;
  store::AppendRunJsonHead(r.body, run);
  if (!gzip || !store::IsFinished(run.status)) {
    r.shared_body = RunTestsTail(run, store, cache);
    return r;
  }
  std::shared_ptr<const GzipBody> body = cache != nullptr ? cache->GetGzip(run.id) : nullptr;
  if (body == nullptr || body->head != r.body) {
    const std::shared_ptr<const std::string> tail = RunTestsTail(run, store, cache);
    auto fresh = std::make_shared<GzipBody>();
    fresh->gzip = GzipCompress({r.body, *tail}, kGzipLevel);
    fresh->head = std::move(r.body);
    if (cache != nullptr) cache->PutGzip(run.id, fresh);
    body = std::move(fresh);
  }
  r.body.clear();
  r.shared_body = std::shared_ptr<const std::string>(body, &body->gzip);  // shares `body`
  r.headers.emplace_back("Content-Encoding", "gzip");
  return r;
}

// Reads the fields of a JSON request body. An empty body is an empty object.
class BodyFields {
 public:
  // Parses `body`; on failure error() says why.
  explicit BodyFields(std::string_view body) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
    boost::system::error_code ec;
    json::value value = json::parse(body, ec);
    if (ec) {
      error_ = fmt::format("request body is not valid JSON: {}", ec.message());
      return;
    }
    if (!value.is_object()) {
      error_ = "request body must be a JSON object";
      return;
    }
    object_ = std::move(value.as_object());
  }

  const std::string& error() const { return error_; }
  const json::object& object() const { return object_; }

  // Each reader sets error() naming the field when the value has the wrong type.
  bool String(const json::value& v, std::string_view name, std::string* out) {
    if (!v.is_string()) return Fail(name, "a string");
    *out = std::string(v.as_string());
    return true;
  }
  bool Bool(const json::value& v, std::string_view name, bool* out) {
    if (!v.is_bool()) return Fail(name, "a boolean");
    *out = v.as_bool();
    return true;
  }
  bool Int(const json::value& v, std::string_view name, std::int64_t* out) {
    if (v.is_int64()) {
      *out = v.as_int64();
      return true;
    }
    if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      *out = static_cast<std::int64_t>(v.as_uint64());
      return true;
    }
    if (v.is_double()) {
      const double d = v.as_double();
      if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d > -1e15 && d < 1e15) {
        *out = static_cast<std::int64_t>(d);
        return true;
      }
    }
    return Fail(name, "an integer");
  }
  bool StringMap(const json::value& v, std::string_view name, store::KeyValues* out) {
    if (!v.is_object()) return Fail(name, "an object of strings");
    for (const auto& kv : v.as_object()) {
      if (!kv.value().is_string()) {
        error_ = fmt::format("field \"{}\": value of \"{}\" must be a string", name,
                             std::string_view(kv.key()));
        return false;
      }
      out->emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
    }
    return true;
  }
  bool StringArray(const json::value& v, std::string_view name, std::vector<std::string>* out) {
    if (!v.is_array()) return Fail(name, "an array of strings");
    for (const json::value& item : v.as_array()) {
      if (!item.is_string()) return Fail(name, "an array of strings");
      out->emplace_back(item.as_string());
    }
    return true;
  }
  bool Unknown(std::string_view name) {
    error_ = fmt::format("unknown field \"{}\"", name);
    return false;
  }
  bool Invalid(std::string_view name, std::string_view why) {
    error_ = fmt::format("field \"{}\": {}", name, why);
    return false;
  }

 private:
  bool Fail(std::string_view name, std::string_view what) {
    error_ = fmt::format("field \"{}\" must be {}", name, what);
    return false;
  }

  json::object object_;
  std::string error_;
};

// --- Endpoints -----------------------------------------------------------------------

Response ListSuites(ServeApi& api, store::Store& store) {
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

Response GetSuite(ServeApi& api, store::Store& store, const std::string& name) {
  const std::vector<SuiteInfo> suites = api.Suites();
  const auto it = std::find_if(suites.begin(), suites.end(),
                               [&](const SuiteInfo& s) { return s.name == name; });
  if (it == suites.end()) return NotFound(fmt::format("no suite named \"{}\"", name));
  std::string out;
  AppendSuiteHead(out, *it);
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

// Reads the positive integer query parameter `name` (at most `max`; `fallback` if absent).
bool IntParam(const QueryParams& query, const char* name, int fallback, int max, int* value,
              Response* error) {
  *value = fallback;
  const std::string* v = QueryValue(query, name);
  if (v == nullptr || v->empty()) return true;
  std::int64_t parsed = 0;
  if (!ParsePositiveId(*v, &parsed) || parsed > max) {
    *error = BadRequest(fmt::format("{} \"{}\" must be an integer from 1 to {}", name, *v, max));
    return false;
  }
  *value = static_cast<int>(parsed);
  return true;
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

Response SuiteHistory(ServeApi& api, store::Store& store, const std::string& name,
                      const QueryParams& query) {
  const std::vector<SuiteInfo> suites = api.Suites();
  if (std::none_of(suites.begin(), suites.end(),
                   [&](const SuiteInfo& s) { return s.name == name; })) {
    return NotFound(fmt::format("no suite named \"{}\"", name));
  }
  int count = 0;
  Response error;
  if (!IntParam(query, "runs", kDefaultHistoryRuns, kMaxHistoryRuns, &count, &error)) {
    return error;
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

Response Flaky(ServeApi& api, store::Store& store, const QueryParams& query) {
  int count = 0;
  int limit = 0;
  Response error;
  if (!IntParam(query, "runs", kDefaultHistoryRuns, kMaxHistoryRuns, &count, &error) ||
      !IntParam(query, "limit", kDefaultFlakyLimit, kMaxFlakyLimit, &limit, &error)) {
    return error;
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
  if (ranked.size() > static_cast<std::size_t>(limit)) ranked.resize(static_cast<std::size_t>(limit));
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

Response TriggerRun(const Request& req, ServeApi& api, store::Store& store,
                    const std::string& suite, RunTestsCache* cache) {
  RunRequest run;
  run.suite = suite;
  run.trigger = store::Trigger::kApi;
  const std::string_view key = req.Header("Idempotency-Key");
  if (key.size() > kMaxIdempotencyKey) {
    return BadRequest(fmt::format("Idempotency-Key is longer than {} bytes", kMaxIdempotencyKey));
  }
  run.idempotency_key = std::string(key);

  BodyFields body(req.body);
  if (!body.error().empty()) return BadRequest(body.error());
  for (const auto& kv : body.object()) {
    const std::string_view name = kv.key();
    const json::value& v = kv.value();
    bool ok = true;
    if (name == "filter") {
      ok = body.String(v, name, &run.filter);
    } else if (name == "labels") {
      ok = body.StringMap(v, name, &run.labels);
    } else if (name == "params") {
      ok = body.StringMap(v, name, &run.params);
    } else if (name == "reference") {
      ok = body.String(v, name, &run.reference);
    } else if (name == "initiated_by") {
      ok = body.String(v, name, &run.initiated_by);
    } else if (name == "tests") {
      ok = body.StringArray(v, name, &run.tests);
    } else if (name == "max_attempts") {
      std::int64_t attempts = 0;
      ok = body.Int(v, name, &attempts);
      if (ok && (attempts < 1 || attempts > 1000)) {
        ok = body.Invalid(name, "must be between 1 and 1000");
      }
      run.max_attempts = static_cast<int>(attempts);
    } else if (name == "timeout") {
      std::string text;
      ok = body.String(v, name, &text);
      if (ok) {
        const auto duration = ParseDuration(text);
        if (!duration || *duration < std::chrono::milliseconds(1)) {
          ok = body.Invalid(name, "must be a duration of at least 1ms, like \"30s\" or \"5m\"");
        } else {
          run.timeout_ms =
              std::chrono::duration_cast<std::chrono::milliseconds>(*duration).count();
        }
      }
    } else if (name == "trigger") {
      std::string text;
      ok = body.String(v, name, &text);
      if (ok) {
        if (text == "api") {
          run.trigger = store::Trigger::kApi;
        } else if (text == "ui") {
          run.trigger = store::Trigger::kUi;
        } else if (text == "cli") {
          run.trigger = store::Trigger::kCli;
        } else {
          ok = body.Invalid(name, "must be \"api\", \"ui\" or \"cli\"");
        }
      }
    } else {
      ok = body.Unknown(name);
    }
    if (!ok) return BadRequest(body.error());
  }

  const ApiResult result = api.Trigger(run);
  if (result.code != ApiCode::kOk) return FromApiCode(result.code, result.message);
  Response r = RunResponse(result.created ? 201 : 200, result.run, store, cache);
  r.headers.emplace_back("Location", fmt::format("{}/runs/{}", kApiPrefix, result.run.id));
  return r;
}

Response ListRuns(const QueryParams& query, store::Store& store) {
  store::RunQuery q;
  q.limit = kDefaultRunsLimit;
  if (const std::string* v = QueryValue(query, "suite")) q.suite = *v;
  if (const std::string* v = QueryValue(query, "reference")) q.reference = *v;
  if (const std::string* v = QueryValue(query, "status"); v != nullptr && !v->empty()) {
    store::RunStatus status;
    if (!store::ParseRunStatus(*v, &status)) {
      return BadRequest(fmt::format(
          "status \"{}\" is not one of queued, running, passed, failed, cancelled, error", *v));
    }
    q.status = status;
  }
  if (const std::string* v = QueryValue(query, "limit"); v != nullptr && !v->empty()) {
    std::int64_t limit = 0;
    if (!ParsePositiveId(*v, &limit)) {
      return BadRequest(fmt::format("limit \"{}\" must be an integer from 1 to {}", *v,
                                    kMaxRunsLimit));
    }
    q.limit = static_cast<int>(std::min<std::int64_t>(limit, kMaxRunsLimit));
  }
  if (const std::string* v = QueryValue(query, "cursor"); v != nullptr && !v->empty()) {
    if (!ParsePositiveId(*v, &q.before_id)) {
      return BadRequest(fmt::format("cursor \"{}\" is not a run id", *v));
    }
  }
  const int limit = q.limit;
  q.limit = limit + 1;  // one more tells whether there is a next page
  std::vector<store::Run> runs = store.ListRuns(q);
  const bool more = static_cast<int>(runs.size()) > limit;
  if (more) runs.resize(static_cast<std::size_t>(limit));
  std::string out = "{\"runs\":[";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i > 0) out += ',';
    store::AppendRunJson(out, runs[i], nullptr);
  }
  out += "],\"next_cursor\":";
  if (more && !runs.empty()) {
    fmt::format_to(std::back_inserter(out), "\"{}\"", runs.back().id);
  } else {
    out += "null";
  }
  out += '}';
  return JsonResponse(200, std::move(out));
}

Response GetTest(store::Store& store, const store::Run& run, const std::string& name) {
  const std::vector<store::TestRow> tests = store.GetTests(run.id);
  const auto it = std::find_if(tests.begin(), tests.end(),
                               [&](const store::TestRow& t) { return t.name == name; });
  if (it == tests.end()) {
    return NotFound(fmt::format("run {} has no test named \"{}\"", run.id, name));
  }
  std::string out = fmt::format("{{\"run_id\":{},\"test\":", run.id);
  store::AppendTestRowJson(out, *it);
  out += ",\"attempts\":[";
  const std::vector<store::Attempt> attempts = store.GetAttempts(run.id, name);
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    if (i > 0) out += ',';
    store::AppendAttemptJson(out, attempts[i]);
  }
  out += "]}";
  return JsonResponse(200, std::move(out));
}

Response Report(store::Store& store, const store::Run& run, const QueryParams& query) {
  const std::string* format_param = QueryValue(query, "format");
  const std::string format = format_param == nullptr || format_param->empty() ? "json"
                                                                              : *format_param;
  if (format != "json" && format != "junit") {
    return BadRequest(fmt::format("format \"{}\" is not json or junit", format));
  }
  Response r;
  if (!RenderStoredReport(run, store.GetTests(run.id), store.GetAllAttempts(run.id), format,
                          &r.body)) {
    return BadRequest(fmt::format("format \"{}\" is not json or junit", format));
  }
  const bool junit = format == "junit";
  r.content_type = junit ? "application/xml" : "application/x-ndjson";
  r.headers.emplace_back(
      "Content-Disposition",
      fmt::format("attachment; filename=\"run-{}.{}\"", run.id, junit ? "xml" : "json"));
  return r;
}

Response Events(const Request& req, const QueryParams& query, const store::Run& run) {
  std::int64_t after = 0;
  std::string_view last = req.Header("Last-Event-ID");
  if (last.empty()) {
    if (const std::string* v = QueryValue(query, "last_event_id")) last = *v;
  }
  if (!last.empty() && !ParseNonNegative(last, &after)) {
    return BadRequest(fmt::format("Last-Event-ID \"{}\" is not an event id", last));
  }
  Response r;
  r.content_type = "text/event-stream";
  r.stream = EventStream{run.id, after, store::IsFinished(run.status)};
  return r;
}

Response RouteRun(const Request& req, const QueryParams& query, ServeApi& api,
                  store::Store& store, RunTestsCache* cache,
                  const std::vector<std::string_view>& seg, std::string_view raw_path) {
  // seg[0] == "runs", seg.size() >= 2.
  const std::string_view action = seg.size() >= 3 ? seg[2] : std::string_view();
  const std::string_view method = req.method;
  // Check the path's shape and method before touching the store.
  if (seg.size() == 2) {
    if (!MethodIn(method, {"GET"})) return MethodNotAllowed(method, {"GET"});
  } else if (action == "tests" && seg.size() >= 4) {
    if (!MethodIn(method, {"GET"})) return MethodNotAllowed(method, {"GET"});
  } else if (seg.size() == 3 && (action == "cancel" || action == "retry")) {
    if (!MethodIn(method, {"POST"})) return MethodNotAllowed(method, {"POST"});
  } else if (seg.size() == 3 && (action == "report" || action == "events")) {
    if (!MethodIn(method, {"GET"})) return MethodNotAllowed(method, {"GET"});
  } else {
    return NotFound(fmt::format("no such endpoint: {}", raw_path));
  }

  std::int64_t id = 0;
  if (!ParsePositiveId(seg[1], &id)) {
    return BadRequest(fmt::format("\"{}\" is not a run id", seg[1]));
  }

  if (action == "cancel") {
    const ApiResult result = api.Cancel(id);
    if (result.code != ApiCode::kOk) return FromApiCode(result.code, result.message);
    return RunResponse(200, result.run, store, cache);
  }
  if (action == "retry") {
    bool only_failed = false;
    std::string initiated_by;
    BodyFields body(req.body);
    if (!body.error().empty()) return BadRequest(body.error());
    for (const auto& kv : body.object()) {
      const std::string_view name = kv.key();
      bool ok = true;
      if (name == "only_failed") {
        ok = body.Bool(kv.value(), name, &only_failed);
      } else if (name == "initiated_by") {
        ok = body.String(kv.value(), name, &initiated_by);
      } else {
        ok = body.Unknown(name);
      }
      if (!ok) return BadRequest(body.error());
    }
    const ApiResult result = api.Retry(id, only_failed, initiated_by);
    if (result.code != ApiCode::kOk) return FromApiCode(result.code, result.message);
    Response r = RunResponse(201, result.run, store, cache);
    r.headers.emplace_back("Location", fmt::format("{}/runs/{}", kApiPrefix, result.run.id));
    return r;
  }

  const std::optional<store::Run> run = store.GetRun(id);
  if (!run) return NotFound(fmt::format("no run with id {}", id));
  if (seg.size() == 2) {
    Response r = RunResponse(200, *run, store, cache, AcceptsGzip(req.Header("Accept-Encoding")));
    r.headers.emplace_back("Vary", "Accept-Encoding");
    return r;
  }
  if (action == "report") return Report(store, *run, query);
  if (action == "events") return Events(req, query, *run);

  // Everything after ".../tests/" is the test name: subtests have '/' in their names.
  const std::string marker = fmt::format("/runs/{}/tests/", seg[1]);
  const std::size_t at = raw_path.find(marker);
  std::string name;
  if (at == std::string_view::npos ||
      !PercentDecode(raw_path.substr(at + marker.size()), false, &name)) {
    return BadRequest("malformed test name in the path");
  }
  if (name.empty()) return NotFound("empty test name");
  return GetTest(store, *run, name);
}

std::optional<ScheduleInfo> FindSchedule(ServeApi& api, const std::string& name) {
  for (ScheduleInfo& s : api.Schedules()) {
    if (s.name == name) return std::move(s);
  }
  return std::nullopt;
}

Response ScheduleResponse(int status, const ScheduleInfo& schedule) {
  std::string out;
  AppendScheduleJson(out, schedule);
  return JsonResponse(status, std::move(out));
}

Response CreateSchedule(const Request& req, ServeApi& api) {
  store::StoredSchedule schedule;
  BodyFields body(req.body);
  if (!body.error().empty()) return BadRequest(body.error());
  for (const auto& kv : body.object()) {
    const std::string_view name = kv.key();
    const json::value& v = kv.value();
    bool ok = true;
    if (name == "name") {
      ok = body.String(v, name, &schedule.name);
    } else if (name == "suite") {
      ok = body.String(v, name, &schedule.suite);
    } else if (name == "spec") {
      ok = body.String(v, name, &schedule.spec);
    } else if (name == "time_zone") {
      ok = body.String(v, name, &schedule.time_zone);
    } else if (name == "filter") {
      ok = body.String(v, name, &schedule.filter);
    } else if (name == "paused") {
      ok = body.Bool(v, name, &schedule.paused);
    } else {
      ok = body.Unknown(name);
    }
    if (!ok) return BadRequest(body.error());
  }
  if (schedule.name.empty()) return BadRequest("field \"name\" is required");
  if (schedule.suite.empty()) return BadRequest("field \"suite\" is required");
  if (schedule.spec.empty()) return BadRequest("field \"spec\" is required");
  schedule.created_at_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  std::string message;
  const ApiCode code = api.CreateSchedule(schedule, &message);
  if (code != ApiCode::kOk) return FromApiCode(code, message);
  if (std::optional<ScheduleInfo> info = FindSchedule(api, schedule.name)) {
    return ScheduleResponse(201, *info);
  }
  // Created but not listed (deleted concurrently): answer with what was asked.
  ScheduleInfo info;
  info.name = schedule.name;
  info.suite = schedule.suite;
  info.spec = schedule.spec;
  info.time_zone = schedule.time_zone;
  info.filter = schedule.filter;
  info.paused = schedule.paused;
  return ScheduleResponse(201, info);
}

Response RouteSchedules(const Request& req, ServeApi& api,
                        const std::vector<std::string_view>& seg, std::string_view raw_path) {
  const std::string_view method = req.method;
  if (seg.size() == 1) {
    if (method == "GET") {
      std::string out = "{\"schedules\":[";
      bool first = true;
      for (const ScheduleInfo& s : api.Schedules()) {
        if (!first) out += ',';
        first = false;
        AppendScheduleJson(out, s);
      }
      out += "]}";
      return JsonResponse(200, std::move(out));
    }
    if (method == "POST") return CreateSchedule(req, api);
    return MethodNotAllowed(method, {"GET", "POST"});
  }
  std::string name;
  if (!PercentDecode(seg[1], false, &name)) return BadRequest("malformed schedule name");
  if (name.empty()) return NotFound(fmt::format("no such endpoint: {}", raw_path));
  std::string message;
  if (seg.size() == 2) {
    if (method == "GET") {
      if (std::optional<ScheduleInfo> info = FindSchedule(api, name)) {
        return ScheduleResponse(200, *info);
      }
      return NotFound(fmt::format("no schedule named \"{}\"", name));
    }
    if (method != "DELETE") return MethodNotAllowed(method, {"GET", "DELETE"});
    const ApiCode code = api.DeleteSchedule(name, &message);
    if (code != ApiCode::kOk) return FromApiCode(code, message);
    Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  if (seg.size() == 3 && (seg[2] == "pause" || seg[2] == "resume")) {
    if (method != "POST") return MethodNotAllowed(method, {"POST"});
    const ApiCode code = api.PauseSchedule(name, seg[2] == "pause", &message);
    if (code != ApiCode::kOk) return FromApiCode(code, message);
    if (std::optional<ScheduleInfo> info = FindSchedule(api, name)) {
      return ScheduleResponse(200, *info);
    }
    return NotFound(fmt::format("no schedule named \"{}\"", name));
  }
  return NotFound(fmt::format("no such endpoint: {}", raw_path));
}

// ---------------------------------------------------------------------------------------
// The web UI's files (web/, embedded), with an ETag and a gzip copy made on first use.

struct EmbeddedFile {
  const WebAsset* asset;
  std::string etag;
  std::string plain;
  std::string gzip;  // empty: not worth compressing
};

// A body that points at a file's bytes (they live as long as the program).
std::shared_ptr<const std::string> StaticBody(const std::string& bytes) {
  return std::shared_ptr<const std::string>(std::shared_ptr<void>(), &bytes);
}

const std::vector<EmbeddedFile>& EmbeddedFiles() {
  static const std::vector<EmbeddedFile> files = [] {
    std::vector<EmbeddedFile> out;
    for (const WebAsset& asset : WebAssets()) {
      EmbeddedFile& file = out.emplace_back();
      file.asset = &asset;
      std::uint64_t hash = 14695981039346656037ull;  // FNV-1a
      for (const char c : asset.data) {
        hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      }
      file.etag = fmt::format("\"{:016x}\"", hash);
      file.plain = std::string(asset.data);
      const bool text = asset.content_type.starts_with("text/") ||
                        asset.content_type.starts_with("application/json") ||
                        asset.content_type.starts_with("image/svg");
      if (text && asset.data.size() > 1024) file.gzip = GzipCompress({asset.data}, 9);
    }
    return out;
  }();
  return files;
}

// The pages of the UI: each deep link is answered with the app, which routes it.
bool IsAppPath(std::string_view path) {
  for (std::string_view page : {"/suites", "/runs"}) {
    if (path == page || (path.starts_with(page) && path[page.size()] == '/')) return true;
  }
  return path == "/" || path == "/flaky" || path == "/schedules" || path == "/activity";
}

const EmbeddedFile* FindWebFile(std::string_view path) {
  if (IsAppPath(path)) path = "/index.html";
  for (const EmbeddedFile& file : EmbeddedFiles()) {
    if (file.asset->path == path) return &file;
  }
  return nullptr;
}

Response WebFileResponse(const Request& req, const EmbeddedFile& file) {
  Response r;
  r.content_type = std::string(file.asset->content_type);
  // Revalidated on each load (cheap: 304), so a new binary's UI is seen at once.
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("ETag", file.etag);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (file.asset->content_type.starts_with("text/html")) {
    // The app builds its pages with DOM calls and talks only to this server.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; script-src 'self'; style-src 'self' "
                           "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (!file.gzip.empty()) r.headers.emplace_back("Vary", "Accept-Encoding");
  const std::string_view if_none_match = req.Header("If-None-Match");
  if (!if_none_match.empty() && if_none_match.find(file.etag) != std::string_view::npos) {
    r.status = 304;
    return r;
  }
  if (!file.gzip.empty() && AcceptsGzip(req.Header("Accept-Encoding"))) {
    r.shared_body = StaticBody(file.gzip);
    r.headers.emplace_back("Content-Encoding", "gzip");
  } else {
    r.shared_body = StaticBody(file.plain);
  }
  return r;
}

// POST /api/v1/admin/backup: a snapshot of the store written on the server, in its backup
// directory (as Prometheus' POST /api/v1/admin/tsdb/snapshot). The file stays on the
// server's volume, where the database is, and the client never chooses a path the server
// would write to.
Response AdminBackup(ServeApi& api) {
  const BackupOutcome outcome = api.Backup();
  if (outcome.code != ApiCode::kOk) return FromApiCode(outcome.code, outcome.message);
  std::string out = "{\"path\":";
  AppendJsonString(out, outcome.info.path);
  out += fmt::format(",\"bytes\":{},\"pages\":{},\"duration_ms\":{}}}", outcome.info.bytes,
                     outcome.info.pages, outcome.info.duration_ms);
  return JsonResponse(200, std::move(out));
}

Response RouteApi(const Request& req, const QueryParams& query, ServeApi& api,
                  store::Store& store, RunTestsCache* cache, std::string_view path) {
  const std::string_view rest = path.substr(kApiPrefix.size());
  if (rest.empty() || rest == "/") return NotFound("see /api/v1/suites, /api/v1/runs, /api/v1/schedules");
  const std::vector<std::string_view> seg = SplitPath(rest);
  const std::string_view method = req.method;
  if (seg[0] == "suites") {
    if (seg.size() == 1) {
      if (method != "GET") return MethodNotAllowed(method, {"GET"});
      return ListSuites(api, store);
    }
    std::string suite;
    if (!PercentDecode(seg[1], false, &suite)) return BadRequest("malformed suite name");
    if (seg.size() == 2 && !suite.empty()) {
      if (method != "GET") return MethodNotAllowed(method, {"GET"});
      return GetSuite(api, store, suite);
    }
    if (seg.size() == 3 && seg[2] == "runs" && !suite.empty()) {
      if (method != "POST") return MethodNotAllowed(method, {"POST"});
      return TriggerRun(req, api, store, suite, cache);
    }
    if (seg.size() == 3 && seg[2] == "history" && !suite.empty()) {
      if (method != "GET") return MethodNotAllowed(method, {"GET"});
      return SuiteHistory(api, store, suite, query);
    }
  } else if (seg[0] == "runs") {
    if (seg.size() == 1) {
      if (method != "GET") return MethodNotAllowed(method, {"GET"});
      return ListRuns(query, store);
    }
    return RouteRun(req, query, api, store, cache, seg, path);
  } else if (seg[0] == "schedules") {
    return RouteSchedules(req, api, seg, path);
  } else if (seg[0] == "admin" && seg.size() == 2 && seg[1] == "backup") {
    if (method != "POST") return MethodNotAllowed(method, {"POST"});
    return AdminBackup(api);
  } else if (seg[0] == "flaky" && seg.size() == 1) {
    if (method != "GET") return MethodNotAllowed(method, {"GET"});
    return Flaky(api, store, query);
  }
  return NotFound(fmt::format("no such endpoint: {}", path));
}

Response RouteUnchecked(const Request& req, ServeApi& api, store::Store& store,
                        RunTestsCache* cache) {
  const std::string_view target = req.target;
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  QueryParams query;
  if (question != std::string_view::npos && !ParseQuery(target.substr(question + 1), &query)) {
    return BadRequest("malformed query string");
  }
  if (path.empty() || path.front() != '/') return BadRequest("the target must be a path");
  const std::string_view method = req.method;

  if (path == kApiPrefix || path.starts_with(std::string(kApiPrefix) + "/")) {
    return RouteApi(req, query, api, store, cache, path);
  }
  if (path == "/healthz") {
    if (method != "GET") return MethodNotAllowed(method, {"GET"});
    return JsonResponse(200, "{\"status\":\"ok\"}");
  }
  if (path == "/readyz") {
    if (method != "GET") return MethodNotAllowed(method, {"GET"});
    if (api.Ready()) return JsonResponse(200, "{\"status\":\"ready\"}");
    std::string body = "{\"status\":\"not ready\",\"reason\":";
    AppendJsonString(body, api.NotReadyReason());
    body += '}';
    return JsonResponse(503, std::move(body));
  }
  if (path == "/metrics") {
    if (method != "GET") return MethodNotAllowed(method, {"GET"});
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = api.Metrics();
    return r;
  }
  if (const EmbeddedFile* file = FindWebFile(path)) {
    if (method != "GET") return MethodNotAllowed(method, {"GET"});
    return WebFileResponse(req, *file);
  }
  return NotFound(fmt::format("no such endpoint: {}", path));
}

}  // namespace

const std::string* FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

std::string_view Request::Header(std::string_view name) const {
  const std::string* value = FindHeader(headers, name);
  return value == nullptr ? std::string_view() : std::string_view(*value);
}

std::string Response::FullBody() const {
  std::string out = body;
  if (shared_body) out += *shared_body;
  return out;
}

std::size_t Response::BodySize() const {
  return body.size() + (shared_body ? shared_body->size() : 0);
}

bool AcceptsGzip(std::string_view accept_encoding) {
  // Accept-Encoding = #( codings [ ";" "q=" qvalue ] ), e.g. "gzip, deflate;q=0.5".
  constexpr std::string_view kSpace = " \t";
  auto trim = [&](std::string_view s) {
    const std::size_t b = s.find_first_not_of(kSpace);
    if (b == std::string_view::npos) return std::string_view();
    return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
  };
  auto iequals = [](std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) ==
             std::tolower(static_cast<unsigned char>(y));
    });
  };
  while (!accept_encoding.empty()) {
    const std::size_t comma = accept_encoding.find(',');
    std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    const std::size_t semi = item.find(';');
    const std::string_view coding = trim(item.substr(0, semi));
    if (!iequals(coding, "gzip") && !iequals(coding, "x-gzip")) continue;
    bool refused = false;  // q=0 (q=0.0, q=0.000) means "not acceptable"
    for (std::string_view params = semi == std::string_view::npos ? std::string_view()
                                                                   : item.substr(semi + 1);
         !params.empty();) {
      const std::size_t next = params.find(';');
      const std::string_view param = trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      if (param.size() < 2 || !iequals(param.substr(0, 2), "q=")) continue;
      const std::string_view q = trim(param.substr(2));
      refused = !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
    }
    if (!refused) return true;
  }
  return false;
}

std::string GzipCompress(std::initializer_list<std::string_view> parts, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::size_t total = 0;
  for (const std::string_view part : parts) total += part.size();
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(total)) + 64);
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  // Runs deflate until `done`, growing `out` should deflateBound ever fall short.
  auto run = [&](int flush, auto done) {
    for (;;) {
      if (zs.avail_out == 0) {
        const std::size_t used = zs.total_out;
        out.resize(out.size() * 2);
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
        zs.avail_out = static_cast<uInt>(out.size() - used);
      }
      const int rc = deflate(&zs, flush);
      if (rc == Z_STREAM_ERROR) return false;
      if (done(rc)) return true;
    }
  };
  bool ok = true;
  for (const std::string_view part : parts) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    zs.avail_in = static_cast<uInt>(part.size());
    ok = ok && run(Z_NO_FLUSH, [&](int) { return zs.avail_in == 0; });
  }
  ok = ok && run(Z_FINISH, [](int rc) { return rc == Z_STREAM_END; });
  const std::size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (!ok) throw std::runtime_error("deflate failed");
  out.resize(produced);
  return out;
}

std::size_t RunTestsCache::Entry::Bytes() const {
  return (tail ? tail->size() : 0) + (gzip ? gzip->head.size() + gzip->gzip.size() : 0);
}

RunTestsCache::RunTestsCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

std::shared_ptr<const std::string> RunTestsCache::Get(std::int64_t run_id) {
  std::lock_guard lock(mu_);
  const auto it = index_.find(run_id);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->tail;
}

void RunTestsCache::Put(std::int64_t run_id, std::shared_ptr<const std::string> tail) {
  if (!tail || tail->size() > max_bytes_) return;
  std::lock_guard lock(mu_);
  if (const auto it = index_.find(run_id); it != index_.end()) {
    bytes_ -= it->second->Bytes();
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(Entry{run_id, std::move(tail), nullptr});
  bytes_ += lru_.front().Bytes();
  index_[run_id] = lru_.begin();
  EvictLocked();
}

std::shared_ptr<const GzipBody> RunTestsCache::GetGzip(std::int64_t run_id) {
  std::lock_guard lock(mu_);
  const auto it = index_.find(run_id);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->gzip;
}

void RunTestsCache::PutGzip(std::int64_t run_id, std::shared_ptr<const GzipBody> gzip) {
  std::lock_guard lock(mu_);
  const auto it = index_.find(run_id);
  if (it == index_.end()) return;
  Entry& entry = *it->second;
  const std::size_t tail_bytes = entry.tail ? entry.tail->size() : 0;
  if (gzip && tail_bytes + gzip->head.size() + gzip->gzip.size() > max_bytes_) gzip = nullptr;
  bytes_ -= entry.Bytes();
  entry.gzip = std::move(gzip);
  bytes_ += entry.Bytes();
  lru_.splice(lru_.begin(), lru_, it->second);
  EvictLocked();
}

void RunTestsCache::EvictLocked() {
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    bytes_ -= lru_.back().Bytes();
    index_.erase(lru_.back().run_id);
    lru_.pop_back();
  }
}

std::size_t RunTestsCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

std::size_t RunTestsCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

Response ErrorResponse(int status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  r.body = "{\"error\":{\"code\":";
  AppendJsonString(r.body, code);
  r.body += ",\"message\":";
  AppendJsonString(r.body, message);
  r.body += "}}";
  return r;
}

namespace {

// JSON bodies this large are gzipped for clients that accept it (a suite's history, a long
// list of runs); smaller ones are not worth the CPU.
constexpr std::size_t kGzipJsonAbove = 16 * 1024;
constexpr int kGzipJsonLevel = 1;  // fast: JSON still shrinks about tenfold

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

Response Route(const Request& req, ServeApi& api, store::Store& store, RunTestsCache* cache) {
  try {
    Response r = RouteUnchecked(req, api, store, cache);
    GzipLargeJson(req, r);
    return r;
  } catch (const std::exception& e) {
    return ErrorResponse(500, "internal", e.what());
  } catch (...) {
    return ErrorResponse(500, "internal", "unexpected error");
  }
}

bool IsRunFinishedEvent(const store::RunEvent& event) {
  if (event.type != "run") return false;
  boost::system::error_code ec;
  const json::value data = json::parse(event.data, ec);
  if (ec || !data.is_object()) return false;
  const json::value* status = data.as_object().if_contains("status");
  if (status == nullptr || !status->is_string()) return false;
  store::RunStatus parsed;
  return store::ParseRunStatus(status->as_string(), &parsed) && store::IsFinished(parsed);
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      *out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      *out += ' ';
    } else {
      *out += c;
    }
  }
  return true;
}

}  // namespace handoff::http
