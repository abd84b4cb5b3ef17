#pragma once

// Capturing stacks inside a signal handler, in the format of raw_stacks.h. Everything here
// except PrepareStackCapture is async-signal-safe: no allocation, no lock, no stdio, only
// system calls and the unwinder (which PrepareStackCapture loads beforehand).

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace handoff::stack {

// Appends text to a fixed buffer, dropping what does not fit (overflowed() says so).
class SignalSafeWriter {
 public:
  SignalSafeWriter(char* buffer, std::size_t capacity) : buf_(buffer), cap_(capacity) {}
  void Str(std::string_view s);
  void Char(char c) { Str(std::string_view(&c, 1)); }
  void Dec(std::int64_t v);
  void Hex(std::uint64_t v);
  std::string_view view() const { return {buf_, len_}; }
  bool overflowed() const { return overflowed_; }

 private:
  char* buf_;
  std::size_t cap_;
  std::size_t len_ = 0;
  bool overflowed_ = false;
};

// Loads the unwinder (its first use allocates and takes the loader's lock). Call once, outside
// any signal handler, before CaptureStack may run in one.
void PrepareStackCapture();

// Writes the calling thread's frames into `frames` (at most `max`) and returns how many.
// `ucontext` is the handler's third argument: the frames of the handler itself are dropped,
// so the first frame is the instruction the signal interrupted. nullptr keeps every frame.
int CaptureStack(const void* ucontext, std::uintptr_t* frames, int max);

// Returns the calling thread's id.
pid_t ThreadId();

// Writes "thread TID NAME\n" for thread `tid` of this process.
void WriteThread(SignalSafeWriter& w, pid_t tid);

// Writes "frames PC PC ...\n".
void WriteFrames(SignalSafeWriter& w, const std::uintptr_t* frames, int count);

// Writes a "map LINE\n" record for each file-backed line of /proc/self/maps.
void WriteMappings(SignalSafeWriter& w);

// Calls fn(tid) for each thread of this process (from /proc/self/task) and returns false if
// the list could not be read.
bool ForEachThread(void (*fn)(pid_t tid, void* arg), void* arg);

}  // namespace handoff::stack
