// ReadLines (src/workload/internal.h): the line reader of a runnable's output and of the
// reaper's pipe.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "workload/internal.h"

namespace handoff::workload {
namespace {

// Writes `pieces` one write at a time into a pipe, closes it, and reads it with ReadLines.
std::vector<std::string> ReadPieces(const std::vector<std::string>& pieces, std::string* rest) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    for (const std::string& piece : pieces) {
      EXPECT_EQ(::write(fds[1], piece.data(), piece.size()),
                static_cast<ssize_t>(piece.size()));
    }
    ::close(fds[1]);
  });
  std::vector<std::string> lines;
  *rest = ReadLines(fds[0], [&](std::string_view line) { lines.emplace_back(line); });
  writer.join();
  ::close(fds[0]);
  return lines;
}

TEST(ReadLinesTest, GivesEachLineOnceWhateverTheReadsCutAndReturnsTheRest) {
  std::string rest;
  const std::vector<std::string> lines =
      ReadPieces({"first\nsec", "ond\n", "\n", "third\nfour", "th"}, &rest);
  EXPECT_EQ(lines, (std::vector<std::string>{"first", "second", "", "third"}));
  EXPECT_EQ(rest, "fourth");
}

TEST(ReadLinesTest, ReturnsNothingAfterAFinalNewline) {
  std::string rest = "unset";
  EXPECT_EQ(ReadPieces({"a\nb\n"}, &rest), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(rest, "");
  EXPECT_TRUE(ReadPieces({}, &rest).empty());
  EXPECT_EQ(rest, "");
}

TEST(ReadLinesTest, KeepsLinesLongerThanOneRead) {
  const std::string longer(20000, 'x');
  std::string rest;
  EXPECT_EQ(ReadPieces({longer + "\nend\n"}, &rest), (std::vector<std::string>{longer, "end"}));
}

// FreePort, beside ReadLines in internal.h: a port outside the kernel's range for outgoing
// connections, which could otherwise take it before the runnable binds it.
TEST(FreePortTest, GivesPortsFreeOnEveryAddressBelowTheEphemeralRange) {
  int low = 32768;
  if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%d", &low) != 1) low = 32768;
    std::fclose(f);
  }
  std::set<int> ports;
  for (int i = 0; i < 20; ++i) {
    const int port = FreePort();
    ASSERT_GT(port, 0);
    if (low > 11000) {
      EXPECT_GE(port, 10000);
      EXPECT_LT(port, low);
    }
    ports.insert(port);
  }
  EXPECT_GT(ports.size(), 15u) << "picks are spread, so parallel tests rarely meet";
}

}  // namespace
}  // namespace handoff::workload
