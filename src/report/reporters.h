#pragma once

// Reporters turn a run's events into what people and tools read. Each is an EventSink.

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "event/event.h"
#include "report/results.h"

namespace handoff {

// Prints to `out` (run's stderr), when a test is held on its failure (run
// --hold-on-failure), what is held and how to release it, and when the hold ends.
std::unique_ptr<EventSink> MakeHoldNotice(std::FILE* out);
// Returns the text MakeHoldNotice prints for a kHeld event.
std::string FormatHoldNotice(const Event& held);

// Streams the `go test -json` format (test2json): one JSON object per line with Time,
// Action (start, run, output, pass, fail, skip), Package (the suite), Test ("Test/Sub"),
// Output and Elapsed (seconds). Lines are written as events arrive; `out` is flushed at
// each test end and at the end of the run.
// Each attachment (t.Attach) is an output line of its test, "    attachment NAME (TYPE, N
// bytes): PATH", PATH under `attachments_dir` (AttachmentPath; none when empty).
std::unique_ptr<EventSink> MakeJsonReporter(std::FILE* out, std::string attachments_dir = {});

// Writes JUnit XML (Ant/Jenkins conventions: testsuites/testsuite/testcase with time,
// timestamp, hostname, failure, skipped, system-out) to `out` when the run finishes,
// reading the results gathered by `results` (which must be fed the events first: add it
// to the FanOut before this reporter). `hostname` fills each testsuite's hostname; when
// empty, the HANDOFF_HOSTNAME environment variable is used, else the machine's name.
std::unique_ptr<EventSink> MakeJunitReporter(std::FILE* out, const ResultCollector& results,
                                             std::string hostname = {});

// Options of GoogleTest's reports.
struct GTestReportOptions {
  // The seed of a shuffled run (--gtest_shuffle), written as random_seed; 0 writes none.
  std::uint32_t random_seed = 0;
};

// Writes GoogleTest's XML report (--gtest_output=xml:FILE) to `out` when the run finishes,
// reading `results` (fed first, as for JUnit). Every test and subtest is a testcase named as
// --gtest_list_tests lists it.
std::unique_ptr<EventSink> MakeGTestXmlReporter(std::FILE* out, const ResultCollector& results,
                                                GTestReportOptions options = {});

// Writes GoogleTest's JSON report (--gtest_output=json:FILE), the same content as its XML.
std::unique_ptr<EventSink> MakeGTestJsonReporter(std::FILE* out, const ResultCollector& results,
                                                 GTestReportOptions options = {});

// Options of GoogleTest's console output.
struct GTestConsoleOptions {
  bool color = false;  // GoogleTest's colours (--gtest_color)
  bool brief = false;  // only failed tests and the summary (--gtest_brief)
  // The selected top-level tests of each suite, for the "Running N tests" lines.
  std::map<std::string, std::size_t> planned;
};

// Prints GoogleTest's console output ("[ RUN      ] Suite.Test", "[       OK ]", "[  FAILED  ]",
// "[  SKIPPED ]", the summary), a top-level test when it finishes with its subtests before
// it, reading `results` (fed first, as for JUnit), so that IDEs and CTest that read a
// GoogleTest binary's output read a handoff binary's run with --gtest_ flags.
std::unique_ptr<EventSink> MakeGTestConsoleReporter(std::FILE* out, const ResultCollector& results,
                                                    GTestConsoleOptions options);

// Options of the human-readable reporter.
struct TextOptions {
  bool color = false;    // ANSI colours (on when stdout is a terminal)
  bool verbose = false;  // print every test's output, not only failed tests'
  // Print only the tests and suites that failed, and the summary (--gtest_brief).
  bool brief = false;
};

// Prints live progress, one line per finished top-level test (its subtests indented
// below it) with its status and duration, then a summary with counts and the failures'
// messages repeated, reading `results` (which, as for JUnit, must be fed the events
// first). With `options.color` every line is flushed at once; otherwise output is flushed
// when a suite or the run finishes.
std::unique_ptr<EventSink> MakeTextReporter(std::FILE* out, const ResultCollector& results,
                                            TextOptions options);

}  // namespace handoff
