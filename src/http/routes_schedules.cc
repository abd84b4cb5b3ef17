// Schedules: list, create, read, delete, pause and resume. Schedules declared in code are
// listed with the stored ones; the engine refuses to delete them.

#include <fmt/format.h>

#include <chrono>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/hunts.h"
#include "http/json_input.h"
#include "http/routes.h"
#include "json/json_writer.h"
#include "store/run_json.h"

namespace handoff::http {
namespace {

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

// The answer to pausing or resuming: the schedule as it is now.
Response SetPaused(const RouteContext& ctx, bool paused) {
  const std::string& name = ctx.params.Get("schedule");
  if (Result<void> changed = ctx.api.PauseSchedule(name, paused); !changed.ok()) {
    return FromError(changed.error());
  }
  if (std::optional<ScheduleInfo> info = FindSchedule(ctx.api, name)) {
    return ScheduleResponse(200, *info);
  }
  return NotFound(fmt::format("no schedule named \"{}\"", name));
}

}  // namespace

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
  out += ",\"hunt\":";
  if (s.hunt_repeat > 0 || s.hunt_max_duration_ms > 0) {
    fmt::format_to(std::back_inserter(out),
                   "{{\"repeat\":{},\"until_failure\":{},\"max_duration_ms\":{}}}",
                   s.hunt_repeat, s.hunt_until_failure, s.hunt_max_duration_ms);
  } else {
    out += "null";
  }
  out += '}';
}

Response ListSchedules(const RouteContext& ctx) {
  std::string out = "{\"schedules\":[";
  bool first = true;
  for (const ScheduleInfo& s : ctx.api.Schedules()) {
    if (!first) out += ',';
    first = false;
    AppendScheduleJson(out, s);
  }
  out += "]}";
  return JsonResponse(200, std::move(out));
}

Response CreateSchedule(const RouteContext& ctx) {
  ServeApi& api = ctx.api;
  store::StoredSchedule schedule;
  BodyFields body(ctx.req.body);
  if (!body.error().empty()) return BadRequest(body.error());
  for (std::size_t i = 0; i < body.size(); ++i) {
    const std::string_view name = body.name(i);
    bool ok = true;
    if (name == "name") {
      ok = body.String(i, &schedule.name);
    } else if (name == "suite") {
      ok = body.String(i, &schedule.suite);
    } else if (name == "spec") {
      ok = body.String(i, &schedule.spec);
    } else if (name == "time_zone") {
      ok = body.String(i, &schedule.time_zone);
    } else if (name == "filter") {
      ok = body.String(i, &schedule.filter);
    } else if (name == "paused") {
      ok = body.Bool(i, &schedule.paused);
    } else if (name == "hunt") {
      // {"repeat", "until_failure", "max_duration"}: the schedule starts hunts (issue 21).
      std::string text;
      ok = body.ObjectText(i, &text);
      if (ok && !text.empty()) {
        BodyFields hunt(text);
        for (std::size_t j = 0; j < hunt.size(); ++j) {
          const std::string_view field = hunt.name(j);
          bool read = true;
          if (field == "repeat") {
            std::int64_t repeat = 0;
            read = hunt.Int(j, &repeat);
            if (read && (repeat < 1 || repeat > kMaxHuntRepeat)) {
              read = hunt.Invalid(j, fmt::format("must be between 1 and {}", kMaxHuntRepeat));
            }
            schedule.hunt_repeat = static_cast<int>(repeat);
          } else if (field == "until_failure") {
            read = hunt.Bool(j, &schedule.hunt_until_failure);
          } else if (field == "max_duration") {
            const std::optional<std::chrono::milliseconds> d = ReadDurationField(hunt, j);
            read = d.has_value();
            if (read) schedule.hunt_max_duration_ms = d->count();
          } else {
            read = hunt.Unknown(j);
          }
          if (!read) return BadRequest("hunt: " + hunt.error());
        }
        if (schedule.hunt_repeat == 0 && schedule.hunt_max_duration_ms == 0) {
          return BadRequest("hunt: a hunt needs a limit: repeat, max_duration, or both");
        }
      }
    } else {
      ok = body.Unknown(i);
    }
    if (!ok) return BadRequest(body.error());
  }
  if (schedule.name.empty()) return BadRequest("field \"name\" is required");
  if (schedule.suite.empty()) return BadRequest("field \"suite\" is required");
  if (schedule.spec.empty()) return BadRequest("field \"spec\" is required");
  schedule.created_at_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  if (Result<void> created = api.CreateSchedule(schedule); !created.ok()) {
    return FromError(created.error());
  }
  if (std::optional<ScheduleInfo> info = FindSchedule(api, schedule.name)) {
    return ScheduleResponse(201, *info);
  }
  // Created but not listed (deleted concurrently): answer with what was asked.
  return ScheduleResponse(201, ToScheduleInfo(schedule));
}

Response GetSchedule(const RouteContext& ctx) {
  const std::string& name = ctx.params.Get("schedule");
  if (std::optional<ScheduleInfo> info = FindSchedule(ctx.api, name)) {
    return ScheduleResponse(200, *info);
  }
  return NotFound(fmt::format("no schedule named \"{}\"", name));
}

Response DeleteSchedule(const RouteContext& ctx) {
  if (Result<void> deleted = ctx.api.DeleteSchedule(ctx.params.Get("schedule"));
      !deleted.ok()) {
    return FromError(deleted.error());
  }
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

Response PauseSchedule(const RouteContext& ctx) { return SetPaused(ctx, true); }

Response ResumeSchedule(const RouteContext& ctx) { return SetPaused(ctx, false); }

}  // namespace handoff::http
