// The JUnit XML reporter (Ant/Jenkins conventions, with Maven Surefire's rerun elements),
// written once when the run finishes.
//
// Conventions kept:
// - <testsuites> sums its suites; each <testsuite> counts its <testcase> elements: tests,
//   failures (assertion failures that fail the run), errors (crashes, timeouts, and setup
//   and teardown failures, each of those reported as a "(setup)" or "(teardown)" testcase)
//   and skipped (skipped, soft-failed and cancelled tests).
// - What each test's verdict becomes, so that CI tools count what `run` counts:
//     failed        <failure type="failure">, or <error type="crash"|"timeout"> when the
//                   process crashed or was killed at its timeout (the cause of the final
//                   attempt), message the failure's message;
//     soft failed   <skipped type="handoff.soft_failure" message="soft failure (known
//                   issue): ...">, as pytest writes an expected failure (type="pytest.xfail"):
//                   it does not fail the run, so no CI tool may count it as a failure;
//     cancelled     <skipped message="cancelled: ...">;
//     flaky         a passing testcase holding a <flakyFailure> (or <flakyError>) per failed
//                   attempt, each with its <stackTrace> (the attempt's failures) and
//                   <system-out>, as Maven Surefire writes a test that passed on a rerun;
//     failed after retries: the final attempt is the <failure>/<error> and each earlier
//                   attempt a <rerunFailure> (or <rerunError>). Surefire puts the first run
//                   in <failure> and the later ones in <rerunFailure>; we keep the final
//                   attempt on top, as every other report (text, JSON, the store) does.
//   The elements of a testcase follow the order of Surefire's surefire-test-report-3.0.xsd
//   (failure, rerunFailure, flakyFailure, skipped, error, rerunError, flakyError,
//   system-out); tests/unit/testdata/junit.xsd is that schema with our extensions
//   (<properties> in a testcase, file/line, hostname/id/package/timestamp, skipped@type).
// - Subtests are testcases of their own, named "Test/Sub".
// - Times are seconds with 3 decimals; timestamps ISO 8601 in UTC without a zone suffix
//   (what Jenkins and the Ant schema expect).
// - The XML is always well-formed: & < > " are escaped, and characters XML 1.0 forbids
//   (control characters other than tab, newline and carriage return, U+FFFE, U+FFFF) and
//   invalid UTF-8 are replaced by U+FFFD, so test output full of ANSI escapes still parses.

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/event.h"
#include "json/encoding.h"
#include "report/reporters.h"
#include "report/results.h"
#include "report/xml_escape.h"

namespace handoff {
namespace {

// The counts a <testsuite> or <testsuites> element carries.
struct ElementCounts {
  int tests = 0, failures = 0, errors = 0, skipped = 0;

  void Add(const ElementCounts& other) {
    tests += other.tests;
    failures += other.failures;
    errors += other.errors;
    skipped += other.skipped;
  }
};

// What a testcase's verdict is written as.
enum class CaseKind { kPassed, kFailure, kError, kSkipped };

CaseKind KindOf(const TestResult& test) {
  const Verdict verdict = test.verdict();
  if (verdict.FailsRun()) return CauseOf(test.failures).empty() ? CaseKind::kFailure : CaseKind::kError;
  switch (verdict.outcome) {
    case Status::kPassed: return CaseKind::kPassed;
    case Status::kFailed:  // soft: an expected failure
    case Status::kSkipped:
    case Status::kCancelled: return CaseKind::kSkipped;
  }
  return CaseKind::kFailure;
}

ElementCounts CountSuite(const SuiteResult& suite) {
  ElementCounts counts;
  for (const TestResult& test : suite.tests) {
    ++counts.tests;
    switch (KindOf(test)) {
      case CaseKind::kPassed: break;
      case CaseKind::kFailure: ++counts.failures; break;
      case CaseKind::kError: ++counts.errors; break;
      case CaseKind::kSkipped: ++counts.skipped; break;
    }
  }
  for (bool has_error : {!suite.setup_failures.empty(), !suite.teardown_failures.empty()}) {
    if (has_error) ++counts.tests, ++counts.errors;
  }
  return counts;
}

class JunitReporter final : public EventSink {
 public:
  JunitReporter(std::FILE* out, const ResultCollector& results, std::string hostname)
      : out_(out), results_(results), hostname_(std::move(hostname)) {
    if (hostname_.empty()) {
      if (const char* env = std::getenv("HANDOFF_HOSTNAME"); env != nullptr && *env != '\0') {
        hostname_ = env;
      } else {
        char name[HOST_NAME_MAX + 1] = {};
        if (gethostname(name, sizeof name - 1) == 0) hostname_ = name;
      }
    }
  }

