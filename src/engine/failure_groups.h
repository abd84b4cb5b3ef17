#pragma once

// Failures grouped by cause (issue 19): a message's signature is its first line with what
// differs between occurrences of one cause (numbers, ids, addresses, times) replaced, so that
// 300 tests failing with "connection refused to 10.0.3.7:8080 after 3012 ms" are one group,
// and the suite page ranks its most common causes over its recent runs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace handoff {

// Returns the signature of a failure message ("file.cc:12: message" as a row stores it):
// its first non-empty line, the line number of its location dropped, then each UUID as
// <uuid>, each hex number (0x…, or 8 or more hex digits with a digit and a letter) as <hex>,
// each ISO date and time as <time>, each IPv4 address as <ip>, each remaining run of digits
// (and its fraction) as <n> unless it stands between two letters (e2e), and each run of
// whitespace as one space; at most 300 bytes.
// An empty message has the signature "".
std::string FailureSignature(std::string_view message);

// The failures of one cause.
struct FailureGroup {
  std::string signature;
  std::string message;   // an example, as stored: the newest run's first failure of it
  std::int64_t failures = 0;  // failed tests with this signature
  std::int64_t runs = 0;      // runs in which one failed (1 in a run's groups)
  std::vector<std::string> tests;  // their names, first seen first, without repeats, at most kMaxGroupTests
  std::int64_t tests_left_out = 0; // names not listed
  std::int64_t first_run = 0;      // the oldest and newest run it was seen in
  std::int64_t last_run = 0;
  std::int64_t last_seen_ns = 0;   // the newest run's creation time
};

inline constexpr std::size_t kMaxGroupTests = 50;

// Returns the groups of the tests that failed the runs given (each run's rows; a test that
// failed only because its subtests did, with no message of its own, is left out: its
// subtests say why), ordered by the number of runs they were seen in, then failures, then
// the newest first, then signature. `runs` and `rows` are parallel.
std::vector<FailureGroup> GroupFailures(const std::vector<store::Run>& runs,
                                        const std::vector<std::vector<store::TestRow>>& rows);

}  // namespace handoff
