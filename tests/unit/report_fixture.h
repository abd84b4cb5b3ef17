#pragma once

// What the reporter tests share: a scripted event stream with fixed times (the golden run),
// output capture, and golden-file comparison with HANDOFF_APPROVE=1 to re-approve.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/event.h"
#include "report/results.h"

namespace handoff::report_testing {

// 2026-11-23T04:00:00Z, in nanoseconds since the Unix epoch.
inline constexpr std::int64_t kGoldenStartNs = 1'795'406'400'000'000'000;

// Builds an event stream with times that advance by a fixed step per event.
class EventScript {
 public:
  // Starts the clock at `start_ns`; each event is `step_ns` later than the previous one.
  explicit EventScript(std::int64_t start_ns = kGoldenStartNs + 123'456'789,
                       std::int64_t step_ns = 37'123'457)
      : now_ns_(start_ns), step_ns_(step_ns) {}

  // Appends an event of `kind` at the next instant and returns it for more fields.
  Event& Add(EventKind kind, std::string suite = {}, std::string test = {}) {
    Event& e = events_.emplace_back();
    e.kind = kind;
    e.time_ns = now_ns_;
    e.suite = std::move(suite);
    e.test = std::move(test);
    now_ns_ += step_ns_;
    return e;
  }

  // Appends a located message (kLog, kFailure or kSkip).
  Event& Located(EventKind kind, std::string suite, std::string test, std::string text,
                 std::string file, int line) {
    Event& e = Add(kind, std::move(suite), std::move(test));
    e.text = std::move(text);
    e.file = std::move(file);
    e.line = line;
    return e;
  }

  // Appends a line of the test's stdout.
  Event& Output(std::string suite, std::string test, std::string text) {
    Event& e = Add(EventKind::kOutput, std::move(suite), std::move(test));
    e.text = std::move(text);
    return e;
  }

  // Appends the start of an attempt of a test or subtest.
  Event& Start(std::string suite, std::string test, int attempt = 1) {
    Event& e = Add(EventKind::kTestStarted, std::move(suite), std::move(test));
    e.attempt = attempt;
    return e;
  }

  // Appends the end of a top-level test's attempt.
  Event& AttemptEnd(std::string suite, std::string test, int attempt, Status status,
                    std::int64_t elapsed_ns) {
    Event& e = Add(EventKind::kAttemptFinished, std::move(suite), std::move(test));
    e.attempt = attempt;
    e.status = status;
    e.elapsed_ns = elapsed_ns;
    return e;
  }

  // Appends the final end of a test or subtest.
  Event& Finish(std::string suite, std::string test, Status status, std::int64_t elapsed_ns,
                int attempt = 1) {
    Event& e = Add(EventKind::kTestFinished, std::move(suite), std::move(test));
    e.status = status;
    e.elapsed_ns = elapsed_ns;
    e.attempt = attempt;
    return e;
  }

  // Appends a suite-level event with a status (setup/teardown/suite finished).
  Event& SuiteEvent(EventKind kind, std::string suite, Status status = Status::kPassed,
                    std::int64_t elapsed_ns = 0) {
    Event& e = Add(kind, std::move(suite));
    e.status = status;
    e.elapsed_ns = elapsed_ns;
    return e;
  }

  // Returns the events so far.
  const std::vector<Event>& events() const { return events_; }

  // Feeds every event to each sink in turn, as a FanOut would.
  void Feed(std::initializer_list<EventSink*> sinks) const {
    for (const Event& e : events_) {
      for (EventSink* sink : sinks) sink->OnEvent(e);
    }
  }

