// Runs: triggering one (POST /api/v1/suites/{suite}/runs), listing, reading one with its
// tests (gzip and a cache for finished runs), one test with its attempts, cancel, retry,
// the stored report, and the live stream of events.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duration/duration.h"
#include "engine/stored_report.h"
#include "http/json_input.h"
#include "http/routes.h"
#include "store/run_json.h"

namespace handoff::http {
namespace {

constexpr int kDefaultRunsLimit = 50;
constexpr int kMaxRunsLimit = 500;
constexpr std::size_t kMaxIdempotencyKey = 256;
// The gzip level of finished runs' bodies: compressed once per run (and header change),
// then served from the cache.
constexpr int kGzipLevel = 6;

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

}  // namespace

Response RunResponse(int status, const store::Run& run, store::Store& store,
                     RunTestsCache* cache, bool gzip) {
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

namespace {


std::optional<std::int64_t> ParseNonNegative(std::string_view text) {
  if (text == "0") return 0;
  return ParsePositiveId(text);
}

}  // namespace

std::optional<bool> ReadRunField(BodyFields& body, std::size_t i, RunRequest& run) {
  const std::string_view name = body.name(i);
  if (name == "filter") return body.String(i, &run.filter);
  if (name == "labels") return body.StringMap(i, &run.labels);
  if (name == "params") return body.StringMap(i, &run.params);
  if (name == "reference") return body.String(i, &run.reference);
  if (name == "initiated_by") return body.String(i, &run.initiated_by);
  if (name == "tests") return body.StringArray(i, &run.tests);
  if (name == "hold_on_failure") return body.Bool(i, &run.hold_on_failure);
  if (name == "max_attempts") {
    std::int64_t attempts = 0;
    if (!body.Int(i, &attempts)) return false;
    if (attempts < 1 || attempts > 1000) return body.Invalid(i, "must be between 1 and 1000");
    run.max_attempts = static_cast<int>(attempts);
    return true;
  }
  if (name == "timeout") {
    std::optional<std::chrono::milliseconds> timeout = ReadDurationField(body, i);
    if (!timeout) return false;
    run.timeout_ms = timeout->count();
    return true;
  }
  if (name == "trigger") {
    std::string text;
    if (!body.String(i, &text)) return false;
    if (text == "api") {
      run.trigger = store::Trigger::kApi;
    } else if (text == "ui") {
      run.trigger = store::Trigger::kUi;
    } else if (text == "cli") {
      run.trigger = store::Trigger::kCli;
    } else {
      return body.Invalid(i, "must be \"api\", \"ui\" or \"cli\"");
    }
    return true;
  }
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> ReadDurationField(BodyFields& body, std::size_t i) {
  std::string text;
  if (!body.String(i, &text)) return std::nullopt;
  const auto duration = ParseDuration(text);
  if (!duration || *duration < std::chrono::milliseconds(1)) {
    body.Invalid(i, "must be a duration of at least 1ms, like \"30s\" or \"5m\"");
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
}

void SetCaller(const RouteContext& ctx, RunRequest& run) {
  // Authenticated, the caller is who the server identified; what the body says is kept
  // beside it, shown and never trusted.
  if (ctx.who != nullptr) {
    run.on_behalf_of = std::move(run.initiated_by);
    run.initiated_by = ctx.who->name;
  }
}

Response TriggerRun(const RouteContext& ctx) {
  const Request& req = ctx.req;
  RunRequest run;
  run.suite = ctx.params.Get("suite");
  run.trigger = store::Trigger::kApi;
  const std::string_view key = req.Header("Idempotency-Key");
  if (key.size() > kMaxIdempotencyKey) {
    return BadRequest(fmt::format("Idempotency-Key is longer than {} bytes", kMaxIdempotencyKey));
  }
  run.idempotency_key = std::string(key);
  if (run.idempotency_key.starts_with("hunt-")) {
    // The keys of hunts' runs (one per step of a hunt): a client's run under one would
    // take a hunt's step.
    return BadRequest("Idempotency-Key: keys starting with \"hunt-\" are the server's own");
  }

  BodyFields body(req.body);
  if (!body.error().empty()) return BadRequest(body.error());
  for (std::size_t i = 0; i < body.size(); ++i) {
    const std::optional<bool> read = ReadRunField(body, i, run);
    const bool ok = read ? *read : body.Unknown(i);
    if (!ok) return BadRequest(body.error());
  }
  SetCaller(ctx, run);
  const Result<TriggeredRun> result = ctx.api.Trigger(run);
  if (!result.ok()) return FromError(result.error());
  Response r = RunResponse(result->created ? 201 : 200, result->run, ctx.store, ctx.cache);
  r.headers.emplace_back("Location", fmt::format("{}/runs/{}", kApiPrefix, result->run.id));
  return r;
}

Response ListRuns(const RouteContext& ctx) {
  const QueryParams& query = ctx.query;
  store::RunQuery q;
  q.limit = kDefaultRunsLimit;
  if (const std::string* v = QueryValue(query, "suite")) q.suite = *v;
  if (const std::string* v = QueryValue(query, "reference")) q.reference = *v;
  if (const std::string* v = QueryValue(query, "hunt"); v != nullptr && !v->empty()) {
    const std::optional<std::int64_t> hunt = ParsePositiveId(*v);
    if (!hunt) return BadRequest(fmt::format("hunt \"{}\" is not a hunt id", *v));
    q.hunt_id = *hunt;
  }
  if (const std::string* v = QueryValue(query, "status"); v != nullptr && !v->empty()) {
    store::RunStatus status;
    if (!store::ParseRunStatus(*v, &status)) {
      return BadRequest(fmt::format(
          "status \"{}\" is not one of queued, running, held, passed, failed, cancelled, error",
          *v));
    }
    q.status = status;
  }
  if (const std::string* v = QueryValue(query, "limit"); v != nullptr && !v->empty()) {
    const std::optional<std::int64_t> limit = ParsePositiveId(*v);
    if (!limit) {
      return BadRequest(fmt::format("limit \"{}\" must be an integer from 1 to {}", *v,
                                    kMaxRunsLimit));
    }
    q.limit = static_cast<int>(std::min<std::int64_t>(*limit, kMaxRunsLimit));
  }
  if (const std::string* v = QueryValue(query, "cursor"); v != nullptr && !v->empty()) {
    const std::optional<std::int64_t> cursor = ParsePositiveId(*v);
    if (!cursor) return BadRequest(fmt::format("cursor \"{}\" is not a run id", *v));
    q.before_id = *cursor;
  }
  const int limit = q.limit;
  q.limit = limit + 1;  // one more tells whether there is a next page
  std::vector<store::Run> runs = ctx.store.ListRuns(q);
  const bool more = static_cast<int>(runs.size()) > limit;
  if (more) runs.resize(static_cast<std::size_t>(limit));
  std::string out = "{\"runs\":[";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i > 0) out += ',';
    store::AppendRunJson(out, runs[i], nullptr);
  }
  out += ']';
  AppendNextCursor(out, more && !runs.empty() ? runs.back().id : 0);
  out += '}';
  return JsonResponse(200, std::move(out));
}

Response GetRun(const RouteContext& ctx) {
  const std::optional<store::Run> run = ctx.store.GetRun(ctx.params.Id("run"));
  if (!run) return NoSuchRun(ctx.params.Id("run"));
  Response r = RunResponse(200, *run, ctx.store, ctx.cache,
                           AcceptsGzip(ctx.req.Header("Accept-Encoding")));
  r.headers.emplace_back("Vary", "Accept-Encoding");
  return r;
}

Response GetTest(const RouteContext& ctx) {
  const std::optional<store::Run> run = ctx.store.GetRun(ctx.params.Id("run"));
  if (!run) return NoSuchRun(ctx.params.Id("run"));
  // Everything after ".../tests/" is the test name: subtests have '/' in their names. It is
  // decoded only now, so that a test of a run that does not exist is 404 whatever its name.
  std::string name;
  if (!PercentDecode(ctx.params.Get("test"), false, &name)) {
    return BadRequest("malformed test name in the path");
  }
  if (name.empty()) return NotFound("empty test name");
  const std::vector<store::TestRow> tests = ctx.store.GetTests(run->id);
  const auto it = std::find_if(tests.begin(), tests.end(),
                               [&](const store::TestRow& t) { return t.name == name; });
  if (it == tests.end()) {
    return NotFound(fmt::format("run {} has no test named \"{}\"", run->id, name));
  }
  std::string out = fmt::format("{{\"run_id\":{},\"test\":", run->id);
  store::AppendTestRowJson(out, *it);
  out += ",\"attempts\":[";
  const std::vector<store::Attempt> attempts = ctx.store.GetAttempts(run->id, name);
  // The test's attachments, of every attempt: each attempt lists its own.
  const Result<std::vector<store::AttachmentInfo>> attachments =
      ctx.store.ListAttachments(run->id, name);
  if (!attachments.ok()) return FromError(attachments.error());
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    if (i > 0) out += ',';
    store::AppendAttemptJson(out, attempts[i], ctx.api.LinksOf(*run, attempts[i]), *attachments,
                             run->id);
  }
  out += "]}";
  return JsonResponse(200, std::move(out));
}

Response RunDeliveries(const RouteContext& ctx) {
  const std::optional<store::Run> run = ctx.store.GetRun(ctx.params.Id("run"));
  if (!run) return NoSuchRun(ctx.params.Id("run"));
  std::string out = fmt::format("{{\"run_id\":{},\"deliveries\":[", run->id);
  bool first = true;
  for (const store::Delivery& d : ctx.store.RunDeliveries(run->id)) {
    if (!first) out += ',';
    first = false;
    out += "{\"id\":";
    AppendJsonString(out, d.id);
    out += ",\"plugin\":";
    AppendJsonString(out, d.plugin);
    out += ",\"destination\":";
    AppendJsonString(out, d.destination);
    out += ",\"target\":";
    AppendJsonString(out, d.target);
    out += ",\"event\":";
    AppendJsonString(out, d.event);
    out += ",\"state\":";
    AppendJsonString(out, store::DeliveryStateName(d.state));
    out += fmt::format(",\"attempts\":{},\"last_error\":", d.attempts);
    AppendJsonString(out, d.last_error);
    out += ",\"created_at\":";
    store::AppendTimeJson(out, d.created_at_ns);
    out += ",\"next_attempt_at\":";
    store::AppendTimeJson(out, d.state == store::DeliveryState::kPending ? d.next_attempt_at_ns : 0);
    out += ",\"finished_at\":";
    store::AppendTimeJson(out, d.finished_at_ns);
    out += '}';
  }
  out += "]}";
  return JsonResponse(200, std::move(out));
}

Response CancelRun(const RouteContext& ctx) {
  const Result<store::Run> run = ctx.api.Cancel(ctx.params.Id("run"));
  if (!run.ok()) return FromError(run.error());
  return RunResponse(200, *run, ctx.store, ctx.cache);
}

Response ReleaseRun(const RouteContext& ctx) {
  const Result<store::Run> run = ctx.api.Release(ctx.params.Id("run"));
  if (!run.ok()) return FromError(run.error());
  return RunResponse(200, *run, ctx.store, ctx.cache);
}

Response RetryRun(const RouteContext& ctx) {
  bool only_failed = false;
  std::string initiated_by;
  BodyFields body(ctx.req.body);
  if (!body.error().empty()) return BadRequest(body.error());
  for (std::size_t i = 0; i < body.size(); ++i) {
    const std::string_view name = body.name(i);
    bool ok = true;
    if (name == "only_failed") {
      ok = body.Bool(i, &only_failed);
    } else if (name == "initiated_by") {
      ok = body.String(i, &initiated_by);
    } else {
      ok = body.Unknown(i);
    }
    if (!ok) return BadRequest(body.error());
  }
  std::string on_behalf_of;
  if (ctx.who != nullptr) {
    on_behalf_of = std::move(initiated_by);
    initiated_by = ctx.who->name;
  }
  const Result<store::Run> run =
      ctx.api.Retry(ctx.params.Id("run"), only_failed, initiated_by, on_behalf_of);
  if (!run.ok()) return FromError(run.error());
  Response r = RunResponse(201, *run, ctx.store, ctx.cache);
  r.headers.emplace_back("Location", fmt::format("{}/runs/{}", kApiPrefix, run->id));
  return r;
}

Response RunReport(const RouteContext& ctx) {
  const std::optional<store::Run> run = ctx.store.GetRun(ctx.params.Id("run"));
  if (!run) return NoSuchRun(ctx.params.Id("run"));
  const std::string* format_param = QueryValue(ctx.query, "format");
  const std::string format = format_param == nullptr || format_param->empty() ? "json"
                                                                              : *format_param;
  if (format != "json" && format != "junit") {
    return BadRequest(fmt::format("format \"{}\" is not json or junit", format));
  }
  Response r;
  if (!RenderStoredReport(*run, ctx.store.GetTests(run->id), ctx.store.GetAllAttempts(run->id),
                          format, &r.body)) {
    return BadRequest(fmt::format("format \"{}\" is not json or junit", format));
  }
  const bool junit = format == "junit";
  r.content_type = junit ? "application/xml" : "application/x-ndjson";
  r.headers.emplace_back(
      "Content-Disposition",
      fmt::format("attachment; filename=\"run-{}.{}\"", run->id, junit ? "xml" : "json"));
  return r;
}

Response RunEvents(const RouteContext& ctx) {
  const std::optional<store::Run> run = ctx.store.GetRun(ctx.params.Id("run"));
  if (!run) return NoSuchRun(ctx.params.Id("run"));
  std::string_view last = ctx.req.Header("Last-Event-ID");
  if (last.empty()) {
    if (const std::string* v = QueryValue(ctx.query, "last_event_id")) last = *v;
  }
  std::int64_t after = 0;
  if (!last.empty()) {
    const std::optional<std::int64_t> parsed = ParseNonNegative(last);
    if (!parsed) return BadRequest(fmt::format("Last-Event-ID \"{}\" is not an event id", last));
    after = *parsed;
  }
  Response r;
  r.content_type = "text/event-stream";
  r.stream = EventStream{run->id, after, store::IsFinished(run->status)};
  return r;
}

}  // namespace handoff::http
