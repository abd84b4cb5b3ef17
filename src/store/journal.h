#pragma once

// A run's journal (what the live stream replays), as every backend builds it: the events
// written to it (Store::Write's batch.events) and, for each test row with a seq, one "test"
// entry holding the row. A test's entry is not written as an event: the row is the entry,
// at its seq, so each change of a test's state is one write instead of two, and a reader
// catching up gets each test's latest state only.

#include <cstdint>
#include <vector>

#include "store/store.h"

namespace handoff::store {

// Returns the "test" journal entry of `row` (which has a seq): at the row's seq, its data
// the row as AppendTestRowJson writes it.
RunEvent TestEntry(const TestRow& row);

// Returns the journal from two lists in seq order, merged by seq: `written` (the events
// written to it) and `tests` (test rows with a seq, each read as TestEntry); at most
// `limit` entries. A backend reads both with seq > the reader's position, `limit` of each.
std::vector<RunEvent> MergeJournal(std::vector<RunEvent> written, const std::vector<TestRow>& tests,
                                   int limit);

// Returns the highest seq of a run's journal from the highest of its written events and of
// its test rows (0 when neither has any).
inline std::int64_t LastJournalSeq(std::int64_t last_written, std::int64_t last_test) {
  return last_written > last_test ? last_written : last_test;
}

}  // namespace handoff::store
