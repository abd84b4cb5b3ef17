// GoogleTest's XML and JSON reports (--gtest_output=xml:FILE, json:FILE), written once when
// the run finishes from the results ResultCollector gathered, so that tools that read a
// GoogleTest binary's reports read a handoff binary's.
//
// The shapes are GoogleTest's (1.12): testsuites > testsuite > testcase, with the same
// attributes and JSON keys in the same order. Every test and subtest is a testcase named as
// --gtest_list_tests lists it (googletest/gtest_filter.h: GTestName), its classname the suite.
// What each verdict becomes:
//   passed             status "run", result "completed";
//   failed             result "completed" with a <failure> (JSON "failures") per failure,
//                      message "file:line\nmessage" as GoogleTest writes it; a test whose
//                      failures are all in its subtests gets one saying so;
//   skipped, cancelled result "skipped" with a <skipped message=...> (JSON: result "SKIPPED",
//                      GoogleTest's JSON has no place for the message);
//   soft failed        result "skipped", message "soft failure (known issue): ...": it does
//                      not fail the run, so no tool may count it as a failure.
// A suite's setup or teardown failure is a testcase "(setup)" or "(teardown)" with its
// failures. Differences from GoogleTest: timestamps are UTC; "disabled" is always 0 (disabled
// tests are not part of a run's results); there are no file/line attributes on testcases
// (handoff keeps locations on failures only).

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/event.h"
#include "googletest/gtest_filter.h"
#include "json/encoding.h"
#include "json/json_writer.h"
#include "report/reporters.h"
#include "report/results.h"
#include "report/xml_escape.h"