  // EventSink
  void OnEvent(const Event& e) override {
    if (e.kind != EventKind::kRunFinished) return;
    std::string xml;
    Write(xml, results_.result());
    std::fwrite(xml.data(), 1, xml.size(), out_);
    std::fflush(out_);
  }

 private:
  void Write(std::string& xml, const RunResult& run) const;
  void WriteSuite(std::string& xml, const SuiteResult& suite, int id,
                  const ElementCounts& counts) const;
  void WriteTest(std::string& xml, const SuiteResult& suite, std::size_t index,
                 const std::string& classname) const;
  void WriteSuiteError(std::string& xml, const char* name, const char* type,
                       const std::vector<FailureRecord>& failures,
                       const std::string& classname) const;

  std::FILE* out_;
  const ResultCollector& results_;
  std::string hostname_;
};

void AppendTimeAttribute(std::string& xml, std::int64_t elapsed_ns) {
  std::string seconds;
  report::AppendFixedSeconds(seconds, elapsed_ns, 3);
  AppendXmlAttribute(xml, "time", seconds);
}

void AppendTimestampAttribute(std::string& xml, std::int64_t time_ns) {
  std::string timestamp;
  report::AppendIsoSeconds(timestamp, report::ToCivilTime(time_ns));
  AppendXmlAttribute(xml, "timestamp", timestamp);
}

void AppendCountAttributes(std::string& xml, const ElementCounts& counts) {
  AppendXmlAttribute(xml, "tests", counts.tests);
  AppendXmlAttribute(xml, "failures", counts.failures);
  AppendXmlAttribute(xml, "errors", counts.errors);
  AppendXmlAttribute(xml, "skipped", counts.skipped);
}

void AppendProperty(std::string& xml, std::string_view name, std::string_view value) {
  xml += "        <property";
  AppendXmlAttribute(xml, "name", name);
  AppendXmlAttribute(xml, "value", value);
  xml += "/>\n";
}

void AppendSystemOut(std::string& xml, const std::vector<std::string>& lines,
                     std::string_view indent) {
  if (lines.empty()) return;
  xml += indent;
  xml += "<system-out>";
  for (const std::string& line : lines) {
    AppendXmlEscaped(xml, line, /*attribute=*/false);
    xml += '\n';
  }
  xml += "</system-out>\n";
}

void JunitReporter::Write(std::string& xml, const RunResult& run) const {
  std::vector<ElementCounts> suite_counts;
  ElementCounts total;
  for (const SuiteResult& suite : run.suites) {
    suite_counts.push_back(CountSuite(suite));
    total.Add(suite_counts.back());
  }
  xml += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites";
  AppendXmlAttribute(xml, "name", "handoff");
  AppendCountAttributes(xml, total);
  AppendTimeAttribute(xml, run.elapsed_ns);
  AppendTimestampAttribute(xml, run.start_ns);
  xml += ">\n";
  for (std::size_t i = 0; i < run.suites.size(); ++i) {
    WriteSuite(xml, run.suites[i], static_cast<int>(i), suite_counts[i]);
  }
  xml += "</testsuites>\n";
}

void JunitReporter::WriteSuite(std::string& xml, const SuiteResult& suite, int id,
                               const ElementCounts& counts) const {
  xml += "  <testsuite";
  AppendXmlAttribute(xml, "name", suite.name);
  AppendCountAttributes(xml, counts);
  AppendTimeAttribute(xml, suite.elapsed_ns);
  AppendTimestampAttribute(xml, suite.start_ns);
  AppendXmlAttribute(xml, "hostname", hostname_);
  AppendXmlAttribute(xml, "id", id);
  AppendXmlAttribute(xml, "package", suite.namespace_name);
  xml += ">\n";
  const std::string classname =
      suite.namespace_name.empty() ? suite.name : suite.namespace_name + "." + suite.name;
  if (!suite.setup_failures.empty()) {
    WriteSuiteError(xml, "(setup)", "setup", suite.setup_failures, classname);
  }
  for (std::size_t i = 0; i < suite.tests.size(); ++i) WriteTest(xml, suite, i, classname);
  if (!suite.teardown_failures.empty()) {
    WriteSuiteError(xml, "(teardown)", "teardown", suite.teardown_failures, classname);
  }
  AppendSystemOut(xml, suite.output, "    ");
  xml += "  </testsuite>\n";
}

void JunitReporter::WriteSuiteError(std::string& xml, const char* name, const char* type,
                                    const std::vector<FailureRecord>& failures,
                                    const std::string& classname) const {
  xml += "    <testcase";
  AppendXmlAttribute(xml, "name", name);
  AppendXmlAttribute(xml, "classname", classname);
  AppendTimeAttribute(xml, 0);
  if (!failures.front().file.empty()) {
    AppendXmlAttribute(xml, "file", failures.front().file);
    AppendXmlAttribute(xml, "line", failures.front().line);
  }
  xml += ">\n      <error";
  AppendXmlAttribute(xml, "message", failures.front().message);
  AppendXmlAttribute(xml, "type", type);
  xml += '>';
  for (std::size_t i = 0; i < failures.size(); ++i) {
    if (i > 0) xml += '\n';
    AppendXmlEscaped(xml, Located(failures[i]), /*attribute=*/false);
  }
  xml += "</error>\n    </testcase>\n";
}

// Appends `failures` as located lines, one per failure.
void AppendFailureLines(std::string& xml, const std::vector<FailureRecord>& failures) {
  for (std::size_t i = 0; i < failures.size(); ++i) {
    if (i > 0) xml += '\n';
    AppendXmlEscaped(xml, Located(failures[i]), /*attribute=*/false);
  }
}

// Returns the failure that names a failed attempt: the first one with the attempt's cause
// (the crash or timeout that ended it), else the first one; null if there is none.
const FailureRecord* Headline(const std::vector<FailureRecord>& failures) {
  const std::string_view cause = CauseOf(failures);
  for (const FailureRecord& f : failures) {
    if (f.cause == cause) return &f;
  }
  return nullptr;
}

// Returns the type attribute of a failed attempt's element: its cause, or "failure".
std::string_view TypeOf(std::string_view cause) { return cause.empty() ? "failure" : cause; }

// Appends one earlier attempt as Surefire's <rerunFailure>/<flakyFailure> (or their
// *Error forms): message and type attributes, then <stackTrace> (required by the schema:
// the attempt's failures, its subtests' prefixed with their name) and <system-out>.
void AppendAttemptElement(std::string& xml, std::string_view element,
                          const AttemptRecord& attempt) {
  const std::string_view cause = attempt.Cause();
  std::string message = "failed";
  if (const FailureRecord* own = Headline(attempt.failures); own != nullptr) {
    message = own->message;
  } else {
    for (const auto& [name, f] : attempt.subtest_failures) {
      if (cause.empty() || f.cause == cause) {
        message = name + ": " + f.message;
        break;
      }
    }
  }
  xml += "      <";
  xml += element;
  AppendXmlAttribute(xml, "message", message);
  AppendXmlAttribute(xml, "type", TypeOf(cause));
  xml += ">\n        <stackTrace>";
  AppendFailureLines(xml, attempt.failures);
  for (std::size_t i = 0; i < attempt.subtest_failures.size(); ++i) {
    if (i > 0 || !attempt.failures.empty()) xml += '\n';
    const auto& [name, f] = attempt.subtest_failures[i];
    AppendXmlEscaped(xml, name + ": " + Located(f), /*attribute=*/false);
  }
  xml += "</stackTrace>\n";
  AppendSystemOut(xml, attempt.output, "        ");
  xml += "      </";
  xml += element;
  xml += ">\n";
}

// Appends the earlier attempts whose kind (an error: a cause; a failure: none) is `errors`,
// as `element`.
void AppendAttemptElements(std::string& xml, const TestResult& test, std::string_view element,
                           bool errors) {
  for (const AttemptRecord& attempt : test.earlier_attempts) {
    if (attempt.Cause().empty() != errors) AppendAttemptElement(xml, element, attempt);
  }
}

void JunitReporter::WriteTest(std::string& xml, const SuiteResult& suite, std::size_t index,
                              const std::string& classname) const {
  const TestResult& test = suite.tests[index];
  const Verdict verdict = test.verdict();
  const CaseKind kind = KindOf(test);
  xml += "    <testcase";
  AppendXmlAttribute(xml, "name", test.name);
  AppendXmlAttribute(xml, "classname", classname);
  AppendTimeAttribute(xml, test.elapsed_ns);
  // Events carry no declaration site for a test; the first failure's is the best we have.
  if (!test.failures.empty() && !test.failures.front().file.empty()) {
    AppendXmlAttribute(xml, "file", test.failures.front().file);
    AppendXmlAttribute(xml, "line", test.failures.front().line);
  }

  // Attempts are a top-level test's; subtests only copy their parent's.
  const bool show_attempts = test.attempts > 1 && test.name.find('/') == std::string::npos;
  const bool has_properties = verdict.flaky || show_attempts || !test.values.empty() ||
                              !test.spans.empty();
  // Earlier attempts get elements of their own when the test passed after them (flaky) or
  // failed every time; their lines then leave the testcase's own <system-out>.
  const bool attempt_elements = !test.earlier_attempts.empty() &&
                                (kind == CaseKind::kFailure || kind == CaseKind::kError ||
                                 kind == CaseKind::kPassed);
  const bool has_children = has_properties || kind != CaseKind::kPassed ||
                            !test.output.empty() || !test.attachments.empty() || attempt_elements;
  if (!has_children) {
    xml += "/>\n";
    return;
  }
  xml += ">\n";

  if (has_properties) {
    xml += "      <properties>\n";
    if (verdict.flaky) AppendProperty(xml, "flaky", "true");
    if (show_attempts) AppendProperty(xml, "attempts", std::to_string(test.attempts));
    for (const auto& [key, value] : test.values) AppendProperty(xml, key, value);
    for (const SpanRecord& span : test.spans) {
      std::string seconds;
      report::AppendFixedSeconds(seconds, span.elapsed_ns, 3);
      AppendProperty(xml, "span:" + span.name, seconds);
      for (const auto& [key, value] : span.attributes) {
        AppendProperty(xml, "span:" + span.name + ":" + key, value);
      }
    }
    xml += "      </properties>\n";
  }

  // The final attempt's <failure> or <error>: message from the failure that ended it.
  const auto append_final = [&](std::string_view element) {
    std::string message;
    if (const FailureRecord* headline = Headline(test.failures); headline != nullptr) {
      message = headline->message;
    } else {
      message = "failed";
      for (std::size_t i = index + 1; i < suite.tests.size(); ++i) {
        if (IsSubtestOf(suite.tests[i].name, test.name) &&
            suite.tests[i].status == Status::kFailed) {
          message = "a subtest failed";
          break;
        }
      }
    }
    xml += "      <";
    xml += element;
    AppendXmlAttribute(xml, "message", message);
    AppendXmlAttribute(xml, "type", TypeOf(CauseOf(test.failures)));
    if (test.failures.empty()) {
      xml += "/>\n";
      return;
    }
    xml += '>';
    AppendFailureLines(xml, test.failures);
    xml += "</";
    xml += element;
    xml += ">\n";
  };

  // In the order surefire-test-report-3.0.xsd requires.
  if (kind == CaseKind::kFailure) append_final("failure");
  if (attempt_elements) {
    AppendAttemptElements(xml, test, kind == CaseKind::kPassed ? "flakyFailure" : "rerunFailure",
                          /*errors=*/false);
  }
  if (kind == CaseKind::kSkipped) {
    xml += "      <skipped";
    if (verdict.outcome == Status::kFailed) {
      // A soft failure: an expected failure, written as pytest writes an xfail.
      const FailureRecord* headline = Headline(test.failures);
      AppendXmlAttribute(xml, "message",
                      std::string("soft failure (known issue): ") +
                          (headline != nullptr ? headline->message : "failed"));
      AppendXmlAttribute(xml, "type", "handoff.soft_failure");
      xml += '>';
      AppendFailureLines(xml, test.failures);
      xml += "</skipped>\n";
    } else if (verdict.outcome == Status::kCancelled) {
      AppendXmlAttribute(xml, "message", test.CancelReason());
      xml += "/>\n";
    } else {
      if (!test.skip_reason.empty()) AppendXmlAttribute(xml, "message", test.skip_reason);
      xml += "/>\n";
    }
  }
  if (kind == CaseKind::kError) append_final("error");
  if (attempt_elements) {
    AppendAttemptElements(xml, test, kind == CaseKind::kPassed ? "flakyError" : "rerunError",
                          /*errors=*/true);
  }
  const std::size_t begin =
      attempt_elements ? std::min(test.final_output_begin, test.output.size()) : 0;
  std::vector<std::string> lines(test.output.begin() + static_cast<std::ptrdiff_t>(begin),
                                 test.output.end());
  // The Jenkins attachments plugin's lines: every attempt's files, each by absolute path.
  for (const AttachmentRecord& a : test.attachments) {
    if (!a.path.empty()) lines.push_back("[[ATTACHMENT|" + a.path + "]]");
  }
  AppendSystemOut(xml, lines, "      ");
  xml += "    </testcase>\n";
}

}  // namespace

std::unique_ptr<EventSink> MakeJunitReporter(std::FILE* out, const ResultCollector& results,
                                             std::string hostname) {
  return std::make_unique<JunitReporter>(out, results, std::move(hostname));
}

}  // namespace handoff
