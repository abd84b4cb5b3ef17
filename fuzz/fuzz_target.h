#pragma once

// HANDOFF_FUZZ_TARGET(name) { ... } defines the body of one fuzz target, a function of
// (const std::uint8_t* data, std::size_t size) that must not crash, leak or hit undefined
// behaviour on any input, and aborts (FUZZ_CHECK) when an invariant of the parser breaks.
//
// The same file compiles two ways: with HANDOFF_LIBFUZZER, as the LLVMFuzzerTestOneInput of
// a libFuzzer binary (fuzz/CMakeLists.txt, clang only); without, into handoff_fuzz_replay,
// which registers every target under its name and replays the seed corpus and the kept
// regression inputs with any compiler (ctest's fuzz_replay).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace handoff::fuzz {

// The entry function of a target.
using TargetFn = int (*)(const std::uint8_t* data, std::size_t size);

// Adds a target to the replay binary's table; returns true for use in a static initialiser.
bool RegisterTarget(std::string_view name, TargetFn fn);

// Aborts with `what` and where when `ok` is false: an invariant of the code under test broke.
inline void Check(bool ok, const char* what, const char* file, int line) {
  if (ok) return;
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
  std::abort();
}

// The input as text.
inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace handoff::fuzz

#define FUZZ_CHECK(cond) ::handoff::fuzz::Check((cond), #cond, __FILE__, __LINE__)

#ifdef HANDOFF_LIBFUZZER
#define HANDOFF_FUZZ_TARGET(name)                                                 \
  static int name##FuzzTarget(const std::uint8_t* data, std::size_t size);        \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    return name##FuzzTarget(data, size);                                          \
  }                                                                               \
  static int name##FuzzTarget(const std::uint8_t* data, std::size_t size)
#else
#define HANDOFF_FUZZ_TARGET(name)                                                  \
  static int name##FuzzTarget(const std::uint8_t* data, std::size_t size);         \
  [[maybe_unused]] static const bool name##FuzzRegistered =                        \
      ::handoff::fuzz::RegisterTarget(#name, &name##FuzzTarget);                   \
  static int name##FuzzTarget(const std::uint8_t* data, std::size_t size)
#endif
