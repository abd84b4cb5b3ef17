#pragma once

// JUnit XML as handoff events: the dialects of pytest (--junitxml), Maven Surefire (with its
// reruns: <flakyFailure>, <rerunFailure>), GoogleTest (--gtest_output=xml), go-junit-report
// and gotestsum, Jenkins' and GitLab's readers, read with expat.
//
// Names: `<classname>.<name>` (the classname's '/' as '.'), or `<name>` without a classname;
// a name whose part before its last '/' is another testcase's name is that test's subtest
// (go-junit-report's `TestCharge/declined`); any other '/' of a name becomes '∕' (U+2215),
// since a top-level name holds none.
//
// Outcomes: <failure> or <error> failed, <skipped> skipped, else passed. A testcase that
// appears again (a rerun written as another testcase) is another attempt of the same test;
// Surefire's <flakyFailure>/<flakyError> are failed attempts before the pass, its
// <rerunFailure>/<rerunError> failed attempts after the first failure: a pass after failed
// attempts is flaky, as for handoff's own retries.
//
// A testcase without a name and without a failure (pytest's, for the test a ^C interrupted)
// is left out; one with a failure is refused.
//
// Refused: a DOCTYPE (JUnit needs none; no entity is ever expanded), nesting deeper than
// 64, a report that is not JUnit (another root element), and malformed XML, each naming the
// line.

#include <string_view>

#include "ingest/report_events.h"

namespace handoff::ingest {

// Reads a whole JUnit report and emits the events of its tests, in the report's order. Time
// stamps come from the testsuites' `timestamp` (UTC when it has no offset) and the testcases'
// `time`; `now_ns` is used where a report has none.
Result<void> ReadJUnitXml(std::string_view xml, std::int64_t now_ns, const EventCallback& emit);

}  // namespace handoff::ingest
