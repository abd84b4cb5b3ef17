#pragma once

// The binary framing of events and worker plans on the pipes between a worker and its
// supervisor: each frame is a little-endian u32 payload length then the payload. Input
// from a worker is untrusted: Decode rejects truncated or oversized frames.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "event/event.h"

namespace handoff::wire {

// Frames larger than this are treated as a corrupt stream.
inline constexpr std::uint32_t kMaxFrameBytes = 16u << 20;

// Appends one framed event to `out`.
void AppendEvent(std::string& out, const Event& event);

// Writes one framed kStacks event with `text` into `out` and returns its size, or 0 if it
// does not fit in `capacity`. Async-signal-safe: a crashing worker's handler calls it.
std::size_t EncodeStacks(char* out, std::size_t capacity, std::int64_t time_ns,
                         std::string_view text);

// Decodes one event payload (without the length prefix). Returns nullopt if malformed.
std::optional<Event> DecodeEvent(std::string_view payload);

// Splits complete frames off the front of a byte stream.
class FrameReader {
 public:
  // Appends bytes read from the pipe.
  void Feed(std::string_view bytes) { buffer_.append(bytes); }
  // Returns the next complete payload, or nullopt if more bytes are needed. Sets
  // corrupt() when a frame announces more than kMaxFrameBytes.
  std::optional<std::string_view> Next();
  // Returns true if the stream announced an impossible frame.
  bool corrupt() const { return corrupt_; }
  // Returns the number of buffered bytes not yet returned as frames.
  std::size_t pending() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
  bool corrupt_ = false;
};

// A test in a worker's plan.
struct PlannedTest {
  std::string name;
  int first_attempt = 1;
  std::int64_t timeout_ms = 0;
};

// An external suite's command (include/handoff/external.h), carried whole in the plan so
// that a worker runs it without finding the suite in its own catalog (serve's
// --suites-config declares suites the binary was not built with).
struct ExternalPlan {
  std::vector<std::string> command;
  std::string working_dir;
  std::vector<std::pair<std::string, std::string>> env;
  std::uint8_t format = 0;  // handoff::ReportFormat
  std::uint8_t tool = 0;    // handoff::ExternalTool
  std::string report_file;
  // How long the command may take to end after SIGINT (a timeout; a cancel gives it half).
  std::int64_t grace_ms = 5000;
  // The tests to run (serve's "tests"; empty: all), given to the tool's filter.
  std::vector<std::string> tests;
};

// What a worker is asked to run.
struct WorkerPlan {
  std::string suite;
  std::vector<PlannedTest> tests;
  int max_attempts = 1;
  std::int64_t hook_timeout_ms = 0;  // timeout of setup and of teardown
  std::int64_t timeout_cap_ms = 0;   // --timeout: t.SetTimeout cannot go beyond it
  std::string run_pattern;   // --run, go-style "Top/Sub"
  std::string skip_pattern;  // --skip
  bool fail_fast = false;
  bool run_teardown_only = false;  // no tests: run setup and teardown to clean up
  // --assess and --skip-assessment: RE2 patterns for the assessments of features.
  std::string assess_pattern;
  std::string skip_assess_pattern;
  bool parallel = false;  // --parallel: the suite's features run concurrently
  // Run parameters (serve's "params"): tests read them with t.Value(key).
  std::vector<std::pair<std::string, std::string>> params;
  // GoogleTest's command line (--gtest_filter, --gtest_also_run_disabled_tests): when
  // `gtest` is set, subtests run as googletest/gtest_filter.h decides for `gtest_filter`.
  bool gtest = false;
  bool gtest_run_disabled = false;
  std::string gtest_filter;
  // Hold on failure (issue 21, event/hold.h): the first test that fails waits before its
  // cleanups until it is released, the run is cancelled or max_hold_ms pass.
  bool hold_on_failure = false;
  std::int64_t max_hold_ms = 0;
  // Set for an external suite: the worker runs this command (the whole-command timeout is
  // hook_timeout_ms, --run's pattern is run_pattern) instead of C++ tests.
  std::optional<ExternalPlan> external;
};

// Encodes a plan as one frame.
std::string EncodePlan(const WorkerPlan& plan);
// The same plan with `tests` and `run_teardown_only` in place of its own (a worker started
// again for the tests a dead one left), without copying the plan's tests.
std::string EncodePlan(const WorkerPlan& plan, std::span<const PlannedTest> tests,
                       bool run_teardown_only);
// Decodes a plan payload. Returns nullopt if malformed.
std::optional<WorkerPlan> DecodePlan(std::string_view payload);

}  // namespace handoff::wire
