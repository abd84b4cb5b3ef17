// What POST /suites/{suite}/ingest does with a body before anything is stored: tell the
// report's format (ingest/report_format.h), split several reports sent as one
// (ingest/multipart.h), and read them whole into one run's events (ingest/collect.h),
// refusing reports that are malformed or cut short with the file and line.

#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "ingest/collect.h"
#include "ingest/multipart.h"
#include "ingest/report_events.h"
#include "ingest/report_format.h"

namespace handoff::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string FormatOf(std::string_view type, std::string_view report) {
  Result<ReportFormat> format = DecideReportFormat(type, report);
  return format.ok() ? ReportFormatName(*format) : "error: " + format.error().message;
}

TEST(ReportFormatTest, TheContentTypeSaysItElseTheFirstBytesDo) {
  EXPECT_EQ(FormatOf("application/json", "<x/>"), "go-test-json");  // said wins over seen
  EXPECT_EQ(FormatOf("application/x-ndjson; charset=utf-8", ""), "go-test-json");
  EXPECT_EQ(FormatOf("Application/XML", ""), "junit");
  EXPECT_EQ(FormatOf("text/xml", ""), "junit");
  EXPECT_EQ(FormatOf("text/x-tap", ""), "tap");
  // Nothing said: sniffed, after a byte order mark and blank lines.
  EXPECT_EQ(FormatOf("", "\xEF\xBB\xBF\n  <?xml version=\"1.0\"?><testsuites/>"), "junit");
  EXPECT_EQ(FormatOf("application/octet-stream", "{\"Action\":\"start\"}"), "go-test-json");
  EXPECT_EQ(FormatOf("text/plain", "TAP version 14\nok 1\n"), "tap");
  EXPECT_EQ(FormatOf("application/x-www-form-urlencoded", "<testsuite/>"), "junit");  // curl
  EXPECT_EQ(FormatOf("", "1..3\nok 1\n"), "tap");
  EXPECT_EQ(FormatOf("", "ok 1 - adds\n"), "tap");
  EXPECT_EQ(FormatOf("", "not ok 1 - adds\n"), "tap");
  EXPECT_EQ(FormatOf("", "# Subtest: cart\n"), "tap");
  EXPECT_THAT(FormatOf("", "okay then\n"), HasSubstr("cannot be told from its content"));
  EXPECT_THAT(FormatOf("", "=== RUN TestPay\n"), HasSubstr("cannot be told from its content"));
  EXPECT_THAT(FormatOf("", ""), HasSubstr("cannot be told"));
  EXPECT_THAT(FormatOf("application/pdf", "<x/>"),
              HasSubstr("Content-Type application/pdf is not a report format handoff reads"));
  EXPECT_EQ(DecideReportFormat("image/png", "").error().code, ErrorCode::kUnsupported);
  for (ReportFormat f : {ReportFormat::kGoTestJson, ReportFormat::kJUnitXml, ReportFormat::kTap}) {
    EXPECT_EQ(ParseReportFormatName(ReportFormatName(f)), f);
    EXPECT_EQ(FormatOf(ReportMediaType(f), ""), ReportFormatName(f));
  }
  EXPECT_FALSE(ParseReportFormatName("xml"));
}

TEST(MultipartTest, SplitsPartsWithTheirTypesAndFileNames) {
  const std::string body =
      "preamble\r\n"
      "--xyz\r\n"
      "Content-Type: application/xml\r\n"
      "Content-Disposition: attachment; filename=\"TEST-a \\\"1\\\".xml\"\r\n"
      "\r\n"
      "<a/>\r\n"
      "--xyz  \n"
      "content-disposition: form-data; name=b\n"
      "\n"
      "line 1\nline 2\n\r\n"
      "--xyz\r\n"
      "\r\n"
      "\r\n"
      "--xyz--\r\n"
      "epilogue";
  Result<std::vector<BodyPart>> parts =
      SplitMultipart("multipart/mixed; charset=x; boundary=\"xyz\"", body);
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].file_name, "TEST-a \"1\".xml");
  EXPECT_EQ((*parts)[0].content_type, "application/xml");
  EXPECT_EQ((*parts)[0].body, "<a/>");
  EXPECT_EQ((*parts)[1].file_name, "b");
  EXPECT_EQ((*parts)[1].content_type, "");
  EXPECT_EQ((*parts)[1].body, "line 1\nline 2\n");
  EXPECT_EQ((*parts)[2].body, "");
  EXPECT_TRUE(IsMultipartMixed("Multipart/Mixed ; boundary=x"));
  EXPECT_FALSE(IsMultipartMixed("multipart/form-data; boundary=x"));
}

