#include "engine/schedule_book.h"

#include <gtest/gtest.h>

#include <chrono>

namespace handoff {
namespace {

using std::chrono::seconds;
using TimePoint = ScheduleBook::TimePoint;

TimePoint At(std::int64_t unix_seconds) { return TimePoint(seconds(unix_seconds)); }

// 2026-11-23T10:00:00Z
constexpr std::int64_t kStart = 1795428000;

ScheduleInfo Info(std::string name, std::string spec) {
  ScheduleInfo info;
  info.name = std::move(name);
  info.suite = "Checkout";
  info.spec = std::move(spec);
  return info;
}

TEST(ScheduleBook, FiresAtEachDueTimeAndMovesOn) {
  ScheduleBook book;
  std::string error;
  ASSERT_TRUE(book.Add(Info("every", "@every 30s"), At(kStart), &error)) << error;
  ASSERT_TRUE(book.NextWake().has_value());
  EXPECT_EQ(*book.NextWake(), At(kStart + 30));
  EXPECT_TRUE(book.Due(At(kStart + 29)).empty());
  auto due = book.Due(At(kStart + 30));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].schedule.name, "every");
  EXPECT_EQ(due[0].due, At(kStart + 30));
  EXPECT_EQ(*book.NextWake(), At(kStart + 60));
}

TEST(ScheduleBook, MissedFiringsFireOnceNotOncePerMiss) {
  ScheduleBook book;
  std::string error;
  ASSERT_TRUE(book.Add(Info("minutely", "* * * * *"), At(kStart), &error)) << error;
  // The server was busy (or down) for ten minutes.
  auto due = book.Due(At(kStart + 600 + 5));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].due, At(kStart + 60));
  EXPECT_EQ(*book.NextWake(), At(kStart + 660));
}

TEST(ScheduleBook, PausedSchedulesDoNotFireAndResumeFromNow) {
  ScheduleBook book;
  std::string error;
  ASSERT_TRUE(book.Add(Info("hourly", "@hourly"), At(kStart), &error)) << error;
  ASSERT_TRUE(book.SetPaused("hourly", true, At(kStart)));
  EXPECT_FALSE(book.NextWake().has_value());
  EXPECT_TRUE(book.Due(At(kStart + 7200)).empty());
  EXPECT_EQ(book.List()[0].next_run_ns, 0);
  ASSERT_TRUE(book.SetPaused("hourly", false, At(kStart + 7200 + 10)));
  EXPECT_EQ(*book.NextWake(), At(kStart + 3 * 3600));
}

TEST(ScheduleBook, TimingsGiveTheNextFiringAndTheLongestGapOfUnpausedSchedules) {
  ScheduleBook book;
  std::string error;
  ASSERT_TRUE(book.Add(Info("every", "@every 30s"), At(kStart), &error)) << error;
  // Weekdays at 09:00: the longest gap is the weekend's, Friday to Monday.
  ASSERT_TRUE(book.Add(Info("weekdays", "0 9 * * 1-5"), At(kStart), &error)) << error;
  ASSERT_TRUE(book.Add(Info("paused", "@hourly"), At(kStart), &error)) << error;
  ASSERT_TRUE(book.SetPaused("paused", true, At(kStart)));
  const std::vector<ScheduleBook::Timing> timings = book.Timings();
  ASSERT_EQ(timings.size(), 2u);
  EXPECT_EQ(timings[0].name, "every");
  EXPECT_EQ(timings[0].suite, "Checkout");
  EXPECT_EQ(timings[0].next, At(kStart + 30));
  EXPECT_EQ(timings[0].longest_gap, seconds(30));
  EXPECT_EQ(timings[1].name, "weekdays");
  EXPECT_EQ(timings[1].next, At(kStart - 3600 + 24 * 3600));  // Tuesday 09:00
  EXPECT_EQ(timings[1].longest_gap, std::chrono::hours(72));
  ASSERT_TRUE(book.SetPaused("paused", false, At(kStart)));
  EXPECT_EQ(book.Timings().size(), 3u);
}

TEST(ScheduleBook, RejectsBadSpecsZonesAndDuplicateNames) {
  ScheduleBook book;
  std::string error;
  EXPECT_FALSE(book.Add(Info("bad", "61 * * * *"), At(kStart), &error));
  EXPECT_NE(error.find("spec:"), std::string::npos) << error;
  ScheduleInfo zoned = Info("zoned", "@daily");
  zoned.time_zone = "Mars/Olympus";
  EXPECT_FALSE(book.Add(zoned, At(kStart), &error));
  // Reported under the field that is wrong, not under spec.
  EXPECT_TRUE(error.starts_with("time_zone: unknown time zone \"Mars/Olympus\"")) << error;
  EXPECT_FALSE(book.Add(Info("", "@daily"), At(kStart), &error));
  EXPECT_EQ(error, "name: must not be empty");
  ASSERT_TRUE(book.Add(Info("once", "@daily"), At(kStart), &error)) << error;
  EXPECT_FALSE(book.Add(Info("once", "@hourly"), At(kStart), &error));
  EXPECT_NE(error.find("already exists"), std::string::npos) << error;
}

TEST(ScheduleBook, NamesAreBoundedWithoutSlashesOrControlCharacters) {
  ScheduleBook book;
  std::string error;
  EXPECT_FALSE(book.Add(Info("nightly/eu", "@daily"), At(kStart), &error));
  EXPECT_EQ(error, "name: \"nightly/eu\" may not contain '/'");
  EXPECT_FALSE(book.Add(Info(std::string(kMaxScheduleNameLength + 1, 'n'), "@daily"), At(kStart),
                        &error));
  EXPECT_EQ(error, "name: at most 100 characters, got 101");
  EXPECT_FALSE(book.Add(Info("night\nly", "@daily"), At(kStart), &error));
  EXPECT_EQ(error, "name: may not contain control characters");
  EXPECT_FALSE(book.Add(Info("del\x7f", "@daily"), At(kStart), &error));
  EXPECT_TRUE(book.List().empty());
  ASSERT_TRUE(book.Add(Info(std::string(kMaxScheduleNameLength, 'n'), "@daily"), At(kStart),
                       &error))
      << error;
  ASSERT_TRUE(book.Add(Info("nächtlich check-1.2_x", "@daily"), At(kStart), &error)) << error;
  EXPECT_EQ(book.List().size(), 2u);
}

TEST(ScheduleBook, TimeZonesShiftCronTimes) {
  ScheduleBook book;
  std::string error;
  ScheduleInfo paris = Info("paris", "0 9 * * *");
  paris.time_zone = "Europe/Paris";
  ASSERT_TRUE(book.Add(paris, At(kStart), &error)) << error;
  // 09:00 in Paris in November is 08:00 UTC, the next day (it is 10:00 UTC now).
  EXPECT_EQ(*book.NextWake(), At(kStart + 22 * 3600));
}

TEST(ScheduleBook, RemoveAndLastRun) {
  ScheduleBook book;
  std::string error;
  ASSERT_TRUE(book.Add(Info("a", "@hourly"), At(kStart), &error));
  book.SetLastRun("a", 42);
  EXPECT_EQ(book.Find("a")->last_run_id, 42);
  EXPECT_TRUE(book.Remove("a"));
  EXPECT_FALSE(book.Remove("a"));
  EXPECT_EQ(book.Find("a"), nullptr);
}

}  // namespace
}  // namespace handoff
