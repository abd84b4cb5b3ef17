#include "store/planned_tests.h"

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace handoff::store {

std::vector<TestRow> MergePlannedTests(const std::vector<std::string>& planned,
                                       std::vector<TestRow> rows) {
  if (planned.empty()) return rows;
  // The common case: every planned test is recorded, in plan order, before any other row
  // (rows are unique by name, so the planned names are too). The rows are the answer.
  if (rows.size() >= planned.size() &&
      std::equal(planned.begin(), planned.end(), rows.begin(),
                 [](const std::string& name, const TestRow& row) { return name == row.name; })) {
    return rows;
  }
  std::unordered_map<std::string_view, std::size_t> recorded;
  recorded.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) recorded.emplace(rows[i].name, i);
  // Per planned test, its row or (not recorded yet) its name; each name once.
  std::vector<std::pair<std::size_t, const std::string*>> order;
  order.reserve(planned.size());
  std::vector<char> placed(rows.size(), 0);
  std::unordered_map<std::string_view, char> pending;
  for (const std::string& name : planned) {
    const auto it = recorded.find(name);
    if (it == recorded.end()) {
      if (pending.emplace(name, 0).second) order.emplace_back(0, &name);
    } else if (!placed[it->second]) {
      placed[it->second] = 1;
      order.emplace_back(it->second, nullptr);
    }
  }
  recorded.clear();  // its keys point into rows, which are moved from below
  std::vector<TestRow> merged;
  merged.reserve(std::max(planned.size(), rows.size()));
  for (const auto& [row, name] : order) {
    if (name != nullptr) {
      merged.emplace_back().name = *name;
    } else {
      merged.push_back(std::move(rows[row]));
    }
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!placed[i]) merged.push_back(std::move(rows[i]));
  }
  return merged;
}

}  // namespace handoff::store