TEST(MultipartTest, RefusesBodiesThatAreNotWellFormedOrCutShort) {
  const auto error = [](std::string_view type, std::string_view body) {
    Result<std::vector<BodyPart>> parts = SplitMultipart(type, body);
    return parts.ok() ? std::string("ok") : parts.error().message;
  };
  EXPECT_THAT(error("multipart/mixed", "--x\r\n\r\na\r\n--x--"), HasSubstr("needs a boundary"));
  EXPECT_THAT(error("multipart/mixed; boundary=" + std::string(71, 'b'), ""),
              HasSubstr("needs a boundary"));
  EXPECT_THAT(error("multipart/mixed; boundary=x", "no delimiter"), HasSubstr("no part starts"));
  EXPECT_THAT(error("multipart/mixed; boundary=x", "--x--\r\n"), HasSubstr("it has no part"));
  EXPECT_THAT(error("multipart/mixed; boundary=x", "--x\r\nContent-Type: a"),
              HasSubstr("part 1: its header does not end"));
  EXPECT_THAT(error("multipart/mixed; boundary=x", "--x\r\nno colon\r\n\r\nbody\r\n--x--"),
              HasSubstr("header line without a colon"));
  EXPECT_THAT(error("multipart/mixed; boundary=x", "--x\r\n\r\nbody\r\n"),
              HasSubstr("part 1 does not end with --x: the body is cut short"));
  EXPECT_THAT(error("multipart/mixed; boundary=x", "--xy\r\n\r\nbody\r\n--x--"),
              HasSubstr("part 1: its delimiter line does not end"));
  std::string many;
  for (std::size_t i = 0; i <= kMaxParts; ++i) many += "--x\r\n\r\n\r\n";
  EXPECT_THAT(error("multipart/mixed; boundary=x", many + "--x--"), HasSubstr("more than 1000 parts"));
}

// A go test -json stream of package `package` with test `test` passing (and the package's
// result unless `ended` is false).
std::string GoStream(const std::string& package, const std::string& test, bool ended = true) {
  std::string out =
      "{\"Time\":\"2026-12-05T10:00:00Z\",\"Action\":\"run\",\"Package\":\"" + package +
      "\",\"Test\":\"" + test + "\"}\n" +
      "{\"Time\":\"2026-12-05T10:00:03Z\",\"Action\":\"pass\",\"Package\":\"" + package +
      "\",\"Test\":\"" + test + "\",\"Elapsed\":3}\n";
  if (ended) {
    out += "{\"Time\":\"2026-12-05T10:00:04Z\",\"Action\":\"pass\",\"Package\":\"" + package +
           "\",\"Elapsed\":4}\n";
  }
  return out;
}

std::string CollectError(const std::vector<ReportInput>& reports) {
  Result<CollectedRun> run = CollectReports(reports, 1);
  return run.ok() ? std::string("ok") : run.error().message;
}

TEST(CollectReportsTest, OneRunOfEveryReportWithItsTestsAndTimes) {
  const std::string go = GoStream("example.com/shop", "TestPay");
  const std::string junit =
      "<testsuite timestamp=\"2026-12-05T09:59:00\"><testcase classname=\"cart\" "
      "name=\"adds\" time=\"0.5\"/></testsuite>";
  const std::string tap = "TAP version 13\nok 1 - plain\n1..1\n";
  Result<CollectedRun> run = CollectReports({{"go.json", ReportFormat::kGoTestJson, go},
                                             {"TEST-cart.xml", ReportFormat::kJUnitXml, junit},
                                             {"node.tap", ReportFormat::kTap, tap}},
                                            *ParseRfc3339("2026-12-05T11:00:00Z"));
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_THAT(run->tests, ElementsAre("TestPay", "cart.adds", "plain"));
  EXPECT_EQ(run->started_at_ns, *ParseRfc3339("2026-12-05T09:59:00Z"));
  EXPECT_GE(run->finished_at_ns, *ParseRfc3339("2026-12-05T10:00:04Z"));
  EXPECT_FALSE(run->suite_failed);
  int finished = 0;
  for (const Event& e : run->events) finished += e.kind == EventKind::kTestFinished;
  EXPECT_EQ(finished, 3);

  // Two go streams of two packages are one stream of two: tests named by their package.
  run = CollectReports({{"a.json", ReportFormat::kGoTestJson, GoStream("example.com/a", "TestX")},
                        {"b.json", ReportFormat::kGoTestJson, GoStream("example.com/b", "TestX")}},
                       1);
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_THAT(run->tests, ElementsAre("example.com.a.TestX", "example.com.b.TestX"));
}

