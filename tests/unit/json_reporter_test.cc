#include <gtest/gtest.h>

// Boost.JSON in header-only mode, to check every line we write parses.
#include <boost/json/src.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "event/event.h"
#include "report/reporters.h"
#include "report/results.h"
#include "report_fixture.h"

namespace handoff {
namespace {

using ::handoff::report_testing::Capture;
using ::handoff::report_testing::EventScript;
using ::handoff::report_testing::GoldenRun;

std::string JsonReport(const EventScript& script) {
  return Capture([&](std::FILE* out) {
    std::unique_ptr<EventSink> reporter = MakeJsonReporter(out);
    script.Feed({reporter.get()});
  });
}

std::vector<boost::json::object> ParseLines(const std::string& report) {
  std::vector<boost::json::object> lines;
  std::size_t begin = 0;
  while (begin < report.size()) {
    const std::size_t end = report.find('\n', begin);
    EXPECT_NE(end, std::string::npos) << "last line lacks its newline";
    const std::string line = report.substr(begin, end - begin);
    boost::system::error_code error;
    boost::json::value value = boost::json::parse(line, error);
    EXPECT_FALSE(error) << error.message() << " in: " << line;
    if (!error) {
      EXPECT_TRUE(value.is_object()) << line;
      if (value.is_object()) lines.push_back(value.as_object());
    }
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return lines;
}

// Returns true if `time` reads "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (RFC 3339 in UTC, up to
// 9 fractional digits, none of them trailing zeros).
bool IsRfc3339Utc(const std::string& time) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd";
  if (time.size() < shape.size() + 1 || time.back() != 'Z') return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(time[i]))
                        : time[i] != shape[i]) {
      return false;
    }
  }
  const std::string fraction = time.substr(shape.size(), time.size() - shape.size() - 1);
  if (fraction.empty()) return true;
  if (fraction[0] != '.' || fraction.size() < 2 || fraction.size() > 10) return false;
  if (fraction.back() == '0') return false;
  return std::all_of(fraction.begin() + 1, fraction.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::string Str(const boost::json::object& line, const char* key) {
  const boost::json::value* value = line.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

TEST(JsonReporterGolden, MatchesGolden) {
  report_testing::ExpectMatchesGolden("report.json", JsonReport(GoldenRun()));
}

TEST(JsonReporterTest, EveryLineIsJsonWithGoKeysInGoOrder) {
  const std::vector<boost::json::object> lines = ParseLines(JsonReport(GoldenRun()));
  ASSERT_FALSE(lines.empty());
  const std::vector<std::string> go_order = {"Time", "Action", "Package", "Test", "Elapsed",
                                             "Output"};
  for (const boost::json::object& line : lines) {
    std::size_t next = 0;
    for (const auto& member : line) {
      const std::string key(member.key());
      const auto at = std::find(go_order.begin() + static_cast<long>(next), go_order.end(), key);
      ASSERT_NE(at, go_order.end()) << "key " << key << " unknown or out of Go's order";
      next = static_cast<std::size_t>(at - go_order.begin()) + 1;
    }
    const std::string action = Str(line, "Action");
    EXPECT_TRUE(IsRfc3339Utc(Str(line, "Time"))) << Str(line, "Time");
    EXPECT_FALSE(Str(line, "Package").empty());
    const bool ends = action == "pass" || action == "fail" || action == "skip";
    EXPECT_EQ(line.contains("Elapsed"), ends) << action;
    EXPECT_EQ(line.contains("Output"), action == "output") << action;
    if (action == "output") {
      const std::string output = Str(line, "Output");
      ASSERT_FALSE(output.empty());
      EXPECT_EQ(output.back(), '\n');
      EXPECT_EQ(output.find('\n'), output.size() - 1) << "one line per output event";
    }
  }
}

TEST(JsonReporterTest, EveryTestRunsOnceAndEndsOnce) {
  const std::vector<boost::json::object> lines = ParseLines(JsonReport(GoldenRun()));
  std::map<std::pair<std::string, std::string>, std::pair<int, std::string>> tests;
  std::map<std::string, std::string> packages;
  for (const boost::json::object& line : lines) {
    const std::string action = Str(line, "Action");
    const std::string test = Str(line, "Test");
    auto& [runs, end] = tests[{Str(line, "Package"), test}];
    if (test.empty()) {
      if (action != "output" && action != "start") packages[Str(line, "Package")] = action;
      continue;
    }
    if (action == "run") {
      ++runs;
      EXPECT_TRUE(end.empty()) << test << " runs after it ended";
    } else if (action == "pass" || action == "fail" || action == "skip") {
      EXPECT_TRUE(end.empty()) << test << " ends twice";
      end = action;
    } else if (action == "output") {
      EXPECT_EQ(runs, 1) << test << " has output before its run";
    }
  }
  const std::map<std::string, std::string> want = {
      {"Passes", "pass"},      {"Fails", "fail"},         {"Skipped", "skip"},
      {"Table", "fail"},       {"Table/one", "pass"},     {"Table/two", "fail"},
      {"Table/two/deep", "pass"}, {"Flaky", "pass"},      {"Flaky/inner", "pass"},
      {"Soft", "skip"},        {"Output", "fail"},        {"Crashes", "fail"},
      {"Crashes/inside", "fail"}, {"Hangs", "fail"},      {"Retried", "fail"},
      {"Cancelled", "skip"},   {"A", "skip"},             {"B", "skip"}};
  std::map<std::string, std::string> got;
  for (const auto& [key, value] : tests) {
    if (key.second.empty()) continue;
    EXPECT_EQ(value.first, 1) << key.second << " must run exactly once";
    got[key.second] = value.second;
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(packages, (std::map<std::string, std::string>{{"Basics", "fail"},
                                                          {"Checkout", "fail"}}));
}

TEST(JsonReporterTest, RetryTurnsTheEarlierAttemptIntoOutputOfTheTest) {
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "T", 1);
  s.Start("S", "T/sub", 1);
  s.Located(EventKind::kFailure, "S", "T/sub", "boom", "t.cc", 4);
  s.Finish("S", "T/sub", Status::kFailed, 1'000'000);
  s.AttemptEnd("S", "T", 1, Status::kFailed, 2'000'000);
  s.Start("S", "T", 2);
  s.Start("S", "T/sub", 2);
  s.Finish("S", "T/sub", Status::kPassed, 1'000'000, 2);
  s.AttemptEnd("S", "T", 2, Status::kPassed, 2'000'000);
  s.Finish("S", "T", Status::kPassed, 2'000'000, 2).flaky = true;
  s.SuiteEvent(EventKind::kSuiteFinished, "S");
  std::vector<std::string> summary;
  for (const boost::json::object& line : ParseLines(JsonReport(s))) {
    summary.push_back(Str(line, "Action") + " " + Str(line, "Test") + " " +
                      Str(line, "Output"));
  }
  EXPECT_EQ(summary, (std::vector<std::string>{
                         "start  ",
                         "run T ",
                         "output T === RUN   T\n",
                         "output T === RUN   T/sub\n",
                         "output T     t.cc:4: boom\n",
                         "output T === RETRY T (attempt 2)\n",
                         "run T/sub ",
                         "output T/sub === RUN   T/sub\n",
                         "output T --- PASS: T (0.00s)\n",
                         "output T/sub     --- PASS: T/sub (0.00s)\n",
                         "pass T/sub ",
                         "pass T ",
                         "output  PASS\n",
                         "output  ok  \tS\t0.000s\n",
                         "pass  ",
                     }));
}

TEST(JsonReporterTest, SoftFailureIsASkipThatSaysWhy) {
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "Slow");
  s.Start("S", "Slow/part");
  s.Located(EventKind::kFailure, "S", "Slow/part", "part too slow", "p.cc", 2).soft = true;
  s.Finish("S", "Slow/part", Status::kFailed, 0).soft = true;
  s.Located(EventKind::kFailure, "S", "Slow", "too slow\nby 2s", "p.cc", 1).soft = true;
  s.Finish("S", "Slow", Status::kFailed, 0).soft = true;
  s.SuiteEvent(EventKind::kSuiteFinished, "S", Status::kPassed, 1'000'000);
  std::vector<std::string> summary;
  for (const boost::json::object& line : ParseLines(JsonReport(s))) {
    summary.push_back(Str(line, "Action") + " " + Str(line, "Test") + " " +
                      Str(line, "Output"));
  }
  // No "fail" action and no "--- FAIL" line: nothing a Go tool would count as a failure.
  EXPECT_EQ(summary, (std::vector<std::string>{
                         "start  ",
                         "run Slow ",
                         "output Slow === RUN   Slow\n",
                         "run Slow/part ",
                         "output Slow/part === RUN   Slow/part\n",
                         "output Slow/part     p.cc:2: part too slow\n",
                         "output Slow     p.cc:1: too slow\n",
                         "output Slow         by 2s\n",
                         "output Slow     soft failure (known issue): too slow\n",
                         "output Slow --- SKIP: Slow (0.00s)\n",
                         "output Slow/part         soft failure (known issue): part too slow\n",
                         "output Slow/part     --- SKIP: Slow/part (0.00s)\n",
                         "skip Slow/part ",
                         "skip Slow ",
                         "output  PASS\n",
                         "output  ok  \tS\t0.001s\n",
                         "pass  ",
                     }));
}

TEST(JsonReporterTest, CancelledTestIsASkipThatSaysWhy) {
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "Late");
  s.Located(EventKind::kFailure, "S", "Late", "not run: the server shut down", "", 0);
  s.Finish("S", "Late", Status::kCancelled, 0);
  s.Start("S", "Stopped");
  s.Located(EventKind::kFailure, "S", "Stopped", "cancelled: the run was interrupted", "", 0);
  s.Finish("S", "Stopped", Status::kCancelled, 0);
  s.Start("S", "Silent");
  s.Finish("S", "Silent", Status::kCancelled, 0);
  s.SuiteEvent(EventKind::kSuiteFinished, "S", Status::kFailed, 0);
  std::vector<std::string> summary;
  for (const boost::json::object& line : ParseLines(JsonReport(s))) {
    if (Str(line, "Test").empty()) continue;
    summary.push_back(Str(line, "Action") + " " + Str(line, "Test") + " " +
                      Str(line, "Output"));
  }
  EXPECT_EQ(summary, (std::vector<std::string>{
                         "run Late ",
                         "output Late === RUN   Late\n",
                         "output Late     not run: the server shut down\n",
                         "output Late     cancelled: not run: the server shut down\n",
                         "output Late --- SKIP: Late (0.00s)\n",
                         "skip Late ",
                         "run Stopped ",
                         "output Stopped === RUN   Stopped\n",
                         "output Stopped     cancelled: the run was interrupted\n",
                         "output Stopped --- SKIP: Stopped (0.00s)\n",
                         "skip Stopped ",
                         "run Silent ",
                         "output Silent === RUN   Silent\n",
                         "output Silent     cancelled\n",
                         "output Silent --- SKIP: Silent (0.00s)\n",
                         "skip Silent ",
                     }));
}

