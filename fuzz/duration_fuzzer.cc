// Go-style durations (src/duration/duration.h), as flags, suite options and the API's
// timeouts give them: what parses formats back to text that parses to the same value, to
// the precision FormatDuration shows (three decimals of its unit).

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "duration/duration.h"
#include "fuzz/fuzz_target.h"

namespace handoff::fuzz {
namespace {

// Checks that `d` formats to text that parses back to `d`, give or take the rounding of
// the format (and a nanosecond of the parser's floating point).
void CheckRoundTrip(std::chrono::nanoseconds d) {
  using namespace std::chrono_literals;
  const std::string text = FormatDuration(d);
  FUZZ_CHECK(!text.empty());
  const std::optional<std::chrono::nanoseconds> again = ParseDuration(text);
  FUZZ_CHECK(again.has_value());
  const std::int64_t tolerance = d < 1ms ? 1 : d < 1s ? 501 : 500'001;
  FUZZ_CHECK(std::llabs(again->count() - d.count()) <= tolerance);
}

}  // namespace
}  // namespace handoff::fuzz

HANDOFF_FUZZ_TARGET(duration) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  if (const std::optional<std::chrono::nanoseconds> d = ParseDuration(input)) {
    FUZZ_CHECK(d->count() >= 0);
    fuzz::CheckRoundTrip(*d);
  }
  // Any value formats, negative ones included.
  if (size >= sizeof(std::int64_t)) {
    std::int64_t ns = 0;
    std::memcpy(&ns, data, sizeof ns);
    // ParseDuration takes at most 9.2e18 ns (2562047h), a little under the int64 maximum.
    if (ns >= 0 && ns <= 9'200'000'000'000'000'000) {
      fuzz::CheckRoundTrip(std::chrono::nanoseconds(ns));
    } else {
      FUZZ_CHECK(!FormatDuration(std::chrono::nanoseconds(ns)).empty());
    }
  }
  return 0;
}