 private:
  std::vector<Event> events_;
  std::int64_t now_ns_;
  std::int64_t step_ns_;
};

// Returns the golden run: two suites partly interleaved, covering pass, a failure with two
// messages (one multi-line), skip, nested subtests (one failing), a flaky test (attempt 1
// fails, attempt 2 passes), a soft failure, a crash, a hang killed at its timeout, a test
// that failed every attempt (an assertion, then a crash), a cancelled test, output with
// markup, ANSI escapes, quotes, control characters and invalid UTF-8, values and a span, a
// suite whose setup fails, and a teardown failure.
inline EventScript GoldenRun() {
  constexpr std::int64_t kMs = 1'000'000;
  const std::string b = "Basics";
  const std::string c = "Checkout";
  EventScript s;
  s.Add(EventKind::kRunStarted);

  s.Add(EventKind::kSuiteStarted, b).text = "shop";
  s.Add(EventKind::kSetupStarted, b);
  s.Located(EventKind::kLog, b, "", "connected to db", "tests/fixture.cc", 10);
  s.SuiteEvent(EventKind::kSetupFinished, b);

  s.Start(b, "Passes");
  s.Located(EventKind::kLog, b, "Passes", "hello", "tests/e2e/cart_test.cc", 12);
  Event& value = s.Add(EventKind::kValue, b, "Passes");
  value.key = "order_id";
  value.text = "42";
  Event& span = s.Add(EventKind::kSpanStarted, b, "Passes");
  span.span_id = 1;
  span.key = "checkout";
  Event& span_end = s.Add(EventKind::kSpanEnded, b, "Passes");
  span_end.span_id = 1;
  span_end.elapsed_ns = 3 * kMs;
  span_end.attributes = {{"items", "3"}};
  s.Output(b, "Passes", "plain stdout line");
  s.AttemptEnd(b, "Passes", 1, Status::kPassed, 12 * kMs);
  s.Finish(b, "Passes", Status::kPassed, 12 * kMs);

  // The second suite starts while the first one runs.
  s.Add(EventKind::kSuiteStarted, c).text = "shop";
  s.Add(EventKind::kSetupStarted, c);

  s.Start(b, "Fails");
  s.Located(EventKind::kFailure, b, "Fails", "want 3, got 2", "tests/e2e/cart_test.cc", 30);
  s.Located(EventKind::kFailure, c, "", "db down: connection refused", "tests/fixture.cc", 5);
  s.SuiteEvent(EventKind::kSetupFinished, c, Status::kFailed);
  s.Located(EventKind::kFailure, b, "Fails", "total wrong\nwant: 10\ngot:  9",
            "tests/e2e/cart_test.cc", 31);
  s.AttemptEnd(b, "Fails", 1, Status::kFailed, 20 * kMs);
  s.Finish(b, "Fails", Status::kFailed, 20 * kMs);

  for (const char* name : {"A", "B"}) {
    s.Start(c, name);
    s.Located(EventKind::kSkip, c, name, "setup failed: db down: connection refused", "", 0);
    s.AttemptEnd(c, name, 1, Status::kSkipped, 0);
    s.Finish(c, name, Status::kSkipped, 0);
  }
  s.Add(EventKind::kTeardownStarted, c);
  s.Located(EventKind::kFailure, c, "", "cleanup failed", "tests/fixture.cc", 20);
  s.SuiteEvent(EventKind::kTeardownFinished, c, Status::kFailed);
  s.SuiteEvent(EventKind::kSuiteFinished, c, Status::kFailed, 310 * kMs);

  s.Start(b, "Skipped");
  s.Located(EventKind::kSkip, b, "Skipped", "not on linux", "tests/e2e/cart_test.cc", 40);
  s.AttemptEnd(b, "Skipped", 1, Status::kSkipped, 0);
  s.Finish(b, "Skipped", Status::kSkipped, 0);

  s.Start(b, "Table");
  s.Start(b, "Table/one");
  s.Finish(b, "Table/one", Status::kPassed, 1 * kMs);
  s.Start(b, "Table/two");
  s.Located(EventKind::kFailure, b, "Table/two", "bad row", "tests/e2e/table_test.cc", 8);
  s.Start(b, "Table/two/deep");
  s.Located(EventKind::kLog, b, "Table/two/deep", "deep log", "tests/e2e/table_test.cc", 9);
  s.Finish(b, "Table/two/deep", Status::kPassed, 2 * kMs);
  s.Finish(b, "Table/two", Status::kFailed, 4 * kMs);
  s.AttemptEnd(b, "Table", 1, Status::kFailed, 6 * kMs);
  s.Finish(b, "Table", Status::kFailed, 6 * kMs);

  s.Start(b, "Flaky", 1);
  s.Output(b, "Flaky", "try 1");
  s.Start(b, "Flaky/inner", 1);
  s.Located(EventKind::kFailure, b, "Flaky/inner", "timeout", "tests/e2e/flaky_test.cc", 5);
  s.Finish(b, "Flaky/inner", Status::kFailed, 5 * kMs, 1);
  s.Located(EventKind::kFailure, b, "Flaky", "connection reset", "tests/e2e/flaky_test.cc", 9);
  s.AttemptEnd(b, "Flaky", 1, Status::kFailed, 7 * kMs);
  s.Start(b, "Flaky", 2);
  s.Output(b, "Flaky", "try 2");
  s.Start(b, "Flaky/inner", 2);
  s.Finish(b, "Flaky/inner", Status::kPassed, 1 * kMs, 2);
  s.AttemptEnd(b, "Flaky", 2, Status::kPassed, 3 * kMs);
  s.Finish(b, "Flaky", Status::kPassed, 3 * kMs, 2).flaky = true;

  s.Start(b, "Soft");
  s.Located(EventKind::kFailure, b, "Soft", "latency 900ms > 500ms", "tests/e2e/perf_test.cc",
            17)
      .soft = true;
  s.AttemptEnd(b, "Soft", 1, Status::kFailed, 1500 * kMs);
  s.Finish(b, "Soft", Status::kFailed, 1500 * kMs).soft = true;

  s.Start(b, "Output");
  s.Output(b, "Output", "<script>alert(\"x & y\")</script>");
  s.Output(b, "Output", "\x1b[31mred\x1b[0m and a \"quote\" and a \\ backslash\tand a tab");
  constexpr char kBinary[] = "nul \0 bell \a bad utf8 \xff\xfe end";
  s.Output(b, "Output", std::string(kBinary, sizeof kBinary - 1));
  s.Output(b, "Output", "caf\xC3\xA9 \xE2\x9C\x93 \xE2\x80\xA8 line separator");
  s.Located(EventKind::kFailure, b, "Output", "<b>bold</b> & \x1b[1mansi\x1b[0m", "out.cc", 3);
  s.AttemptEnd(b, "Output", 1, Status::kFailed, 2 * kMs);
  s.Finish(b, "Output", Status::kFailed, 2 * kMs);

  s.Start(b, "Crashes");
  s.Output(b, "Crashes", "about to crash");
  s.Start(b, "Crashes/inside");
  s.Located(EventKind::kFailure, b, "Crashes", "crashed: signal 11 (SIGSEGV)", "", 0).key =
      kCauseCrash;
  s.AttemptEnd(b, "Crashes", 1, Status::kFailed, 61'500 * kMs);
  s.Finish(b, "Crashes", Status::kFailed, 61'500 * kMs);

  s.Start(b, "Hangs");
  s.Output(b, "Hangs", "waiting for the queue");
  s.Located(EventKind::kFailure, b, "Hangs",
            "timed out after 30s (killed: still running 5s after being asked to stop)", "", 0)
      .key = kCauseTimeout;
  s.AttemptEnd(b, "Hangs", 1, Status::kFailed, 35'000 * kMs);
  s.Finish(b, "Hangs", Status::kFailed, 35'000 * kMs);

  s.Start(b, "Retried", 1);
  s.Output(b, "Retried", "try 1");
  s.Located(EventKind::kFailure, b, "Retried", "boom", "tests/e2e/retry_test.cc", 7);
  s.AttemptEnd(b, "Retried", 1, Status::kFailed, 4 * kMs);
  s.Start(b, "Retried", 2);
  s.Output(b, "Retried", "try 2");
  s.Located(EventKind::kFailure, b, "Retried", "crashed: worker killed by signal 11 (SIGSEGV)",
            "", 0)
      .key = kCauseCrash;
  s.AttemptEnd(b, "Retried", 2, Status::kFailed, 5 * kMs);
  s.Finish(b, "Retried", Status::kFailed, 5 * kMs, 2);

  s.Start(b, "Cancelled");
  s.Located(EventKind::kSkip, b, "Cancelled", "stopped by --fail-fast: an earlier test failed",
            "", 0);
  s.AttemptEnd(b, "Cancelled", 1, Status::kCancelled, 0);
  s.Finish(b, "Cancelled", Status::kCancelled, 0);

  s.Add(EventKind::kTeardownStarted, b);
  s.Located(EventKind::kLog, b, "", "disconnected", "tests/fixture.cc", 14);
  s.SuiteEvent(EventKind::kTeardownFinished, b);
  s.SuiteEvent(EventKind::kSuiteFinished, b, Status::kFailed, 63'456 * kMs);

  s.SuiteEvent(EventKind::kRunFinished, "", Status::kFailed, 63'789 * kMs);
  return s;
}

// Returns what `write` wrote to a temporary FILE.
inline std::string Capture(const std::function<void(std::FILE*)>& write) {
  std::FILE* file = std::tmpfile();
  if (file == nullptr) {
    ADD_FAILURE() << "tmpfile failed";
    return {};
  }
  write(file);
  std::fflush(file);
  std::string text;
  std::rewind(file);
  char buffer[1 << 14];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  std::fclose(file);
  return text;
}

// Returns the contents of `path`, or nullopt-like empty with `*ok` false.
inline std::string ReadFile(const std::filesystem::path& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Compares `actual` with the golden file `name` byte for byte, or, when HANDOFF_APPROVE=1,
// overwrites the golden file with it.
// The golden directory comes from the compile definition HANDOFF_GOLDEN_DIR (an absolute
// path to tests/golden).
inline void ExpectMatchesGolden(const std::string& name, const std::string& actual) {
#ifndef HANDOFF_GOLDEN_DIR
  (void)actual;
  FAIL() << "built without the HANDOFF_GOLDEN_DIR compile definition: cannot find " << name;
#else
  const std::filesystem::path path = std::filesystem::path(HANDOFF_GOLDEN_DIR) / name;
  const char* approve = std::getenv("HANDOFF_APPROVE");
  if (approve != nullptr && std::string_view(approve) == "1") {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << actual;
    ASSERT_TRUE(out.good()) << "cannot write " << path;
    std::printf("approved %s\n", path.c_str());
    return;
  }
  bool ok = false;
  const std::string expected = ReadFile(path, &ok);
  ASSERT_TRUE(ok) << "missing golden file " << path << "; run scripts/approve-golden";
  if (expected == actual) return;

  const std::filesystem::path actual_path =
      std::filesystem::path(::testing::TempDir()) / (name + ".actual");
  std::ofstream(actual_path, std::ios::binary | std::ios::trunc) << actual;
  std::size_t line = 1, offset = 0;
  while (offset < expected.size() && offset < actual.size() &&
         expected[offset] == actual[offset]) {
    if (expected[offset] == '\n') ++line;
    ++offset;
  }
  const auto line_at = [](const std::string& text, std::size_t at) {
    const std::size_t begin = text.rfind('\n', at == 0 ? 0 : at - 1);
    const std::size_t from = begin == std::string::npos ? 0 : begin + 1;
    return text.substr(from, text.find('\n', from) - from);
  };
  ADD_FAILURE() << "output differs from golden " << path << " at line " << line
                << "\n  golden: " << line_at(expected, offset)
                << "\n  actual: " << line_at(actual, offset) << "\nfull output in "
                << actual_path << " (diff it; re-approve with scripts/approve-golden)";
#endif
}

// Returns true if `name` is set to "true" in the environment (CI=true makes optional
// external tools mandatory).
inline bool EnvIsTrue(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::string_view(value) == "true";
}

// The result of running a shell command.
struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` with /bin/sh, capturing stdout and stderr together.
inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Returns `text` quoted for /bin/sh.
inline std::string ShellQuote(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

}  // namespace handoff::report_testing
