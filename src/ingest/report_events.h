#pragma once

// The events of tests that another tool ran, read from its report: `go test -json` (the
// test2json stream), JUnit XML or TAP. Each reader turns its format into handoff's events of
// one attempt (kTestStarted, kOutput, kFailure, kSkip, kAttemptFinished for a top-level test,
// kTestFinished), so that an external suite's run and an ingested report go through the same
// store, API, UI, metrics and notifications as a C++ suite's.
//
// The readers take outside input: every malformed or truncated report is an Error that names
// the line, never a crash (each has a fuzz target).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "event/event.h"

namespace handoff::ingest {

// Receives the events a reader makes; `suite` is left empty and `attempt` is the reader's.
using EventCallback = std::function<void(Event)>;

// Returns nanoseconds since the Unix epoch of an RFC 3339 time ("2026-12-05T10:21:05.123Z",
// "...+01:00"), or nullopt.
std::optional<std::int64_t> ParseRfc3339(std::string_view text);

// Feeds a whole line-oriented report (go test -json, TAP) to `reader`, a line at a time
// without its '\n'; the caller then finishes it. Returns the first line the reader refuses,
// as "line N: why", after which nothing more is read.
template <typename Reader>
Result<void> ReadLines(Reader& reader, std::string_view text) {
  int number = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    ++number;
    Result<void> read = reader.ReadLine(text.substr(0, nl));
    if (!read.ok()) {
      return Error{read.error().code, "line " + std::to_string(number) + ": " + read.error().message};
    }
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  return {};
}

}  // namespace handoff::ingest
