// Other tools' reports as handoff events: go test -json, JUnit XML (pytest, Surefire,
// GoogleTest, go-junit-report) and TAP (Node's test runner), with their malformed forms.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ingest/go_test_json.h"
#include "ingest/junit_xml.h"
#include "ingest/tap.h"

namespace handoff::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// One line per event: "kind test[: detail]".
std::string Describe(const Event& e) {
  std::string out = EventKindName(e.kind);
  out += " " + (e.test.empty() ? std::string("-") : e.test);
  switch (e.kind) {
    case EventKind::kFailure:
    case EventKind::kSkip:
    case EventKind::kOutput:
      out += ": " + e.text;
      break;
    case EventKind::kAttemptFinished:
    case EventKind::kTestFinished:
      out += std::string(": ") + StatusName(e.status) + (e.flaky ? " flaky" : "") +
             (e.soft ? " soft" : "");
      break;
    default:
      break;
  }
  return out;
}

struct Recorder {
  std::vector<Event> events;
  EventCallback Callback() {
    return [this](Event e) { events.push_back(std::move(e)); };
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    for (const Event& e : events) out.push_back(Describe(e));
    return out;
  }
  // The kTestFinished events only, as Lines() shows them.
  std::vector<std::string> Ends() const {
    std::vector<std::string> out;
    for (const Event& e : events) {
      if (e.kind == EventKind::kTestFinished) out.push_back(Describe(e));
    }
    return out;
  }
  const Event* Find(EventKind kind, const std::string& test) const {
    for (const Event& e : events) {
      if (e.kind == kind && e.test == test) return &e;
    }
    return nullptr;
  }
};

// A file of tests/unit/testdata: what a tool really printed.
std::string Testdata(const std::string& name) {
  std::ifstream in(std::string(HANDOFF_GOLDEN_DIR "/../unit/testdata/") + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}


constexpr std::string_view kGoStream =
    R"({"Time":"2026-12-05T10:00:00.1Z","Action":"start","Package":"example.com/shop"}
{"Time":"2026-12-05T10:00:00.1Z","Action":"run","Package":"example.com/shop","Test":"TestCharge"}
{"Time":"2026-12-05T10:00:00.1Z","Action":"output","Package":"example.com/shop","Test":"TestCharge","Output":"=== RUN   TestCharge\n"}
{"Time":"2026-12-05T10:00:00.2Z","Action":"output","Package":"example.com/shop","Test":"TestCharge","Output":"    charge_test.go:12: declined: card 4242\n"}
{"Time":"2026-12-05T10:00:00.2Z","Action":"output","Package":"example.com/shop","Test":"TestCharge","Output":"        retry with another card\n"}
{"Time":"2026-12-05T10:00:00.2Z","Action":"output","Package":"example.com/shop","Test":"TestCharge","Output":"--- FAIL: TestCharge (0.10s)\n"}
{"Time":"2026-12-05T10:00:00.2Z","Action":"fail","Package":"example.com/shop","Test":"TestCharge","Elapsed":0.1}
{"Time":"2026-12-05T10:00:00.3Z","Action":"run","Package":"example.com/shop","Test":"TestSkip"}
{"Time":"2026-12-05T10:00:00.3Z","Action":"output","Package":"example.com/shop","Test":"TestSkip","Output":"    skip_test.go:5: needs a card\n"}
{"Time":"2026-12-05T10:00:00.3Z","Action":"skip","Package":"example.com/shop","Test":"TestSkip","Elapsed":0}
{"Time":"2026-12-05T10:00:00.4Z","Action":"run","Package":"example.com/shop","Test":"TestTable"}
{"Time":"2026-12-05T10:00:00.4Z","Action":"run","Package":"example.com/shop","Test":"TestTable/visa"}
{"Time":"2026-12-05T10:00:00.4Z","Action":"pass","Package":"example.com/shop","Test":"TestTable/visa","Elapsed":0}
{"Time":"2026-12-05T10:00:00.4Z","Action":"run","Package":"example.com/shop","Test":"TestTable/amex"}
{"Time":"2026-12-05T10:00:00.4Z","Action":"output","Package":"example.com/shop","Test":"TestTable/amex","Output":"        table_test.go:30: amex refused\n"}
{"Time":"2026-12-05T10:00:00.4Z","Action":"fail","Package":"example.com/shop","Test":"TestTable/amex","Elapsed":0}
{"Time":"2026-12-05T10:00:00.5Z","Action":"fail","Package":"example.com/shop","Test":"TestTable","Elapsed":0.1}
{"Time":"2026-12-05T10:00:00.5Z","Action":"output","Package":"example.com/shop","Output":"FAIL\n"}
{"Time":"2026-12-05T10:00:00.5Z","Action":"output","Package":"example.com/shop","Output":"FAIL\texample.com/shop\t0.4s\n"}
{"Time":"2026-12-05T10:00:00.5Z","Action":"fail","Package":"example.com/shop","Elapsed":0.4}
)";

