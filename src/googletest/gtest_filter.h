#pragma once

// GoogleTest's names and --gtest_filter for handoff tests, so that IDEs and tools that drive
// GoogleTest binaries (CLion, C++ TestMate, CMake's gtest_discover_tests, Bazel) find and
// select handoff tests.
//
// Names. A handoff test is `Suite.Test`; its subtests and a parametrised suite's
// combinations follow a '/': `Suite.Test/Sub/SubSub`, `KvStore.memory/PutThenGet`.
// GTestName is the one mapping and ParseGTestName its inverse. Characters that the filter
// syntax would read as its own ('*', '?', ':', '-'), '%', spaces and control characters are
// written as %XX (upper-case hex) wherever they appear, and so are '.' and '/' in the suite
// name, so that every name round-trips and is selected by itself: a subtest "v1-beta" of
// Api.Get is `Api.Get/v1%2Dbeta`.
//
// Filter. The syntax and matching are GoogleTest's: patterns separated by ':', then
// optionally '-' and negative patterns; '*' matches any string, '?' one character; a name
// must match a whole pattern. An empty positive part means '*'.
//
// Subtests. A subtest runs inside its parent, so selecting works down the tree: a test
// runs if the filter selects it or one of its ancestors (selecting a test selects its
// subtests), or if a positive pattern names a level below it: the part of the pattern
// before one of its '/' matches the test's name, its wildcards each within one level (the
// parent of `Suite.Test/Sub` runs, with only that subtest; `KvStore.*/Put*` runs every
// parameter of KvStore with its Put tests). A test does not run if a negative pattern
// selects it or one of its ancestors. A pattern whose '*' spans levels (`KvStore.*Put`)
// selects the subtests it matches once their parent runs: `list` and `run` run the parent
// of a listed subtest it matches (selection.h), but cannot know a parent's unlisted ones.
//
// Disabled tests. As in GoogleTest, a suite or test whose name, or any level of it, starts
// with DISABLED_ does not run unless run_disabled is set (--gtest_also_run_disabled_tests);
// it is still listed.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/result.h"

namespace handoff {

// Returns the GoogleTest name of the test `test` of `suite`, where `test` is a handoff full
// test name ("Test" or "Test/Sub/..."): "Suite.Test/Sub", escaped as the header says.
std::string GTestName(std::string_view suite, std::string_view test);

// Returns the suite name and full test name a GoogleTest name stands for (GTestName's
// inverse), or nullopt if `name` is not one GTestName writes.
std::optional<std::pair<std::string, std::string>> ParseGTestName(std::string_view name);

// Returns true if a suite or test name (any level of "Test/Sub") starts with DISABLED_.
bool IsGTestDisabled(std::string_view name);

// Returns true if `pattern` (GoogleTest's '*' and '?') matches all of `text`.
bool GTestPatternMatches(std::string_view pattern, std::string_view text);

// Returns true if the part of `pattern` before one of its '/' matches all of `name`, with
// '*' and '?' matching no '/': the pattern names a level below the test `name`.
bool GTestPatternSelectsBelow(std::string_view pattern, std::string_view name);

// A parsed --gtest_filter. Immutable and cheap to share between threads.
class GTestFilter {
 public:
  // The longest filter accepted; a longer one is bad input, not a selection.
  static constexpr std::size_t kMaxLength = 1 << 20;

  // Parses `filter` (GoogleTest's syntax; empty is "*"). Fails only on a filter longer than
  // kMaxLength or holding a NUL byte.
  static Result<std::shared_ptr<const GTestFilter>> Parse(std::string_view filter,
                                                          bool run_disabled = false);

  // Returns true if the GoogleTest name `name` passes the filter itself: it matches a
  // positive pattern and no negative one (GoogleTest's decision for one name).
  bool Matches(std::string_view name) const;

  // Returns true if the test `test` ("Test/Sub") of `suite` runs: the decision of the
  // header's "Subtests" and "Disabled tests".
  bool Selects(std::string_view suite, std::string_view test) const;

  // Returns the filter as given.
  const std::string& text() const { return text_; }
  bool run_disabled() const { return run_disabled_; }

 private:
  // One side of the filter: exact names looked up at once, glob patterns matched in turn.
  struct Patterns {
    std::unordered_set<std::string> exact;
    std::vector<std::string> globs;
    bool Matches(std::string_view name) const;
    bool SelectsBelow(std::string_view name) const;
  };
  GTestFilter() = default;
  std::string text_;
  bool run_disabled_ = false;
  Patterns positive_;
  Patterns negative_;
};

}  // namespace handoff
