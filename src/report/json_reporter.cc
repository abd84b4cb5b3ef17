// The `go test -json` (test2json) reporter.
//
// What Go tools rely on, and how we keep to it:
// - One JSON object per line, keys in Go's order (Time, Action, Package, Test, Elapsed,
//   Output), strings escaped as Go's encoding/json does (including \u003c, \u003e, \u0026,
//   \u2028, \u2029 and \ufffd for each invalid UTF-8 byte), Time as RFC 3339 with
//   nanoseconds and trailing zeros trimmed.
// - A test is `run` once and ends with exactly one `pass`, `fail` or `skip`. Retries would
//   break that, so everything a top-level test produces is buffered until its TestFinished:
//   when a new attempt starts, the earlier attempt's lines become plain output of the
//   top-level test (its subtests' `run` actions are dropped) and a "=== RETRY" line is added.
// - As Go does in -v/-json mode, log lines are indented 4 spaces (continuation lines 8),
//   "--- PASS" lines 4 spaces per nesting level, and a test's subtests are reported (their
//   "--- " line and action) after the parent's own "--- " line, before its action.
// - Output longer than 4096 bytes per line is split into several output events, as
//   test2json does, so readers with line-length limits keep working.
// - go test knows only pass, fail and skip. A soft failure (a known issue: it does not fail
//   the run) is a `skip` whose output says why ("    soft failure (known issue): <message>"
//   then "--- SKIP: Name"), so no Go tool (gotestsum, go-junit-report) counts it as a
//   failure. A cancelled test is a `skip` whose output says "cancelled: <why>". A flaky test
//   is a `pass` that keeps its earlier attempts' output.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "event/event.h"
#include "event/outcome.h"
#include "json/encoding.h"
#include "json/json_writer.h"
#include "report/attachment_files.h"
#include "report/reporters.h"
#include "report/results.h"

namespace handoff {
namespace {

constexpr std::size_t kMaxOutputChunk = 4096;  // test2json's maxLineLength
constexpr std::size_t kWriteThreshold = 1 << 16;

// Appends a duration in seconds as Go's encoding/json prints the float64 that test2json
// parsed from "%.{decimals}f": "0", "0.01", "1.5", "12.345".
void AppendElapsed(std::string& out, std::int64_t ns, int decimals) {
  std::string fixed;
  report::AppendFixedSeconds(fixed, ns, decimals);
  std::size_t end = fixed.size();
  while (end > 0 && fixed[end - 1] == '0') --end;
  if (end > 0 && fixed[end - 1] == '.') --end;
  out.append(fixed, 0, end);
}

// Returns the name of the top-level test of `test` ("A" for "A/B/C").
std::string_view TopLevelName(std::string_view test) {
  return test.substr(0, test.find('/'));
}

// Returns how deep `test` is nested: 0 for a top-level test, 1 for "A/B".
int Depth(std::string_view test) {
  int depth = 0;
  for (char c : test) depth += c == '/';
  return depth;
}

// Returns the name of the parent of subtest `test` ("A/B" for "A/B/C").
std::string_view ParentName(std::string_view test) {
  return test.substr(0, test.rfind('/'));
}

// Returns the test2json action of a test's end: a soft failure and a cancelled test are
// skips (go test has no such outcomes; their output says why).
const char* ActionOf(Status status, bool soft) {
  switch (status) {
    case Status::kPassed: return "pass";
    case Status::kFailed: return soft ? "skip" : "fail";
    case Status::kSkipped: return "skip";
    case Status::kCancelled: return "skip";
  }
  return "fail";
}

// Returns the word of a test's "--- WORD: Name (1.00s)" line, matching ActionOf.
const char* WordOf(Status status, bool soft) {
  switch (status) {
    case Status::kPassed: return "PASS";
    case Status::kFailed: return soft ? "SKIP" : "FAIL";
    case Status::kSkipped: return "SKIP";
    case Status::kCancelled: return "SKIP";
  }
  return "FAIL";
}

// Returns the line said before "--- SKIP" when a skip is not a plain skip: a soft
// failure's message or a cancelled test's reason, or empty. `first_message` is the first
// failure or skip message of the test's attempt.
std::string WhyLine(Status status, bool soft, std::string_view first_message) {
  std::string line;
  if (status == Status::kFailed && soft) {
    line = "soft failure (known issue): ";
    line += first_message.empty() ? std::string_view("failed") : first_message;
  } else if (status == Status::kCancelled) {
    // A reason that says "cancelled..." was printed already, as the test's message.
    if (first_message.starts_with("cancelled")) return {};
    line = "cancelled";
    if (!first_message.empty()) {
      line += ": ";
      line += first_message;
    }
  }
  // One line: the first of a multi-line message.
  return line.substr(0, line.find('\n'));
}

class JsonReporter final : public EventSink {
 public:
  JsonReporter(std::FILE* out, std::string attachments_dir)
      : out_(out), attachments_dir_(std::move(attachments_dir)) {}
  ~JsonReporter() override { Flush(); }

