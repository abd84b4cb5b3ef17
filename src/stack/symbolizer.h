#pragma once

// Turns the raw stacks of a worker (raw_stacks.h) into text a person reads: each frame's
// function, and its file and line where the binary has debug information, inlined calls
// expanded, as gdb's `bt` shows them. Reads the worker's binaries from disk with elfutils'
// libdw, so it runs in the supervisor, never in a signal handler.

#include <cstdint>
#include <string>
#include <vector>

#include "stack/raw_stacks.h"

namespace handoff::stack {

// One frame, after symbolization.
struct Frame {
  std::string function;  // demangled; empty when no symbol covers the address
  std::string file;      // empty without debug information
  int line = 0;
  std::string module;  // the binary or library's file name ("libc.so.6")
  std::uint64_t address = 0;
  bool inlined = false;  // a call inlined into the frame below it
};

// Symbolizes every thread of `raw`, in its order: one vector of frames per thread.
std::vector<std::vector<Frame>> Symbolize(const RawStacks& raw);

// Returns the text of a crash or a dump, for a failure's message, e.g.
//   thread 4711 "crash_fixture" crashed with SIGSEGV:
//     #0 HandoffTest_Crash_Segv(handoff::T&) at /src/crash_test.cc:12
//     #1 handoff::internal::RunGuarded(...) at /src/runner/runner.cc:63
// A dump lists every thread, the process's main thread first; the threads handoff itself runs
// in a worker (named "handoff-...") are counted, not shown.
std::string FormatStacks(const RawStacks& raw);

// Returns the frames of this process's calling thread at `frames` (return addresses, innermost
// first) as the frame lines of FormatStacks, without handoff's runner. For an exception's
// throw site; what it reads of this process's binaries is kept for the next call.
std::string FormatOwnFrames(const std::uintptr_t* frames, int count);

}  // namespace handoff::stack
