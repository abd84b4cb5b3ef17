// The human-readable reporter: a live line per finished test, then a summary.
//
//   PASS  Basics/Adds (12ms)
//   FAIL  Basics/Fails (20ms)
//         cart_test.cc:30: want 3, got 2
//     PASS  Basics/Table/one (1ms)
//   ok    Basics (1.20s)
//
// A top-level test is printed when it finishes for good, with its subtests below it, so
// retried attempts never show up as results of their own. Everything is read from the
// ResultCollector (which sees each event first) and from the events' times: never the clock.

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/event.h"
#include "report/attachment_files.h"
#include "report/reporters.h"
#include "report/results.h"

namespace handoff {
namespace {

constexpr std::string_view kGreen = "\x1b[32m";
constexpr std::string_view kRed = "\x1b[31m";
constexpr std::string_view kYellow = "\x1b[33m";
constexpr std::string_view kMagenta = "\x1b[35m";
constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kReset = "\x1b[0m";

// Returns a short human duration: "0ms", "12ms", "1.23s", "2m03s".
std::string FormatDuration(std::int64_t ns) {
  if (ns < 0) ns = 0;
  const std::int64_t ms = (ns + 500'000) / 1'000'000;
  char buffer[48];
  if (ms < 1000) {
    std::snprintf(buffer, sizeof buffer, "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    const std::int64_t cs = (ns + 5'000'000) / 10'000'000;
    std::snprintf(buffer, sizeof buffer, "%lld.%02llds", static_cast<long long>(cs / 100),
                  static_cast<long long>(cs % 100));
  } else {
    const std::int64_t s = (ns + 500'000'000) / 1'000'000'000;
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buffer;
}

int Depth(std::string_view test) {
  int depth = 0;
  for (char c : test) depth += c == '/';
  return depth;
}

class TextReporter final : public EventSink {
 public:
  TextReporter(std::FILE* out, const ResultCollector& results, TextOptions options)
      : out_(out), results_(results), options_(options) {}
  ~TextReporter() override { Flush(); }

  // EventSink
  void OnEvent(const Event& e) override;
  void Flush() override;

 private:
  const SuiteResult* FindSuite(const std::string& name) const;
  void PrintTest(const SuiteResult& suite, const TestResult& test);
  // Prints the suite-level output not printed yet under "<WORD> Suite/(phase)", when the
  // phase failed or in verbose mode.
  // Prints the suite's output not printed yet, when it `failed` or with -v: headed ERROR
  // when it failed by itself (`error`), else OUTPUT for a failed suite, PASS for another.
  void PrintSuiteOutput(const SuiteResult& suite, std::string_view phase, bool failed, bool error);
  void PrintSummary(const RunResult& run);
  // Appends `text` (which may span lines) preceded by `indent`; continuation lines are
  // indented 4 more, as Go indents multi-line messages.
  void PrintIndented(std::string_view indent, std::string_view text);
  // Appends "<indent><WORD>" coloured, then spaces up to 6 columns ("PASS  ", "FLAKY "), and
  // at least one ("SOFT FAIL ", "CANCELLED ").
  void PrintWord(std::string_view indent, std::string_view word, std::string_view color);
  void EndLine();

  std::FILE* out_;
  const ResultCollector& results_;
  TextOptions options_;
  std::string buffer_;
  // Open suites: name -> index in results_.result().suites, and how many of the suite's
  // own output lines were printed.
  std::map<std::string, std::pair<std::size_t, std::size_t>> open_suites_;
};

void TextReporter::OnEvent(const Event& e) {
  switch (e.kind) {
    case EventKind::kSuiteStarted: {
      const RunResult& run = results_.result();
      if (!run.suites.empty() && run.suites.back().name == e.suite) {
        open_suites_[e.suite] = {run.suites.size() - 1, 0};
      }
      return;
    }
    case EventKind::kSetupFinished:
    case EventKind::kTeardownFinished:
      if (const SuiteResult* suite = FindSuite(e.suite)) {
        PrintSuiteOutput(*suite, e.kind == EventKind::kSetupFinished ? "setup" : "teardown",
                         e.status == Status::kFailed, e.status == Status::kFailed);
      }
      return;
    case EventKind::kTestFinished: {
      if (e.test.find('/') != std::string::npos) return;  // printed with its parent
      const SuiteResult* suite = FindSuite(e.suite);
      if (suite == nullptr) return;
      for (auto it = suite->tests.rbegin(); it != suite->tests.rend(); ++it) {
        if (it->name == e.test) {
          PrintTest(*suite, *it);
          break;
        }
      }
      return;
    }
    case EventKind::kSuiteFinished: {
      const SuiteResult* suite = FindSuite(e.suite);
      if (suite == nullptr) return;
      // ERROR only for a failure of the suite itself; a suite whose tests failed shows
      // what it printed outside them (an external suite's command) as its output.
      PrintSuiteOutput(*suite, "suite", suite->status == Status::kFailed,
                       !suite->setup_failures.empty() || !suite->teardown_failures.empty());
      if (options_.brief && suite->status != Status::kFailed) {
        open_suites_.erase(e.suite);
        Flush();
        return;
      }
      switch (suite->status) {
        case Status::kPassed: PrintWord("", "ok", kGreen); break;
        case Status::kFailed: PrintWord("", "FAIL", kRed); break;
        case Status::kSkipped: PrintWord("", "SKIP", kYellow); break;
        case Status::kCancelled: PrintWord("", "CANCELLED", kYellow); break;
      }
      buffer_ += suite->name;
      buffer_ += " (";
      buffer_ += FormatDuration(suite->elapsed_ns);
      buffer_ += ')';
      EndLine();
      open_suites_.erase(e.suite);
      Flush();
      return;
    }
    case EventKind::kRunFinished:
      PrintSummary(results_.result());
      Flush();
      return;
    default:
      return;
  }
}

const SuiteResult* TextReporter::FindSuite(const std::string& name) const {
  const RunResult& run = results_.result();
  auto it = open_suites_.find(name);
  if (it != open_suites_.end() && it->second.first < run.suites.size() &&
      run.suites[it->second.first].name == name) {
    return &run.suites[it->second.first];
  }
  for (auto suite = run.suites.rbegin(); suite != run.suites.rend(); ++suite) {
    if (suite->name == name) return &*suite;
  }
  return nullptr;
}

void TextReporter::PrintWord(std::string_view indent, std::string_view word,
                             std::string_view color) {
  buffer_ += indent;
  if (options_.color) buffer_ += color;
  buffer_ += word;
  if (options_.color) buffer_ += kReset;
  for (std::size_t n = word.size(); n < 6; ++n) buffer_ += ' ';
  if (word.size() >= 6) buffer_ += ' ';
}

void TextReporter::PrintIndented(std::string_view indent, std::string_view text) {
  bool first = true;
  while (true) {
    const std::size_t newline = text.find('\n');
    buffer_ += indent;
    if (!first) buffer_ += "    ";
    buffer_ += text.substr(0, newline);
    EndLine();
    if (newline == std::string_view::npos) return;
    text = text.substr(newline + 1);
    first = false;
  }
}

void TextReporter::PrintTest(const SuiteResult& suite, const TestResult& top) {
  if (options_.brief && top.verdict().outcome != Status::kFailed) return;
  const auto print_one = [&](const TestResult& test) {
    const std::string indent(2 + 2 * static_cast<std::size_t>(Depth(test.name)), ' ');
    const Verdict verdict = test.verdict();
    const bool failed = verdict.outcome == Status::kFailed;
    switch (verdict.outcome) {
      case Status::kFailed:
        verdict.soft ? PrintWord(indent, "SOFT FAIL", kYellow) : PrintWord(indent, "FAIL", kRed);
        break;
      case Status::kSkipped: PrintWord(indent, "SKIP", kYellow); break;
      case Status::kCancelled: PrintWord(indent, "CANCELLED", kYellow); break;
      case Status::kPassed:
        verdict.flaky ? PrintWord(indent, "FLAKY", kMagenta) : PrintWord(indent, "PASS", kGreen);
        break;
    }
    buffer_ += suite.name;
    buffer_ += '/';
    buffer_ += test.name;
    buffer_ += " (";
    buffer_ += FormatDuration(test.elapsed_ns);
    buffer_ += ')';
    if (verdict.flaky) {
      buffer_ += " after ";
      buffer_ += std::to_string(test.attempts);
      buffer_ += " attempts";
    }
    if (test.status == Status::kSkipped && !test.skip_reason.empty() && !options_.verbose) {
      buffer_ += ": ";
      buffer_ += test.skip_reason.substr(0, test.skip_reason.find('\n'));
    } else if (verdict.outcome == Status::kCancelled) {
      const std::string reason = test.CancelReason();
      buffer_ += ": ";
      buffer_ += reason.substr(0, reason.find('\n'));
    }
    EndLine();
    const std::string output_indent = indent + "      ";
    if (failed || options_.verbose) {
      for (const std::string& line : test.output) PrintIndented(output_indent, line);
      for (const AttachmentRecord& a : test.attachments) {
        PrintIndented(output_indent, AttachmentNote(a.name, a.media_type, a.size, a.path));
      }
    } else if (verdict.flaky) {
      for (const AttemptRecord& attempt : test.earlier_attempts) {
        for (const FailureRecord& failure : attempt.failures) {
          PrintIndented(output_indent, "earlier attempt: " + Located(failure));
        }
        for (const auto& [name, failure] : attempt.subtest_failures) {
          PrintIndented(output_indent, "earlier attempt: " + name + ": " + Located(failure));
        }
      }
    }
  };

  print_one(top);
  // Subtests follow their parent in start order (which nests them correctly); tests of
  // the same suite running in parallel may be interleaved with them.
  const TestResult* begin = &top + 1;
  const TestResult* end = suite.tests.data() + suite.tests.size();
  for (const TestResult* test = begin; test < end; ++test) {
    if (IsSubtestOf(test->name, top.name)) print_one(*test);
  }
}

void TextReporter::PrintSuiteOutput(const SuiteResult& suite, std::string_view phase,
                                    bool failed, bool error) {
  auto it = open_suites_.find(suite.name);
  if (it == open_suites_.end()) return;
  std::size_t& printed = it->second.second;
  if (printed >= suite.output.size()) return;
  if (failed || options_.verbose) {
    if (error) {
      PrintWord("  ", "ERROR", kRed);
    } else if (failed) {
      PrintWord("  ", "OUTPUT", kYellow);
    } else {
      PrintWord("  ", "PASS", kGreen);
    }
    buffer_ += suite.name;
    buffer_ += "/(";
    buffer_ += phase;
    buffer_ += ')';
    EndLine();
    for (std::size_t i = printed; i < suite.output.size(); ++i) {
      PrintIndented("        ", suite.output[i]);
    }
  }
  printed = suite.output.size();
}

void TextReporter::PrintSummary(const RunResult& run) {
  const Totals counts = CountTests(run);
  EndLine();
  if (run.status == Status::kFailed) {
    PrintWord("", "FAIL", kRed);
  } else {
    PrintWord("", "PASS", kGreen);
  }
  if (options_.color) buffer_ += kBold;
  buffer_ += std::to_string(counts.total);
  buffer_ += counts.total == 1 ? " test in " : " tests in ";
  buffer_ += FormatDuration(run.elapsed_ns);
  buffer_ += ": ";
  buffer_ += std::to_string(counts.passed);
  buffer_ += " passed, ";
  buffer_ += std::to_string(counts.failed);
  buffer_ += " failed, ";
  buffer_ += std::to_string(counts.soft_failed);
  buffer_ += " soft failed, ";
  buffer_ += std::to_string(counts.skipped);
  buffer_ += " skipped, ";
  buffer_ += std::to_string(counts.cancelled);
  buffer_ += " cancelled, ";
  buffer_ += std::to_string(counts.flaky);
  buffer_ += " flaky";
  if (options_.color) buffer_ += kReset;
  EndLine();
  if (!run.stopped_early.empty()) {
    PrintWord("", "STOP", kRed);
    buffer_ += run.stopped_early;
    EndLine();
  }

  // Failures, then soft failures, each "Suite/Test: file.cc:12: message".
  for (const bool soft : {false, true}) {
    bool header = false;
    const auto print = [&](const std::string& who, const std::string& what) {
      if (!header) {
        buffer_ += soft ? "Soft failures (they do not fail the run):" : "Failures:";
        EndLine();
        header = true;
      }
      PrintIndented("  ", who + ": " + what);
    };
    for (const SuiteResult& suite : run.suites) {
      if (!soft) {
        for (const FailureRecord& f : suite.setup_failures) {
          print(suite.name + " (setup)", Located(f));
        }
      }
      for (std::size_t i = 0; i < suite.tests.size(); ++i) {
        const TestResult& test = suite.tests[i];
        if (test.status != Status::kFailed || test.soft != soft) continue;
        const std::string who = suite.name + "/" + test.name;
        for (const FailureRecord& f : test.failures) print(who, Located(f));
        if (test.failures.empty()) {
          bool failed_subtest = false;
          for (std::size_t k = i + 1; k < suite.tests.size() && !failed_subtest; ++k) {
            failed_subtest = IsSubtestOf(suite.tests[k].name, test.name) &&
                             suite.tests[k].status == Status::kFailed;
          }
          if (!failed_subtest) print(who, "failed");
        }
      }
      if (!soft) {
        for (const FailureRecord& f : suite.teardown_failures) {
          print(suite.name + " (teardown)", Located(f));
        }
      }
    }
  }

  // The last line is for scripts: "N passed, M failed, K skipped", never coloured.
  buffer_ += std::to_string(counts.passed);
  buffer_ += " passed, ";
  buffer_ += std::to_string(counts.failed);
  buffer_ += " failed, ";
  buffer_ += std::to_string(counts.skipped);
  buffer_ += " skipped";
  EndLine();
}

void TextReporter::EndLine() {
  buffer_ += '\n';
  if (options_.color) Flush();
}

void TextReporter::Flush() {
  if (!buffer_.empty()) {
    std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
    buffer_.clear();
  }
  std::fflush(out_);
}

}  // namespace

std::unique_ptr<EventSink> MakeTextReporter(std::FILE* out, const ResultCollector& results,
                                            TextOptions options) {
  return std::make_unique<TextReporter>(out, results, options);
}

}  // namespace handoff
