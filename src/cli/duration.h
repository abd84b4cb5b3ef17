#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace handoff {

// Parses a Go-style duration ("300ms", "1.5s", "2m30s", "1h"). Units: ns, us, µs, ms, s,
// m, h. Returns nullopt for anything else, negative values included.
std::optional<std::chrono::nanoseconds> ParseDuration(std::string_view text);

}  // namespace handoff