  // EventSink
  void OnEvent(const Event& e) override;
  void Flush() override;

 private:
  // Where a line written into a test's buffer sits, so that a retry can rewrite it.
  struct LineSpan {
    std::size_t begin = 0, end = 0;            // the whole line, '\n' included
    std::size_t test_begin = 0, test_end = 0;  // the escaped value of "Test"
    bool action = false;                       // a run/pass/fail/skip line, not output
  };
  // A subtest that finished during the current attempt of its top-level test.
  struct FinishedSubtest {
    std::string name;
    Status status = Status::kPassed;
    std::int64_t elapsed_ns = 0;
    bool soft = false;
    std::string why;  // WhyLine of its end
  };
  // What a running top-level test has produced so far.
  struct OpenTest {
    std::string buffer;
    std::size_t attempt_begin = 0;  // where the current attempt's lines start in buffer
    std::vector<LineSpan> lines;    // lines of the current attempt
    std::vector<FinishedSubtest> finished;
    std::vector<std::string> started;  // subtests started in the current attempt
    // The first failure or skip message of each test (top-level or subtest) in the
    // current attempt, for the line that says why a skip is a soft failure or a cancel.
    std::unordered_map<std::string, std::string> first_message;
  };
  using SuiteTests = std::unordered_map<std::string, std::unique_ptr<OpenTest>>;

  // Returns the first failure or skip message of `name` in `test`'s current attempt.
  static std::string_view FirstMessage(const OpenTest& test, const std::string& name) {
    auto it = test.first_message.find(name);
    return it == test.first_message.end() ? std::string_view() : std::string_view(it->second);
  }
  OpenTest* Find(const Event& e, bool create);
  void Close(const std::string& suite, const std::string& top);

  // Appends the RFC 3339 UTC time of `time_ns` (no quotes).
  void AppendTime(std::string& out, std::int64_t time_ns);
  // Appends the start of a line, up to and including "Test" if `test` is not empty, and
  // returns where it sits.
  LineSpan AppendPrefix(std::string& out, std::int64_t time_ns, const char* action,
                        std::string_view package, std::string_view test);
  // Each of these appends one complete line; with `record`, the line is recorded as part
  // of that test's current attempt.
  void AppendAction(std::string& out, std::int64_t time_ns, const char* action,
                    std::string_view package, std::string_view test, std::int64_t elapsed_ns,
                    int decimals, OpenTest* record);
  void AppendRun(std::string& out, std::int64_t time_ns, std::string_view package,
                 std::string_view test, OpenTest* record);
  void AppendOutput(std::string& out, std::int64_t time_ns, std::string_view package,
                    std::string_view test, std::string_view line, OpenTest* record);
  // Appends one output event per line of `text` ('\n' added), prefixing the first line
  // with `first_prefix` and later lines with `next_prefix`.
  void AppendText(std::string& out, std::int64_t time_ns, std::string_view package,
                  std::string_view test, std::string_view text, std::string_view first_prefix,
                  std::string_view next_prefix, OpenTest* record);
  // Appends a Log/Failure/Skip message decorated as Go does: "    file.cc:12: message".
  void AppendDecorated(std::string& out, const Event& e, OpenTest* record);

  void StartAttempt(OpenTest& test, const Event& e);
  void FinishSuite(const Event& e);
  void FinishTopLevel(OpenTest& test, const Event& e);
  void AppendSubtestReports(std::string& out, OpenTest& test, const Event& finish,
                            std::string_view parent,
                            const std::unordered_map<std::string_view, std::vector<std::size_t>>&
                                children);

  void MaybeWrite();

