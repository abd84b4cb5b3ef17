#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
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

std::string JunitReport(const EventScript& script, std::string hostname = "ci-host") {
  return Capture([&](std::FILE* out) {
    ResultCollector collector;
    std::unique_ptr<EventSink> reporter = MakeJunitReporter(out, collector, hostname);
    script.Feed({&collector, reporter.get()});
  });
}

// Returns the events of one suite with one test that wrote `output` and failed with
// `message`.
EventScript OneFailure(const std::string& output, const std::string& message) {
  EventScript s;
  s.Add(EventKind::kRunStarted);
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "T");
  s.Output("S", "T", output);
  s.Located(EventKind::kFailure, "S", "T", message, "t.cc", 1);
  s.Finish("S", "T", Status::kFailed, 0);
  s.SuiteEvent(EventKind::kSuiteFinished, "S", Status::kFailed);
  s.SuiteEvent(EventKind::kRunFinished, "", Status::kFailed);
  return s;
}

TEST(JunitReporterGolden, MatchesGolden) {
  report_testing::ExpectMatchesGolden("report.xml", JunitReport(GoldenRun()));
}

TEST(JunitReporterTest, WritesNothingBeforeTheRunFinishes) {
  EventScript s = OneFailure("x", "y");
  const std::string report = Capture([&](std::FILE* out) {
    ResultCollector collector;
    std::unique_ptr<EventSink> reporter = MakeJunitReporter(out, collector, "h");
    for (std::size_t i = 0; i + 1 < s.events().size(); ++i) {
      collector.OnEvent(s.events()[i]);
      reporter->OnEvent(s.events()[i]);
    }
  });
  EXPECT_EQ(report, "");
}

TEST(JunitReporterTest, OnlyCharactersXmlAllows) {
  constexpr char kOutput[] =
      "esc \x1b[31m nul \0 bell \a vt \v ff \f del \x7f ok \t\r tab-cr"
      " bad \xff\xc0\x80 nonchar \xEF\xBF\xBE end ]]> <![CDATA[";
  const std::string output(kOutput, sizeof kOutput - 1);
  const std::string report = JunitReport(OneFailure(output, "quote \" amp & lt < \x01"));
  for (char c : report) {
    const unsigned char byte = static_cast<unsigned char>(c);
    EXPECT_TRUE(byte >= 0x20 || c == '\t' || c == '\n') << "byte " << int{byte};
  }
  EXPECT_EQ(report.find("\xEF\xBF\xBE"), std::string::npos);
  EXPECT_NE(report.find("<system-out>esc \xEF\xBF\xBD[31m nul \xEF\xBF\xBD bell \xEF\xBF\xBD vt "
                        "\xEF\xBF\xBD ff \xEF\xBF\xBD del \x7f ok \t&#13; tab-cr bad "
                        "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD nonchar \xEF\xBF\xBD end ]]&gt; "
                        "&lt;![CDATA[\n"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find(R"(<failure message="quote &quot; amp &amp; lt &lt; )"
                        "\xEF\xBF\xBD"
                        R"(" type="failure">t.cc:1: quote " amp &amp; lt &lt; )"
                        "\xEF\xBF\xBD</failure>"),
            std::string::npos)
      << report;
}