TEST(JsonReporterTest, EscapesLikeGo) {
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "T");
  // Quote, backslash, HTML characters, control characters, a truncated sequence, U+2029,
  // a 4-byte character and an encoded surrogate.
  const char raw[] =
      "q\" b\\ <&> \x01\x1f\b\f\r\t \xC3\x28 \xE2\x80\xA9 \xF0\x9F\x98\x80 \xED\xA0\x80";
  s.Output("S", "T", std::string(raw, sizeof raw - 1));
  s.Finish("S", "T", Status::kPassed, 0);
  const std::string report = JsonReport(s);
  EXPECT_NE(report.find(R"("Output":"q\" b\\ \u003c\u0026\u003e \u0001\u001f\b\f\r\t )"
                        R"(\ufffd( \u2029 )"
                        "\xF0\x9F\x98\x80"
                        R"( \ufffd\ufffd\ufffd\n"})"),
            std::string::npos)
      << report;
  ParseLines(report);
}

TEST(JsonReporterTest, FormatsTimeAsRfc3339WithTrimmedNanoseconds) {
  const std::int64_t second = report_testing::kGoldenStartNs;
  for (const auto& [offset, want] : std::vector<std::pair<std::int64_t, std::string>>{
           {0, "2026-11-23T04:00:00Z"},
           {120'000'000, "2026-11-23T04:00:00.12Z"},
           {999'999'999, "2026-11-23T04:00:00.999999999Z"},
           {1'000'000'001, "2026-11-23T04:00:01.000000001Z"},
           {86'400'000'000'000, "2026-11-24T04:00:00Z"},
       }) {
    EventScript s(second + offset, 0);
    s.Add(EventKind::kSuiteStarted, "S");
    EXPECT_EQ(JsonReport(s), R"({"Time":")" + want + R"(","Action":"start","Package":"S"})"
                                 "\n");
  }
  // Leap day and the end of a year, across the cached second.
  EventScript s(951'782'399'000'000'000, 1'000'000'000);  // 2000-02-28T23:59:59Z
  s.Add(EventKind::kSuiteStarted, "A");
  s.Add(EventKind::kSuiteStarted, "B");
  EXPECT_EQ(JsonReport(s),
            "{\"Time\":\"2000-02-28T23:59:59Z\",\"Action\":\"start\",\"Package\":\"A\"}\n"
            "{\"Time\":\"2000-02-29T00:00:00Z\",\"Action\":\"start\",\"Package\":\"B\"}\n");
}

TEST(JsonReporterTest, SplitsLongLinesOnCharacterBoundaries) {
  std::string text;
  while (text.size() < 10'000) text += "\xC3\xA9x";  // 3 bytes per step
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "T");
  s.Output("S", "T", text);
  s.Finish("S", "T", Status::kPassed, 0);
  std::string joined;
  int chunks = 0;
  for (const boost::json::object& line : ParseLines(JsonReport(s))) {
    const std::string output = Str(line, "Output");
    if (Str(line, "Action") != "output" || output.rfind("===", 0) == 0 ||
        output.rfind("---", 0) == 0) {
      continue;
    }
    EXPECT_LE(output.size(), 4096u);
    EXPECT_EQ(output.find("\xEF\xBF\xBD"), std::string::npos) << "split inside a character";
    joined += output;
    ++chunks;
  }
  EXPECT_EQ(chunks, 3);
  EXPECT_EQ(joined, text + "\n");
}

TEST(JsonReporterTest, WritesWhenTheStreamPauses) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  std::unique_ptr<EventSink> reporter = MakeJsonReporter(out);
  const auto written = [&] {
    return std::filesystem::file_size("/proc/self/fd/" + std::to_string(fileno(out)));
  };
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "T");
  s.Start("S", "T/sub");
  s.Finish("S", "T/sub", Status::kPassed, 0);
  for (const Event& e : s.events()) reporter->OnEvent(e);
  EXPECT_EQ(written(), 0u);
  // Test ends are buffered (no write per test) until the engine says the stream paused.
  reporter->OnEvent(s.Finish("S", "T", Status::kPassed, 0));
  EXPECT_EQ(written(), 0u);
  reporter->Flush();
  EXPECT_GT(written(), 0u);
  reporter.reset();
  std::fclose(out);
}

