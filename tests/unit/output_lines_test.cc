#include "store/output_lines.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace handoff::store {
namespace {

TEST(OutputLinesTest, RoundTripsEveryKindAndField) {
  const std::vector<OutputLine> lines = {
      {.kind = LineKind::kSetupStarted, .time_ns = 90},
      {.kind = LineKind::kOutput, .time_ns = 100, .text = "plain\tline"},
      {.kind = LineKind::kLog, .time_ns = 250, .text = "a\nb", .file = "/src/a_test.cc", .line = 7},
      {.kind = LineKind::kLog, .time_ns = 240, .text = "same file", .file = "/src/a_test.cc", .line = 8},
      {.kind = LineKind::kFailure, .time_ns = 300, .text = std::string("nul\0", 4),
       .file = "b.cc", .line = -3, .key = "timeout", .soft = true},
      {.kind = LineKind::kSkip, .time_ns = -5, .text = "why"},
      {.kind = LineKind::kTeardownFinished, .time_ns = 400, .failed = true},
  };
  const std::string data = EncodeOutputLines(lines, 50);
  std::optional<std::vector<OutputLine>> back = DecodeOutputLines(data, 50);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, lines);
  // Times are relative: another base moves every line.
  back = DecodeOutputLines(data, 60);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)[1].time_ns, 110);
  EXPECT_TRUE(EncodeOutputLines({}, 0).empty());
  EXPECT_TRUE(DecodeOutputLines("", 0)->empty());
}

TEST(OutputLinesTest, CorruptDataIsRefused) {
  const std::string data =
      EncodeOutputLines({{.kind = LineKind::kLog, .time_ns = 1, .text = "x", .file = "f", .line = 1}}, 0);
  for (std::size_t cut = 1; cut < data.size(); ++cut) {
    EXPECT_FALSE(DecodeOutputLines(data.substr(0, cut), 0)) << cut;
  }
  EXPECT_FALSE(DecodeOutputLines(data + "x", 0));
  EXPECT_FALSE(DecodeOutputLines(std::string("\x01\x0f\x00\x00", 4), 0));  // unknown kind
}

TEST(OutputLinesTest, TextOfOlderAttemptsReadsAsOutputFailuresAndSkip) {
  const std::vector<OutputLine> lines = LinesFromText(
      "hello\nb_test.cc:3: flaked\nb_test.cc:9: skipped for now\nbye",
      {{"flaked", "/src/b_test.cc", 3}, {"never printed", "", 0}}, "b_test.cc:9: skipped for now",
      77);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], (OutputLine{.kind = LineKind::kOutput, .time_ns = 77, .text = "hello"}));
  EXPECT_EQ(lines[1].kind, LineKind::kFailure);
  EXPECT_EQ(lines[1].text, "flaked");
  EXPECT_EQ(lines[1].file, "/src/b_test.cc");
  EXPECT_EQ(lines[1].line, 3);
  EXPECT_EQ(lines[2].kind, LineKind::kSkip);
  EXPECT_EQ(ShownText(lines[2]), "b_test.cc:9: skipped for now");
  EXPECT_EQ(lines[3].text, "bye");
  EXPECT_EQ(lines[4].kind, LineKind::kFailure);
  EXPECT_EQ(lines[4].text, "never printed");
}

}  // namespace
}  // namespace handoff::store
