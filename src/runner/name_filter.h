#pragma once

// Test selection by name, with the semantics of `go test -run` and `-skip`: the pattern
// is split on '/' (outside brackets and parentheses) into one RE2 regular expression per
// level of "Test/Sub/SubSub", each matched unanchored against that level's name.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace handoff {

class NameFilter {
 public:
  // Compiles `pattern`; on error returns nullptr and sets *error. An empty pattern gives
  // a filter with no levels.
  static std::shared_ptr<const NameFilter> Compile(std::string_view pattern, std::string* error);
  ~NameFilter();

  // For --run: true if every level of `name` that the pattern constrains matches. Levels
  // deeper than the pattern are not constrained, so "Top" selects all of Top's subtests.
  bool Selects(std::string_view name) const;

  // For --skip: true if `name` has at least as many levels as the pattern and each of
  // them matches, so "-skip Top/Sub" skips Top/Sub but not Top.
  bool Skips(std::string_view name) const;

  bool empty() const { return levels_.empty(); }

 private:
  NameFilter() = default;
  std::vector<std::unique_ptr<re2::RE2>> levels_;
};

// Splits a go-style test pattern into levels ("A/[/]B" has two levels).
std::vector<std::string> SplitPattern(std::string_view pattern);

// Splits a test name into its levels ("A/B" -> {"A", "B"}).
std::vector<std::string_view> SplitName(std::string_view name);

}  // namespace handoff
