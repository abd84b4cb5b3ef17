#pragma once

// A run's planned tests: a backend keeps the tests a run plans to run as one list on the
// run (not a pending row each: 10,000 inserts saved on every run of a big suite), and a test
// gets its row when it first starts. Store::GetTests shows both, as every backend does it.

#include <string>
#include <vector>

#include "store/store.h"

namespace handoff::store {

// Returns the tests of a run: each of `planned` in its order, as its row in `rows` or
// pending when it has none yet (each name once), then the rows of tests that were not
// planned (subtests) in their order in `rows` (the order tests were first recorded).
std::vector<TestRow> MergePlannedTests(const std::vector<std::string>& planned,
                                       std::vector<TestRow> rows);

}  // namespace handoff::store