  std::FILE* out_;
  std::string attachments_dir_;  // where `run` writes attachments (empty: none)
  std::string pending_;  // complete lines not yet handed to out_
  std::map<std::string, std::int64_t> open_suites_;  // started, not finished -> start time
  std::unordered_map<std::string, SuiteTests> open_;  // suite -> top-level test -> state
  // Closed tests kept for reuse, so their buffers' capacity is not allocated again.
  std::vector<std::unique_ptr<OpenTest>> spare_;
  // The state last looked up, since consecutive events nearly always concern one test.
  OpenTest* cached_test_ = nullptr;
  std::string cached_suite_, cached_top_;
  // "YYYY-MM-DDTHH:MM:SS" of the second cached_second_.
  std::int64_t cached_second_ = INT64_MIN;
  char cached_prefix_[32] = {};
  std::size_t cached_prefix_size_ = 0;
  std::string line_;  // scratch for decorated text
};

void JsonReporter::AppendTime(std::string& out, std::int64_t time_ns) {
  std::int64_t second = time_ns / 1'000'000'000;
  std::int64_t nanos = time_ns % 1'000'000'000;
  if (nanos < 0) nanos += 1'000'000'000, --second;
  if (second != cached_second_) {
    std::string prefix;
    report::AppendIsoSeconds(prefix, report::ToCivilTime(second * 1'000'000'000));
    cached_prefix_size_ = std::min(prefix.size(), sizeof cached_prefix_);
    std::memcpy(cached_prefix_, prefix.data(), cached_prefix_size_);
    cached_second_ = second;
  }
  out.append(cached_prefix_, cached_prefix_size_);
  if (nanos != 0) {
    // Go's RFC3339Nano: up to 9 digits, trailing zeros trimmed.
    char digits[10];
    digits[0] = '.';
    std::int64_t n = nanos;
    for (int k = 9; k >= 1; --k) {
      digits[k] = static_cast<char>('0' + n % 10);
      n /= 10;
    }
    int end = 10;
    while (digits[end - 1] == '0') --end;
    out.append(digits, static_cast<std::size_t>(end));
  }
  out += 'Z';
}

JsonReporter::LineSpan JsonReporter::AppendPrefix(std::string& out, std::int64_t time_ns,
                                                  const char* action,
                                                  std::string_view package,
                                                  std::string_view test) {
  LineSpan span;
  span.begin = out.size();
  out += "{\"Time\":\"";
  AppendTime(out, time_ns);
  out += "\",\"Action\":\"";
  out += action;
  out += '"';
  if (!package.empty()) {
    out += ",\"Package\":\"";
    AppendJsonEscaped(out, package);
    out += '"';
  }
  if (!test.empty()) {
    out += ",\"Test\":\"";
    span.test_begin = out.size();
    AppendJsonEscaped(out, test);
    span.test_end = out.size();
    out += '"';
  }
  return span;
}

void JsonReporter::AppendAction(std::string& out, std::int64_t time_ns, const char* action,
                                std::string_view package, std::string_view test,
                                std::int64_t elapsed_ns, int decimals, OpenTest* record) {
  LineSpan span = AppendPrefix(out, time_ns, action, package, test);
  out += ",\"Elapsed\":";
  AppendElapsed(out, elapsed_ns, decimals);
  out += "}\n";
  span.end = out.size();
  span.action = true;
  if (record != nullptr) record->lines.push_back(span);
}

void JsonReporter::AppendRun(std::string& out, std::int64_t time_ns, std::string_view package,
                             std::string_view test, OpenTest* record) {
  LineSpan span = AppendPrefix(out, time_ns, "run", package, test);
  out += "}\n";
  span.end = out.size();
  span.action = true;
  if (record != nullptr) record->lines.push_back(span);
}

void JsonReporter::AppendOutput(std::string& out, std::int64_t time_ns,
                                std::string_view package, std::string_view test,
                                std::string_view line, OpenTest* record) {
  LineSpan span = AppendPrefix(out, time_ns, "output", package, test);
  out += ",\"Output\":\"";
  AppendJsonEscaped(out, line);
  out += "\"}\n";
  span.end = out.size();
  if (record != nullptr) record->lines.push_back(span);
}

void JsonReporter::AppendText(std::string& out, std::int64_t time_ns, std::string_view package,
                              std::string_view test, std::string_view text,
                              std::string_view first_prefix, std::string_view next_prefix,
                              OpenTest* record) {
  // A message ending in '\n' does not get an empty last line (Go's decorate does the same).
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  bool first = true;
  while (true) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    line_.assign(first ? first_prefix : next_prefix);
    // Split long lines as test2json does, on UTF-8 boundaries.
    while (line_.size() + line.size() > kMaxOutputChunk) {
      std::size_t take = kMaxOutputChunk > line_.size() ? kMaxOutputChunk - line_.size() : 0;
      while (take > 0 && take < line.size() &&
             (static_cast<unsigned char>(line[take]) & 0xC0) == 0x80) {
        --take;
      }
      if (take == 0) take = std::min(line.size(), kMaxOutputChunk);
      line_.append(line.substr(0, take));
      AppendOutput(out, time_ns, package, test, line_, record);
      line_.clear();
      line = line.substr(take);
    }
    line_.append(line);
    line_ += '\n';
    AppendOutput(out, time_ns, package, test, line_, record);
    if (newline == std::string_view::npos) break;
    text = text.substr(newline + 1);
    first = false;
  }
}

void JsonReporter::AppendDecorated(std::string& out, const Event& e, OpenTest* record) {
  std::string prefix = "    ";
  if (!e.file.empty()) {
    prefix.append(BaseName(e.file));
    prefix += ':';
    prefix += std::to_string(e.line);
    prefix += ": ";
  }
  AppendText(out, e.time_ns, e.suite, e.test, e.text, prefix, "        ", record);
}

JsonReporter::OpenTest* JsonReporter::Find(const Event& e, bool create) {
  const std::string_view top = TopLevelName(e.test);
  if (cached_test_ != nullptr && cached_suite_ == e.suite && cached_top_ == top) {
    return cached_test_;
  }
  SuiteTests& tests = open_[e.suite];
  auto it = tests.find(std::string(top));
  if (it == tests.end()) {
    if (!create) return nullptr;
    std::unique_ptr<OpenTest> test;
    if (spare_.empty()) {
      test = std::make_unique<OpenTest>();
    } else {
      test = std::move(spare_.back());
      spare_.pop_back();
    }
    it = tests.emplace(std::string(top), std::move(test)).first;
  }
  cached_test_ = it->second.get();
  cached_suite_ = e.suite;
  cached_top_ = top;
  return cached_test_;
}

void JsonReporter::Close(const std::string& suite, const std::string& top) {
  if (cached_test_ != nullptr && cached_suite_ == suite && cached_top_ == top) {
    cached_test_ = nullptr;
  }
  auto suite_tests = open_.find(suite);
  if (suite_tests == open_.end()) return;
  auto it = suite_tests->second.find(top);
  if (it == suite_tests->second.end()) return;
  if (spare_.size() < 64) {
    OpenTest& test = *it->second;
    test.buffer.clear();
    test.attempt_begin = 0;
    test.lines.clear();
    test.finished.clear();
    test.started.clear();
    test.first_message.clear();
    spare_.push_back(std::move(it->second));
  }
  suite_tests->second.erase(it);
}

void JsonReporter::StartAttempt(OpenTest& test, const Event& e) {
  // Turn the earlier attempt into plain output of the top-level test: its subtests' run
  // actions go, and its lines name the top-level test, so Go tools see one test.
  std::string rewritten;
  rewritten.reserve(test.buffer.size() - test.attempt_begin);
  std::string top;
  AppendJsonEscaped(top, e.test);
  for (const LineSpan& line : test.lines) {
    if (line.action) continue;
    rewritten.append(test.buffer, line.begin, line.test_begin - line.begin);
    rewritten += top;
    rewritten.append(test.buffer, line.test_end, line.end - line.test_end);
  }
  test.buffer.resize(test.attempt_begin);
  test.buffer += rewritten;
  test.attempt_begin = test.buffer.size();
  test.lines.clear();
  test.finished.clear();
  test.started.clear();
  test.first_message.clear();
  AppendOutput(test.buffer, e.time_ns, e.suite, e.test,
               "=== RETRY " + e.test + " (attempt " + std::to_string(e.attempt) + ")\n",
               nullptr);
  test.attempt_begin = test.buffer.size();
}

void JsonReporter::AppendSubtestReports(
    std::string& out, OpenTest& test, const Event& finish, std::string_view parent,
    const std::unordered_map<std::string_view, std::vector<std::size_t>>& children) {
  auto it = children.find(parent);
  if (it == children.end()) return;
  for (std::size_t index : it->second) {
    const FinishedSubtest& sub = test.finished[index];
    const std::string indent(static_cast<std::size_t>(Depth(sub.name)) * 4, ' ');
    if (!sub.why.empty()) {
      AppendOutput(out, finish.time_ns, finish.suite, sub.name,
                   indent + "    " + sub.why + "\n", nullptr);
    }
    std::string line = indent;
    line += "--- ";
    line += WordOf(sub.status, sub.soft);
    line += ": ";
    line += sub.name;
    line += " (";
    report::AppendFixedSeconds(line, sub.elapsed_ns, 2);
    line += "s)\n";
    AppendOutput(out, finish.time_ns, finish.suite, sub.name, line, nullptr);
    AppendSubtestReports(out, test, finish, sub.name, children);
    AppendAction(out, finish.time_ns, ActionOf(sub.status, sub.soft), finish.suite, sub.name,
                 sub.elapsed_ns, 2, nullptr);
  }
}

void JsonReporter::FinishTopLevel(OpenTest& test, const Event& e) {
  // Subtests that started but never finished (the worker crashed inside one) still need
  // their one final action.
  if (test.started.size() != test.finished.size()) {
    std::unordered_set<std::string_view> done;
    for (const FinishedSubtest& sub : test.finished) done.insert(sub.name);
    std::vector<std::string> missing;
    for (const std::string& name : test.started) {
      if (!done.contains(name)) missing.push_back(name);
    }
    // Deepest first, as they would have finished.
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      const Status status = e.status == Status::kPassed ? Status::kFailed : e.status;
      test.finished.push_back(FinishedSubtest{*it, status, 0, e.soft,
                                              WhyLine(status, e.soft, FirstMessage(test, *it))});
    }
  }
  std::string& out = test.buffer;
  const Verdict verdict = VerdictOf(e);
  if (const std::string why = WhyLine(e.status, verdict.soft, FirstMessage(test, e.test));
      !why.empty()) {
    AppendOutput(out, e.time_ns, e.suite, e.test, "    " + why + "\n", nullptr);
  }
  std::string line = "--- ";
  line += WordOf(e.status, verdict.soft);
  line += ": ";
  line += e.test;
  line += " (";
  report::AppendFixedSeconds(line, e.elapsed_ns, 2);
  line += "s)\n";
  AppendOutput(out, e.time_ns, e.suite, e.test, line, nullptr);
  if (!test.finished.empty()) {
    std::unordered_map<std::string_view, std::vector<std::size_t>> children;
    for (std::size_t i = 0; i < test.finished.size(); ++i) {
      children[ParentName(test.finished[i].name)].push_back(i);
    }
    AppendSubtestReports(out, test, e, e.test, children);
  }
  AppendAction(out, e.time_ns, ActionOf(e.status, verdict.soft), e.suite, e.test, e.elapsed_ns, 2,
               nullptr);
  pending_ += out;
}

void JsonReporter::FinishSuite(const Event& e) {
  open_suites_.erase(e.suite);
  // Tests still open (should not happen) end as failed, so every run has its end.
  auto suite = open_.find(e.suite);
  if (suite != open_.end()) {
    std::vector<std::string> names;
    for (const auto& [name, test] : suite->second) names.push_back(name);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      Event finish = e;
      finish.test = name;
      finish.status = Status::kFailed;
      finish.elapsed_ns = 0;
      finish.soft = false;
      FinishTopLevel(*suite->second.at(name), finish);
      Close(e.suite, name);
    }
    cached_test_ = nullptr;
    open_.erase(suite);
  }
  const char* word = e.status == Status::kFailed ? "FAIL" : "PASS";
  std::string summary;
  if (e.status == Status::kSkipped || e.status == Status::kCancelled) {
    summary = "?   \t" + e.suite +
              (e.status == Status::kSkipped ? "\t[skipped]\n" : "\t[cancelled]\n");
  } else {
    AppendOutput(pending_, e.time_ns, e.suite, {}, std::string(word) + "\n", nullptr);
    summary = e.status == Status::kFailed ? "FAIL\t" : "ok  \t";
    summary += e.suite;
    summary += '\t';
    report::AppendFixedSeconds(summary, e.elapsed_ns, 3);
    summary += "s\n";
  }
  AppendOutput(pending_, e.time_ns, e.suite, {}, summary, nullptr);
  AppendAction(pending_, e.time_ns, ActionOf(e.status, false), e.suite, {}, e.elapsed_ns, 3,
               nullptr);
  Flush();
}

void JsonReporter::OnEvent(const Event& e) {
  switch (e.kind) {
    case EventKind::kRunStarted:
      return;
    case EventKind::kSuiteStarted:
      open_suites_[e.suite] = e.time_ns;
      AppendPrefix(pending_, e.time_ns, "start", e.suite, {});
      pending_ += "}\n";
      MaybeWrite();
      return;
    case EventKind::kSuiteFinished:
      FinishSuite(e);
      return;
    case EventKind::kRunFinished:
      // Suites the run left open (it was interrupted) end now, failed.
      while (!open_suites_.empty()) {
        Event end;
        end.kind = EventKind::kSuiteFinished;
        end.time_ns = e.time_ns;
        end.suite = open_suites_.begin()->first;
        end.status = Status::kFailed;
        end.elapsed_ns = e.time_ns - open_suites_.begin()->second;
        FinishSuite(end);
      }
      Flush();
      return;
    default:
      break;
  }

  if (e.test.empty()) {
    // Suite-level: setup and teardown report output with Package but no Test.
    switch (e.kind) {
      case EventKind::kOutput:
        AppendText(pending_, e.time_ns, e.suite, {}, e.text, {}, {}, nullptr);
        break;
      case EventKind::kLog:
      case EventKind::kFailure:
      case EventKind::kSkip:
        AppendDecorated(pending_, e, nullptr);
        break;
      default:
        return;
    }
    MaybeWrite();
    return;
  }

  const bool top_level = e.test.find('/') == std::string::npos;
  if (e.kind == EventKind::kTestStarted) {
    if (top_level) {
      OpenTest* existing = Find(e, /*create=*/false);
      if (existing != nullptr) {
        StartAttempt(*existing, e);
        return;
      }
      OpenTest* test = Find(e, /*create=*/true);
      // The run action goes out at once (it is never retracted); the rest waits.
      AppendRun(pending_, e.time_ns, e.suite, e.test, nullptr);
      AppendOutput(test->buffer, e.time_ns, e.suite, e.test, "=== RUN   " + e.test + "\n",
                   test);
      MaybeWrite();
      return;
    }
    OpenTest* test = Find(e, /*create=*/false);
    if (test == nullptr) return;
    test->started.push_back(e.test);
    AppendRun(test->buffer, e.time_ns, e.suite, e.test, test);
    AppendOutput(test->buffer, e.time_ns, e.suite, e.test, "=== RUN   " + e.test + "\n", test);
    return;
  }

  OpenTest* test = Find(e, /*create=*/false);
  if (test == nullptr) return;
  switch (e.kind) {
    case EventKind::kOutput:
      AppendText(test->buffer, e.time_ns, e.suite, e.test, e.text, {}, {}, test);
      break;
    case EventKind::kFailure:
    case EventKind::kSkip:
      test->first_message.try_emplace(e.test, e.text);
      AppendDecorated(test->buffer, e, test);
      break;
    case EventKind::kLog:
      AppendDecorated(test->buffer, e, test);
      break;
    case EventKind::kAttachment:
      AppendText(test->buffer, e.time_ns, e.suite, e.test,
                 AttachmentNote(e.key, e.file, e.text.size(),
                                attachments_dir_.empty()
                                    ? std::string()
                                    : AttachmentPath(attachments_dir_, e.suite, e.test,
                                                     e.attempt, e.key)),
                 "    ", "    ", test);
      break;
    case EventKind::kTestFinished:
      if (top_level) {
        FinishTopLevel(*test, e);
        Close(e.suite, e.test);
        // Written in large blocks; Flush() (when the stream pauses) keeps readers live.
        MaybeWrite();
      } else {
        const Verdict verdict = VerdictOf(e);
        test->finished.push_back(FinishedSubtest{e.test, e.status, e.elapsed_ns, verdict.soft,
                                                 WhyLine(e.status, verdict.soft,
                                                         FirstMessage(*test, e.test))});
      }
      break;
    default:
      // Values, spans, timeouts and attempt ends have no test2json form.
      break;
  }
}

void JsonReporter::MaybeWrite() {
  if (pending_.size() >= kWriteThreshold) {
    std::fwrite(pending_.data(), 1, pending_.size(), out_);
    pending_.clear();
  }
}

void JsonReporter::Flush() {
  if (!pending_.empty()) {
    std::fwrite(pending_.data(), 1, pending_.size(), out_);
    pending_.clear();
  }
  std::fflush(out_);
}

}  // namespace

std::unique_ptr<EventSink> MakeJsonReporter(std::FILE* out, std::string attachments_dir) {
  return std::make_unique<JsonReporter>(out, std::move(attachments_dir));
}

}  // namespace handoff
