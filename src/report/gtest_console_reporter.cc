// GoogleTest's console output, for a handoff binary run with GoogleTest's flags: IDEs
// (CLion, C++ TestMate) read the "[ RUN      ]" and "[       OK ]" lines, and CMake's
// gtest_discover_tests() reports a test skipped when it prints "[  SKIPPED ]".
//
// A top-level test is printed when it finishes, from the results: "[ RUN      ]", then each of
// its subtests the same way (named Suite.Test/Sub), then its own output (which holds its
// failures, "file:line: message"), then its verdict. Counts in the header and the summary
// are of top-level tests, as GoogleTest counts tests; the lists name failed subtests too.
// A soft failure is printed as "[  SKIPPED ]" with its message: it does not fail the run.

#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "event/event.h"
#include "googletest/gtest_filter.h"
#include "report/reporters.h"
#include "report/results.h"

namespace handoff {
namespace {

constexpr std::string_view kGreen = "\033[0;32m";
constexpr std::string_view kRed = "\033[0;31m";
constexpr std::string_view kYellow = "\033[0;33m";
constexpr std::string_view kReset = "\033[m";

std::string Plural(std::size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

std::string Millis(std::int64_t ns) { return std::to_string(ns / 1'000'000) + " ms"; }

class GTestConsoleReporter : public EventSink {
 public:
  GTestConsoleReporter(std::FILE* out, const ResultCollector& results,
                       GTestConsoleOptions options)
      : out_(out), results_(results), options_(std::move(options)) {}

  // EventSink
  void OnEvent(const Event& e) override {
    switch (e.kind) {
      case EventKind::kRunStarted: {
        if (options_.brief) break;
        std::size_t tests = 0;
        for (const auto& [suite, n] : options_.planned) tests += n;
        Tag("[==========]", kGreen);
        buffer_ += "Running " + Plural(tests, "test") + " from " +
                   Plural(options_.planned.size(), "test suite") + ".\n";
        Tag("[----------]", kGreen);
        buffer_ += "Global test environment set-up.\n";
        break;
      }
      case EventKind::kSuiteStarted: {
        if (options_.brief) break;
        auto it = options_.planned.find(e.suite);
        Tag("[----------]", kGreen);
        buffer_ += Plural(it == options_.planned.end() ? 0 : it->second, "test") + " from " +
                   SuiteName(e.suite) + "\n";
        break;
      }
      case EventKind::kTestFinished:
        if (e.test.find('/') == std::string::npos) PrintTest(e.suite, e.test);
        break;
      case EventKind::kSuiteFinished: {
        const SuiteResult* suite = FindSuite(e.suite);
        if (suite == nullptr) break;
        for (const auto& [what, failures] :
             {std::pair{"setup", &suite->setup_failures},
              std::pair{"teardown", &suite->teardown_failures}}) {
          for (const FailureRecord& f : *failures) {
            buffer_ += SuiteName(suite->name) + " " + what + ": " + Located(f) + "\n";
          }
        }
        if (!options_.brief) {
          std::size_t tests = 0;
          for (const TestResult& t : suite->tests) tests += IsTopLevel(t) ? 1 : 0;
          Tag("[----------]", kGreen);
          buffer_ += Plural(tests, "test") + " from " + SuiteName(suite->name) + " (" +
                     Millis(suite->elapsed_ns) + " total)\n\n";
        }
        Flush();
        break;
      }
      case EventKind::kRunFinished:
        PrintSummary(results_.result());
        Flush();
        break;
      default:
        break;
    }
  }

 private:
  static bool IsTopLevel(const TestResult& t) { return t.name.find('/') == std::string::npos; }

  static std::string SuiteName(const std::string& suite) {
    std::string name = GTestName(suite, "");
    name.pop_back();
    return name;
  }

  void Tag(std::string_view tag, std::string_view color) {
    if (options_.color) buffer_ += color;
    buffer_ += tag;
    if (options_.color) buffer_ += kReset;
    buffer_ += ' ';
  }

  const SuiteResult* FindSuite(const std::string& name) const {
    const RunResult& run = results_.result();
    for (auto it = run.suites.rbegin(); it != run.suites.rend(); ++it) {
      if (it->name == name) return &*it;
    }
    return nullptr;
  }

  // Prints a test's block: its "[ RUN      ]" line (unless `run_line` is false: printed
  // already), its output and its verdict. With brief, only a failed test's output and
  // verdict.
  void PrintBlock(const std::string& suite, const TestResult& test, bool run_line) {
    const Verdict verdict = test.verdict();
    const bool failed = verdict.outcome == Status::kFailed && !verdict.soft;
    if (options_.brief && !failed) return;
    const std::string name = GTestName(suite, test.name);
    if (run_line && !options_.brief) {
      Tag("[ RUN      ]", kGreen);
      buffer_ += name + "\n";
    }
    for (const std::string& line : test.output) buffer_ += line + "\n";
    if (failed) {
      Tag("[  FAILED  ]", kRed);
    } else if (verdict.outcome == Status::kPassed) {
      Tag("[       OK ]", kGreen);
    } else {
      Tag("[  SKIPPED ]", kYellow);
    }
    buffer_ += name + " (" + Millis(test.elapsed_ns) + ")\n";
  }

  // Prints the top-level test `test_name` and its subtests, which follow its latest record
  // in the results.
  void PrintTest(const std::string& suite_name, const std::string& test_name) {
    const SuiteResult* suite = FindSuite(suite_name);
    if (suite == nullptr) return;
    for (std::size_t i = suite->tests.size(); i-- > 0;) {
      if (suite->tests[i].name != test_name) continue;
      const TestResult& top = suite->tests[i];
      if (!options_.brief) {
        Tag("[ RUN      ]", kGreen);
        buffer_ += GTestName(suite_name, top.name) + "\n";
      }
      for (std::size_t j = i + 1; j < suite->tests.size(); ++j) {
        if (!IsSubtestOf(suite->tests[j].name, top.name)) break;
        PrintBlock(suite_name, suite->tests[j], /*run_line=*/true);
      }
      PrintBlock(suite_name, top, /*run_line=*/false);
      break;
    }
    if (options_.color) Flush();
  }

  void PrintSummary(const RunResult& run) {
    std::vector<std::string> passed, skipped, failed;
    std::set<std::string> suites;  // a suite run again (--gtest_repeat) counts once
    std::size_t tests = 0;
    for (const SuiteResult& suite : run.suites) {
      suites.insert(suite.name);
      if (!suite.setup_failures.empty() || !suite.teardown_failures.empty()) {
        failed.push_back(SuiteName(suite.name) + " (setup or teardown)");
      }
      for (const TestResult& test : suite.tests) {
        const Verdict verdict = test.verdict();
        const std::string name = GTestName(suite.name, test.name);
        if (verdict.outcome == Status::kFailed && !verdict.soft) {
          failed.push_back(name);
        } else if (IsTopLevel(test) && verdict.outcome != Status::kPassed) {
          skipped.push_back(name);
        }
        if (!IsTopLevel(test)) continue;
        ++tests;
        if (verdict.outcome == Status::kPassed) passed.push_back(name);
      }
    }
    if (!options_.brief) {
      Tag("[----------]", kGreen);
      buffer_ += "Global test environment tear-down\n";
    }
    Tag("[==========]", kGreen);
    buffer_ += Plural(tests, "test") + " from " + Plural(suites.size(), "test suite") + " ran. (" +
               Millis(run.elapsed_ns) + " total)\n";
    Tag("[  PASSED  ]", kGreen);
    buffer_ += Plural(passed.size(), "test") + ".\n";
    if (!skipped.empty()) {
      Tag("[  SKIPPED ]", kYellow);
      buffer_ += Plural(skipped.size(), "test") + ", listed below:\n";
      for (const std::string& name : skipped) {
        Tag("[  SKIPPED ]", kYellow);
        buffer_ += name + "\n";
      }
    }
    if (!failed.empty()) {
      Tag("[  FAILED  ]", kRed);
      buffer_ += Plural(failed.size(), "test") + ", listed below:\n";
      for (const std::string& name : failed) {
        Tag("[  FAILED  ]", kRed);
        buffer_ += name + "\n";
      }
      buffer_ += "\n " + std::to_string(failed.size()) + " FAILED TEST" +
                 (failed.size() == 1 ? "" : "S") + "\n";
    }
    if (!run.stopped_early.empty()) buffer_ += run.stopped_early + "\n";
  }

  void Flush() {
    if (buffer_.empty()) return;
    std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
    buffer_.clear();
    std::fflush(out_);
  }

  std::FILE* out_;
  const ResultCollector& results_;
  GTestConsoleOptions options_;
  std::string buffer_;
};

}  // namespace

std::unique_ptr<EventSink> MakeGTestConsoleReporter(std::FILE* out, const ResultCollector& results,
                                                    GTestConsoleOptions options) {
  return std::make_unique<GTestConsoleReporter>(out, results, std::move(options));
}

}  // namespace handoff