TEST(GoTestJsonTest, TestsSubtestsOutcomesAndFailuresAtTheirLine) {
  Recorder got;
  GoTestJsonReader reader(got.Callback(), 1, false);
  ASSERT_TRUE(ReadLines(reader, kGoStream).ok());
  reader.Finish();
  EXPECT_THAT(got.Lines(),
              ElementsAre("test_started TestCharge",
                          "output TestCharge:     charge_test.go:12: declined: card 4242",
                          "output TestCharge:         retry with another card",
                          "failure TestCharge: declined: card 4242\n    retry with another card",
                          "attempt_finished TestCharge: failed", "test_finished TestCharge: failed",
                          "test_started TestSkip", "output TestSkip:     skip_test.go:5: needs a card",
                          "skip TestSkip: needs a card",
                          "attempt_finished TestSkip: skipped", "test_finished TestSkip: skipped",
                          "test_started TestTable", "test_started TestTable/visa",
                          "test_finished TestTable/visa: passed", "test_started TestTable/amex",
                          "output TestTable/amex:         table_test.go:30: amex refused",
                          "failure TestTable/amex: amex refused",
                          "test_finished TestTable/amex: failed",
                          "attempt_finished TestTable: failed", "test_finished TestTable: failed"));
  const Event* failure = got.Find(EventKind::kFailure, "TestCharge");
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->file, "charge_test.go");
  EXPECT_EQ(failure->line, 12);
  EXPECT_EQ(failure->attempt, 1);
  const Event* done = got.Find(EventKind::kTestFinished, "TestCharge");
  EXPECT_EQ(done->elapsed_ns, 100'000'000);
  EXPECT_EQ(got.Find(EventKind::kTestStarted, "TestCharge")->time_ns, 1'796'464'800'100'000'000);
  EXPECT_TRUE(reader.failed());
  EXPECT_EQ(reader.outcomes().at("TestSkip"), Status::kSkipped);
  EXPECT_EQ(reader.outcomes().size(), 3u);
}

