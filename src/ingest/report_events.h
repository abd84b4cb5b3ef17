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

// The line and column a position of `text` is at, both from 1: "line 3".
std::string LineOf(std::string_view text, std::size_t offset);

}  // namespace handoff::ingest
