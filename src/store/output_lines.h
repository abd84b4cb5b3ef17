#pragma once

// How an attempt's output lines (store.h's OutputLine) are kept by a store: one compact
// BLOB per attempt, each line its kind, its time and its text (and, for logs, failures and
// skips, where they were reported), so that reports replay them as the events they were.
// Attempts written before lines were typed hold their output as text; LinesFromText reads
// those back as well as the text allows.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace handoff::store {

// Returns `lines` encoded; times are kept relative to `base_ns` (the attempt's start) and
// to each other, so most take a byte or two. No lines: the empty string.
std::string EncodeOutputLines(const std::vector<OutputLine>& lines, std::int64_t base_ns);

// Returns the lines EncodeOutputLines wrote with the same `base_ns`, or nullopt if `data`
// is not such an encoding (truncated, or a kind this version does not know).
std::optional<std::vector<OutputLine>> DecodeOutputLines(std::string_view data,
                                                        std::int64_t base_ns);

// Returns the lines of an attempt stored as text (lines joined with '\n', before schema
// version 4): each line is output at `time_ns`, except those that read as the attempt's
// failures (in order, "file.cc:12: message") and its skip reason, which become those.
std::vector<OutputLine> LinesFromText(std::string_view text, const std::vector<Failure>& failures,
                                      std::string_view skip_reason, std::int64_t time_ns);

}  // namespace handoff::store
