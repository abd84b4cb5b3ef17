#include "store/quiet_attempts.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <unordered_map>
#include <utility>

namespace handoff::store {

bool IsQuietPass(const Attempt& a) {
  return !a.keep_quiet && a.status == TestStatus::kPassed && !a.soft_failure && a.lines.empty() &&
         a.failures.empty() && a.skip_reason.empty() && a.values.empty() && a.spans.empty();
}

std::optional<Attempt> QuietAttempt(const TestRow& row, const std::vector<Attempt>& stored) {
  if (row.status != TestStatus::kPassed || row.attempt < 1) return std::nullopt;
  for (const Attempt& a : stored) {
    if (a.attempt == row.attempt) return std::nullopt;
  }
  Attempt a;
  a.test = row.name;
  a.attempt = row.attempt;
  a.status = row.status;
  a.started_at_ns = row.started_at_ns;
  a.duration_ms = row.duration_ms;
  a.trace_id = row.trace_id;
  return a;
}

std::vector<Attempt> AttemptsInReportOrder(const std::vector<TestRow>& rows,
                                           std::vector<Attempt> stored) {
  // Stored attempts by test, each test's oldest first.
  std::unordered_map<std::string, std::vector<Attempt>> by_test;
  for (Attempt& a : stored) {
    std::string test = a.test;
    by_test[std::move(test)].push_back(std::move(a));
  }
  std::vector<Attempt> attempts;
  attempts.reserve(stored.size() + rows.size());
  const std::vector<Attempt> none;
  for (const TestRow& row : rows) {
    const auto it = by_test.find(row.name);
    const std::vector<Attempt>& of_test = it == by_test.end() ? none : it->second;
    std::optional<Attempt> quiet = QuietAttempt(row, of_test);
    if (it != by_test.end()) {
      std::move(it->second.begin(), it->second.end(), std::back_inserter(attempts));
      by_test.erase(it);
    }
    if (quiet) attempts.push_back(std::move(*quiet));
  }
  // Attempts of a test with no test row (the suite's own output, "") come last, by name.
  std::vector<std::string> rest;
  for (const auto& [name, list] : by_test) rest.push_back(name);
  std::sort(rest.begin(), rest.end());
  for (const std::string& name : rest) {
    std::vector<Attempt>& list = by_test[name];
    std::move(list.begin(), list.end(), std::back_inserter(attempts));
  }
  return attempts;
}

}  // namespace handoff::store