TEST(GoTestJsonTest, APackageThatFailsWithoutAFailedTestIsASuiteFailureWithItsOutput) {
  Recorder got;
  GoTestJsonReader reader(got.Callback(), 1, true);
  ASSERT_TRUE(ReadLines(reader,
                     R"({"Action":"output","Package":"example.com/shop/cart","Output":"panic: boom in TestMain\n"}
{"Action":"output","Package":"example.com/shop/cart","Output":"FAIL\texample.com/shop/cart\t0.01s\n"}
{"Action":"fail","Package":"example.com/shop/cart","Elapsed":0.01}
{"Action":"run","Package":"example.com/shop/pay","Test":"TestPay"}
{"Action":"pass","Package":"example.com/shop/pay","Test":"TestPay","Elapsed":0.01}
)").ok());
  reader.Finish();
  EXPECT_THAT(got.Lines(), ElementsAre("output -: panic: boom in TestMain",
                                       "failure -: go test: package example.com/shop/cart failed\n"
                                       "panic: boom in TestMain",
                                       "test_started example.com.shop.pay.TestPay",
                                       "attempt_finished example.com.shop.pay.TestPay: passed",
                                       "test_finished example.com.shop.pay.TestPay: passed"));
  EXPECT_EQ(CountGoPackages(R"({"Action":"run","Package":"a","Test":"T"}
not json
{"Action":"run","Package":"b/c","Test":"T"}
{"Action":"pass","Package":"a","Test":"T"})"),
            2);
}

TEST(GoTestJsonTest, AStreamCutShortFailsTheTestsStillRunningInnermostFirst) {
  Recorder got;
  GoTestJsonReader reader(got.Callback(), 2, false);
  ASSERT_TRUE(ReadLines(reader, R"({"Action":"run","Package":"p","Test":"TestHang"}
{"Action":"run","Package":"p","Test":"TestHang/forever"}
{"Action":"output","Package":"p","Test":"TestHang/forever","Output":"waiting"}
)").ok());
  reader.Finish("killed: the suite ran past its timeout of 1s");
  EXPECT_THAT(got.Lines(),
              ElementsAre("test_started TestHang", "test_started TestHang/forever",
                          "failure TestHang/forever: killed: the suite ran past its timeout of 1s\nwaiting",
                          "test_finished TestHang/forever: failed",
                          "failure TestHang: killed: the suite ran past its timeout of 1s",
                          "attempt_finished TestHang: failed", "test_finished TestHang: failed"));
  EXPECT_EQ(got.events[0].attempt, 2);
}

TEST(GoTestJsonTest, MalformedLinesAreErrorsSayingWhat) {
  Recorder got;
  GoTestJsonReader reader(got.Callback(), 1, false);
  EXPECT_TRUE(reader.ReadLine("").ok());
  EXPECT_THAT(reader.ReadLine("ok  \texample.com/shop").error().message, HasSubstr("not JSON"));
  EXPECT_THAT(reader.ReadLine("[1]").error().message, HasSubstr("not a JSON object"));
  EXPECT_THAT(reader.ReadLine(R"({"Test":"T"})").error().message, HasSubstr("\"Action\""));
  EXPECT_THAT(reader.ReadLine(R"({"Action":"run","Test":"T","Time":"yesterday"})").error().message,
              HasSubstr("RFC 3339"));
  EXPECT_THAT(reader.ReadLine(R"({"Action":"pass","Test":"T","Elapsed":-1})").error().message,
              HasSubstr("Elapsed"));
  EXPECT_THAT(reader.ReadLine(R"({"Action":"run","Test":"T//x"})").error().message,
              HasSubstr("empty part"));
  EXPECT_TRUE(got.events.empty());
  // A whole stream names the line it stopped at.
  GoTestJsonReader whole(got.Callback(), 1, false);
  const Result<void> read = ReadLines(whole, "{\"Action\":\"run\",\"Test\":\"T\"}\n\nnot json\n");
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.error().message, ::testing::StartsWith("line 3: not JSON"));
}

// What Go 1.19's own `go test -json` (Debian's golang-go) printed for
// tests/unit/testdata/go119_charge_test.go.txt: parallel subtests paused and continued, and
// a test's fmt.Println among its t.Error lines.
TEST(GoTestJsonTest, Go119sOwnStream) {
  const std::string text = Testdata("go119_test.json");
  ASSERT_FALSE(text.empty());
  Recorder got;
  GoTestJsonReader reader(got.Callback(), 1, false);
  ASSERT_TRUE(ReadLines(reader, text).ok());
  reader.Finish();
  EXPECT_THAT(got.Ends(), ElementsAre("test_finished TestCharge: failed", "test_finished TestRefund: passed",
                                "test_finished TestSkip: skipped",
                                "test_finished TestTable/visa: passed",
                                "test_finished TestTable/amex: failed",
                                "test_finished TestTable: failed"));
  const Event* failure = got.Find(EventKind::kFailure, "TestCharge");
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->text,
            "charging 4242\n    charge_test.go:10: declined: card 4242\n"
            "    charge_test.go:11: retry with another card");
  EXPECT_EQ(failure->file, "charge_test.go");
  EXPECT_EQ(failure->line, 10);
  EXPECT_EQ(got.Find(EventKind::kFailure, "TestTable/amex")->text, "amex refused");
  EXPECT_EQ(got.Find(EventKind::kFailure, "TestTable"), nullptr);
  EXPECT_EQ(got.Find(EventKind::kSkip, "TestSkip")->text, "needs a card");
  // Go said Elapsed 0 (under 5 ms): the time between its run and its end instead.
  EXPECT_GT(got.Find(EventKind::kTestFinished, "TestCharge")->elapsed_ns, 0);
  for (const Event& e : got.events) EXPECT_FALSE(e.test.empty() && e.kind == EventKind::kFailure);
}

TEST(Rfc3339Test, ReadsGoAndJUnitTimes) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01.5Z"), 1'500'000'000);
  EXPECT_EQ(ParseRfc3339("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(ParseRfc3339("2026-12-05T10:00:00.123456789Z"), 1'796'464'800'123'456'789);
  EXPECT_FALSE(ParseRfc3339("2026-12-05T10:00:00"));
  EXPECT_FALSE(ParseRfc3339("2026-13-05T10:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-12-05T10:00:00.Z"));
  EXPECT_FALSE(ParseRfc3339("2026-12-05T10:00:00Zjunk"));
  // Outside what 64 bits of nanoseconds since 1970 hold (found by the fuzzer).
  EXPECT_FALSE(ParseRfc3339("1013-12-05T10:36:58Z"));
  EXPECT_FALSE(ParseRfc3339("9999-12-31T23:59:59Z"));
  EXPECT_TRUE(ParseRfc3339("2261-12-31T23:59:59.999999999Z"));
}

TEST(JUnitXmlTest, PytestReportWithFailuresSkipsAndOutput) {
  Recorder got;
  const std::string xml = R"(<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="0.5" timestamp="2026-12-05T10:00:00.000000">
<testcase classname="tests.test_cart" name="test_adds" time="0.1" file="tests/test_cart.py" line="3"/>
<testcase classname="tests.test_cart" name="test_total[eur]" time="0.2" file="tests/test_cart.py" line="9"><failure message="assert 3 == 4">def test_total():
&gt;       assert 3 == 4
E       assert 3 == 4

tests/test_cart.py:11: AssertionError</failure><system-out>total computed</system-out></testcase>
<testcase classname="tests.test_cart" name="test_later" time="0.0"><skipped type="pytest.skip" message="not yet">tests/test_cart.py:20: not yet</skipped></testcase>
<testcase classname="tests.test_cart" name="test_db" time="0.0"><error message="failed on setup with &quot;ConnectionRefusedError&quot;">fixture failed</error></testcase>
</testsuite></testsuites>)";
  ASSERT_TRUE(ReadJUnitXml(xml, 0, got.Callback()).ok());
  EXPECT_THAT(got.Lines(),
              ElementsAre("test_started tests.test_cart.test_adds",
                          "attempt_finished tests.test_cart.test_adds: passed",
                          "test_finished tests.test_cart.test_adds: passed",
                          "test_started tests.test_cart.test_total[eur]",
                          "output tests.test_cart.test_total[eur]: total computed",
                          "failure tests.test_cart.test_total[eur]: assert 3 == 4\ndef test_total():\n"
                          ">       assert 3 == 4\nE       assert 3 == 4\n\ntests/test_cart.py:11: AssertionError",
                          "attempt_finished tests.test_cart.test_total[eur]: failed",
                          "test_finished tests.test_cart.test_total[eur]: failed",
                          "test_started tests.test_cart.test_later",
                          "skip tests.test_cart.test_later: not yet",
                          "attempt_finished tests.test_cart.test_later: skipped",
                          "test_finished tests.test_cart.test_later: skipped",
                          "test_started tests.test_cart.test_db",
                          "failure tests.test_cart.test_db: failed on setup with \"ConnectionRefusedError\"\nfixture failed",
                          "attempt_finished tests.test_cart.test_db: failed",
                          "test_finished tests.test_cart.test_db: failed"));
  const Event* failure = got.Find(EventKind::kFailure, "tests.test_cart.test_total[eur]");
  EXPECT_EQ(failure->file, "tests/test_cart.py");
  EXPECT_EQ(failure->line, 9);
  EXPECT_EQ(failure->key, "");
  EXPECT_EQ(got.Find(EventKind::kFailure, "tests.test_cart.test_db")->key, kCauseCrash);
  // Times: the suite's timestamp (no offset: UTC), then each case after the one before.
  EXPECT_EQ(got.Find(EventKind::kTestStarted, "tests.test_cart.test_adds")->time_ns,
            1'796'464'800'000'000'000);
  EXPECT_EQ(got.Find(EventKind::kTestStarted, "tests.test_cart.test_total[eur]")->time_ns,
            1'796'464'800'100'000'000);
  EXPECT_EQ(got.Find(EventKind::kTestFinished, "tests.test_cart.test_total[eur]")->elapsed_ns,
            200'000'000);
}

// What pytest 7.2.1 (Debian's python3-pytest) wrote with --junitxml for
// tests/unit/testdata/pytest7_junit_test_cart.py.
TEST(JUnitXmlTest, Pytest7sOwnReport) {
  const std::string xml = Testdata("pytest7_junit.xml");
  ASSERT_FALSE(xml.empty());
  Recorder got;
  ASSERT_TRUE(ReadJUnitXml(xml, 0, got.Callback()).ok());
  EXPECT_THAT(got.Ends(), ElementsAre("test_finished tests.test_cart.test_adds: passed",
                                "test_finished tests.test_cart.test_total[eur]: failed",
                                "test_finished tests.test_cart.test_total[usd]: passed",
                                "test_finished tests.test_cart.test_later: skipped",
                                "test_finished tests.test_cart.test_db: failed",
                                "test_finished tests.test_cart.TestRefund.test_full: passed"));
  const Event* failure = got.Find(EventKind::kFailure, "tests.test_cart.test_total[eur]");
  ASSERT_NE(failure, nullptr);
  EXPECT_THAT(failure->text, ::testing::StartsWith("assert 3 == 4\ncurrency = 'eur'"));
  EXPECT_THAT(failure->text, HasSubstr("tests/test_cart.py:9: AssertionError"));
  // pytest names no file on the testcase: the traceback's last line places the failure.
  EXPECT_EQ(failure->file, "tests/test_cart.py");
  EXPECT_EQ(failure->line, 9);
  EXPECT_EQ(got.Find(EventKind::kFailure, "tests.test_cart.test_db")->key, kCauseCrash);
  EXPECT_EQ(got.Find(EventKind::kFailure, "tests.test_cart.test_db")->line, 17);
  // The suite's timestamp has no offset: UTC.
  EXPECT_EQ(got.Find(EventKind::kTestStarted, "tests.test_cart.test_adds")->time_ns,
            *ParseRfc3339("2026-12-05T10:36:58.473282Z"));
}

TEST(JUnitXmlTest, SurefireRerunsAreAttemptsAndAPassAfterThemIsFlaky) {
  Recorder got;
  const std::string xml = R"(<testsuite name="com.shop.PaymentIT" tests="2">
  <testcase name="charges" classname="com.shop.PaymentIT" time="1.5">
    <flakyFailure message="timeout" type="java.net.SocketTimeoutException"><stackTrace>at com.shop.PaymentIT.charges(PaymentIT.java:40)</stackTrace></flakyFailure>
  </testcase>
  <testcase name="refunds" classname="com.shop.PaymentIT" time="0.5">
    <failure message="expected 200" type="java.lang.AssertionError">at PaymentIT.java:60</failure>
    <rerunFailure message="expected 200 again" type="java.lang.AssertionError"/>
  </testcase>
</testsuite>)";
  ASSERT_TRUE(ReadJUnitXml(xml, 0, got.Callback()).ok());
  EXPECT_THAT(got.Lines(),
              ElementsAre("test_started com.shop.PaymentIT.charges",
                          "failure com.shop.PaymentIT.charges: timeout\nat com.shop.PaymentIT.charges(PaymentIT.java:40)",
                          "attempt_finished com.shop.PaymentIT.charges: failed",
                          "test_started com.shop.PaymentIT.charges",
                          "attempt_finished com.shop.PaymentIT.charges: passed",
                          "test_finished com.shop.PaymentIT.charges: passed flaky",
                          "test_started com.shop.PaymentIT.refunds",
                          "failure com.shop.PaymentIT.refunds: expected 200\nat PaymentIT.java:60",
                          "attempt_finished com.shop.PaymentIT.refunds: failed",
                          "test_started com.shop.PaymentIT.refunds",
                          "failure com.shop.PaymentIT.refunds: expected 200 again",
                          "attempt_finished com.shop.PaymentIT.refunds: failed",
                          "test_finished com.shop.PaymentIT.refunds: failed"));
  EXPECT_EQ(got.events[3].attempt, 2);
}

