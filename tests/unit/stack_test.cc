#include <gtest/gtest.h>

#include <string>

#include "event/wire.h"
#include "stack/raw_stacks.h"
#include "stack/stack_capture.h"
#include "stack/symbolizer.h"

namespace handoff::stack {
namespace {

TEST(RawStacksTest, ParsesACrashWithItsThreadFramesAndMappings) {
  const std::optional<RawStacks> raw = ParseRawStacks(
      "crash 11 4711\n"
      "thread 4711 my worker\n"
      "frames 55d0c0a1b2c3 55d0c0a1b400\n"
      "map 55d0c0a00000-55d0c0b00000 r-xp 00000000 08:01 123 /usr/bin/true\n");
  ASSERT_TRUE(raw.has_value());
  EXPECT_TRUE(raw->crash);
  EXPECT_EQ(raw->signal, 11);
  EXPECT_EQ(raw->crashed_tid, 4711);
  ASSERT_EQ(raw->threads.size(), 1u);
  EXPECT_EQ(raw->threads[0].name, "my worker");
  EXPECT_EQ(raw->threads[0].frames, (std::vector<std::uint64_t>{0x55d0c0a1b2c3, 0x55d0c0a1b400}));
  EXPECT_EQ(raw->maps, "55d0c0a00000-55d0c0b00000 r-xp 00000000 08:01 123 /usr/bin/true\n");
}

TEST(RawStacksTest, RefusesWhatAWorkerCouldNotHaveWritten) {
  for (const char* bad : {"", "frames 1\n", "dump\nframes 1\n", "dump\nthread x name\n",
                          "dump\nthread 1 a\nframes 1 zz\n", "dump\nthread 1 a\nframes 1\nframes 2\n",
                          "crash 11\n", "dump\ndump\n", "dump\nsomething\n", "dump extra\n"}) {
    EXPECT_FALSE(ParseRawStacks(bad).has_value()) << bad;
  }
  std::string many = "dump\nthread 1 a\nframes";
  for (int i = 0; i <= kMaxFrames; ++i) many += " 1";
  EXPECT_FALSE(ParseRawStacks(many + "\n").has_value());
}

// Not inlined, so that it is a frame of its own with a line of this file.
[[gnu::noinline]] std::string CaptureHere(int* line) {
  std::uintptr_t frames[kMaxFrames];
  *line = __LINE__ + 1;
  const int count = CaptureStack(nullptr, frames, kMaxFrames);
  static char buffer[1 << 16];
  SignalSafeWriter w(buffer, sizeof buffer);
  w.Str("dump\n");
  WriteThread(w, ThreadId());
  WriteFrames(w, frames, count);
  WriteMappings(w);
  EXPECT_FALSE(w.overflowed());
  return std::string(w.view());
}

TEST(SymbolizerTest, NamesTheFunctionFileAndLineOfACapturedFrame) {
  int line = 0;
  const std::string text = CaptureHere(&line);
  const std::optional<RawStacks> raw = ParseRawStacks(text);
  ASSERT_TRUE(raw.has_value()) << text;
  ASSERT_EQ(raw->threads.size(), 1u);
  const std::vector<std::vector<Frame>> frames = Symbolize(*raw);
  ASSERT_EQ(frames.size(), 1u);
  bool found = false;
  for (const Frame& f : frames[0]) {
    if (f.function.find("CaptureHere") == std::string::npos) continue;
    found = true;
    // (clang adds an ABI tag: CaptureHere[abi:cxx11](int*).)
    EXPECT_EQ(f.function.rfind("handoff::stack::(anonymous namespace)::CaptureHere", 0), 0u) << f.function;
    EXPECT_NE(f.function.find("(int*)"), std::string::npos) << f.function;
    EXPECT_EQ(f.file, __FILE__);
    EXPECT_EQ(f.line, line);
  }
  EXPECT_TRUE(found) << FormatStacks(*raw);
  // The caller's frame is a return address: its line is the call's.
  const std::string formatted = FormatStacks(*raw);
  EXPECT_NE(formatted.find("SymbolizerTest_NamesTheFunctionFileAndLineOfACapturedFrame_Test::TestBody() at " +
                           std::string(__FILE__) + ":"),
            std::string::npos)
      << formatted;
}

TEST(SymbolizerTest, AnAddressNoModuleHoldsIsShownAsItIs) {
  RawStacks raw;
  raw.crash = true;
  raw.signal = 11;
  raw.crashed_tid = 9;
  raw.threads.push_back(RawThread{9, "t", {0x10}, true});
  EXPECT_EQ(FormatStacks(raw), "thread 9 \"t\" crashed with SIGSEGV:\n  #0 0x10");
}

TEST(SymbolizerTest, ADumpCountsHandoffsOwnThreadsAndSaysWhichDidNotAnswer) {
  RawStacks raw;
  raw.threads.push_back(RawThread{12, "handoff-output", {0x10}, true});
  raw.threads.push_back(RawThread{11, "suite", {0x10, 0x20}, true});
  raw.threads.push_back(RawThread{13, "stuck", {}, false});
  EXPECT_EQ(FormatStacks(raw),
            "stacks of the 2 threads of the test's process just before it was killed (1 of "
            "handoff's own not shown):\n"
            "\n"
            "thread 11 \"suite\":\n"
            "  #0 0x10\n"
            "  #1 0x20\n"
            "\n"
            "thread 13 \"stuck\": did not answer (it blocks the signal that asks for its stack)");
}

}  // namespace
}  // namespace handoff::stack

namespace handoff::wire {
namespace {

TEST(EncodeStacksTest, WritesWhatAppendEventWritesForTheSameEvent) {
  Event e;
  e.kind = EventKind::kStacks;
  e.time_ns = 1234567;
  e.text = "dump\nthread 1 main\nframes 1 2\n";
  std::string appended;
  AppendEvent(appended, e);
  char out[256];
  const std::size_t n = EncodeStacks(out, sizeof out, e.time_ns, e.text);
  EXPECT_EQ(std::string(out, n), appended);
  EXPECT_EQ(EncodeStacks(out, appended.size() - 1, e.time_ns, e.text), 0u);
}

}  // namespace
}  // namespace handoff::wire
