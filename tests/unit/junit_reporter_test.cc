#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
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
  const char* kScript = R"PY(
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
print("testsuites", xml.name, xml.tests, xml.failures, xml.errors, xml.skipped)
for suite in xml:
    print("suite", suite.name, suite.tests, suite.failures, suite.errors, suite.skipped,
          suite.hostname)
    for case in suite:
        kinds = [type(r).__name__ + ":" + (r.type or "") + ":" + (r.message or "")
                 for r in case.result]
        print("case", case.classname, case.name, "%.3f" % case.time, *kinds)
    suite.update_statistics()
    print("recount", suite.name, suite.tests, suite.failures, suite.errors, suite.skipped)
)PY";
  const report_testing::CommandResult result = report_testing::RunCommand(
      std::string(python) + " -c " + report_testing::ShellQuote(kScript) + " " +
      report_testing::ShellQuote(path.string()));
  std::filesystem::remove(path);
  ASSERT_EQ(result.exit_code, 0) << result.output;

  // What junitparser must have read, built from our own results.
  const RunResult& run = collector.result();
  const Totals counts = CountTests(run);
  int errors = 0;
  for (const SuiteResult& suite : run.suites) {
    errors += !suite.setup_failures.empty() + !suite.teardown_failures.empty();
  }
  std::string want = "testsuites handoff " + std::to_string(counts.total + errors) + " " +
                     std::to_string(counts.failed + counts.soft_failed) + " " +
                     std::to_string(errors) + " " + std::to_string(counts.skipped) + "\n";
  EXPECT_EQ(want, "testsuites handoff 17 7 2 3\n");
  want +=
      "suite Basics 13 7 0 1 ci-host\n"
      "case shop.Basics Passes 0.012\n"
      "case shop.Basics Fails 0.020 Failure:failure:want 3, got 2\n"
      "case shop.Basics Skipped 0.000 Skipped::not on linux\n"
      "case shop.Basics Table 0.006 Failure:failure:a subtest failed\n"
      "case shop.Basics Table/one 0.001\n"
      "case shop.Basics Table/two 0.004 Failure:failure:bad row\n"
      "case shop.Basics Table/two/deep 0.002\n"
      "case shop.Basics Flaky 0.003\n"
      "case shop.Basics Flaky/inner 0.001\n"
      "case shop.Basics Soft 1.500 Failure:soft:latency 900ms > 500ms\n"
      "case shop.Basics Output 0.002 Failure:failure:<b>bold</b> & \xEF\xBF\xBD[1mansi"
      "\xEF\xBF\xBD[0m\n"
      "case shop.Basics Crashes 61.500 Failure:failure:crashed: signal 11 (SIGSEGV)\n"
      "case shop.Basics Crashes/inside 0.111 Failure:failure:failed\n"
      "recount Basics 13 7 0 1\n"
      "suite Checkout 4 0 2 2 ci-host\n"
      "case shop.Checkout (setup) 0.000 Error:setup:db down: connection refused\n"
      "case shop.Checkout A 0.000 Skipped::setup failed: db down: connection refused\n"
      "case shop.Checkout B 0.000 Skipped::setup failed: db down: connection refused\n"
      "case shop.Checkout (teardown) 0.000 Error:teardown:cleanup failed\n"
      "recount Checkout 4 0 2 2\n";
  EXPECT_EQ(result.output, want);
}

}  // namespace
}  // namespace handoff
