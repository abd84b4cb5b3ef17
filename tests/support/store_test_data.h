#pragma once

// What the store tests write and read back: a run with every field set, test rows, events,
// output lines, and a write that waits for its commit. Shared by the contract suites of
// every backend (store_contract_test.cc, delivery_store_test.cc) and the SQLite-only ones.

#include <cstdint>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace handoff::testing {

// Output lines holding `texts`, as a test's stdout.
inline std::vector<store::OutputLine> TextLines(const std::vector<std::string>& texts) {
  std::vector<store::OutputLine> lines;
  for (const std::string& text : texts) lines.push_back(store::OutputLine{.text = text});
  return lines;
}

// The lines of an attempt as the API shows them.
inline std::vector<std::string> Texts(const store::Attempt& a) {
  std::vector<std::string> texts;
  for (const store::OutputLine& line : a.lines) texts.push_back(store::ShownText(line));
  return texts;
}

// A run with every field set to something a backend could get wrong: quotes, new lines,
// NUL bytes, repeated label keys, an empty test name.
inline store::Run FullRun() {
  store::Run run;
  run.suite = "checkout";
  run.namespace_name = "shop";
  run.status = store::RunStatus::kQueued;
  run.trigger = store::Trigger::kSchedule;
  run.initiated_by = "alice";
  run.reference = "abc123";
  run.environment = "staging";
  run.schedule = "nightly";
  run.started_at_ns = 11;
  run.finished_at_ns = 22;
  run.flaky = true;
  run.resumed = 2;
  run.retry_of = 7;
  run.error = "stopped early";
  run.filter = "^Test(Pay|Cart)$";
  run.tests = {"TestPay", "TestCart", ""};
  run.labels = {{"team", "payments"}, {"tier", "1"}, {"team", "dup"}};
  run.params = {{"base_url", "http://x\n\"quoted\""}, {"bin", std::string("a\0b", 3)},
                {"DB_PASSWORD", "hunter22"}};
  run.secret_params = {"DB_PASSWORD", "bin"};
  run.max_attempts = 3;
  run.timeout_ms = 60000;
  run.idempotency_key = "key-1";
  run.values = {{"build", "42"}};
  run.hunt_id = 9;
  return run;
}

// The names of `rows`, in order.
inline std::vector<std::string> TestNames(const std::vector<store::TestRow>& rows) {
  std::vector<std::string> names;
  for (const store::TestRow& row : rows) names.push_back(row.name);
  return names;
}

// The ids of `runs`, in order.
inline std::vector<std::int64_t> Ids(const std::vector<store::Run>& runs) {
  std::vector<std::int64_t> ids;
  for (const store::Run& run : runs) ids.push_back(run.id);
  return ids;
}

// A test row of `name` with `status` at `attempt`.
inline store::TestRow Row(std::string name, store::TestStatus status, int attempt = 1) {
  store::TestRow row;
  row.name = std::move(name);
  row.status = status;
  row.attempt = attempt;
  return row;
}

// A journal entry of `type` at `seq`, whose data names its seq.
inline store::RunEvent Event(std::int64_t seq, std::string type) {
  return store::RunEvent{seq, std::move(type), "{\"seq\":" + std::to_string(seq) + "}"};
}

// SQL that takes a SQLite database of the current schema back to schema 9: what migrations
// 10 (trace ids), 11 (the tests' changes, tests_by_test), 12 (attachments), 13 (ingested
// suites), 14 (hunts) and 15 (hold on failure) added. Each test of an upgrade from an older
// schema undoes these, then its own.
inline constexpr const char* kSqliteBackToSchema9 =
    "ALTER TABLE runs DROP COLUMN hold; ALTER TABLE runs DROP COLUMN hold_on_failure; "
    "DROP TABLE hunts; DROP INDEX runs_by_hunt; ALTER TABLE runs DROP COLUMN hunt_id; "
    "ALTER TABLE schedules DROP COLUMN hunt_repeat; "
    "ALTER TABLE schedules DROP COLUMN hunt_until_failure; "
    "ALTER TABLE schedules DROP COLUMN hunt_max_duration_ms; "
    "DROP TABLE ingested_suites; "
    "DROP TABLE attachments; DROP INDEX tests_by_test; ALTER TABLE tests DROP COLUMN change; "
    "ALTER TABLE tests DROP COLUMN since_run; ALTER TABLE tests DROP COLUMN since_reference; "
    "ALTER TABLE tests DROP COLUMN since_at; "
    "ALTER TABLE tests DROP COLUMN trace_id; ALTER TABLE attempts DROP COLUMN trace_id; ";

// Writes `batch` and waits for its commit; returns the callback's verdict.
inline bool WriteAndWait(store::Store& store, store::WriteBatch batch) {
  std::promise<bool> committed;
  std::future<bool> result = committed.get_future();
  store.Write(std::move(batch), [&](bool ok) { committed.set_value(ok); });
  return result.get();
}

}  // namespace handoff::testing