TEST(JUnitXmlTest, GoogleTestAndGoJUnitReportNamesAndSubtests) {
  Recorder gtest;
  ASSERT_TRUE(ReadJUnitXml(R"(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2" name="AllTests"><testsuite name="Math" tests="2">
<testcase name="Adds" status="run" result="completed" time="0.001" classname="Math"/>
<testcase name="DISABLED_Divides" status="notrun" result="suppressed" time="0" classname="Math"/>
</testsuite></testsuites>)",
                           0, gtest.Callback())
                  .ok());
  EXPECT_EQ(gtest.Find(EventKind::kTestFinished, "Math.Adds")->status, Status::kPassed);
  EXPECT_EQ(gtest.Find(EventKind::kTestFinished, "Math.DISABLED_Divides")->status, Status::kSkipped);

  Recorder go;
  ASSERT_TRUE(ReadJUnitXml(R"(<testsuites><testsuite name="example.com/shop">
<testcase classname="example.com/shop" name="TestTable" time="0.1"><failure message="Failed"></failure></testcase>
<testcase classname="example.com/shop" name="TestTable/visa" time="0.0"></testcase>
<testcase classname="example.com/shop" name="TestIO/a/b" time="0.0"></testcase>
</testsuite></testsuites>)",
                           0, go.Callback())
                  .ok());
  EXPECT_THAT(go.Lines(),
              ElementsAre("test_started example.com.shop.TestTable",
                          "failure example.com.shop.TestTable: Failed",
                          "test_started example.com.shop.TestTable/visa",
                          "test_finished example.com.shop.TestTable/visa: passed",
                          "attempt_finished example.com.shop.TestTable: failed",
                          "test_finished example.com.shop.TestTable: failed",
                          "test_started example.com.shop.TestIO\u2215a\u2215b",
                          "attempt_finished example.com.shop.TestIO\u2215a\u2215b: passed",
                          "test_finished example.com.shop.TestIO\u2215a\u2215b: passed"));
}

