#pragma once

#include <string>
#include <string_view>

namespace handoff {

// Appends `s` to `out` as a JSON string literal (with quotes): escapes quotes, backslash
// and control characters, and replaces invalid UTF-8 with U+FFFD, as Go's encoder does.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace handoff
