// Hunts (issue 21): start one, list them, read one with what its runs say of the failure
// rate, stop or cancel it. Its runs are listed by GET /api/v1/runs?hunt=ID.

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <string>

#include "engine/hunts.h"
#include "http/routes.h"
#include "json/json_writer.h"
#include "store/run_json.h"

namespace handoff::http {
namespace {

constexpr int kDefaultHuntsLimit = 50;
constexpr int kMaxHuntsLimit = 500;

void Field(std::string& out, const char* name) {
  if (out.back() != '{') out += ',';
  AppendJsonString(out, name);
  out += ':';
}

void AppendId(std::string& out, std::int64_t id) {
  if (id == 0) {
    out += "null";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", id);
  }
}

// The hunt object: its request, its state, its runs' counts and failure rate (hunts.h).
void AppendHuntJson(std::string& out, const store::Hunt& h,
                    const std::optional<store::HuntRuns>& runs) {
  out += '{';
  Field(out, "id");
  fmt::format_to(std::back_inserter(out), "{}", h.id);
  Field(out, "suite");
  AppendJsonString(out, h.suite);
  Field(out, "namespace");
  AppendJsonString(out, h.namespace_name);
  Field(out, "status");
  AppendJsonString(out, store::HuntStatusName(h.status));
  Field(out, "trigger");
  AppendJsonString(out, store::TriggerName(h.trigger));
  Field(out, "initiated_by");
  AppendJsonString(out, h.initiated_by);
  if (!h.on_behalf_of.empty()) {
    Field(out, "on_behalf_of");
    AppendJsonString(out, h.on_behalf_of);
  }
  Field(out, "reference");
  AppendJsonString(out, h.reference);
  Field(out, "schedule");
  AppendJsonString(out, h.schedule);
  Field(out, "filter");
  AppendJsonString(out, h.filter);
  Field(out, "tests");
  out += '[';
  for (std::size_t i = 0; i < h.tests.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, h.tests[i]);
  }
  out += ']';
  Field(out, "labels");
  store::AppendStringObjectJson(out, h.labels);
  // As a run's: a secret param's value is never shown.
  store::KeyValues shown = h.params;
  for (auto& [key, value] : shown) {
    if (std::find(h.secret_params.begin(), h.secret_params.end(), key) != h.secret_params.end()) {
      value = std::string(store::kRedacted);
    }
  }
  Field(out, "params");
  store::AppendStringObjectJson(out, shown);
  Field(out, "max_attempts");
  fmt::format_to(std::back_inserter(out), "{}", h.max_attempts);
  Field(out, "timeout_ms");
  fmt::format_to(std::back_inserter(out), "{}", h.timeout_ms);
  Field(out, "hold_on_failure");
  out += h.hold_on_failure ? "true" : "false";
  Field(out, "repeat");
  fmt::format_to(std::back_inserter(out), "{}", h.repeat);
  Field(out, "until_failure");
  out += h.until_failure ? "true" : "false";
  Field(out, "max_duration_ms");
  fmt::format_to(std::back_inserter(out), "{}", h.max_duration_ms);
  Field(out, "created_at");
  store::AppendTimeJson(out, h.created_at_ns);
  Field(out, "finished_at");
  store::AppendTimeJson(out, h.finished_at_ns);
  Field(out, "error");
  AppendJsonString(out, h.error);
  Field(out, "runs");
  if (!runs) {
    // The database could not count them: say so rather than show zeros.
    out += "null";
  } else {
    fmt::format_to(std::back_inserter(out),
                   "{{\"total\":{},\"unfinished\":{},\"passed\":{},\"failed\":{},"
                   "\"cancelled\":{},\"error\":{}}}",
                   runs->runs, runs->unfinished, runs->passed, runs->failed, runs->cancelled,
                   runs->errors);
  }
  Field(out, "first_failing_run");
  AppendId(out, runs ? runs->first_failed_run : 0);
  Field(out, "last_run");
  AppendId(out, runs ? runs->last_run : 0);
  Field(out, "failure_rate");
  if (!runs) {
    out += "null";
  } else {
    const FailureRate rate = HuntFailureRate(*runs);
    fmt::format_to(std::back_inserter(out),
                   "{{\"runs\":{},\"failures\":{},\"observed\":{:.6f},\"low\":{:.6f},"
                   "\"high\":{:.6f},\"confidence\":0.95}}",
                   rate.runs, rate.failures, rate.observed, rate.low, rate.high);
  }
  out += '}';
}

Response HuntResponse(int status, const store::Hunt& hunt, store::Store& store) {
  std::string out;
  AppendHuntJson(out, hunt, store.CountHuntRuns(hunt.id));
  return JsonResponse(status, std::move(out));
}

Response NoSuchHunt(std::int64_t id) {
  return NotFound(fmt::format("no hunt with id {}", id));
}

Response EndHunt(const RouteContext& ctx, bool cancel) {
  const std::string by = ctx.who != nullptr ? ctx.who->name : "a user";
  const Result<store::Hunt> hunt = ctx.api.StopHunt(ctx.params.Id("hunt"), cancel, by);
  if (!hunt.ok()) return FromError(hunt.error());
  return HuntResponse(200, *hunt, ctx.store);
}

}  // namespace