TEST(JUnitXmlTest, WhatIsNotAJUnitReportIsRefusedNamingTheLine) {
  Recorder got;
  auto error = [&](std::string_view xml) {
    Result<void> r = ReadJUnitXml(xml, 0, got.Callback());
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(error("<html><body/></html>"),
            "line 1: not a JUnit report: the root element is <html>, not <testsuites> or <testsuite>");
  EXPECT_THAT(error("<testsuites>\n<testsuite>\n<testcase name=\"a\">\n"), HasSubstr("line 4"));
  EXPECT_THAT(error("<!DOCTYPE x [<!ENTITY a \"aaaa\">]>\n<testsuites/>"), HasSubstr("DOCTYPE"));
  EXPECT_THAT(error("<testsuites><testcase name=\"a\" time=\"fast\"/></testsuites>"),
              HasSubstr("time=\"fast\""));
  // pytest's interrupted test: a testcase without a name, which is no test.
  EXPECT_EQ(error("<testsuites><testcase time=\"0.000\"/></testsuites>"), "ok");
  EXPECT_THAT(error("<testsuites><testcase><failure/></testcase></testsuites>"), HasSubstr("without a name"));
  std::string deep = "<testsuites>";
  for (int i = 0; i < 100; ++i) deep += "<x>";
  EXPECT_THAT(error(deep), HasSubstr("nested deeper than 64"));
  EXPECT_EQ(error(""), "line 1: no element found");
  EXPECT_TRUE(got.events.empty());
}


TEST(TapTest, NodesSubtestsFailuresAndDurations) {
  Recorder got;
  TapReader reader(got.Callback(), 1);
  ASSERT_TRUE(ReadLines(reader, R"(TAP version 13
# Subtest: cart
    # Subtest: adds
    ok 1 - adds
      ---
      duration_ms: 1.5
      ...
    # Subtest: totals
    not ok 2 - totals
      ---
      duration_ms: 2
      location: '/src/cart.test.js:9:3'
      failureType: 'testCodeFailure'
      error: |-
        Expected values to be strictly equal:

        3 !== 4
      code: 'ERR_ASSERTION'
      stack: |-
        TestContext.<anonymous> (/src/cart.test.js:10:12)
      ...
    1..2
not ok 1 - cart
  ---
  duration_ms: 5
  failureType: 'subtestsFailed'
  error: '1 subtest failed'
  ...
# Subtest: later
ok 2 - later # SKIP needs a database
# Subtest: known
not ok 3 - known # TODO fix rounding
1..3
# tests 4
)").ok());
  reader.Finish();
  EXPECT_THAT(got.Lines(),
              ElementsAre("test_started cart", "test_started cart/adds",
                          "test_finished cart/adds: passed", "test_started cart/totals",
                          "failure cart/totals: Expected values to be strictly equal:\n\n3 !== 4\n"
                          "TestContext.<anonymous> (/src/cart.test.js:10:12)",
                          "test_finished cart/totals: failed",
                          "failure cart: 1 subtest failed", "attempt_finished cart: failed",
                          "test_finished cart: failed", "test_started later",
                          "skip later: needs a database", "attempt_finished later: skipped",
                          "test_finished later: skipped", "test_started known",
                          "failure known: TODO fix rounding", "attempt_finished known: failed soft",
                          "test_finished known: failed soft", "output -: tests 4"));
  const Event* failure = got.Find(EventKind::kFailure, "cart/totals");
  EXPECT_EQ(failure->file, "/src/cart.test.js");
  EXPECT_EQ(failure->line, 9);
  EXPECT_EQ(got.Find(EventKind::kTestFinished, "cart/adds")->elapsed_ns, 1'500'000);
  EXPECT_TRUE(reader.failed());
}

// What Node 20's own test runner printed for tests/unit/testdata/node20_tap.test.js
// (`node --test --test-reporter=tap`): its console.log comes first, as a comment.
TEST(TapTest, Node20sOwnOutput) {
  const std::string text = Testdata("node20_tap.txt");
  ASSERT_FALSE(text.empty());
  Recorder got;
  TapReader reader(got.Callback(), 1);
  ASSERT_TRUE(ReadLines(reader, text).ok());
  reader.Finish();
  EXPECT_THAT(got.Ends(), ElementsAre("test_finished cart/adds: passed", "test_finished cart/totals: failed",
                                "test_finished cart: failed", "test_finished later: skipped",
                                "test_finished known: failed soft", "test_finished plain: passed"));
  EXPECT_EQ(got.Lines().front(), "output -: computing");
  const Event* failure = got.Find(EventKind::kFailure, "cart/totals");
  ASSERT_NE(failure, nullptr);
  EXPECT_THAT(failure->text, ::testing::StartsWith("Expected values to be strictly equal:\n\n3 !== 4\n"
                                                   "TestContext.<anonymous> (/tmp/nt/cart.test.js:5:67)"));
  EXPECT_EQ(failure->file, "/tmp/nt/cart.test.js");
  EXPECT_EQ(failure->line, 5);
  EXPECT_EQ(got.Find(EventKind::kTestFinished, "cart/totals")->elapsed_ns, 5'385'687);
  EXPECT_EQ(got.Find(EventKind::kSkip, "later")->text, "needs a database");
  EXPECT_EQ(got.Lines().back(), "output -: duration_ms 221.162988");
}

TEST(TapTest, PlainTapAPlanNotKeptAndABailOut) {
  Recorder got;
  TapReader reader(got.Callback(), 1);
  ASSERT_TRUE(ReadLines(reader, "1..3\nok 1 - first\nok 2\nBail out! database down\n").ok());
  reader.Finish();
  EXPECT_THAT(got.Lines(),
              ElementsAre("test_started first", "attempt_finished first: passed",
                          "test_finished first: passed", "test_started test 2",
                          "attempt_finished test 2: passed", "test_finished test 2: passed",
                          "failure -: TAP: Bail out! database down",
                          "failure -: TAP: the plan promised 3 tests and 2 ran"));
}

TEST(TapTest, ATestAnnouncedAndNeverEndedFailsWhenTheStreamEnds) {
  Recorder got;
  TapReader reader(got.Callback(), 1);
  ASSERT_TRUE(ReadLines(reader, "# Subtest: hangs\n    # Subtest: inner\n").ok());
  reader.Finish("killed: the suite ran past its timeout of 1s");
  EXPECT_THAT(got.Lines(),
              ElementsAre("test_started hangs", "test_started hangs/inner",
                          "failure hangs/inner: killed: the suite ran past its timeout of 1s",
                          "test_finished hangs/inner: failed",
                          "failure hangs: killed: the suite ran past its timeout of 1s",
                          "attempt_finished hangs: failed", "test_finished hangs: failed"));
}

}  // namespace
}  // namespace handoff::ingest
