// --gtest_filter and GoogleTest names (src/googletest/gtest_filter.h), as IDEs, CTest and Bazel
// pass them (GTEST_FILTER too). The input is "filter\nsuite\ntest": the filter is parsed and
// asked about the test; the names round-trip through GTestName and ParseGTestName, and a
// test's own name, given as the filter, selects it.

#include <string>
#include <string_view>

#include "fuzz/fuzz_target.h"
#include "googletest/gtest_filter.h"

HANDOFF_FUZZ_TARGET(gtest_filter) {
  using namespace handoff;
  std::string_view input = fuzz::AsText(data, size);
  // Bounded: the matcher is linear in the pattern per character of the name.
  if (input.size() > 4096) return 0;
  const std::size_t first = input.find('\n');
  const std::string_view filter = input.substr(0, first);
  std::string_view rest = first == std::string_view::npos ? "" : input.substr(first + 1);
  const std::size_t second = rest.find('\n');
  const std::string_view suite = rest.substr(0, second);
  const std::string_view test = second == std::string_view::npos ? "" : rest.substr(second + 1);

  auto parsed = GTestFilter::Parse(filter);
  if (parsed.ok()) {
    const bool selects = (*parsed)->Selects(suite, test);
    // A top-level test is selected when GoogleTest's own decision for its name says so,
    // unless it is disabled (a subtest may also be left out by a negative pattern on its
    // parent).
    if (test.find('/') == std::string_view::npos && (*parsed)->Matches(GTestName(suite, test)) &&
        !IsGTestDisabled(suite) && !IsGTestDisabled(test)) {
      FUZZ_CHECK(selects);
    }
  }
  const std::string name = GTestName(suite, test);
  const auto back = ParseGTestName(name);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(back->first == suite && back->second == test);
  // Control characters, NUL included, are escaped: every name is a valid filter.
  auto own = GTestFilter::Parse(name, /*run_disabled=*/true);
  FUZZ_CHECK(own.ok());
  FUZZ_CHECK((*own)->Selects(suite, test));
  // Anything GTestName did not write is refused or maps back to the same text.
  if (auto other = ParseGTestName(input)) {
    FUZZ_CHECK(GTestName(other->first, other->second) == input);
  }
  return 0;
}
