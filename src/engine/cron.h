#pragma once

// Schedule specifications, as Go's robfig/cron and Vixie cron users write them:
//   "*/15 * * * *"          5 fields: minute hour day-of-month month day-of-week
//   "30 */5 * * * *"        6 fields: a seconds field first
//   "0 9 * * MON-FRI"       names (JAN-DEC, SUN-SAT), ranges, steps, lists, '?' for '*'
//   "@hourly" "@daily" "@midnight" "@weekly" "@monthly" "@yearly" "@annually"
//   "@every 30s"            a fixed interval (Go duration syntax, at least 1s), at its
//                           multiples since the Unix epoch (":00 and :30"), so that every
//                           server finds the same due times
// evaluated in an IANA time zone ("Europe/Paris"; UTC when empty). When both day fields
// are restricted, a day matches either (cron's rule). Local times skipped by a DST change
// fire at the change; repeated local times fire once.

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace handoff {

// Returns what is wrong with an IANA time zone name ("unknown time zone ..."), or empty if
// it names a zone (or is empty: UTC). Schedules report it under their `time_zone` field.
std::string TimeZoneError(std::string_view time_zone);

class CronSchedule {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // Parses `spec` in `time_zone`. On error returns nullopt and sets *error to a message
  // that names the faulty part ("minute field: 61 is out of range 0-59"). A spec that can
  // never fire ("0 0 30 2 *") is an error too.
  static std::optional<CronSchedule> Parse(std::string_view spec, std::string_view time_zone,
                                           std::string* error);

  // Returns the first time strictly after `after` at which the schedule fires, or nullopt
  // if there is none in the next five years.
  std::optional<TimePoint> Next(TimePoint after) const;

  const std::string& spec() const { return spec_; }
  const std::string& time_zone() const { return zone_name_; }

 private:
  CronSchedule() = default;
  bool DayMatches(int day_of_month, int day_of_week) const;

  std::string spec_;
  std::string zone_name_;
  const date::time_zone* zone_ = nullptr;
  std::chrono::seconds every_{0};  // non-zero for "@every"
  std::bitset<60> seconds_, minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> days_of_week_;    // 0 = Sunday
  bool any_day_of_month_ = true;   // the field was '*' or '?'
  bool any_day_of_week_ = true;
};

}  // namespace handoff
