#include "store/journal.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "store/run_json.h"

namespace handoff::store {

RunEvent TestEntry(const TestRow& row) {
  RunEvent e;
  e.seq = row.seq;
  e.type = "test";
  AppendTestRowJson(e.data, row);
  return e;
}

std::vector<RunEvent> MergeJournal(std::vector<RunEvent> written, const std::vector<TestRow>& tests,
                                   int limit) {
  std::vector<RunEvent> events;
  if (limit <= 0) return events;
  const auto max = static_cast<std::size_t>(limit);
  events.reserve(std::min(written.size() + tests.size(), max));
  std::size_t w = 0;
  std::size_t t = 0;
  while (events.size() < max && (w < written.size() || t < tests.size())) {
    if (t == tests.size() || (w < written.size() && written[w].seq < tests[t].seq)) {
      events.push_back(std::move(written[w++]));
    } else {
      events.push_back(TestEntry(tests[t++]));
    }
  }
  return events;
}

}  // namespace handoff::store
