#pragma once

// Plumbing for adapters that report into the running test from code that has no T at
// hand (handoff/gtest.h routes GoogleTest's assertion results through it). Not for
// direct use in tests: use T.

#include <string>
#include <string_view>

namespace handoff {

class T;

namespace internal {

// Returns the T of the test, subtest, setup or teardown running on this thread, or
// nullptr when none is.
T* CurrentTest();

// Returns the name of the suite `t` belongs to ("" for a T made outside a suite run).
const std::string& SuiteName(T& t);

// Records a line in the output of `t`, at file:line (T::Log).
void LogAt(T& t, std::string_view message, const char* file, int line);

// Records a failure of `t` at file:line; the test goes on (T::Error with a location
// given as values rather than a std::source_location).
void FailAt(T& t, std::string_view message, const char* file, int line);

// Records a failure of `t` at file:line and stops the test (T::Fatal).
[[noreturn]] void FatalAt(T& t, std::string_view message, const char* file, int line);

// Records why `t` is skipped, at file:line, and stops it (T::Skip).
[[noreturn]] void SkipAt(T& t, std::string_view reason, const char* file, int line);

// Go's rewrite of a subtest name, as T::Run applies it: spaces become '_' and control
// characters "\xNN", so that builders that declare subtests ahead (params.h) list the
// names the reports will show.
std::string RewriteSubtestName(std::string_view name);

}  // namespace internal
}  // namespace handoff
