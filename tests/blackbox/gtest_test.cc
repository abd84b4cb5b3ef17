// Black-box tests of handoff/gtest.h: they run tests/fixtures/gtest_fixture.cc, whose
// GoogleTest and GoogleMock assertions fail in known ways, and check what the go test
// -json stream and the exit code say.

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "blackbox/go_json.h"
#include "blackbox/process.h"

namespace handoff::testing {
namespace {

const std::string kGTestFixtureSource =
    std::string(HANDOFF_SOURCE_DIR) + "/tests/fixtures/gtest_fixture.cc";

// Returns "gtest_fixture.cc:N: " for the line of the fixture marked `// [marker]`, as
// the reports print a location.
std::string At(const std::string& marker) {
  std::ifstream in(kGTestFixtureSource);
  std::string line;
  const std::string needle = "// [" + marker + "]";
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find(needle) != std::string::npos) return fmt::format("gtest_fixture.cc:{}: ", n);
  }
  ADD_FAILURE() << "no line marked " << needle << " in " << kGTestFixtureSource;
  return "marker not found";
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class GTestAssertionsTest : public ::testing::Test {
 protected:
  // Runs the fixture with `run --format json` and `args`; checks the exit code and that
  // the stream is valid.
  static GoReport RunJson(std::vector<std::string> args, int want_exit) {
    args.insert(args.begin(), {GTEST_FIXTURE, "run", "--format", "json"});
    return ExpectGoReport(RunProcess(args), want_exit);
  }

  // The whole fixture, run once for every test of this suite.
  static void SetUpTestSuite() { all_ = new GoReport(RunJson({}, 1)); }
  static void TearDownTestSuite() {
    delete all_;
    all_ = nullptr;
  }

  // Returns the test `name` of the fixture's run (failing if it is missing).
  static const GoTest& Test(const std::string& name) {
    static const GoTest missing;
    const GoTest* test = all_->Find("GTest", name);
    EXPECT_NE(test, nullptr) << "no test " << name;
    return test != nullptr ? *test : missing;
  }

  static GoReport* all_;
};

GoReport* GTestAssertionsTest::all_ = nullptr;

TEST_F(GTestAssertionsTest, ExpectEqIsRecordedAndTheTestGoesOn) {
  const GoTest& test = Test("ExpectEqContinues");
  EXPECT_EQ(test.Final(), "fail");
  EXPECT_TRUE(Has(test.output, At("expect-eq") + "Expected equality of these values:"))
      << test.output;
  EXPECT_TRUE(Has(test.output, "Which is: 42")) << test.output;
  EXPECT_TRUE(Has(test.output, "41")) << test.output;
  EXPECT_TRUE(Has(test.output, "still running after EXPECT_EQ")) << test.output;
}

TEST_F(GTestAssertionsTest, AssertStopsTheTestAndCleanupsRun) {
  const GoTest& test = Test("AssertStops");
  EXPECT_EQ(test.Final(), "fail");
  EXPECT_TRUE(Has(test.output, At("assert-false") + "Value of: items.empty()")) << test.output;
  EXPECT_TRUE(Has(test.output, "no items")) << test.output;
  EXPECT_FALSE(Has(test.output, "unreachable after ASSERT_FALSE")) << test.output;
  EXPECT_TRUE(Has(test.output, "cleanup ran after ASSERT")) << test.output;
}

TEST_F(GTestAssertionsTest, AssertInAHelperStopsTheWholeTest) {
  const GoTest& test = Test("AssertInHelperStopsTest");
  EXPECT_EQ(test.Final(), "fail");
  EXPECT_TRUE(Has(test.output, At("assert-in-helper") + "Expected: (value) > (0), actual: -1 vs 0"))
      << test.output;
  EXPECT_TRUE(Has(test.output, "helper wants a positive value")) << test.output;
  EXPECT_FALSE(Has(test.output, "unreachable after the helper")) << test.output;
}

TEST_F(GTestAssertionsTest, AssertInASubtestStopsOnlyTheSubtest) {
  const GoTest& inner = Test("AssertInSubtest/inner");
  EXPECT_EQ(inner.Final(), "fail");
  EXPECT_TRUE(Has(inner.output, At("assert-in-subtest") + "Expected: (Answer()) != (42)"))
      << inner.output;
  EXPECT_FALSE(Has(inner.output, "unreachable in the subtest")) << inner.output;
  // A second fatal failure in the same worker works too: GoogleTest's lock was released
  // when the first one unwound through it.
  const GoTest& again = Test("AssertInSubtest/again");
  EXPECT_EQ(again.Final(), "fail");
  EXPECT_TRUE(Has(again.output, "second fatal failure")) << again.output;
  const GoTest& parent = Test("AssertInSubtest");
  EXPECT_EQ(parent.Final(), "fail");
  EXPECT_TRUE(Has(parent.output, "parent continues, subtest ok=false")) << parent.output;
}

TEST_F(GTestAssertionsTest, ExpectThatReportsTheMatchersDescription) {
  const GoTest& test = Test("ExpectThatMatchers");
  EXPECT_EQ(test.Final(), "fail");
  EXPECT_TRUE(Has(test.output, At("expect-that-elements") + "Value of: numbers")) << test.output;
  EXPECT_TRUE(Has(test.output, "Expected: has 3 elements where")) << test.output;
  EXPECT_TRUE(Has(test.output, "element #2 is equal to 4")) << test.output;
  EXPECT_TRUE(Has(test.output, "whose element #2 doesn't match")) << test.output;
  EXPECT_TRUE(Has(test.output, At("expect-that-substr") + "Value of: std::string(\"hello world\")"))
      << test.output;
  EXPECT_TRUE(Has(test.output, "Expected: has substring \"goodbye\"")) << test.output;
  EXPECT_TRUE(Has(test.output, "still running after EXPECT_THAT")) << test.output;
}

TEST_F(GTestAssertionsTest, ScopedTraceIsPartOfTheMessage) {
  const GoTest& test = Test("ScopedTrace");
  EXPECT_EQ(test.Final(), "fail");
  EXPECT_TRUE(Has(test.output, "checking the cart")) << test.output;
}

TEST_F(GTestAssertionsTest, GTestSkipSkips) {
  const GoTest& test = Test("Skips");
  EXPECT_EQ(test.Final(), "skip");
  EXPECT_TRUE(Has(test.output, At("gtest-skip") + "no database here")) << test.output;
  EXPECT_FALSE(Has(test.output, "unreachable after GTEST_SKIP")) << test.output;
}

TEST_F(GTestAssertionsTest, UnmetExpectCallFailsTheTest) {
  const GoTest& test = Test("UnmetExpectCall");
  EXPECT_EQ(test.Final(), "fail");
  EXPECT_TRUE(Has(test.output, At("unmet-expect-call") +
                                   "Actual function call count doesn't match EXPECT_CALL"))
      << test.output;
  EXPECT_TRUE(Has(test.output, "never called - unsatisfied and active")) << test.output;
}

TEST_F(GTestAssertionsTest, UnexpectedCallFailsTheTestWhichGoesOn) {
  const GoTest& test = Test("UnexpectedCall");
  EXPECT_EQ(test.Final(), "fail");
  EXPECT_TRUE(Has(test.output, "Unexpected mock function call")) << test.output;
  EXPECT_TRUE(Has(test.output, "still running after the unexpected call")) << test.output;
}

TEST_F(GTestAssertionsTest, MockDestroyedWhileAssertUnwindsReportsToo) {
  const GoTest& test = Test("AssertWithUnmetMock");
  EXPECT_EQ(test.Final(), "fail");
  EXPECT_TRUE(Has(test.output, "Expected equality of these values:")) << test.output;
  EXPECT_TRUE(Has(test.output, At("unmet-during-unwind") +
                                   "Actual function call count doesn't match EXPECT_CALL"))
      << test.output;
}

TEST_F(GTestAssertionsTest, PassingAssertionsPass) {
  const GoTest& test = Test("Passes");
  EXPECT_EQ(test.Final(), "pass") << test.output;
  EXPECT_TRUE(Has(test.output, "all assertions passed")) << test.output;
}

TEST_F(GTestAssertionsTest, AssertionOnAThreadWithoutTestIsPrinted) {
  const GoTest& test = Test("OffThreadPrints");
  // Not recorded in the test (it has no T on that thread), but not lost either.
  EXPECT_EQ(test.Final(), "pass") << test.output;
  const std::string at = At("off-thread-expect");
  EXPECT_TRUE(Has(test.output, at.substr(0, at.size() - 2))) << test.output;
  EXPECT_TRUE(Has(test.output, "no handoff test runs on this thread")) << test.output;
  EXPECT_TRUE(Has(test.output, "from another thread")) << test.output;
  EXPECT_TRUE(Has(test.output, "fatal from another thread")) << test.output;
  EXPECT_TRUE(Has(test.output, "after the thread")) << test.output;
}

TEST_F(GTestAssertionsTest, ExitCodeIsOneWhenAnyFailedAndZeroWhenAllPassed) {
  // The full run (SetUpTestSuite) exited 1; only the passing tests exit 0.
  EXPECT_GT(all_->Count("fail"), 0);
  GoReport passing = RunJson({"--run", "^(Passes|OffThreadPrints)$"}, 0);
  EXPECT_EQ(passing.Count("pass"), 2);
  EXPECT_EQ(passing.Count("fail"), 0);
}

}  // namespace
}  // namespace handoff::testing