Response StartHunt(const RouteContext& ctx) {
  HuntRequest hunt;
  hunt.run.suite = ctx.params.Get("suite");
  hunt.run.trigger = store::Trigger::kApi;
  BodyFields body(ctx.req.body);
  if (!body.error().empty()) return BadRequest(body.error());
  for (std::size_t i = 0; i < body.size(); ++i) {
    const std::string_view name = body.name(i);
    bool ok = true;
    if (name == "repeat") {
      std::int64_t repeat = 0;
      ok = body.Int(i, &repeat);
      if (ok && (repeat < 1 || repeat > kMaxHuntRepeat)) {
        ok = body.Invalid(i, fmt::format("must be between 1 and {}", kMaxHuntRepeat));
      }
      hunt.repeat = static_cast<int>(repeat);
    } else if (name == "until_failure") {
      ok = body.Bool(i, &hunt.until_failure);
    } else if (name == "hold_on_failure") {
      ok = body.Bool(i, &hunt.hold_on_failure);
    } else if (name == "max_duration") {
      const std::optional<std::chrono::milliseconds> d = ReadDurationField(body, i);
      ok = d.has_value();
      if (ok) hunt.max_duration_ms = d->count();
    } else if (const std::optional<bool> read = ReadRunField(body, i, hunt.run)) {
      ok = *read;
    } else {
      ok = body.Unknown(i);
    }
    if (!ok) return BadRequest(body.error());
  }
  SetCaller(ctx, hunt.run);
  const Result<store::Hunt> started = ctx.api.StartHunt(hunt);
  if (!started.ok()) return FromError(started.error());
  Response r = HuntResponse(201, *started, ctx.store);
  r.headers.emplace_back("Location", fmt::format("{}/hunts/{}", kApiPrefix, started->id));
  return r;
}

Response ListHunts(const RouteContext& ctx) {
  store::HuntQuery q;
  if (const std::string* v = QueryValue(ctx.query, "suite")) q.suite = *v;
  if (const std::string* v = QueryValue(ctx.query, "schedule")) q.schedule = *v;
  if (const std::string* v = QueryValue(ctx.query, "status"); v != nullptr && !v->empty()) {
    store::HuntStatus status;
    if (!store::ParseHuntStatus(*v, &status)) {
      return BadRequest(fmt::format(
          "status \"{}\" is not one of running, passed, failed, stopped, cancelled, error", *v));
    }
    q.status = status;
  }
  int limit = kDefaultHuntsLimit;
  if (std::optional<Response> bad = IntParam(ctx.query, "limit", kDefaultHuntsLimit,
                                             kMaxHuntsLimit, &limit)) {
    return *bad;
  }
  if (const std::string* v = QueryValue(ctx.query, "cursor"); v != nullptr && !v->empty()) {
    const std::optional<std::int64_t> cursor = ParsePositiveId(*v);
    if (!cursor) return BadRequest(fmt::format("cursor \"{}\" is not a hunt id", *v));
    q.before_id = *cursor;
  }
  q.limit = limit + 1;  // one more tells whether there is a next page
  std::vector<store::Hunt> hunts = ctx.store.ListHunts(q);
  const bool more = static_cast<int>(hunts.size()) > limit;
  if (more) hunts.resize(static_cast<std::size_t>(limit));
  std::string out = "{\"hunts\":[";
  for (std::size_t i = 0; i < hunts.size(); ++i) {
    if (i > 0) out += ',';
    AppendHuntJson(out, hunts[i], ctx.store.CountHuntRuns(hunts[i].id));
  }
  out += ']';
  AppendNextCursor(out, more && !hunts.empty() ? hunts.back().id : 0);
  out += '}';
  return JsonResponse(200, std::move(out));
}

Response GetHunt(const RouteContext& ctx) {
  const std::optional<store::Hunt> hunt = ctx.store.GetHunt(ctx.params.Id("hunt"));
  if (!hunt) return NoSuchHunt(ctx.params.Id("hunt"));
  return HuntResponse(200, *hunt, ctx.store);
}

Response StopHunt(const RouteContext& ctx) { return EndHunt(ctx, false); }
Response CancelHunt(const RouteContext& ctx) { return EndHunt(ctx, true); }

}  // namespace handoff::http
