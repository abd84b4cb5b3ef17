#pragma once

// Quiet attempts: a passing attempt with nothing recorded (no output, failures, skip reason,
// values or spans) is most attempts, and everything it holds is in its test's row (its
// latest attempt's number, status, start and duration). So a store may keep it only as that
// row, which halves the rows written per test, and give it back when it is read. These are
// the rules every backend follows to leave such attempts out and put them back.

#include <optional>
#include <vector>

#include "store/store.h"

namespace handoff::store {

// Returns true if a backend may leave `attempt` out and keep it only as its test's row: it
// passed, recorded nothing, and is not marked keep_quiet.
bool IsQuietPass(const Attempt& attempt);

// Returns the test's latest attempt as it was written before IsQuietPass left it out, if it
// was left out: the row passed and none of `stored` (the test's stored attempts) is its
// latest attempt. Attempts are written with or before their test's final row, so a passed
// row without its attempt is always one of these.
std::optional<Attempt> QuietAttempt(const TestRow& row, const std::vector<Attempt>& stored);

// Returns every attempt of a run in report order, the quiet ones put back: for each row of
// `rows` (in the order the tests were first recorded), its stored attempts (oldest first),
// then its quiet attempt if any; then the attempts of tests that have no row (the suite's
// own, test ""), by test name. `stored` is every stored attempt of the run, each test's
// oldest first.
std::vector<Attempt> AttemptsInReportOrder(const std::vector<TestRow>& rows,
                                           std::vector<Attempt> stored);

}  // namespace handoff::store