TEST(JsonReporterTest, ClosesTestsLeftOpenWhenTheSuiteEnds) {
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "Hangs");
  s.Output("S", "Hangs", "last words");
  s.SuiteEvent(EventKind::kSuiteFinished, "S", Status::kFailed);
  const std::string report = JsonReport(s);
  EXPECT_NE(report.find(R"("Test":"Hangs","Output":"last words\n")"), std::string::npos);
  EXPECT_NE(report.find(R"("Action":"fail","Package":"S","Test":"Hangs")"), std::string::npos);
}

TEST(JsonReporterTest, InterruptedRunStillEndsEveryTestAndPackage) {
  EventScript s;
  s.Add(EventKind::kRunStarted);
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "Running");
  s.Start("S", "Running/sub");
  s.SuiteEvent(EventKind::kRunFinished, "", Status::kFailed, 5'000'000'000);
  std::vector<std::string> ends;
  for (const boost::json::object& line : ParseLines(JsonReport(s))) {
    const std::string action = Str(line, "Action");
    if (action == "pass" || action == "fail" || action == "skip") {
      ends.push_back(action + " " + Str(line, "Package") + " " + Str(line, "Test"));
    }
  }
  EXPECT_EQ(ends, (std::vector<std::string>{"fail S Running/sub", "fail S Running", "fail S "}));
}