TEST(CollectReportsTest, ASuiteFailureWithoutTestsIsARunAndNoTestsAtAllIsNot) {
  const std::string build_failed =
      "{\"Action\":\"output\",\"Package\":\"shop\",\"Output\":\"FAIL\\tshop [build failed]\\n\"}\n"
      "{\"Action\":\"fail\",\"Package\":\"shop\",\"Elapsed\":0}\n";
  Result<CollectedRun> run = CollectReports({{"", ReportFormat::kGoTestJson, build_failed}}, 1);
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_TRUE(run->suite_failed);
  EXPECT_TRUE(run->tests.empty());
  EXPECT_EQ(CollectError({{"", ReportFormat::kJUnitXml, "<testsuites/>"}}),
            "the report has no tests");
  EXPECT_EQ(CollectError({{"", ReportFormat::kTap, "1..0\n"}}), "the report has no tests");
}

TEST(CollectReportsTest, AReportCutShortOrMalformedIsRefusedNamingFileAndLine) {
  EXPECT_EQ(CollectError({{"", ReportFormat::kGoTestJson, GoStream("shop", "TestPay") + "{\"Act"}}),
            "line 4: not JSON: incomplete JSON");
  EXPECT_EQ(CollectError({{"", ReportFormat::kGoTestJson, GoStream("shop", "TestPay", false)}}),
            "line 2: the report ends before the result of package shop: is it cut short?");
  // A test binary's stream through test2json has no package.
  EXPECT_EQ(CollectError({{"", ReportFormat::kGoTestJson,
                           "{\"Action\":\"run\",\"Test\":\"TestPay\"}\n"}}),
            "line 1: the report ends before the test binary's result: is it cut short?");
  // Its package ended with a test still running (go test -timeout): a failed test, no error.
  Result<CollectedRun> timed_out = CollectReports(
      {{"", ReportFormat::kGoTestJson,
        "{\"Action\":\"run\",\"Package\":\"shop\",\"Test\":\"TestHang\"}\n"
        "{\"Action\":\"output\",\"Package\":\"shop\",\"Output\":\"panic: test timed out\\n\"}\n"
        "{\"Action\":\"fail\",\"Package\":\"shop\",\"Elapsed\":60}\n"}},
      1);
  ASSERT_TRUE(timed_out.ok()) << timed_out.error().message;
  EXPECT_THAT(timed_out->tests, ElementsAre("TestHang"));
  EXPECT_EQ(CollectError({{"results.tap", ReportFormat::kTap, "TAP version 13\nok 1 - a\n"}}),
            "results.tap: line 2: the report ends before its plan (1..N): is it cut short?");
  EXPECT_EQ(CollectError({{"", ReportFormat::kTap, "TAP version 13\n# Subtest: cart\n"}}),
            "line 2: the report ends before test \"cart\" ended: is it cut short?");
  EXPECT_THAT(CollectError({{"TEST-a.xml", ReportFormat::kJUnitXml,
                             "<testsuite>\n<testcase name=\"a\">\n"}}),
              HasSubstr("TEST-a.xml: line 3"));
  // A test is in one report of a run.
  EXPECT_EQ(CollectError({{"a.tap", ReportFormat::kTap, "ok 1 - same\n1..1\n"},
                          {"b.tap", ReportFormat::kTap, "ok 1 - same\n1..1\n"}}),
            "b.tap: test \"same\" is also in a.tap: a test may be in one report of a run");
}

}  // namespace
}  // namespace handoff::ingest