TEST(JunitReporterTest, MultiLineMessageAttributeKeepsItsNewlines) {
  const std::string report = JunitReport(OneFailure("", "first\nsecond\tthird"));
  EXPECT_NE(report.find(R"(message="first&#10;second&#9;third")"), std::string::npos) << report;
}

TEST(JunitReporterTest, HostnameComesFromTheArgumentThenTheEnvironment) {
  EXPECT_NE(JunitReport(OneFailure("", "m"), "given").find(R"(hostname="given")"),
            std::string::npos);
  ::setenv("HANDOFF_HOSTNAME", "from-env", 1);
  EXPECT_NE(JunitReport(OneFailure("", "m"), "").find(R"(hostname="from-env")"),
            std::string::npos);
  ::unsetenv("HANDOFF_HOSTNAME");
  char name[256] = {};
  ASSERT_EQ(::gethostname(name, sizeof name - 1), 0);
  EXPECT_NE(JunitReport(OneFailure("", "m"), "").find("hostname=\"" + std::string(name) + "\""),
            std::string::npos);
}

TEST(JunitReporterTest, ClassnameIsTheSuiteWhenThereIsNoNamespace) {
  const std::string report = JunitReport(OneFailure("", "m"));
  EXPECT_NE(report.find(R"(<testcase name="T" classname="S" time="0.000")"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find(R"(package="")"), std::string::npos);
}

// The real consumer: Debian's python3-junitparser must read our XML, and its own recount
// of each suite must agree with the counts we wrote.
TEST(JunitReporterTest, JunitparserReadsTheGoldenRun) {
  const char* python = "/usr/bin/python3";
  if (report_testing::RunCommand(std::string(python) + " -c 'import junitparser'").exit_code !=
      0) {
    if (report_testing::EnvIsTrue("CI")) FAIL() << python << " cannot import junitparser";
    GTEST_SKIP() << python << " cannot import junitparser (apt install python3-junitparser)";
  }
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) /
                                     ("handoff_junit_" + std::to_string(::getpid()) + ".xml");
  ResultCollector collector;
  const EventScript script = GoldenRun();
  {
    std::FILE* out = std::fopen(path.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    std::unique_ptr<EventSink> reporter = MakeJunitReporter(out, collector, "ci-host");
    script.Feed({&collector, reporter.get()});
    std::fclose(out);
  }
  // Prints what junitparser read, one line per element, then its recount per suite.
  // junitparser knows failure, error and skipped; Surefire's rerun elements are read from
  // the tree beside them.
  const char* kScript = R"PY(
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
RERUNS = ("rerunFailure", "rerunError", "flakyFailure", "flakyError")
xml = JUnitXml.fromfile(sys.argv[1])
print("testsuites", xml.name, xml.tests, xml.failures, xml.errors, xml.skipped)
for suite in xml:
    print("suite", suite.name, suite.tests, suite.failures, suite.errors, suite.skipped,
          suite.hostname)
    for case in suite:
        kinds = [type(r).__name__ + ":" + (r.type or "") + ":" + (r.message or "")
                 for r in case.result]
        kinds += [e.tag + ":" + e.get("type") + ":" + e.get("message")
                  for e in case._elem if e.tag in RERUNS]
        print("case", case.classname, case.name, "%.3f" % case.time, *kinds)
    suite.update_statistics()
    print("recount", suite.name, suite.tests, suite.failures, suite.errors, suite.skipped)
)PY";
  const report_testing::CommandResult result = report_testing::RunCommand(
      std::string(python) + " -c " + report_testing::ShellQuote(kScript) + " " +
      report_testing::ShellQuote(path.string()));
  std::filesystem::remove(path);
  ASSERT_EQ(result.exit_code, 0) << result.output;

  // What CI tools count must be what `run` counts: JUnit's failures and errors together
  // are the failed tests (plus one error per failed setup or teardown), and skipped holds
  // the skipped, soft-failed and cancelled tests.
  const RunResult& run = collector.result();
  const Totals counts = CountTests(run);
  int suite_errors = 0;
  for (const SuiteResult& suite : run.suites) {
    suite_errors += !suite.setup_failures.empty() + !suite.teardown_failures.empty();
  }
  EXPECT_EQ(counts.failed + suite_errors, 5 + 5);
  EXPECT_EQ(counts.skipped + counts.soft_failed + counts.cancelled, 5);
  const std::string want =
      "testsuites handoff 20 5 5 5\n"
      "suite Basics 16 5 3 3 ci-host\n"
      "case shop.Basics Passes 0.012\n"
      "case shop.Basics Fails 0.020 Failure:failure:want 3, got 2\n"
      "case shop.Basics Skipped 0.000 Skipped::not on linux\n"
      "case shop.Basics Table 0.006 Failure:failure:a subtest failed\n"
      "case shop.Basics Table/one 0.001\n"
      "case shop.Basics Table/two 0.004 Failure:failure:bad row\n"
      "case shop.Basics Table/two/deep 0.002\n"
      "case shop.Basics Flaky 0.003 flakyFailure:failure:connection reset\n"
      "case shop.Basics Flaky/inner 0.001\n"
      "case shop.Basics Soft 1.500 Skipped:handoff.soft_failure:soft failure (known issue): "
      "latency 900ms > 500ms\n"
      "case shop.Basics Output 0.002 Failure:failure:<b>bold</b> & \xEF\xBF\xBD[1mansi"
      "\xEF\xBF\xBD[0m\n"
      "case shop.Basics Crashes 61.500 Error:crash:crashed: signal 11 (SIGSEGV)\n"
      "case shop.Basics Crashes/inside 0.111 Failure:failure:failed\n"
      "case shop.Basics Hangs 35.000 Error:timeout:timed out after 30s (killed: still running "
      "5s after being asked to stop)\n"
      "case shop.Basics Retried 0.005 Error:crash:crashed: worker killed by signal 11 (SIGSEGV) "
      "rerunFailure:failure:boom\n"
      "case shop.Basics Cancelled 0.000 Skipped::cancelled: stopped by --fail-fast: an earlier "
      "test failed\n"
      "recount Basics 16 5 3 3\n"
      "suite Checkout 4 0 2 2 ci-host\n"
      "case shop.Checkout (setup) 0.000 Error:setup:db down: connection refused\n"
      "case shop.Checkout A 0.000 Skipped::setup failed: db down: connection refused\n"
      "case shop.Checkout B 0.000 Skipped::setup failed: db down: connection refused\n"
      "case shop.Checkout (teardown) 0.000 Error:teardown:cleanup failed\n"
      "recount Checkout 4 0 2 2\n";
  EXPECT_EQ(result.output, want);
}

// Returns the report of one suite "S" holding the events `add` appends, as run ends it.
std::string OneSuite(const std::function<void(EventScript&)>& add, Status suite_status) {
  EventScript s;
  s.Add(EventKind::kRunStarted);
  s.Add(EventKind::kSuiteStarted, "S");
  add(s);
  s.SuiteEvent(EventKind::kSuiteFinished, "S", suite_status);
  s.SuiteEvent(EventKind::kRunFinished, "", suite_status);
  return JunitReport(s);
}

TEST(JunitReporterTest, SoftFailureIsAnExpectedFailureNotAFailure) {
  const std::string report = OneSuite(
      [](EventScript& s) {
        s.Start("S", "Slow");
        s.Located(EventKind::kFailure, "S", "Slow", "too slow", "p.cc", 4).soft = true;
        s.Finish("S", "Slow", Status::kFailed, 0).soft = true;
      },
      Status::kPassed);
  EXPECT_NE(report.find(R"(<testsuite name="S" tests="1" failures="0" errors="0" skipped="1")"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("<skipped message=\"soft failure (known issue): too slow\" "
                        "type=\"handoff.soft_failure\">p.cc:4: too slow</skipped>"),
            std::string::npos)
      << report;
  EXPECT_EQ(report.find("<failure"), std::string::npos) << report;
}

TEST(JunitReporterTest, CrashAndTimeoutAreErrorsWithTheirCause) {
  const std::string report = OneSuite(
      [](EventScript& s) {
        s.Start("S", "Dies");
        s.Located(EventKind::kFailure, "S", "Dies", "want 1, got 2", "d.cc", 3);
        s.Located(EventKind::kFailure, "S", "Dies", "crashed: worker killed by signal 11", "", 0)
            .key = kCauseCrash;
        s.Finish("S", "Dies", Status::kFailed, 0);
        s.Start("S", "Hangs");
        s.Located(EventKind::kFailure, "S", "Hangs", "timed out after 1s", "", 0).key =
            kCauseTimeout;
        s.Finish("S", "Hangs", Status::kFailed, 0);
        s.Start("S", "Asserts");
        s.Located(EventKind::kFailure, "S", "Asserts", "want 3", "a.cc", 9);
        s.Finish("S", "Asserts", Status::kFailed, 0);
      },
      Status::kFailed);
  EXPECT_NE(report.find(R"(<testsuite name="S" tests="3" failures="1" errors="2" skipped="0")"),
            std::string::npos)
      << report;
  // The message is the crash's; every failure of the test stays in the text.
  EXPECT_NE(report.find("<error message=\"crashed: worker killed by signal 11\" type=\"crash\">"
                        "d.cc:3: want 1, got 2\ncrashed: worker killed by signal 11</error>"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("<error message=\"timed out after 1s\" type=\"timeout\">"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("<failure message=\"want 3\" type=\"failure\">"), std::string::npos)
      << report;
}

TEST(JunitReporterTest, FlakyTestPassesWithAFlakyElementPerFailedAttempt) {
  const std::string report = OneSuite(
      [](EventScript& s) {
        s.Start("S", "T", 1);
        s.Output("S", "T", "try 1");
        s.Located(EventKind::kFailure, "S", "T", "reset", "t.cc", 2);
        s.AttemptEnd("S", "T", 1, Status::kFailed, 0);
        s.Start("S", "T", 2);
        s.Output("S", "T", "try 2");
        s.Located(EventKind::kFailure, "S", "T", "crashed: worker killed by signal 6", "", 0)
            .key = kCauseCrash;
        s.AttemptEnd("S", "T", 2, Status::kFailed, 0);
        s.Start("S", "T", 3);
        s.Output("S", "T", "try 3");
        s.AttemptEnd("S", "T", 3, Status::kPassed, 0);
        s.Finish("S", "T", Status::kPassed, 0, 3).flaky = true;
      },
      Status::kPassed);
  EXPECT_NE(report.find(R"(tests="1" failures="0" errors="0" skipped="0")"), std::string::npos)
      << report;
  // Surefire's order: flakyFailure before flakyError, then the passing run's output.
  const std::string want =
      "      <flakyFailure message=\"reset\" type=\"failure\">\n"
      "        <stackTrace>t.cc:2: reset</stackTrace>\n"
      "        <system-out>try 1\nt.cc:2: reset\n</system-out>\n"
      "      </flakyFailure>\n"
      "      <flakyError message=\"crashed: worker killed by signal 6\" type=\"crash\">\n"
      "        <stackTrace>crashed: worker killed by signal 6</stackTrace>\n"
      "        <system-out>try 2\ncrashed: worker killed by signal 6\n</system-out>\n"
      "      </flakyError>\n"
      "      <system-out>try 3\n</system-out>\n"
      "    </testcase>\n";
  EXPECT_NE(report.find(want), std::string::npos) << report;
}

TEST(JunitReporterTest, TestThatFailedEveryAttemptHasRerunElements) {
  const std::string report = OneSuite(
      [](EventScript& s) {
        s.Start("S", "T", 1);
        s.Start("S", "T/sub", 1);
        s.Located(EventKind::kFailure, "S", "T/sub", "timed out after 1s", "", 0).key =
            kCauseTimeout;
        s.Finish("S", "T/sub", Status::kFailed, 0, 1);
        s.AttemptEnd("S", "T", 1, Status::kFailed, 0);
        s.Start("S", "T", 2);
        s.Located(EventKind::kFailure, "S", "T", "still wrong", "t.cc", 8);
        s.AttemptEnd("S", "T", 2, Status::kFailed, 0);
        s.Finish("S", "T", Status::kFailed, 0, 2);
      },
      Status::kFailed);
  EXPECT_NE(report.find(R"(tests="1" failures="1" errors="0" skipped="0")"), std::string::npos)
      << report;
  const std::string want =
      "      <failure message=\"still wrong\" type=\"failure\">t.cc:8: still wrong</failure>\n"
      "      <rerunError message=\"T/sub: timed out after 1s\" type=\"timeout\">\n"
      "        <stackTrace>T/sub: timed out after 1s</stackTrace>\n"
      "      </rerunError>\n"
      "      <system-out>t.cc:8: still wrong\n</system-out>\n";
  EXPECT_NE(report.find(want), std::string::npos) << report;
}

TEST(JunitReporterTest, CancelledTestIsSkippedWithWhy) {
  const std::string report = OneSuite(
      [](EventScript& s) {
        s.Start("S", "Late");
        s.Located(EventKind::kFailure, "S", "Late", "the run was interrupted", "", 0);
        s.Finish("S", "Late", Status::kCancelled, 0);
        s.Start("S", "Never");
        s.Finish("S", "Never", Status::kCancelled, 0);
      },
      Status::kFailed);
  EXPECT_NE(report.find(R"(tests="2" failures="0" errors="0" skipped="2")"), std::string::npos)
      << report;
  EXPECT_NE(report.find(R"(<skipped message="cancelled: the run was interrupted"/>)"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find(R"(<testcase name="Never" classname="S" time="0.000">
      <skipped message="cancelled"/>)"),
            std::string::npos)
      << report;
}

// The schema we follow (Surefire's surefire-test-report-3.0.xsd with our extensions, in
// tests/unit/testdata/junit.xsd) must accept what we write, checked by xmllint.
TEST(JunitReporterTest, GoldenRunValidatesAgainstTheSchema) {
  if (report_testing::RunCommand("xmllint --version").exit_code != 0) {
    if (report_testing::EnvIsTrue("CI")) FAIL() << "xmllint is required when CI=true";
    GTEST_SKIP() << "xmllint not installed (apt install libxml2-utils)";
  }
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) /
                                     ("handoff_junit_xsd_" + std::to_string(::getpid()) + ".xml");
  std::ofstream(path, std::ios::binary) << JunitReport(GoldenRun());
  const report_testing::CommandResult result = report_testing::RunCommand(
      "xmllint --noout --schema " HANDOFF_GOLDEN_DIR "/../unit/testdata/junit.xsd " +
      report_testing::ShellQuote(path.string()));
  std::filesystem::remove(path);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace
}  // namespace handoff
