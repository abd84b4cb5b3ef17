#pragma once

// Text helpers the plugins share (issue 16): settings, UTF-8 that a JSON body can carry, cuts
// to a receiver's limits, URLs shown without credentials, and the failed tests a message
// lists.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "notify/notification.h"
#include "notify/registry.h"

namespace handoff::notify {

// The setting `key`, or "" when it is not set.
std::string_view Setting(const PluginConfig& config, const std::string& key);

// `s` without surrounding whitespace.
std::string_view Trim(std::string_view s);

// Returns true if `s` holds a space or a control character.
bool HasSpaceOrControl(std::string_view s);

// Returns `text` with every invalid UTF-8 sequence replaced by U+FFFD: test messages are
// whatever a test printed, and a JSON body must be UTF-8.
std::string ValidUtf8(std::string_view text);

// Returns the largest character boundary of `text` (valid UTF-8) at or before `at`.
std::size_t CharBoundary(std::string_view text, std::size_t at);

// Cuts `text` (valid UTF-8) to at most `max_bytes` bytes at a character boundary, ending
// with "…" when it was cut. Counting bytes keeps within a limit counted in characters too.
std::string Cut(std::string_view text, std::size_t max_bytes);

// The first line of a message.
std::string_view FirstLine(std::string_view text);

// Sets `host` to the authority of an http(s) URL without its user info; false when `url`
// is not one (or holds spaces or control characters).
bool ParseBaseUrl(std::string_view url, std::string* host);

// The lower-case hex SHA-256 of `text`.
std::string Sha256Hex(std::string_view text);

// "2026-12-04T12:45:23Z" for a time in nanoseconds since the epoch.
std::string IsoTime(std::int64_t ns);

// The tests that failed the run, leaves only: a test whose subtest failed is left out, the
// subtest says where. Soft failures do not fail a run and are not listed.
std::vector<const TestOutcome*> FailedTests(const std::vector<TestOutcome>& tests);

// How a test compares with the previous run, as a message says it: "new failure", "failing
// since run #12 (abc123def456)", "new test", "fixed (failing since run #12)", or "".
std::string ChangeNote(const TestOutcome& test);

// A test's message and location: the fields when the notification has them, else read from
// a message that still carries "file:line: ".
void Locate(const TestOutcome& test, std::string* file, int* line, std::string* message);

}  // namespace handoff::notify
