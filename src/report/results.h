#pragma once

// The results of a run, assembled from its events by ResultCollector. Reporters that need
// the whole picture (JUnit, the text summary) and, later, the store read this model.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "event/event.h"
#include "event/located.h"
#include "event/outcome.h"

namespace handoff {

// One failure: message, where it was reported, and what caused it when it was not an
// assertion.
struct FailureRecord {
  std::string message;
  std::string file;
  int line = 0;
  // kCauseCrash or kCauseTimeout (event/event.h) when the test's process crashed or was
  // stopped at its timeout; empty for an assertion (t.Error, t.Fatal, a thrown exception).
  std::string cause;
};

// Returns the cause of a set of failures (an attempt's): the first cause that is not an
// assertion, or empty if every failure is an assertion. A test that failed an assertion
// and then crashed, crashed.
std::string_view CauseOf(const std::vector<FailureRecord>& failures);

// A failed attempt of a top-level test that was retried, kept whole so reports can show
// every attempt (JUnit's flakyFailure and rerunFailure elements).
struct AttemptRecord {
  int attempt = 0;
  std::int64_t elapsed_ns = 0;
  std::vector<FailureRecord> failures;  // the test's own
  // Failures of its subtests in that attempt: (full subtest name, failure).
  std::vector<std::pair<std::string, FailureRecord>> subtest_failures;
  std::vector<std::string> output;  // the test's output lines in that attempt

  // Returns the attempt's cause (CauseOf its own and its subtests' failures).
  std::string_view Cause() const;
};

// One span of a test.
struct SpanRecord {
  std::uint32_t id = 0;
  std::string name;
  std::int64_t start_ns = 0;
  std::int64_t elapsed_ns = 0;
  std::vector<std::pair<std::string, std::string>> attributes;
};

// One attachment of a test (t.Attach): which attempt kept it, its name, media type, size,
// and where `run` wrote it (absolute; empty when the run writes no files).
struct AttachmentRecord {
  int attempt = 0;
  std::string name;
  std::string media_type;
  std::size_t size = 0;
  std::string path;
};

// The result of one test or subtest: its final attempt, and the failed attempts before it.
struct TestResult {
  std::string name;  // full name, "Test/Sub"
  Status status = Status::kPassed;
  bool finished = false;
  bool soft = false;   // failed, but softly: does not fail the suite
  bool flaky = false;  // failed, then passed on a later attempt
  int attempts = 0;    // attempts made (top-level tests); subtests copy their parent's
  std::int64_t start_ns = 0;
  std::int64_t elapsed_ns = 0;
  std::vector<FailureRecord> failures;  // of the final attempt
  // Failed attempts that were retried (top-level tests), oldest first.
  std::vector<AttemptRecord> earlier_attempts;
  std::string skip_reason;
  // Output lines (t.Log lines formatted "file:line: message", stdout/stderr lines) in
  // the order they happened, each without a trailing newline. Every attempt's lines are
  // here, each retry's after a line "=== RETRY attempt N"; the final attempt's start at
  // final_output_begin.
  std::vector<std::string> output;
  std::size_t final_output_begin = 0;
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<SpanRecord> spans;
  // Every attempt's attachments, in the order they were attached.
  std::vector<AttachmentRecord> attachments;

  // The test's outcome and flags, as the runner decided them (soft only on a failure,
  // flaky only on a pass, as VerdictOf normalises them).
  Verdict verdict() const {
    return Verdict{status, soft && status == Status::kFailed, flaky && status == Status::kPassed};
  }
  // Returns why a cancelled test was cancelled ("cancelled: ..."), from its skip reason or
  // failure, or just "cancelled" when the events said nothing.
  std::string CancelReason() const;
};

// The result of one suite run.
struct SuiteResult {
  std::string name;
  std::string namespace_name;
  Status status = Status::kPassed;
  std::int64_t start_ns = 0;
  std::int64_t elapsed_ns = 0;
  // Failures of setup and teardown (suite-level).
  std::vector<FailureRecord> setup_failures;
  std::vector<FailureRecord> teardown_failures;
  std::vector<std::string> output;  // suite-level output (setup/teardown)
  std::vector<TestResult> tests;    // in the order they started; subtests follow parents
};

// The result of a whole run.
struct RunResult {
  std::int64_t start_ns = 0;
  std::int64_t elapsed_ns = 0;
  Status status = Status::kPassed;
  // Why the run ended before every selected test ran ("interrupted: ..."), or empty.
  std::string stopped_early;
  std::vector<SuiteResult> suites;
};

// Returns the totals of a run's tests, top-level tests and subtests alike (each is a row in
// every report; serve's run totals count the same way).
Totals CountTests(const RunResult& run);

inline std::string Located(const FailureRecord& f) { return Located(f.message, f.file, f.line); }

// Returns true if `name` is a subtest (at any depth) of the test `parent`.
bool IsSubtestOf(std::string_view name, std::string_view parent);

// Builds a RunResult from events. Suites running in parallel are told apart by name and
// by arrival (a suite is open from kSuiteStarted to kSuiteFinished).
class ResultCollector : public EventSink {
 public:
  // Returns the results so far (complete after kRunFinished).
  const RunResult& result() const { return result_; }

  // Says that suite `suite` will report about `tests` tests, so that their records are
  // allocated once when it starts (a hint: more or fewer may come).
  void ExpectTests(const std::string& suite, std::size_t tests) { expected_[suite] = tests; }

  // Says that `run` writes attachments under `dir` (AttachmentFiles): each record's path
  // is where the file is (AttachmentPath).
  void set_attachments_dir(std::string dir) { attachments_dir_ = std::move(dir); }

  // EventSink
  void OnEvent(const Event& event) override;

 private:
  TestResult* FindTest(SuiteResult& suite, const std::string& name);
  RunResult result_;
  std::string attachments_dir_;
  std::map<std::string, std::size_t> expected_;  // ExpectTests' hints
  // Open suites by name -> index in result_.suites.
  std::map<std::string, std::size_t> open_suites_;
  // Per open suite: test name -> index of its current record.
  std::map<std::string, std::unordered_map<std::string, std::size_t>> open_tests_;
  // Per open suite that announced a phase: true once teardown started, false in setup.
  // Suite-level failures belong to the phase they arrive in.
  std::map<std::string, bool> in_teardown_;
};

}  // namespace handoff
