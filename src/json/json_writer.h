#pragma once

#include <string>
#include <string_view>

namespace handoff {

// Appends `s` JSON-escaped the way Go's encoding/json does (HTML-safe: < > & as \u003c
// and so on; control characters escaped; invalid UTF-8 replaced by \ufffd), without the
// surrounding quotes.
void AppendJsonEscaped(std::string& out, std::string_view s);

// Appends `s` as a JSON string literal, quotes included.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace handoff