namespace handoff {
namespace {

// One testcase as both formats write it.
struct Case {
  std::string name;
  std::int64_t start_ns = 0;
  std::int64_t elapsed_ns = 0;
  bool skipped = false;
  std::string skip_message;
  std::vector<std::string> failures;  // "file:line\nmessage"
};

struct SuiteCases {
  std::string name;
  std::int64_t start_ns = 0;
  std::int64_t elapsed_ns = 0;
  int failures = 0, skipped = 0;
  std::vector<Case> cases;
};

std::string FailureText(const FailureRecord& f) {
  if (f.file.empty()) return f.message;
  return f.file + ":" + std::to_string(f.line) + "\n" + f.message;
}

// Returns the test part of a GoogleTest name ("memory/Put" of "KvStore.memory/Put").
std::string TestPart(std::string_view suite, std::string_view test) {
  std::string name = GTestName(suite, test);
  return name.substr(name.find('.') + 1);
}

std::vector<SuiteCases> Collect(const RunResult& run) {
  std::vector<SuiteCases> out;
  for (const SuiteResult& suite : run.suites) {
    SuiteCases s;
    s.name = GTestName(suite.name, "");
    s.name.pop_back();  // the '.'
    s.start_ns = suite.start_ns;
    s.elapsed_ns = suite.elapsed_ns;
    auto hook = [&](const char* name, const std::vector<FailureRecord>& failures) {
      if (failures.empty()) return;
      Case c{name, suite.start_ns, 0, false, {}, {}};
      for (const FailureRecord& f : failures) c.failures.push_back(FailureText(f));
      s.cases.push_back(std::move(c));
    };
    hook("(setup)", suite.setup_failures);
    for (const TestResult& test : suite.tests) {
      Case c{TestPart(suite.name, test.name), test.start_ns, test.elapsed_ns, false, {}, {}};
      const Verdict verdict = test.verdict();
      if (verdict.outcome == Status::kFailed && verdict.soft) {
        c.skipped = true;
        c.skip_message = "soft failure (known issue)";
        if (!test.failures.empty()) c.skip_message += ": " + FailureText(test.failures.front());
      } else if (verdict.outcome == Status::kFailed) {
        for (const FailureRecord& f : test.failures) c.failures.push_back(FailureText(f));
        if (c.failures.empty()) c.failures.push_back("a subtest failed");
      } else if (verdict.outcome == Status::kSkipped) {
        c.skipped = true;
        c.skip_message = test.skip_reason;
      } else if (verdict.outcome == Status::kCancelled) {
        c.skipped = true;
        c.skip_message = test.CancelReason();
      }
      s.cases.push_back(std::move(c));
    }
    hook("(teardown)", suite.teardown_failures);
    for (const Case& c : s.cases) {
      if (!c.failures.empty()) ++s.failures;
      if (c.skipped) ++s.skipped;
    }
    out.push_back(std::move(s));
  }
  return out;
}

// Returns the run's testcases and failed testcases, the sums of its suites'.
std::pair<int, int> Totals(const std::vector<SuiteCases>& suites) {
  int tests = 0, failures = 0;
  for (const SuiteCases& s : suites) {
    tests += static_cast<int>(s.cases.size());
    failures += s.failures;
  }
  return {tests, failures};
}

// "2026-12-05T01:18:56.428" (XML) or "2026-12-05T01:18:56Z" (JSON), UTC.
std::string Timestamp(std::int64_t time_ns, bool json) {
  std::string out;
  const report::CivilTime t = report::ToCivilTime(time_ns);
  report::AppendIsoSeconds(out, t);
  if (json) {
    out += 'Z';
  } else {
    out += '.';
    report::AppendDigits(out, t.nanos / 1'000'000, 3);
  }
  return out;
}

std::string Seconds(std::int64_t ns) {
  std::string out;
  report::AppendFixedSeconds(out, ns, 3);
  return out;
}

// Appends `text` as character data. GoogleTest wraps it in CDATA; escaped text reads the
// same to every XML parser and needs no care for "]]>" or forbidden characters.
void Text(std::string& xml, std::string_view text) {
  AppendXmlEscaped(xml, text, /*attribute=*/false);
}

std::string WriteXml(const std::vector<SuiteCases>& suites, const RunResult& run,
                     const GTestReportOptions& options) {
  const auto [tests, failures] = Totals(suites);
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites";
  AppendXmlAttribute(xml, "tests", tests);
  AppendXmlAttribute(xml, "failures", failures);
  AppendXmlAttribute(xml, "disabled", 0);
  AppendXmlAttribute(xml, "errors", 0);
  AppendXmlAttribute(xml, "time", Seconds(run.elapsed_ns));
  AppendXmlAttribute(xml, "timestamp", Timestamp(run.start_ns, false));
  if (options.random_seed != 0) {
    AppendXmlAttribute(xml, "random_seed", static_cast<int>(options.random_seed));
  }
  AppendXmlAttribute(xml, "name", "AllTests");
  xml += ">\n";
  for (const SuiteCases& s : suites) {
    xml += "  <testsuite";
    AppendXmlAttribute(xml, "name", s.name);
    AppendXmlAttribute(xml, "tests", static_cast<int>(s.cases.size()));
    AppendXmlAttribute(xml, "failures", s.failures);
    AppendXmlAttribute(xml, "disabled", 0);
    AppendXmlAttribute(xml, "skipped", s.skipped);
    AppendXmlAttribute(xml, "errors", 0);
    AppendXmlAttribute(xml, "time", Seconds(s.elapsed_ns));
    AppendXmlAttribute(xml, "timestamp", Timestamp(s.start_ns, false));
    xml += ">\n";
    for (const Case& c : s.cases) {
      xml += "    <testcase";
      AppendXmlAttribute(xml, "name", c.name);
      AppendXmlAttribute(xml, "status", "run");
      AppendXmlAttribute(xml, "result", c.skipped ? "skipped" : "completed");
      AppendXmlAttribute(xml, "time", Seconds(c.elapsed_ns));
      AppendXmlAttribute(xml, "timestamp", Timestamp(c.start_ns, false));
      AppendXmlAttribute(xml, "classname", s.name);
      if (c.failures.empty() && !c.skipped) {
        xml += " />\n";
        continue;
      }
      xml += ">\n";
      for (const std::string& f : c.failures) {
        xml += "      <failure";
        AppendXmlAttribute(xml, "message", f);
        AppendXmlAttribute(xml, "type", "");
        xml += '>';
        Text(xml, f);
        xml += "</failure>\n";
      }
      if (c.skipped) {
        xml += "      <skipped";
        AppendXmlAttribute(xml, "message", c.skip_message);
        xml += '>';
        Text(xml, c.skip_message);
        xml += "</skipped>\n";
      }
      xml += "    </testcase>\n";
    }
    xml += "  </testsuite>\n";
  }
  xml += "</testsuites>\n";
  return xml;
}

// Appends `"key": ` at `indent` spaces, after a comma unless it is the first member.
void Key(std::string& json, int indent, std::string_view key, bool& first) {
  if (!first) json += ",\n";
  first = false;
  json.append(static_cast<std::size_t>(indent), ' ');
  AppendJsonString(json, key);
  json += ": ";
}

void StringMember(std::string& json, int indent, std::string_view key, std::string_view value,
                  bool& first) {
  Key(json, indent, key, first);
  AppendJsonString(json, value);
}

void IntMember(std::string& json, int indent, std::string_view key, int value, bool& first) {
  Key(json, indent, key, first);
  json += std::to_string(value);
}

std::string WriteJson(const std::vector<SuiteCases>& suites, const RunResult& run,
                      const GTestReportOptions& options) {
  const auto [tests, failures] = Totals(suites);
  std::string json = "{\n";
  bool first = true;
  IntMember(json, 2, "tests", tests, first);
  IntMember(json, 2, "failures", failures, first);
  IntMember(json, 2, "disabled", 0, first);
  IntMember(json, 2, "errors", 0, first);
  if (options.random_seed != 0) {
    IntMember(json, 2, "random_seed", static_cast<int>(options.random_seed), first);
  }
  StringMember(json, 2, "timestamp", Timestamp(run.start_ns, true), first);
  StringMember(json, 2, "time", Seconds(run.elapsed_ns) + "s", first);
  StringMember(json, 2, "name", "AllTests", first);
  Key(json, 2, "testsuites", first);
  json += "[";
  for (std::size_t i = 0; i < suites.size(); ++i) {
    const SuiteCases& s = suites[i];
    json += i == 0 ? "\n    {\n" : ",\n    {\n";
    bool f = true;
    StringMember(json, 6, "name", s.name, f);
    IntMember(json, 6, "tests", static_cast<int>(s.cases.size()), f);
    IntMember(json, 6, "failures", s.failures, f);
    IntMember(json, 6, "disabled", 0, f);
    IntMember(json, 6, "errors", 0, f);
    StringMember(json, 6, "timestamp", Timestamp(s.start_ns, true), f);
    StringMember(json, 6, "time", Seconds(s.elapsed_ns) + "s", f);
    Key(json, 6, "testsuite", f);
    json += "[";
    for (std::size_t j = 0; j < s.cases.size(); ++j) {
      const Case& c = s.cases[j];
      json += j == 0 ? "\n        {\n" : ",\n        {\n";
      bool g = true;
      StringMember(json, 10, "name", c.name, g);
      StringMember(json, 10, "status", "RUN", g);
      StringMember(json, 10, "result", c.skipped ? "SKIPPED" : "COMPLETED", g);
      StringMember(json, 10, "timestamp", Timestamp(c.start_ns, true), g);
      StringMember(json, 10, "time", Seconds(c.elapsed_ns) + "s", g);
      StringMember(json, 10, "classname", s.name, g);
      if (!c.failures.empty()) {
        Key(json, 10, "failures", g);
        json += "[";
        for (std::size_t k = 0; k < c.failures.size(); ++k) {
          json += k == 0 ? "\n            {\n" : ",\n            {\n";
          bool h = true;
          StringMember(json, 14, "failure", c.failures[k], h);
          StringMember(json, 14, "type", "", h);
          json += "\n            }";
        }
        json += "\n          ]";
      }
      json += "\n        }";
    }
    json += "\n      ]\n    }";
  }
  json += "\n  ]\n}\n";
  return json;
}

class GTestReporter : public EventSink {
 public:
  GTestReporter(std::FILE* out, const ResultCollector& results, GTestReportOptions options,
                bool json)
      : out_(out), results_(results), options_(options), json_(json) {}

  // EventSink
  void OnEvent(const Event& event) override {
    if (event.kind != EventKind::kRunFinished) return;
    const RunResult& run = results_.result();
    const std::vector<SuiteCases> suites = Collect(run);
    const std::string text =
        json_ ? WriteJson(suites, run, options_) : WriteXml(suites, run, options_);
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  const ResultCollector& results_;
  GTestReportOptions options_;
  bool json_;
};

}  // namespace

std::unique_ptr<EventSink> MakeGTestXmlReporter(std::FILE* out, const ResultCollector& results,
                                                GTestReportOptions options) {
  return std::make_unique<GTestReporter>(out, results, options, /*json=*/false);
}

std::unique_ptr<EventSink> MakeGTestJsonReporter(std::FILE* out, const ResultCollector& results,
                                                 GTestReportOptions options) {
  return std::make_unique<GTestReporter>(out, results, options, /*json=*/true);
}

}  // namespace handoff
