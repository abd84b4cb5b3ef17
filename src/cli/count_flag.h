#pragma once

// The check of every count flag (--jobs, --repeat, --attempts, --max-concurrent-runs, ...):
// CLI11's PositiveNumber answers "Value 0 not in range 0.000000 to 1.797693e+308", which
// tells a user neither the rule nor what was wrong.

#include <CLI/CLI.hpp>

#include <charconv>
#include <limits>
#include <string>

namespace handoff {

// Returns a validator that accepts whole numbers from `min` to `max` and otherwise says
// what it wants ("must be at least 1, got 0"; CLI11 puts the flag's name in front). Its
// help text is "POSITIVE" for the usual count: at least 1, at most INT_MAX.
inline CLI::Validator WholeNumber(long long min,
                                  long long max = std::numeric_limits<int>::max()) {
  const bool count = max == std::numeric_limits<int>::max();
  const std::string range = "must be between " + std::to_string(min) + " and " +
                            std::to_string(max);
  const std::string too_small = count ? "must be at least " + std::to_string(min) : range;
  const std::string too_large = count ? "must be at most " + std::to_string(max) : range;
  return CLI::Validator(
      [min, max, too_small, too_large](std::string& value) -> std::string {
        long long n = 0;
        const char* end = value.data() + value.size();
        auto [ptr, ec] = std::from_chars(value.data(), end, n);
        if (ec == std::errc::result_out_of_range) {
          return (value.starts_with('-') ? too_small : too_large) + ", got " + value;
        }
        if (ec != std::errc() || ptr != end) return "want a whole number, got \"" + value + "\"";
        if (n < min) return too_small + ", got " + value;
        if (n > max) return too_large + ", got " + value;
        return {};
      },
      count && min == 1 ? std::string("POSITIVE")
                        : "[" + std::to_string(min) + " - " + std::to_string(max) + "]");
}

}  // namespace handoff
