#pragma once

// The schedules of `serve` and when each fires next. Time is passed in, never read, so the
// firing rules are tested with an injected clock: the engine's scheduler thread asks for
// NextWake() and, once there, for Due(now).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/cron.h"
#include "engine/serve_api.h"

namespace handoff {

// The longest schedule name: it is shown in tables, URLs and metric labels.
inline constexpr std::size_t kMaxScheduleNameLength = 100;

// Returns what is wrong with a schedule name, prefixed "name: ", or empty if it is fine:
// not empty, at most kMaxScheduleNameLength bytes, no '/' (a schedule is addressed as
// /api/v1/schedules/{name}) and no control characters.
std::string ScheduleNameError(std::string_view name);

class ScheduleBook {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // Adds a schedule; its first firing is the first after `now`. Returns false and sets
  // *error for a bad name, spec or time zone (the message starts with the field's name),
  // or a name already taken.
  bool Add(const ScheduleInfo& info, TimePoint now, std::string* error);
  // Removes a schedule; false if there is none by that name.
  bool Remove(const std::string& name);
  // Pauses or resumes; a resumed schedule fires next at its first time after `now`.
  bool SetPaused(const std::string& name, bool paused, TimePoint now);
  // Records the run a schedule started last.
  void SetLastRun(const std::string& name, std::int64_t run_id);

  // The earliest next firing of an unpaused schedule, if any.
  std::optional<TimePoint> NextWake() const;

  // One firing that is due.
  struct Firing {
    ScheduleInfo schedule;  // with last_run_id: the run it started before
    TimePoint due;
  };
  // Returns the schedules due at `now` and moves each to its next time after `now`: a
  // schedule that missed several times (the server was down or busy) fires once, not once
  // per missed time.
  std::vector<Firing> Due(TimePoint now);

  // When an unpaused schedule fires next, and the longest time between two of its next
  // kGapFirings firings (an @every's period; a weekday cron's weekend): how long its suite
  // may go without a run before it has missed a firing.
  struct Timing {
    std::string name;
    std::string suite;
    TimePoint next;
    std::chrono::nanoseconds longest_gap;
  };
  static constexpr int kGapFirings = 16;
  std::vector<Timing> Timings() const;

  // Every schedule, in the order added, with next_run_ns filled in.
  std::vector<ScheduleInfo> List() const;
  const ScheduleInfo* Find(const std::string& name) const;

 private:
  struct Entry {
    ScheduleInfo info;
    CronSchedule cron;
    std::optional<TimePoint> next;
    std::chrono::nanoseconds longest_gap{0};
  };
  std::vector<Entry> entries_;
};

}  // namespace handoff
