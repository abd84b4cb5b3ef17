#pragma once

// The raw stacks a worker sends its supervisor when it crashes or is about to be killed at a
// timeout: return addresses and the worker's file mappings, written async-signal-safely by
// stack_capture.h and turned into function, file and line by symbolizer.h in the supervisor,
// which has the time and the memory to read debug information.
//
// The text format, one record per line (numbers in hexadecimal unless said otherwise):
//   crash SIGNO TID       a thread crashed with signal SIGNO (decimal); TID (decimal) is it
//   dump                  the supervisor asked for the stacks of every thread
//   thread TID NAME       a thread (TID decimal; NAME its /proc comm, may have spaces)
//   frames PC PC ...      that thread's frames, innermost first; the first PC is exact, the
//                         others are return addresses
//   silent                that thread did not answer in time (no frames)
//   map LINE              a line of /proc/self/maps of a file-backed mapping
// It crosses a process boundary, so it is parsed as untrusted input (fuzz/raw_stacks_fuzzer).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::stack {

// Frames kept per thread, and threads per dump.
inline constexpr int kMaxFrames = 64;
inline constexpr int kMaxThreads = 128;

// One thread's stack.
struct RawThread {
  long tid = 0;
  std::string name;
  std::vector<std::uint64_t> frames;  // innermost first; frames[0] is an exact address
  bool answered = true;               // false: it did not answer the dump in time
  bool first_exact = true;            // false: frames[0] is a return address too
};

// A parsed dump.
struct RawStacks {
  bool crash = false;  // one thread crashed (else: a dump of every thread)
  int signal = 0;      // the crash's signal
  long crashed_tid = 0;
  std::vector<RawThread> threads;
  std::string maps;  // the "map" lines, as /proc/PID/maps text
};

// Parses the text format above. Returns nullopt when it is malformed (an unknown record, a
// bad number, frames before any thread, more than kMaxThreads threads or kMaxFrames frames).
std::optional<RawStacks> ParseRawStacks(std::string_view text);

}  // namespace handoff::stack
