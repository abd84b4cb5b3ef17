#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace handoff {

// Formats a duration the way Go's time.Duration does ("1.5s", "250ms", "2m0s").
std::string FormatDuration(std::chrono::nanoseconds d);

// Parses a Go-style duration ("300ms", "1.5s", "2m30s", "1h"). Units: ns, us, µs, ms, s,
// m, h. Returns nullopt for anything else, negative values included.
std::optional<std::chrono::nanoseconds> ParseDuration(std::string_view text);

}  // namespace handoff
