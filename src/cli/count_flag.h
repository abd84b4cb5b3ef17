#pragma once

// The check of every count flag (--jobs, --repeat, --attempts, --max-concurrent-runs, ...):
// CLI11's PositiveNumber answers "Value 0 not in range 0.000000 to 1.797693e+308", which
// tells a user neither the rule nor what was wrong.

#include <CLI/CLI.hpp>

#include <charconv>
#include <limits>
#include <string>

namespace handoff {

// Returns a validator that accepts whole numbers from `min` to `max` and otherwise says so
// ("must be at least 1, got 0"; CLI11 puts the flag's name in front). Its help text is
// "POSITIVE" for the usual minimum of 1 and no maximum.
inline CLI::Validator WholeNumber(long long min,
                                  long long max = std::numeric_limits<long long>::max()) {
  const bool unbounded = max == std::numeric_limits<long long>::max();
  const std::string rule = unbounded ? "must be at least " + std::to_string(min)
                                     : "must be between " + std::to_string(min) + " and " +
                                           std::to_string(max);
  return CLI::Validator(
      [min, max, rule](std::string& value) -> std::string {
        long long n = 0;
        const char* end = value.data() + value.size();
        auto [ptr, ec] = std::from_chars(value.data(), end, n);
        if (ec == std::errc::result_out_of_range) return rule + ", got " + value;
        if (ec != std::errc() || ptr != end) return "want a whole number, got \"" + value + "\"";
        if (n < min || n > max) return rule + ", got " + value;
        return {};
      },
      unbounded && min == 1 ? std::string("POSITIVE")
                            : "[" + std::to_string(min) + " - " + std::to_string(max) + "]");
}

}  // namespace handoff
