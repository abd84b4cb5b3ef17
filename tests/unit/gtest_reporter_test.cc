// GoogleTest's reports (--gtest_output=xml/json) and console output over the golden run of
// the reporter tests (report_fixture.h): approved files in tests/golden, re-approved with
// HANDOFF_APPROVE=1 (scripts/approve-golden).

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <boost/json.hpp>

#include "event/event.h"
#include "report/reporters.h"
#include "report/results.h"
#include "report_fixture.h"

namespace handoff {
namespace {

using ::handoff::report_testing::Capture;
using ::handoff::report_testing::EventScript;
using ::handoff::report_testing::GoldenRun;

enum class Kind { kXml, kJson, kConsole };

std::string Report(const EventScript& script, Kind kind) {
  return Capture([&](std::FILE* out) {
    ResultCollector collector;
    std::unique_ptr<EventSink> reporter;
    switch (kind) {
      case Kind::kXml: reporter = MakeGTestXmlReporter(out, collector, {42}); break;
      case Kind::kJson: reporter = MakeGTestJsonReporter(out, collector, {42}); break;
      case Kind::kConsole: reporter = MakeGTestConsoleReporter(out, collector, {}); break;
    }
    script.Feed({&collector, reporter.get()});
  });
}

TEST(GTestReporterGolden, XmlMatchesGolden) {
  report_testing::ExpectMatchesGolden("gtest_report.xml", Report(GoldenRun(), Kind::kXml));
}

TEST(GTestReporterGolden, JsonMatchesGolden) {
  report_testing::ExpectMatchesGolden("gtest_report.json", Report(GoldenRun(), Kind::kJson));
}

TEST(GTestReporterGolden, ConsoleMatchesGolden) {
  report_testing::ExpectMatchesGolden("gtest_console.txt", Report(GoldenRun(), Kind::kConsole));
}

// The JSON report is JSON, and its counts are those of its testcases.
TEST(GTestReporterTest, JsonCountsItsTestcases) {
  const boost::json::object report =
      boost::json::parse(Report(GoldenRun(), Kind::kJson)).as_object();
  std::int64_t tests = 0, failures = 0;
  for (const auto& suite : report.at("testsuites").as_array()) {
    std::int64_t suite_failures = 0;
    const auto& cases = suite.at("testsuite").as_array();
    for (const auto& c : cases) {
      if (c.as_object().contains("failures")) ++suite_failures;
    }
    EXPECT_EQ(suite.at("tests").as_int64(), static_cast<std::int64_t>(cases.size()));
    EXPECT_EQ(suite.at("failures").as_int64(), suite_failures);
    tests += static_cast<std::int64_t>(cases.size());
    failures += suite_failures;
  }
  EXPECT_EQ(report.at("tests").as_int64(), tests);
  EXPECT_EQ(report.at("failures").as_int64(), failures);
  EXPECT_GT(failures, 0);
  EXPECT_EQ(report.at("random_seed").as_int64(), 42);
}

}  // namespace
}  // namespace handoff
