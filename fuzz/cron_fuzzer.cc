// Cron specs and time zones (src/engine/cron.h), as schedules created through the API give
// them. The input is "spec" or "spec\ntime zone". A spec that parses fires at strictly
// increasing times.

#include <chrono>
#include <string>

#include "engine/cron.h"
#include "fuzz/fuzz_target.h"

HANDOFF_FUZZ_TARGET(cron) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  const std::size_t newline = input.find('\n');
  const std::string_view spec = input.substr(0, newline);
  const std::string_view zone =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  (void)TimeZoneError(zone);
  std::string error;
  const std::optional<CronSchedule> schedule = CronSchedule::Parse(spec, zone, &error);
  if (!schedule) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  // 2026-03-29 00:30 UTC: a DST change in Europe the same night.
  CronSchedule::TimePoint after{std::chrono::seconds(1774744200)};
  for (int i = 0; i < 3; ++i) {
    const std::optional<CronSchedule::TimePoint> next = schedule->Next(after);
    if (!next) break;
    FUZZ_CHECK(*next > after);
    after = *next;
  }
  return 0;
}
