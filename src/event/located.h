#pragma once

// Where a line of a test's output came from, printed the way Go's testing package prints it.
// Every surface that shows a log line or a failure (reporters, the store's text of a line)
// formats it here.

#include <string>
#include <string_view>

namespace handoff {

// Returns the last component of a path ("dir/file.cc" -> "file.cc").
std::string_view BaseName(std::string_view path);

// Formats a message the way Go's testing package prints it: "file.cc:12: message" (just
// the message when it has no location).
std::string Located(std::string_view message, std::string_view file, int line);

}  // namespace handoff
