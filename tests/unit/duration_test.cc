#include "duration/duration.h"

#include <gtest/gtest.h>

#include <string>

#include "runner/runner.h"

namespace handoff {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, ParsesGoDurations) {
  EXPECT_EQ(ParseDuration("300ms"), std::chrono::nanoseconds(300ms));
  EXPECT_EQ(ParseDuration("1.5s"), std::chrono::nanoseconds(1500ms));
  EXPECT_EQ(ParseDuration("2m30s"), std::chrono::nanoseconds(150s));
  EXPECT_EQ(ParseDuration("1h"), std::chrono::nanoseconds(1h));
  EXPECT_EQ(ParseDuration("10us"), std::chrono::nanoseconds(10us));
  EXPECT_EQ(ParseDuration("10µs"), std::chrono::nanoseconds(10us));
  EXPECT_EQ(ParseDuration("0"), std::chrono::nanoseconds(0));
}

TEST(DurationTest, RejectsGarbage) {
  for (const char* bad : {"", "10", "s", "1.2.3s", "-1s", "10 s", "1d", "abc", "1e3s"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
}

// Found while writing fuzz/duration_fuzzer.cc (whose regression inputs replay it): std::stold
// threw std::out_of_range, which crashed a flag's parse and answered 500 to an API timeout.
TEST(DurationTest, RejectsNumbersOutOfRangeWithoutThrowing) {
  EXPECT_FALSE(ParseDuration(std::string(5000, '1') + "s"));
  EXPECT_FALSE(ParseDuration("0." + std::string(5000, '0') + "1ms"));
  EXPECT_EQ(ParseDuration(std::string(100, '0') + "1s"), std::chrono::nanoseconds(1s));
}

TEST(DurationTest, FormatsLikeGo) {
  EXPECT_EQ(FormatDuration(300ms), "300ms");
  EXPECT_EQ(FormatDuration(1500ms), "1.5s");
  EXPECT_EQ(FormatDuration(150s), "2m30s");
  EXPECT_EQ(FormatDuration(3600s), "1h0m0s");
  EXPECT_EQ(FormatDuration(250us), "250µs");
}

}  // namespace
}  // namespace handoff