TEST(JsonReporterTest, SkippedSuiteIsASkippedPackage) {
  EventScript s;
  s.Add(EventKind::kSuiteStarted, "S");
  s.SuiteEvent(EventKind::kSuiteFinished, "S", Status::kSkipped, 0);
  const std::vector<boost::json::object> lines = ParseLines(JsonReport(s));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Str(lines[1], "Output"), "?   \tS\t[skipped]\n");
  EXPECT_EQ(Str(lines[2], "Action"), "skip");
  EXPECT_EQ(lines[2].at("Elapsed").to_number<double>(), 0.0);
}

// The real consumer: gotestsum must read our stream and count what we counted.
class GotestsumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (report_testing::RunCommand("gotestsum --version").exit_code != 0) {
      if (report_testing::EnvIsTrue("CI")) FAIL() << "gotestsum is required when CI=true";
      GTEST_SKIP() << "gotestsum is not on PATH";
    }
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("handoff_gotestsum_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Writes the report of `script` and returns its path.
  std::string WriteReport(const EventScript& script, const std::string& name) {
    const std::string path = (dir_ / name).string();
    std::FILE* out = std::fopen(path.c_str(), "wb");
    EXPECT_NE(out, nullptr);
    {
      std::unique_ptr<EventSink> reporter = MakeJsonReporter(out);
      script.Feed({reporter.get()});
    }
    std::fclose(out);
    return path;
  }

  // Returns the "DONE ..." line gotestsum expects for `run` (gotestsum counts every run
  // action; failures are the tests that fail the run, plus each failed package that has no
  // failed test; skipped are the skipped, soft-failed and cancelled tests).
  static std::string ExpectedDone(const RunResult& run) {
    const Totals counts = CountTests(run);
    int failures = counts.failed;
    const int skipped = counts.skipped + counts.soft_failed + counts.cancelled;
    for (const SuiteResult& suite : run.suites) {
      bool failed_test = false;
      for (const TestResult& test : suite.tests) failed_test |= test.status == Status::kFailed;
      if (suite.status == Status::kFailed && !failed_test) ++failures;
    }
    std::string line = "DONE " + std::to_string(counts.total) + " tests";
    if (skipped > 0) line += ", " + std::to_string(skipped) + " skipped";
    if (failures > 0) {
      line += ", " + std::to_string(failures) + (failures == 1 ? " failure" : " failures");
    }
    return line + " in ";
  }

  static std::string DoneLine(const std::string& output) {
    const std::size_t at = output.rfind("DONE ");
    return at == std::string::npos ? "" : output.substr(at, output.find('\n', at) - at);
  }

  std::filesystem::path dir_;
};

