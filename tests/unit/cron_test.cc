#include "engine/cron.h"

#include <date/date.h>
#include <gtest/gtest.h>

namespace handoff {
namespace {

using namespace std::chrono;

CronSchedule Must(std::string_view spec, std::string_view zone = "") {
  std::string error;
  auto s = CronSchedule::Parse(spec, zone, &error);
  EXPECT_TRUE(s) << spec << ": " << error;
  return *s;
}

// A UTC instant.
system_clock::time_point At(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
  return date::sys_days(date::year(y) / mo / d) + hours(h) + minutes(mi) + seconds(s);
}

std::string Utc(std::optional<system_clock::time_point> t) {
  if (!t) return "never";
  return date::format("%F %T", floor<seconds>(*t));
}

TEST(CronTest, FiveAndSixFields) {
  EXPECT_EQ(Utc(Must("*/15 * * * *").Next(At(2026, 11, 23, 10, 7))), "2026-11-23 10:15:00");
  EXPECT_EQ(Utc(Must("*/15 * * * *").Next(At(2026, 11, 23, 10, 15))), "2026-11-23 10:30:00");
  EXPECT_EQ(Utc(Must("*/10 * * * * *").Next(At(2026, 11, 23, 10, 7, 41))), "2026-11-23 10:07:50");
  EXPECT_EQ(Utc(Must("0 30 9 * * *").Next(At(2026, 11, 23, 10, 0))), "2026-11-24 09:30:00");
  EXPECT_EQ(Utc(Must("5/20 * * * *").Next(At(2026, 11, 23, 10, 26))), "2026-11-23 10:45:00");
  EXPECT_EQ(Utc(Must("0 0 1,15 * *").Next(At(2026, 11, 23, 0, 0))), "2026-12-01 00:00:00");
  EXPECT_EQ(Utc(Must("0 12 * JAN,jul ?").Next(At(2026, 11, 23, 0, 0))), "2027-01-01 12:00:00");
}

TEST(CronTest, DaysOfWeekAndTheOrRule) {
  // 2026-11-27 is a Friday.
  EXPECT_EQ(Utc(Must("0 9 * * MON-FRI").Next(At(2026, 11, 27, 10, 0))), "2026-11-30 09:00:00");
  EXPECT_EQ(Utc(Must("0 9 * * 7").Next(At(2026, 11, 27, 10, 0))), "2026-11-29 09:00:00");
  EXPECT_EQ(Utc(Must("0 9 * * 0").Next(At(2026, 11, 27, 10, 0))), "2026-11-29 09:00:00");
  // Both day fields restricted: the 1st of the month or any Monday, whichever comes first.
  EXPECT_EQ(Utc(Must("0 0 1 * MON").Next(At(2026, 11, 23, 1, 0))), "2026-11-30 00:00:00");
  EXPECT_EQ(Utc(Must("0 0 1 * MON").Next(At(2026, 11, 30, 1, 0))), "2026-12-01 00:00:00");
}

TEST(CronTest, MacrosAndEvery) {
  EXPECT_EQ(Utc(Must("@hourly").Next(At(2026, 11, 23, 10, 7))), "2026-11-23 11:00:00");
  EXPECT_EQ(Utc(Must("@daily").Next(At(2026, 11, 23, 10, 7))), "2026-11-24 00:00:00");
  EXPECT_EQ(Utc(Must("@weekly").Next(At(2026, 11, 23, 10, 7))), "2026-11-29 00:00:00");
  EXPECT_EQ(Utc(Must("@monthly").Next(At(2026, 11, 23, 10, 7))), "2026-12-01 00:00:00");
  EXPECT_EQ(Utc(Must("@yearly").Next(At(2026, 11, 23, 10, 7))), "2027-01-01 00:00:00");
  // At the interval's multiples since the Unix epoch, whenever asked: every server finds
  // the same due times.
  EXPECT_EQ(Utc(Must("@every 90s").Next(At(2026, 11, 23, 10, 7))), "2026-11-23 10:07:30");
  EXPECT_EQ(Utc(Must("@every 90s").Next(At(2026, 11, 23, 10, 7) + std::chrono::seconds(29))),
            "2026-11-23 10:07:30");
  EXPECT_EQ(Utc(Must("@every 90s").Next(At(2026, 11, 23, 10, 7) + std::chrono::seconds(30))),
            "2026-11-23 10:09:00");
  EXPECT_EQ(Utc(Must("@every 1h30m").Next(At(2026, 11, 23, 10, 7))), "2026-11-23 10:30:00");
  EXPECT_EQ(Utc(Must("@every 30s").Next(At(2026, 11, 23, 10, 7))), "2026-11-23 10:07:30");
}

// Found by fuzz/cron (UBSan): an interval of centuries overflowed the time point, which
// wrapped into the past. Like a spec, it fires nowhere in the five years looked ahead.
TEST(CronTest, AnEveryBeyondFiveYearsNeverFires) {
  EXPECT_EQ(Utc(Must("@every 43800h").Next(At(2026, 11, 23, 10, 7))), "2029-12-17 00:00:00");
  EXPECT_FALSE(Must("@every 2500000h").Next(At(2026, 11, 23, 10, 7)).has_value());
  EXPECT_FALSE(Must("@every 1m44444430m").Next(At(2026, 11, 23, 10, 7)).has_value());
}

TEST(CronTest, TimeZonesFollowDaylightSaving) {
  // 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
  CronSchedule ny = Must("0 9 * * *", "America/New_York");
  EXPECT_EQ(Utc(ny.Next(At(2026, 11, 23, 15, 0))), "2026-11-24 14:00:00");
  EXPECT_EQ(Utc(ny.Next(At(2026, 7, 1, 15, 0))), "2026-07-02 13:00:00");
  // 2026-03-08: 02:00 jumps to 03:00. A job at 02:30 runs at the change, 07:00 UTC.
  EXPECT_EQ(Utc(Must("30 2 * * *", "America/New_York").Next(At(2026, 3, 8, 0, 0))),
            "2026-03-08 07:00:00");
  // 2026-11-01: 01:00-02:00 happens twice. A job at 01:30 runs once (05:30 UTC, EDT).
  CronSchedule fall = Must("30 1 * * *", "America/New_York");
  EXPECT_EQ(Utc(fall.Next(At(2026, 11, 1, 0, 0))), "2026-11-01 05:30:00");
  EXPECT_EQ(Utc(fall.Next(At(2026, 11, 1, 5, 30))), "2026-11-02 06:30:00");
  EXPECT_EQ(Utc(Must("0 0 * * *", "Asia/Kolkata").Next(At(2026, 11, 23, 10, 0))), "2026-11-23 18:30:00");
}

TEST(CronTest, BadSpecsAreClearErrors) {
  struct Case {
    const char* spec;
    const char* zone;
    const char* message;
  };
  for (const Case& c : {
           Case{"* * * *", "", "want 5 fields"},
           Case{"* * * * * * *", "", "got 7"},
           Case{"61 * * * *", "", "minute field: 61 is out of range 0-59"},
           Case{"* 24 * * *", "", "hour field: 24 is out of range 0-23"},
           Case{"* * 0 * *", "", "day-of-month field: 0 is out of range 1-31"},
           Case{"* * * 13 *", "", "month field: 13 is out of range 1-12"},
           Case{"* * * * FUNDAY", "", "day-of-week field: unknown name \"FUNDAY\""},
           Case{"*/0 * * * *", "", "step \"0\" must be a positive number"},
           Case{"10-5 * * * *", "", "range \"10-5\" runs backwards"},
           Case{"a * * * *", "", "minute field: \"a\" is not a number"},
           Case{"0 0 30 2 *", "", "never fires"},
           Case{"@fortnightly", "", "unknown macro"},
           Case{"@every 0s", "", "@every wants a duration of at least 1s"},
           Case{"@every soon", "", "@every wants a duration"},
           Case{"@daily", "Mars/Olympus_Mons", "unknown time zone \"Mars/Olympus_Mons\""},
       }) {
    std::string error;
    EXPECT_FALSE(CronSchedule::Parse(c.spec, c.zone, &error)) << c.spec;
    EXPECT_NE(error.find(c.message), std::string::npos) << c.spec << ": " << error;
  }
}

}  // namespace
}  // namespace handoff
