#pragma once

// GoogleTest and GoogleMock assertions inside handoff tests. Include this header (and link
// the CMake target handoff::gtest) to write checks with the macros and matchers a
// GoogleTest user knows:
//
//   #include <handoff/gtest.h>
//
//   HANDOFF_TEST(Cart, Totals) {
//     Cart cart = OpenCart();
//     ASSERT_TRUE(cart.ok());                    // recorded; stops the whole test
//     EXPECT_EQ(cart.Total(), 30);               // recorded; the test goes on
//     EXPECT_THAT(cart.Items(), testing::ElementsAre("apple", "pear"));
//   }
//
// Including it installs, once per process and before main(), a GoogleTest result reporter
// for every thread that hands each assertion result to the handoff test running on that
// thread (handoff::internal::CurrentTest()):
//
// - a non-fatal failure (EXPECT_*, ADD_FAILURE(), GoogleMock's unmet expectations and
//   unexpected calls) is recorded like t.Error: GoogleTest's message, at the assertion's
//   file:line, and the test goes on;
// - a fatal failure (ASSERT_*, FAIL()) is recorded like t.Fatal and stops the whole test,
//   cleanups included: unlike in GoogleTest, where ASSERT_* only returns from the current
//   function, an ASSERT_* in a helper function stops the test that called the helper. In
//   a subtest (t.Run) it stops the subtest only, as t.Fatal does;
// - GTEST_SKIP() skips the test like t.Skip;
// - successes are ignored.
//
// No GoogleTest main(), RUN_ALL_TESTS() or InitGoogleTest() is needed: the binary's
// main() stays handoff's. GoogleTest's own flags (--gtest_*) do not configure GoogleTest's
// assertions; handoff's command line reads them to select and report tests.
//
// Caveats:
// - Assertions reach the test through the thread that runs it. On a thread the test
//   started itself (or outside any test) there is no test to record into: the failure is
//   printed to stderr with its file:line, and an ASSERT_* there only returns from its
//   function, as in GoogleTest. Hand results back to the test's thread instead (join the
//   thread and check what it produced).
// - A fatal failure stops the test by throwing handoff's internal unwinding type (as
//   t.Fatal does), so do not put ASSERT_* in a destructor or a noexcept function, or
//   inside a catch (...) that swallows it. GoogleMock reports unmet expectations from the
//   mock's destructor as non-fatal failures, so mocks are safe to destroy anywhere.
// - The reporter takes over every GoogleTest result in the process: do not include this
//   header in a GoogleTest binary (one that runs RUN_ALL_TESTS()).

#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string_view>

#include "handoff/internal/hooks.h"

namespace handoff {
namespace internal {

// Routes GoogleTest's test part results to the handoff test running on the reporting
// thread. ScopedFakeTestPartResultReporter with INTERCEPT_ALL_THREADS is GoogleTest's
// public way to replace the reporter of every thread; the array it would fill is unused.
class GTestResultRouter final : public ::testing::ScopedFakeTestPartResultReporter {
 public:
  GTestResultRouter() : ScopedFakeTestPartResultReporter(INTERCEPT_ALL_THREADS, nullptr) {}

  // ::testing::TestPartResultReporterInterface
  //
  // GoogleTest calls this from UnitTest::AddTestPartResult with its mutex held by an RAII
  // lock, so throwing from here (FatalAt, SkipAt) releases it as the stack unwinds.
  // GoogleMock reports through the same path, holding its own locks by RAII too; its fatal
  // failures are for misuse (a wrong cardinality, DoDefault() in a composite action),
  // never for expectations verified in a mock's destructor, which are non-fatal.
  void ReportTestPartResult(const ::testing::TestPartResult& result) override {
    using Type = ::testing::TestPartResult::Type;
    if (result.type() == Type::kSuccess) return;
    // GoogleMock's unexpected calls have no location: nullptr and -1.
    const char* file = result.file_name();
    const int line = file != nullptr ? result.line_number() : 0;
    // GoogleMock starts some messages with a newline (after where GoogleTest would
    // print "file:line: Failure").
    std::string_view message = result.message();
    while (!message.empty() && message.front() == '\n') message.remove_prefix(1);
    while (!message.empty() && message.back() == '\n') message.remove_suffix(1);
    T* t = CurrentTest();
    if (t == nullptr) {
      PrintUnrouted(result.type(), message, file, line);
      return;
    }
    switch (result.type()) {
      case Type::kNonFatalFailure:
        FailAt(*t, message, file, line);
        return;
      case Type::kFatalFailure:
        FatalAt(*t, message, file, line);
      case Type::kSkip:
        SkipAt(*t, message, file, line);
      case Type::kSuccess:
        return;
    }
  }

 private:
  // Prints a result no test can record, in one call so that lines from several threads
  // do not interleave.
  static void PrintUnrouted(::testing::TestPartResult::Type type, std::string_view message,
                            const char* file, int line) {
    using Type = ::testing::TestPartResult::Type;
    const char* what = type == Type::kSkip           ? "GTEST_SKIP() ignored"
                       : type == Type::kFatalFailure ? "fatal failure not recorded"
                                                     : "failure not recorded";
    std::fprintf(stderr,
                 "%s:%d: handoff/gtest.h: %s (no handoff test runs on this thread):\n%.*s\n",
                 file != nullptr ? file : "unknown file", line, what,
                 static_cast<int>(message.size()), message.data());
  }
};

// Installs the router the first time it is called; returns true. Every translation unit
// that includes this header calls it during static initialisation.
inline bool InstallGTestResultRouter() {
  // Never destroyed: a thread may still report while the process exits.
  static GTestResultRouter* const router = new GTestResultRouter();
  return router != nullptr;
}

// Installs the router before main() in any binary that includes this header.
[[maybe_unused]] inline const bool kGTestResultRouterInstalled = InstallGTestResultRouter();

}  // namespace internal
}  // namespace handoff