TEST_F(GotestsumTest, ReadsTheGoldenRun) {
  ResultCollector collector;
  const EventScript script = GoldenRun();
  script.Feed({&collector});
  const std::string report = WriteReport(script, "golden.json");
  const std::string expected = ExpectedDone(collector.result());
  EXPECT_EQ(expected, "DONE 18 tests, 5 skipped, 9 failures in ");

  const report_testing::CommandResult verbose = report_testing::RunCommand(
      "gotestsum --format standard-verbose --raw-command -- cat " +
      report_testing::ShellQuote(report));
  EXPECT_EQ(DoneLine(verbose.output).rfind(expected, 0), 0u) << verbose.output;
  // Each failed test is listed once, the flaky one not at all.
  EXPECT_NE(verbose.output.find("=== FAIL: Basics Table/two "), std::string::npos);
  EXPECT_EQ(verbose.output.find("=== FAIL: Basics Flaky"), std::string::npos);
  // gotestsum's exit code is the raw command's (cat's), whatever the tests did.
  EXPECT_EQ(verbose.exit_code, 0);

  const std::string copy = (dir_ / "copy.json").string();
  const report_testing::CommandResult testname = report_testing::RunCommand(
      "gotestsum --format testname --jsonfile " + report_testing::ShellQuote(copy) +
      " --raw-command -- cat " + report_testing::ShellQuote(report));
  EXPECT_EQ(DoneLine(testname.output).rfind(expected, 0), 0u) << testname.output;
  EXPECT_NE(testname.output.find("PASS Basics.Flaky "), std::string::npos);
  // gotestsum lists the soft failure among the skipped tests, never the failed ones.
  EXPECT_NE(testname.output.find("=== SKIP: Basics Soft "), std::string::npos) << testname.output;
  EXPECT_EQ(testname.output.find("FAIL Basics.Soft "), std::string::npos) << testname.output;
  bool ok = false;
  EXPECT_EQ(report_testing::ReadFile(copy, &ok),
            report_testing::ReadFile(report, &ok));  // --jsonfile copies our lines verbatim
}

TEST_F(GotestsumTest, SoftFailureIsNoFailureForGotestsum) {
  EventScript s;
  s.Add(EventKind::kRunStarted);
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "Fast");
  s.Finish("S", "Fast", Status::kPassed, 0);
  s.Start("S", "Slow");
  s.Located(EventKind::kFailure, "S", "Slow", "too slow", "p.cc", 1).soft = true;
  s.Finish("S", "Slow", Status::kFailed, 0).soft = true;
  s.SuiteEvent(EventKind::kSuiteFinished, "S", Status::kPassed, 1'000'000);
  s.SuiteEvent(EventKind::kRunFinished, "", Status::kPassed, 1'000'000);
  const std::string report = WriteReport(s, "soft.json");
  const report_testing::CommandResult result = report_testing::RunCommand(
      "gotestsum --format testname --raw-command -- cat " + report_testing::ShellQuote(report));
  EXPECT_EQ(DoneLine(result.output).rfind("DONE 2 tests, 1 skipped in ", 0), 0u)
      << result.output;
  EXPECT_NE(result.output.find("=== SKIP: S Slow "), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("FAIL"), std::string::npos) << result.output;
  EXPECT_EQ(result.exit_code, 0);
}

}  // namespace
}  // namespace handoff
