// The store contract (store/store.h) that every backend keeps: runs, tests, attempts and
// the journal round-trip, batches commit or fail alone, callbacks see what they report,
// schedules, retention. Each case runs over SQLite in a file, SQLite in memory and
// PostgreSQL (tests/support/store_backends.h), every one opened through OpenStore with the
// test's clock. What only SQLite has (its file across openings, its old schemas) is in
// sqlite_store_test.cc.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "result_testing.h"
#include "store/run_json.h"
#include "store/store.h"
#include "support/store_backends.h"
#include "support/store_test_data.h"

namespace handoff::store {
namespace {

using ::handoff::testing::EveryStoreBackend;
using ::handoff::testing::Event;
using ::handoff::testing::FullRun;
using ::handoff::testing::Ids;
using ::handoff::testing::Row;
using ::handoff::testing::StoreBackendName;
using ::handoff::testing::TestNames;
using ::handoff::testing::TextLines;
using ::handoff::testing::Texts;
using ::handoff::testing::ValueOf;
using ::handoff::testing::WriteAndWait;

void ExpectSameRun(const store::Run& got, const store::Run& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.suite, want.suite);
  EXPECT_EQ(got.namespace_name, want.namespace_name);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.trigger, want.trigger);
  EXPECT_EQ(got.initiated_by, want.initiated_by);
  EXPECT_EQ(got.reference, want.reference);
  EXPECT_EQ(got.environment, want.environment);
  EXPECT_EQ(got.schedule, want.schedule);
  EXPECT_EQ(got.created_at_ns, want.created_at_ns);
  EXPECT_EQ(got.started_at_ns, want.started_at_ns);
  EXPECT_EQ(got.finished_at_ns, want.finished_at_ns);
  EXPECT_EQ(got.flaky, want.flaky);
  EXPECT_EQ(got.resumed, want.resumed);
  EXPECT_EQ(got.retry_of, want.retry_of);
  EXPECT_EQ(got.error, want.error);
  EXPECT_EQ(got.filter, want.filter);
  EXPECT_EQ(got.tests, want.tests);
  EXPECT_EQ(got.labels, want.labels);
  EXPECT_EQ(got.params, want.params);
  EXPECT_EQ(got.secret_params, want.secret_params);
  EXPECT_EQ(got.max_attempts, want.max_attempts);
  EXPECT_EQ(got.timeout_ms, want.timeout_ms);
  EXPECT_EQ(got.idempotency_key, want.idempotency_key);
  EXPECT_EQ(got.values, want.values);
  EXPECT_EQ(got.hunt_id, want.hunt_id);
  EXPECT_EQ(got.hold_on_failure, want.hold_on_failure);
  EXPECT_EQ(got.hold, want.hold);
}

class StoreContractTest : public ::handoff::testing::StoreBackendTest {
 protected:
  // Creates a run of `suite` with `status` and no tests.
  store::Run Create(const std::string& suite, RunStatus status, const std::string& reference = "") {
    store::Run run;
    run.suite = suite;
    run.status = status;
    run.reference = reference;
    CreatedRun created = ValueOf(store_->CreateRun(run, {}));
    EXPECT_TRUE(created.created);
    EXPECT_GT(created.run.id, 0);
    return created.run;
  }
};

TEST_P(StoreContractTest, CreateAndGetRoundTripEveryField) {
  Store& store = *store_;
  store::Run want = FullRun();
  now_ = 123'456'789;
  CreatedRun created = ValueOf(store.CreateRun(want, {}));
  EXPECT_TRUE(created.created);
  EXPECT_GT(created.run.id, 0);
  EXPECT_EQ(created.run.created_at_ns, 123'456'789);
  want.id = created.run.id;
  want.created_at_ns = 123'456'789;
  ExpectSameRun(created.run, want);

  std::optional<store::Run> got = store.GetRun(want.id);
  ASSERT_TRUE(got);
  ExpectSameRun(*got, want);
  EXPECT_FALSE(store.GetRun(want.id + 1));

  // Every enum value survives the names used in SQL.
  for (RunStatus status : {RunStatus::kRunning, RunStatus::kPassed, RunStatus::kFailed,
                           RunStatus::kCancelled, RunStatus::kError, RunStatus::kHeld}) {
    store::Run run;
    run.suite = "s";
    run.status = status;
    run.trigger = Trigger::kCli;
    const std::int64_t id = ValueOf(store.CreateRun(run, {})).run.id;
    EXPECT_EQ(store.GetRun(id)->status, status);
    EXPECT_EQ(store.GetRun(id)->trigger, Trigger::kCli);
  }
}

TEST_P(StoreContractTest, AHoldIsStoredWithTheRunAndAHeldRunIsUnfinished) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  run.hold_on_failure = true;
  const std::int64_t id = ValueOf(store.CreateRun(run, {"Fails"})).run.id;
  ASSERT_TRUE(store.GetRun(id)->hold_on_failure);
  EXPECT_FALSE(store.GetRun(id)->hold);

  RunHold hold;
  hold.test = "Fails";
  hold.attempt = 1;
  hold.hold.pid = 321;
  hold.hold.temp_dirs = {"/tmp/x"};
  hold.hold.runnables = {HeldRunnable{"web", "/tmp/env/web", "", 322, {{"http", "127.0.0.1:9"}}}};
  hold.hold.max_hold_ns = 1'000;
  hold.held_at_ns = 5;
  hold.release_at_ns = 1'005;
  RunUpdate held;
  held.id = id;
  held.status = RunStatus::kHeld;
  held.hold = hold;
  WriteBatch batch;
  batch.run_updates.push_back(held);
  ASSERT_TRUE(WriteAndWait(store, std::move(batch)));
  std::optional<store::Run> got = store.GetRun(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, RunStatus::kHeld);
  EXPECT_EQ(got->hold, hold);
  EXPECT_EQ(Ids(store.RunsWithStatus({RunStatus::kRunning, RunStatus::kHeld})),
            std::vector<std::int64_t>{id});

  // An update without a hold keeps it; the end of the hold replaces it.
  RunUpdate values;
  values.id = id;
  values.values = KeyValues{{"k", "v"}};
  batch = {};
  batch.run_updates.push_back(values);
  ASSERT_TRUE(WriteAndWait(store, std::move(batch)));
  EXPECT_EQ(store.GetRun(id)->hold, hold);
  hold.released_at_ns = 9;
  hold.ended = "released";
  RunUpdate released;
  released.id = id;
  released.status = RunStatus::kRunning;
  released.hold = hold;
  batch = {};
  batch.run_updates.push_back(released);
  ASSERT_TRUE(WriteAndWait(store, std::move(batch)));
  EXPECT_EQ(store.GetRun(id)->hold, hold);
  EXPECT_EQ(store.GetRun(id)->status, RunStatus::kRunning);
}

TEST_P(StoreContractTest, TestsStartPendingInTheGivenOrder) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  const std::vector<std::string> names = {"Zeta", "Alpha", "Mid/Sub", "Beta"};
  const std::int64_t id = ValueOf(store.CreateRun(run, names)).run.id;
  std::vector<TestRow> rows = store.GetTests(id);
  EXPECT_EQ(TestNames(rows), names);
  for (const TestRow& row : rows) {
    EXPECT_EQ(row.status, TestStatus::kPending);
    EXPECT_EQ(row.attempt, 0);
  }
  EXPECT_TRUE(store.GetTests(id + 1).empty());
}

TEST_P(StoreContractTest, BatchesRoundTrip) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store.CreateRun(run, {"A", "B"})).run.id;

  WriteBatch batch;
  RunUpdate update;
  update.id = id;
  update.status = RunStatus::kRunning;
  update.started_at_ns = 500;
  update.flaky = true;
  update.resumed = 1;
  update.error = "why";
  update.values = KeyValues{{"k", "v"}};
  batch.run_updates.push_back(update);

  TestRow b = Row("B", TestStatus::kFailed, 2);
  b.soft_failure = true;
  b.flaky = true;
  b.started_at_ns = 600;
  b.duration_ms = 42;
  b.message = "b_test.cc:12: boom";
  batch.tests.emplace_back(id, b);
  batch.tests.emplace_back(id, Row("C/Sub", TestStatus::kSkipped));

  Attempt first;
  first.test = "B";
  first.attempt = 1;
  first.status = TestStatus::kFailed;
  first.soft_failure = true;
  first.started_at_ns = 601;
  first.duration_ms = 20;
  // Every kind, with times that are not in order, a repeated file and any bytes.
  first.lines = {
      OutputLine{.kind = LineKind::kOutput, .time_ns = 605, .text = "line one"},
      OutputLine{.kind = LineKind::kLog, .time_ns = 610, .text = "", .file = "b_test.cc", .line = 3},
      OutputLine{.kind = LineKind::kFailure, .time_ns = 609, .text = "line \"three\"\t",
                 .file = "b_test.cc", .line = 12, .key = "crash", .soft = true},
      OutputLine{.kind = LineKind::kSkip, .time_ns = 1'700'000'000'000'000'000,
                 .text = std::string("nul\0byte", 8), .file = "other.cc", .line = -1},
      OutputLine{.kind = LineKind::kTeardownFinished, .time_ns = 0, .failed = true},
  };
  first.failures = {{"boom", "b_test.cc", 12}, {"again", "", -1}};
  first.skip_reason = "";
  first.values = {{"order", "77"}, {"empty", ""}};
  first.spans = {{"login", 1000, 250, {{"user", "bob"}}}, {"pay", -5, 0, {}}};
  Attempt second;
  second.test = "B";
  second.attempt = 2;
  second.status = TestStatus::kPassed;
  second.lines = TextLines({""});
  Attempt skipped;
  skipped.test = "C/Sub";
  skipped.attempt = 1;
  skipped.status = TestStatus::kSkipped;
  skipped.skip_reason = "needs docker";
  batch.attempts.emplace_back(id, second);
  batch.attempts.emplace_back(id, first);
  batch.attempts.emplace_back(id, skipped);
  for (int seq = 1; seq <= 5; ++seq) batch.events.emplace_back(id, Event(seq, "test"));
  ASSERT_TRUE(WriteAndWait(store, batch));

  std::optional<store::Run> got = store.GetRun(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, RunStatus::kRunning);
  EXPECT_EQ(got->started_at_ns, 500);
  EXPECT_EQ(got->finished_at_ns, 0);
  EXPECT_TRUE(got->flaky);
  EXPECT_EQ(got->resumed, 1);
  EXPECT_EQ(got->error, "why");
  EXPECT_EQ(got->values, (KeyValues{{"k", "v"}}));

  // Unset fields keep their value; an empty list replaces the values.
  WriteBatch finish;
  RunUpdate done;
  done.id = id;
  done.status = RunStatus::kFailed;
  done.finished_at_ns = 900;
  done.values = KeyValues{};
  done.totals =
      RunTotals{.total = 7, .passed = 2, .failed = 1, .soft_failed = 1, .skipped = 1,
                .cancelled = 2, .flaky = 1};
  finish.run_updates.push_back(done);
  EXPECT_FALSE(got->totals);
  ASSERT_TRUE(WriteAndWait(store, finish));
  got = store.GetRun(id);
  EXPECT_EQ(got->totals, (RunTotals{.total = 7, .passed = 2, .failed = 1, .soft_failed = 1,
                                    .skipped = 1, .cancelled = 2, .flaky = 1}));
  EXPECT_EQ(got->status, RunStatus::kFailed);
  EXPECT_EQ(got->started_at_ns, 500);
  EXPECT_EQ(got->finished_at_ns, 900);
  EXPECT_EQ(got->error, "why");
  EXPECT_TRUE(got->values.empty());

  std::vector<TestRow> rows = store.GetTests(id);
  ASSERT_EQ(TestNames(rows), (std::vector<std::string>{"A", "B", "C/Sub"}));
  EXPECT_EQ(rows[0].status, TestStatus::kPending);
  EXPECT_EQ(rows[1].status, TestStatus::kFailed);
  EXPECT_EQ(rows[1].attempt, 2);
  EXPECT_TRUE(rows[1].soft_failure);
  EXPECT_TRUE(rows[1].flaky);
  EXPECT_EQ(rows[1].started_at_ns, 600);
  EXPECT_EQ(rows[1].duration_ms, 42);
  EXPECT_EQ(rows[1].message, "b_test.cc:12: boom");
  EXPECT_EQ(rows[2].status, TestStatus::kSkipped);

  std::vector<Attempt> attempts = store.GetAttempts(id, "B");
  ASSERT_EQ(attempts.size(), 2u);
  const Attempt& a = attempts[0];
  EXPECT_EQ(a.test, "B");
  EXPECT_EQ(a.attempt, 1);
  EXPECT_EQ(a.status, TestStatus::kFailed);
  EXPECT_TRUE(a.soft_failure);
  EXPECT_EQ(a.started_at_ns, 601);
  EXPECT_EQ(a.duration_ms, 20);
  EXPECT_EQ(a.lines, first.lines);
  ASSERT_EQ(a.failures.size(), 2u);
  EXPECT_EQ(a.failures[0].message, "boom");
  EXPECT_EQ(a.failures[0].file, "b_test.cc");
  EXPECT_EQ(a.failures[0].line, 12);
  EXPECT_EQ(a.failures[1].line, -1);
  EXPECT_EQ(a.values, first.values);
  ASSERT_EQ(a.spans.size(), 2u);
  EXPECT_EQ(a.spans[0].name, "login");
  EXPECT_EQ(a.spans[0].start_ns, 1000);
  EXPECT_EQ(a.spans[0].elapsed_ns, 250);
  EXPECT_EQ(a.spans[0].attributes, (KeyValues{{"user", "bob"}}));
  EXPECT_EQ(a.spans[1].start_ns, -5);
  EXPECT_TRUE(a.spans[1].attributes.empty());
  EXPECT_EQ(attempts[1].attempt, 2);
  EXPECT_EQ(Texts(attempts[1]), std::vector<std::string>{""});
  EXPECT_TRUE(attempts[1].failures.empty());
  EXPECT_TRUE(attempts[1].spans.empty());
  EXPECT_TRUE(store.GetAttempts(id, "A").empty());

  std::vector<Attempt> all = store.GetAllAttempts(id);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].test, "B");
  EXPECT_EQ(all[0].attempt, 1);
  EXPECT_EQ(all[1].attempt, 2);
  EXPECT_EQ(all[2].test, "C/Sub");
  EXPECT_EQ(all[2].skip_reason, "needs docker");
  EXPECT_TRUE(all[2].lines.empty());

  // An attempt written again replaces the first version.
  WriteBatch again;
  skipped.status = TestStatus::kPassed;
  skipped.skip_reason.clear();
  skipped.lines = TextLines({"now it ran"});
  again.attempts.emplace_back(id, skipped);
  ASSERT_TRUE(WriteAndWait(store, again));
  attempts = store.GetAttempts(id, "C/Sub");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].status, TestStatus::kPassed);
  EXPECT_EQ(Texts(attempts[0]), std::vector<std::string>{"now it ran"});

  std::vector<RunEvent> events = store.GetEvents(id, 0, 100);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].seq, 1);
  EXPECT_EQ(events[0].type, "test");
  EXPECT_EQ(events[0].data, "{\"seq\":1}");
  events = store.GetEvents(id, 2, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq, 3);
  EXPECT_EQ(events[1].seq, 4);
  EXPECT_TRUE(store.GetEvents(id, 5, 10).empty());
  EXPECT_TRUE(store.GetEvents(id + 1, 0, 10).empty());
}

TEST_P(StoreContractTest, PlannedTestsShowPendingUntilRecordedThenOthersFollow) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store.CreateRun(run, {"Zeta", "Alpha", "Beta"})).run.id;
  WriteBatch batch;
  batch.tests.emplace_back(id, Row("Alpha", TestStatus::kRunning));
  batch.tests.emplace_back(id, Row("Alpha/Sub", TestStatus::kPassed));
  batch.tests.emplace_back(id, Row("Zeta", TestStatus::kPassed));
  ASSERT_TRUE(WriteAndWait(store, batch));

  std::vector<TestRow> rows = store.GetTests(id);
  ASSERT_EQ(TestNames(rows), (std::vector<std::string>{"Zeta", "Alpha", "Beta", "Alpha/Sub"}));
  EXPECT_EQ(rows[0].status, TestStatus::kPassed);
  EXPECT_EQ(rows[1].status, TestStatus::kRunning);
  EXPECT_EQ(rows[1].attempt, 1);
  EXPECT_EQ(rows[2].status, TestStatus::kPending);
  EXPECT_EQ(rows[2].attempt, 0);
  EXPECT_EQ(rows[3].status, TestStatus::kPassed);
}

TEST_P(StoreContractTest, QuietPassingAttemptsReadBackFromTheirTestRow) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store.CreateRun(run, {"A", "B"})).run.id;

  // A's only attempt passed with nothing to show; its row still says running.
  Attempt a1;
  a1.test = "A";
  a1.attempt = 1;
  a1.status = TestStatus::kPassed;
  a1.started_at_ns = 100;
  a1.duration_ms = 5;
  WriteBatch first;
  first.attempts.emplace_back(id, a1);
  TestRow a_running = Row("A", TestStatus::kRunning);
  a_running.started_at_ns = 100;
  first.tests.emplace_back(id, a_running);
  // B failed with output, then passed quietly on its second attempt.
  Attempt b1;
  b1.test = "B";
  b1.attempt = 1;
  b1.status = TestStatus::kFailed;
  b1.lines = TextLines({"b_test.cc:3: flaked"});
  b1.failures = {{"flaked", "b_test.cc", 3}};
  Attempt b2;
  b2.test = "B";
  b2.attempt = 2;
  b2.status = TestStatus::kPassed;
  b2.started_at_ns = 300;
  b2.duration_ms = 7;
  first.attempts.emplace_back(id, b1);
  first.attempts.emplace_back(id, b2);
  TestRow b = Row("B", TestStatus::kPassed, 2);
  b.flaky = true;
  b.started_at_ns = 300;
  b.duration_ms = 7;
  first.tests.emplace_back(id, b);
  // The suite's own output.
  Attempt suite_output;
  suite_output.test = "";
  suite_output.attempt = 0;
  suite_output.lines = TextLines({"setting up"});
  first.attempts.emplace_back(id, suite_output);
  ASSERT_TRUE(WriteAndWait(store, first));

  // Not shown before the row shows the attempt finished.
  EXPECT_TRUE(store.GetAttempts(id, "A").empty());
  std::vector<Attempt> attempts = store.GetAttempts(id, "B");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, TestStatus::kFailed);
  EXPECT_EQ(attempts[0].lines, b1.lines);
  EXPECT_EQ(attempts[1].attempt, 2);
  EXPECT_EQ(attempts[1].status, TestStatus::kPassed);
  EXPECT_EQ(attempts[1].started_at_ns, 300);
  EXPECT_EQ(attempts[1].duration_ms, 7);
  EXPECT_TRUE(attempts[1].lines.empty());

  WriteBatch finish;
  TestRow a_passed = Row("A", TestStatus::kPassed);
  a_passed.started_at_ns = 100;
  a_passed.duration_ms = 5;
  finish.tests.emplace_back(id, a_passed);
  ASSERT_TRUE(WriteAndWait(store, finish));
  attempts = store.GetAttempts(id, "A");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].test, "A");
  EXPECT_EQ(attempts[0].attempt, 1);
  EXPECT_EQ(attempts[0].status, TestStatus::kPassed);
  EXPECT_FALSE(attempts[0].soft_failure);
  EXPECT_EQ(attempts[0].started_at_ns, 100);
  EXPECT_EQ(attempts[0].duration_ms, 5);

  std::vector<Attempt> all = store.GetAllAttempts(id);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].test, "A");
  EXPECT_EQ(all[1].test, "B");
  EXPECT_EQ(all[1].attempt, 1);
  EXPECT_EQ(all[2].test, "B");
  EXPECT_EQ(all[2].attempt, 2);
  EXPECT_EQ(all[3].test, "");
  EXPECT_EQ(all[3].lines, suite_output.lines);

  if (Queryable()) {
    // Only the attempts with something to show take a row.
    EXPECT_EQ(CountRows("attempts"), 2);
  }
}

TEST_P(StoreContractTest, TraceIdsOfAttemptsRoundTripQuietPassesFromTheirRow) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store.CreateRun(run, {"A"})).run.id;
  // A failed (stored with its trace id), then passed quietly (not stored: its row has it).
  Attempt a1;
  a1.test = "A";
  a1.attempt = 1;
  a1.status = TestStatus::kFailed;
  a1.failures = {{"flaked", "a_test.cc", 3}};
  a1.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  Attempt a2;
  a2.test = "A";
  a2.attempt = 2;
  a2.status = TestStatus::kPassed;
  a2.trace_id = "0af7651916cd43dd8448eb211c80319c";
  TestRow row = Row("A", TestStatus::kPassed, 2);
  row.trace_id = a2.trace_id;
  WriteBatch batch;
  batch.attempts.emplace_back(id, a1);
  batch.attempts.emplace_back(id, a2);
  batch.tests.emplace_back(id, row);
  ASSERT_TRUE(WriteAndWait(store, batch));

  std::vector<Attempt> attempts = store.GetAttempts(id, "A");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].trace_id, a1.trace_id);
  EXPECT_EQ(attempts[1].trace_id, a2.trace_id);
  EXPECT_EQ(store.GetTests(id).at(0).trace_id, a2.trace_id);
  std::vector<Attempt> all = store.GetAllAttempts(id);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].trace_id, a2.trace_id);
  if (Queryable()) EXPECT_EQ(CountRows("attempts"), 1);
}

// Issue 19: a row keeps how its test compared with the previous run; a test's history walks
// its runs newest first and pages; the first failure is the oldest; search matches names and
// failure text as substrings, ignoring ASCII case, in any bytes a test may print.
TEST_P(StoreContractTest, TestHistoryFirstFailureAndSearch) {
  Store& store = *store_;
  const auto create = [&](const std::string& suite, const std::string& reference,
                          std::vector<TestRow> rows) {
    store::Run run;
    run.suite = suite;
    run.reference = reference;
    run.status = RunStatus::kFailed;
    const store::Run created = ValueOf(store.CreateRun(run, {})).run;
    WriteBatch batch;
    for (TestRow& row : rows) batch.tests.emplace_back(created.id, std::move(row));
    EXPECT_TRUE(WriteAndWait(store, batch));
    return created;
  };
  const auto failed = [](std::string name, std::string message) {
    TestRow row = Row(std::move(name), TestStatus::kFailed);
    row.message = std::move(message);
    return row;
  };
  const store::Run r1 = create("shop", "v1", {Row("Checkout", TestStatus::kPassed),
                                       Row("Checkout/card", TestStatus::kPassed)});
  TestRow broke = failed("Checkout", "shop_test.cc:40: Connection REFUSED to 10.0.0.7:8080");
  broke.change = TestChange::kNewFailure;
  broke.failing_since = {0, "v2", 0};
  const store::Run r2 = create("shop", "v2", {broke, failed("Checkout/card", "caf\xc3\xa9 \xff closed")});
  TestRow still = failed("Checkout", "shop_test.cc:40: connection refused");
  still.change = TestChange::kStillFailing;
  still.failing_since = {r2.id, "v2", r2.created_at_ns};
  const store::Run r3 = create("shop", "v3", {still, Row("Search", TestStatus::kPassed)});
  create("other", "x", {failed("Checkout", "connection refused elsewhere")});

  // The change round-trips, in GetTests and in the journal's test entries.
  const std::vector<TestRow> rows = store.GetTests(r3.id);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].change, TestChange::kStillFailing);
  EXPECT_EQ(rows[0].failing_since, still.failing_since);
  EXPECT_EQ(rows[1].change, TestChange::kNone);
  EXPECT_EQ(rows[1].failing_since.run_id, 0);

  TestHistoryQuery q;
  q.suite = "shop";
  q.test = "Checkout";
  std::vector<TestInRun> history = store.TestHistory(q);
  ASSERT_EQ(history.size(), 3u);  // the other suite's Checkout is not this one
  EXPECT_EQ(history[0].run_id, r3.id);
  EXPECT_EQ(history[0].reference, "v3");
  EXPECT_EQ(history[0].suite, "shop");
  EXPECT_EQ(history[0].run_status, RunStatus::kFailed);
  EXPECT_EQ(history[0].run_created_at_ns, r3.created_at_ns);
  EXPECT_EQ(history[0].test.change, TestChange::kStillFailing);
  EXPECT_EQ(history[0].test.failing_since.run_id, r2.id);
  EXPECT_EQ(history[1].run_id, r2.id);
  EXPECT_EQ(history[2].run_id, r1.id);
  EXPECT_EQ(history[2].test.status, TestStatus::kPassed);
  q.before_id = r3.id;
  q.limit = 1;
  history = store.TestHistory(q);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].run_id, r2.id);
  q.test = "Checkout/card";
  q.before_id = 0;
  q.limit = 10;
  EXPECT_EQ(store.TestHistory(q).size(), 2u);

  const std::optional<TestInRun> first = store.FirstFailure("shop", "Checkout");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->run_id, r2.id);
  EXPECT_EQ(first->reference, "v2");
  EXPECT_FALSE(store.FirstFailure("shop", "Search").has_value());

  TestSearch search;
  search.failure = "connection refused";
  std::vector<TestInRun> found = store.SearchTests(search);
  ASSERT_EQ(found.size(), 3u) << "case is ignored; every suite";
  EXPECT_EQ(found[0].suite, "other");
  EXPECT_EQ(found[1].run_id, r3.id);
  EXPECT_EQ(found[2].run_id, r2.id);
  search.suite = "shop";
  search.test = "checkout";
  EXPECT_EQ(store.SearchTests(search).size(), 2u);
  search.failure = "caf\xc3\xa9 \xff";
  found = store.SearchTests(search);
  ASSERT_EQ(found.size(), 1u) << "bytes that are not ASCII match themselves";
  EXPECT_EQ(found[0].test.name, "Checkout/card");
  search.failure = "";
  search.test = "card";
  found = store.SearchTests(search);
  ASSERT_EQ(found.size(), 2u) << "a name matches whatever the test's outcome";
  EXPECT_EQ(found[1].test.status, TestStatus::kPassed);
  search.test = "%";
  EXPECT_TRUE(store.SearchTests(search).empty()) << "no wildcards";
  search.test = "Checkout";
  search.before_id = r2.id;
  found = store.SearchTests(search);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].run_id, r1.id);
}

TEST_P(StoreContractTest, TestRowsAreTheirJournalEntries) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store.CreateRun(run, {"A", "B"})).run.id;
  EXPECT_EQ(store.LastEventSeq(id), 0);
  WriteBatch first;
  first.events.emplace_back(id, Event(1, "run"));
  TestRow a = Row("A", TestStatus::kRunning);
  a.seq = 2;
  first.tests.emplace_back(id, a);
  TestRow b = Row("B", TestStatus::kRunning);
  b.seq = 3;
  first.tests.emplace_back(id, b);
  first.events.emplace_back(id, Event(4, "run"));
  ASSERT_TRUE(WriteAndWait(store, first));

  std::vector<RunEvent> events = store.GetEvents(id, 0, 100);
  ASSERT_EQ(events.size(), 4u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, static_cast<std::int64_t>(i) + 1);
  }
  EXPECT_EQ(events[1].type, "test");
  std::string want;
  AppendTestRowJson(want, a);
  EXPECT_EQ(events[1].data, want);
  EXPECT_EQ(store.LastEventSeq(id), 4);

  // A's later state replaces its entry; pages follow seq across both kinds.
  WriteBatch second;
  a.status = TestStatus::kPassed;
  a.seq = 5;
  second.tests.emplace_back(id, a);
  second.events.emplace_back(id, Event(6, "run"));
  ASSERT_TRUE(WriteAndWait(store, second));
  events = store.GetEvents(id, 0, 100);
  std::vector<std::int64_t> seqs;
  for (const RunEvent& e : events) seqs.push_back(e.seq);
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 3, 4, 5, 6}));
  EXPECT_NE(events[3].data.find("\"status\":\"passed\""), std::string::npos);
  events = store.GetEvents(id, 1, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq, 3);
  EXPECT_EQ(events[1].seq, 4);
  events = store.GetEvents(id, 4, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq, 5);
  EXPECT_EQ(events[1].seq, 6);
  EXPECT_EQ(store.LastEventSeq(id), 6);
  EXPECT_EQ(store.LastEventSeq(id + 1), 0);
}

TEST_P(StoreContractTest, RowsWrittenTwiceKeepTheLastWriteAtTheFirstPlace) {
  // Batches queued together may be written as one (PostgreSQL): they end as if written one
  // after the other, within a batch and across batches.
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store.CreateRun(run, {})).run.id;
  // The writer waits in this batch's callback while the others queue behind it.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  WriteBatch first;
  first.events.emplace_back(id, Event(1, "run"));
  store.Write(first, [released](bool) { released.wait(); });
  auto attempt = [](const std::string& test, const std::string& line) {
    Attempt a;
    a.test = test;
    a.status = TestStatus::kFailed;
    a.lines = TextLines({line});
    return a;
  };
  WriteBatch a;
  a.tests.emplace_back(id, Row("X", TestStatus::kRunning));
  a.tests.emplace_back(id, Row("Y", TestStatus::kPassed));
  a.attempts.emplace_back(id, attempt("X", "one"));
  WriteBatch b;
  b.tests.emplace_back(id, Row("Z", TestStatus::kPassed));
  b.tests.emplace_back(id, Row("X", TestStatus::kFailed));
  b.tests.emplace_back(id, Row("Y", TestStatus::kFailed));
  b.tests.emplace_back(id, Row("Y", TestStatus::kSkipped));
  b.attempts.emplace_back(id, attempt("X", "two"));
  b.attempts.emplace_back(id, attempt("X", "three"));
  std::vector<std::promise<bool>> done(2);
  store.Write(a, [&](bool ok) { done[0].set_value(ok); });
  store.Write(b, [&](bool ok) { done[1].set_value(ok); });
  release.set_value();
  EXPECT_TRUE(done[0].get_future().get());
  EXPECT_TRUE(done[1].get_future().get());

  const std::vector<TestRow> rows = store.GetTests(id);
  EXPECT_EQ(TestNames(rows), (std::vector<std::string>{"X", "Y", "Z"}));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].status, TestStatus::kFailed);
  EXPECT_EQ(rows[1].status, TestStatus::kSkipped);
  const std::vector<Attempt> attempts = store.GetAttempts(id, "X");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].lines, TextLines({"three"}));
}

TEST_P(StoreContractTest, AFailedBatchFailsAloneAndLeavesNoTrace) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store.CreateRun(run, {"A"})).run.id;
  std::vector<std::promise<bool>> results(3);
  WriteBatch good1;
  good1.events.emplace_back(id, Event(1, "run"));
  WriteBatch bad;  // a test row, then a duplicate seq: the row must not stay
  bad.tests.emplace_back(id, Row("Bad", TestStatus::kPassed));
  bad.events.emplace_back(id, Event(1, "run"));
  WriteBatch good2;
  good2.events.emplace_back(id, Event(2, "run"));
  store.Write(good1, [&](bool ok) { results[0].set_value(ok); });
  store.Write(bad, [&](bool ok) { results[1].set_value(ok); });
  store.Write(good2, [&](bool ok) { results[2].set_value(ok); });
  EXPECT_TRUE(results[0].get_future().get());
  EXPECT_FALSE(results[1].get_future().get());
  EXPECT_TRUE(results[2].get_future().get());
  EXPECT_EQ(store.GetEvents(id, 0, 10).size(), 2u);
  EXPECT_EQ(TestNames(store.GetTests(id)), std::vector<std::string>{"A"});

  // Writes about a run that does not exist fail too.
  WriteBatch orphan;
  orphan.events.emplace_back(id + 100, Event(1, "run"));
  EXPECT_FALSE(WriteAndWait(store, orphan));
  WriteBatch missing_run;
  RunUpdate update;
  update.id = id + 100;
  update.status = RunStatus::kPassed;
  missing_run.run_updates.push_back(update);
  EXPECT_FALSE(WriteAndWait(store, missing_run));
}

TEST_P(StoreContractTest, DoneRunsAfterCommitAndSeesTheData) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store.CreateRun(run, {})).run.id;
  std::vector<std::promise<std::size_t>> seen(20);
  for (int i = 0; i < 20; ++i) {
    WriteBatch batch;
    batch.tests.emplace_back(id, Row("T" + std::to_string(i), TestStatus::kPassed));
    batch.events.emplace_back(id, Event(i + 1, "test"));
    store.Write(std::move(batch), [&, i](bool ok) {
      EXPECT_TRUE(ok);
      // Another connection (or, in memory, the same one outside the transaction).
      const std::size_t tests = store.GetTests(id).size();
      const std::size_t events = store.GetEvents(id, 0, 1000).size();
      EXPECT_GE(events, static_cast<std::size_t>(i + 1));
      seen[i].set_value(tests);
    });
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_GE(seen[i].get_future().get(), static_cast<std::size_t>(i + 1)) << i;
  }
  if (Queryable()) {
    // A connection of our own sees it too.
    EXPECT_EQ(CountRows("run_events"), 20);
  }
}

TEST_P(StoreContractTest, CallbacksMayCallTheStore) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  std::promise<std::int64_t> created;
  WriteBatch empty;
  store.Write(empty, [&](bool ok) {
    EXPECT_TRUE(ok);
    WriteBatch more;
    store.Write(more);
    store.Sync();
    created.set_value(ValueOf(store.CreateRun(run, {"A"})).run.id);
  });
  const std::int64_t id = created.get_future().get();
  EXPECT_GT(id, 0);
  EXPECT_EQ(store.GetTests(id).size(), 1u);
}

TEST_P(StoreContractTest, SyncWaitsForEverythingQueued) {
  Store& store = *store_;
  store::Run run;
  run.suite = "s";
  const std::int64_t id = ValueOf(store.CreateRun(run, {})).run.id;
  std::atomic<int> done{0};
  for (int i = 1; i <= 500; ++i) {
    WriteBatch batch;
    batch.events.emplace_back(id, Event(i, "test"));
    store.Write(std::move(batch), [&](bool ok) {
      if (ok) ++done;
    });
  }
  store.Sync();
  EXPECT_EQ(done.load(), 500);
  EXPECT_EQ(store.GetEvents(id, 0, 1000).size(), 500u);
}

TEST_P(StoreContractTest, ConcurrentCreatesWithOneKeyMakeOneRun) {
  Store& store = *store_;
  constexpr int kThreads = 8;
  std::vector<CreatedRun> results(kThreads);
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      store::Run run;
      run.suite = "s";
      run.idempotency_key = "same";
      run.initiated_by = "thread " + std::to_string(i);
      results[i] = ValueOf(store.CreateRun(run, {"A", "B"}));
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  int created = 0;
  for (const CreatedRun& r : results) {
    EXPECT_EQ(r.run.id, results[0].run.id);
    EXPECT_EQ(r.run.initiated_by, results[0].run.initiated_by);
    if (r.created) ++created;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(store.ListRuns({}).size(), 1u);
  EXPECT_EQ(store.GetTests(results[0].run.id).size(), 2u);

  // Runs without a key never collide.
  store::Run run;
  run.suite = "s";
  EXPECT_TRUE(ValueOf(store.CreateRun(run, {})).created);
  EXPECT_TRUE(ValueOf(store.CreateRun(run, {})).created);
  EXPECT_EQ(store.ListRuns({}).size(), 3u);
}

TEST_P(StoreContractTest, ListRunsFiltersNewestFirstAndPages) {
  const store::Run a1 = Create("a", RunStatus::kPassed, "v1");
  const store::Run b1 = Create("b", RunStatus::kFailed, "v1");
  const store::Run a2 = Create("a", RunStatus::kFailed, "v2");
  const store::Run a3 = Create("a", RunStatus::kRunning, "v2");
  const store::Run b2 = Create("b", RunStatus::kPassed);

  EXPECT_EQ(Ids(store_->ListRuns({})),
            (std::vector<std::int64_t>{b2.id, a3.id, a2.id, b1.id, a1.id}));
  RunQuery query;
  query.suite = "a";
  EXPECT_EQ(Ids(store_->ListRuns(query)), (std::vector<std::int64_t>{a3.id, a2.id, a1.id}));
  query.status = RunStatus::kFailed;
  EXPECT_EQ(Ids(store_->ListRuns(query)), (std::vector<std::int64_t>{a2.id}));
  query = {};
  query.status = RunStatus::kFailed;
  EXPECT_EQ(Ids(store_->ListRuns(query)), (std::vector<std::int64_t>{a2.id, b1.id}));
  query = {};
  query.reference = "v1";
  EXPECT_EQ(Ids(store_->ListRuns(query)), (std::vector<std::int64_t>{b1.id, a1.id}));

  // Cursor paging: two at a time.
  query = {};
  query.limit = 2;
  std::vector<std::int64_t> pages;
  for (;;) {
    std::vector<store::Run> page = store_->ListRuns(query);
    if (page.empty()) break;
    EXPECT_LE(page.size(), 2u);
    for (const store::Run& run : page) pages.push_back(run.id);
    query.before_id = page.back().id;
  }
  EXPECT_EQ(pages, (std::vector<std::int64_t>{b2.id, a3.id, a2.id, b1.id, a1.id}));
  query = {};
  query.suite = "a";
  query.before_id = a3.id;
  query.limit = 1;
  EXPECT_EQ(Ids(store_->ListRuns(query)), (std::vector<std::int64_t>{a2.id}));
  query.limit = 0;
  EXPECT_TRUE(store_->ListRuns(query).empty());
}

TEST_P(StoreContractTest, RunsWithStatusOldestFirstAndLastRuns) {
  const store::Run q1 = Create("a", RunStatus::kQueued);
  const store::Run r1 = Create("a", RunStatus::kRunning);
  const store::Run p1 = Create("a", RunStatus::kPassed);
  const store::Run q2 = Create("b", RunStatus::kQueued);
  const store::Run f1 = Create("a", RunStatus::kFailed);
  const store::Run e1 = Create("a", RunStatus::kError);
  Create("b", RunStatus::kPassed);

  EXPECT_EQ(Ids(store_->RunsWithStatus({RunStatus::kRunning, RunStatus::kQueued})),
            (std::vector<std::int64_t>{q1.id, r1.id, q2.id}));
  EXPECT_EQ(Ids(store_->RunsWithStatus({RunStatus::kCancelled})), std::vector<std::int64_t>{});
  EXPECT_TRUE(store_->RunsWithStatus({}).empty());

  EXPECT_EQ(Ids(store_->LastRuns("a", 10)), (std::vector<std::int64_t>{e1.id, f1.id, p1.id}));
  EXPECT_EQ(Ids(store_->LastRuns("a", 2)), (std::vector<std::int64_t>{e1.id, f1.id}));
  EXPECT_TRUE(store_->LastRuns("nope", 10).empty());
}

TEST_P(StoreContractTest, RunsOfReferenceAreTheLatestFinishedAndANewerUnfinishedOne) {
  ReferenceRuns none = store_->RunsOfReference("a", "v1");
  EXPECT_FALSE(none.finished);
  EXPECT_FALSE(none.unfinished);

  const store::Run queued = Create("a", RunStatus::kQueued, "v1");
  ReferenceRuns only_queued = store_->RunsOfReference("a", "v1");
  EXPECT_FALSE(only_queued.finished);
  ASSERT_TRUE(only_queued.unfinished);
  EXPECT_EQ(only_queued.unfinished->id, queued.id);
  EXPECT_EQ(only_queued.unfinished->status, RunStatus::kQueued);

  const store::Run failed = Create("a", RunStatus::kFailed, "v1");
  const store::Run passed = Create("a", RunStatus::kPassed, "v1");
  Create("b", RunStatus::kFailed, "v1");          // another suite
  Create("a", RunStatus::kCancelled, "v2");       // another reference
  Create("a", RunStatus::kError, "v1-and-more");  // equal, not a prefix
  ReferenceRuns latest = store_->RunsOfReference("a", "v1");
  ASSERT_TRUE(latest.finished);
  EXPECT_EQ(latest.finished->id, passed.id);
  EXPECT_EQ(latest.finished->status, RunStatus::kPassed);
  EXPECT_EQ(latest.finished->reference, "v1");
  EXPECT_FALSE(latest.unfinished);  // the queued run is older than the verdict

  // A run that finishes moves from unfinished to finished.
  const store::Run retry = Create("a", RunStatus::kRunning, "v1");
  ReferenceRuns running = store_->RunsOfReference("a", "v1");
  ASSERT_TRUE(running.unfinished);
  EXPECT_EQ(running.unfinished->id, retry.id);
  ASSERT_TRUE(running.finished);
  EXPECT_EQ(running.finished->id, passed.id);
  WriteBatch batch;
  RunUpdate update;
  update.id = retry.id;
  update.status = RunStatus::kError;
  update.finished_at_ns = 1'700'000'000'000'000'000;
  batch.run_updates.push_back(update);
  ASSERT_TRUE(WriteAndWait(*store_, batch));
  ReferenceRuns after = store_->RunsOfReference("a", "v1");
  ASSERT_TRUE(after.finished);
  EXPECT_EQ(after.finished->id, retry.id);
  EXPECT_EQ(after.finished->status, RunStatus::kError);
  EXPECT_EQ(after.finished->finished_at_ns, 1'700'000'000'000'000'000);
  EXPECT_FALSE(after.unfinished);

  EXPECT_EQ(store_->RunsOfReference("b", "v1").finished->status, RunStatus::kFailed);
  EXPECT_FALSE(store_->RunsOfReference("b", "v1").unfinished);
  EXPECT_EQ(store_->RunsOfReference("a", "v2").finished->status, RunStatus::kCancelled);
  EXPECT_FALSE(store_->RunsOfReference("a", "v").finished);
  EXPECT_FALSE(store_->RunsOfReference("nope", "v1").finished);
  (void)failed;
}

TEST_P(StoreContractTest, SchedulesCrud) {
  Store& store = *store_;
  StoredSchedule nightly{"nightly", "checkout", "0 2 * * *", "Europe/Paris", "^TestPay", false,
                         77};
  StoredSchedule every{"every", "cart", "@every 30s", "", "", true, 78};
  EXPECT_TRUE(store.PutSchedule(nightly).ok());
  EXPECT_TRUE(store.PutSchedule(every).ok());
  Result<void> again = store.PutSchedule(nightly);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(again.error().message, "a schedule named \"nightly\" already exists");

  std::vector<StoredSchedule> schedules = store.ListSchedules();
  ASSERT_EQ(schedules.size(), 2u);
  EXPECT_EQ(schedules[0].name, "every");
  EXPECT_TRUE(schedules[0].paused);
  const StoredSchedule& n = schedules[1];
  EXPECT_EQ(n.name, "nightly");
  EXPECT_EQ(n.suite, "checkout");
  EXPECT_EQ(n.spec, "0 2 * * *");
  EXPECT_EQ(n.time_zone, "Europe/Paris");
  EXPECT_EQ(n.filter, "^TestPay");
  EXPECT_FALSE(n.paused);
  EXPECT_EQ(n.created_at_ns, 77);

  EXPECT_TRUE(store.UpdateSchedulePaused("nightly", true).ok());
  EXPECT_TRUE(store.UpdateSchedulePaused("nightly", true).ok());  // unchanged still found
  Result<void> missing = store.UpdateSchedulePaused("nope", true);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store.ListSchedules()[1].paused);

  EXPECT_TRUE(store.DeleteSchedule("every").ok());
  Result<void> gone = store.DeleteSchedule("every");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  ASSERT_EQ(store.ListSchedules().size(), 1u);
  EXPECT_EQ(store.ListSchedules()[0].name, "nightly");
}

TEST_P(StoreContractTest, HuntsRoundTripEndOnceAndCountTheirRuns) {
  Store& store = *store_;
  Hunt want;
  want.suite = "checkout";
  want.namespace_name = "shop";
  want.trigger = Trigger::kUi;
  want.initiated_by = "alice";
  want.on_behalf_of = "bob";
  want.reference = "abc123";
  want.schedule = "nightly-hunt";
  want.filter = "^TestPay$";
  want.tests = {"TestPay"};
  want.labels = {{"team", "payments"}};
  want.params = {{"DB_PASSWORD", "hunter22"}, {"region", "eu"}};
  want.secret_params = {"DB_PASSWORD"};
  want.max_attempts = 1;
  want.timeout_ms = 30000;
  want.hold_on_failure = true;
  want.repeat = 50;
  want.until_failure = true;
  want.max_duration_ms = 3600000;
  now_ = 555;
  const Hunt created = ValueOf(store.CreateHunt(want));
  EXPECT_GT(created.id, 0);
  EXPECT_EQ(created.created_at_ns, 555);
  std::optional<Hunt> got = store.GetHunt(created.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->suite, "checkout");
  EXPECT_EQ(got->namespace_name, "shop");
  EXPECT_EQ(got->status, HuntStatus::kRunning);
  EXPECT_EQ(got->trigger, Trigger::kUi);
  EXPECT_EQ(got->initiated_by, "alice");
  EXPECT_EQ(got->on_behalf_of, "bob");
  EXPECT_EQ(got->reference, "abc123");
  EXPECT_EQ(got->schedule, "nightly-hunt");
  EXPECT_EQ(got->filter, "^TestPay$");
  EXPECT_EQ(got->tests, want.tests);
  EXPECT_EQ(got->labels, want.labels);
  EXPECT_EQ(got->params, want.params);
  EXPECT_EQ(got->secret_params, want.secret_params);
  EXPECT_EQ(got->max_attempts, 1);
  EXPECT_EQ(got->timeout_ms, 30000);
  EXPECT_TRUE(got->hold_on_failure);
  EXPECT_EQ(got->repeat, 50);
  EXPECT_TRUE(got->until_failure);
  EXPECT_EQ(got->max_duration_ms, 3600000);
  EXPECT_EQ(got->created_at_ns, 555);
  EXPECT_EQ(got->finished_at_ns, 0);
  EXPECT_FALSE(store.GetHunt(created.id + 1));

  // Its runs, counted by status; the first failed is the oldest failed.
  std::optional<HuntRuns> none = store.CountHuntRuns(created.id);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->runs, 0);
  EXPECT_EQ(none->first_failed_run, 0);
  std::vector<std::int64_t> ids;
  for (RunStatus status : {RunStatus::kPassed, RunStatus::kFailed, RunStatus::kPassed,
                           RunStatus::kFailed, RunStatus::kCancelled, RunStatus::kError,
                           RunStatus::kRunning, RunStatus::kQueued}) {
    store::Run run;
    run.suite = "checkout";
    run.status = status;
    run.hunt_id = created.id;
    ids.push_back(ValueOf(store.CreateRun(run, {})).run.id);
  }
  Create("checkout", RunStatus::kFailed);  // not the hunt's
  std::optional<HuntRuns> runs = store.CountHuntRuns(created.id);
  ASSERT_TRUE(runs);
  EXPECT_EQ(runs->runs, 8);
  EXPECT_EQ(runs->passed, 2);
  EXPECT_EQ(runs->failed, 2);
  EXPECT_EQ(runs->cancelled, 1);
  EXPECT_EQ(runs->errors, 1);
  EXPECT_EQ(runs->unfinished, 2);
  EXPECT_EQ(runs->first_failed_run, ids[1]);
  EXPECT_EQ(runs->last_run, ids.back());
  EXPECT_EQ(store.GetRun(ids[0])->hunt_id, created.id);
  RunQuery query;
  query.hunt_id = created.id;
  query.limit = 3;
  EXPECT_EQ(Ids(store.ListRuns(query)), (std::vector<std::int64_t>{ids[7], ids[6], ids[5]}));
  query.status = RunStatus::kFailed;
  EXPECT_EQ(Ids(store.ListRuns(query)), (std::vector<std::int64_t>{ids[3], ids[1]}));

  // Ends once: the first end stands.
  EXPECT_TRUE(ValueOf(store.EndHunt(created.id, HuntStatus::kStopped, "stopped by alice", 777)));
  EXPECT_FALSE(ValueOf(store.EndHunt(created.id, HuntStatus::kFailed, "run 3 failed", 888)));
  got = store.GetHunt(created.id);
  EXPECT_EQ(got->status, HuntStatus::kStopped);
  EXPECT_EQ(got->error, "stopped by alice");
  EXPECT_EQ(got->finished_at_ns, 777);
  EXPECT_FALSE(ValueOf(store.EndHunt(created.id + 100, HuntStatus::kFailed, "", 1)));

  // Listed newest first, filtered.
  Hunt other = want;
  other.suite = "cart";
  other.schedule = "";
  const std::int64_t second = ValueOf(store.CreateHunt(other)).id;
  HuntQuery all;
  std::vector<Hunt> listed = store.ListHunts(all);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, second);
  HuntQuery running;
  running.status = HuntStatus::kRunning;
  ASSERT_EQ(store.ListHunts(running).size(), 1u);
  EXPECT_EQ(store.ListHunts(running)[0].suite, "cart");
  HuntQuery by_suite;
  by_suite.suite = "checkout";
  ASSERT_EQ(store.ListHunts(by_suite).size(), 1u);
  HuntQuery by_schedule;
  by_schedule.schedule = "nightly-hunt";
  ASSERT_EQ(store.ListHunts(by_schedule).size(), 1u);
  EXPECT_EQ(store.ListHunts(by_schedule)[0].id, created.id);
  HuntQuery page;
  page.before_id = second;
  ASSERT_EQ(store.ListHunts(page).size(), 1u);
  EXPECT_EQ(store.ListHunts(page)[0].id, created.id);
  // Every status survives its name.
  for (HuntStatus status : {HuntStatus::kPassed, HuntStatus::kFailed, HuntStatus::kCancelled,
                            HuntStatus::kError}) {
    const std::int64_t id = ValueOf(store.CreateHunt(want)).id;
    EXPECT_TRUE(ValueOf(store.EndHunt(id, status, "", 1)));
    EXPECT_EQ(store.GetHunt(id)->status, status);
  }
}

TEST_P(StoreContractTest, DeleteRunsBeforeRemovesFinishedRunsAndTheirRows) {
  Store& store = *store_;
  auto create = [&](std::int64_t at, RunStatus status) {
    now_ = at;
    store::Run run;
    run.suite = "s";
    run.status = status;
    const std::int64_t id = ValueOf(store.CreateRun(run, {"A", "B"})).run.id;
    WriteBatch batch;
    Attempt attempt;
    attempt.test = "A";
    attempt.lines = TextLines({"hello"});
    batch.attempts.emplace_back(id, attempt);
    batch.events.emplace_back(id, Event(1, "run"));
    EXPECT_TRUE(WriteAndWait(store, batch));
    return id;
  };
  const std::int64_t old_passed = create(100, RunStatus::kPassed);
  const std::int64_t old_running = create(110, RunStatus::kRunning);
  const std::int64_t old_queued = create(120, RunStatus::kQueued);
  const std::int64_t old_error = create(130, RunStatus::kError);
  const std::int64_t recent = create(300, RunStatus::kFailed);

  EXPECT_EQ(store.DeleteRunsBefore(200), 2);
  for (std::int64_t id : {old_passed, old_error}) {
    EXPECT_FALSE(store.GetRun(id));
    EXPECT_TRUE(store.GetTests(id).empty());
    EXPECT_TRUE(store.GetAllAttempts(id).empty());
    EXPECT_TRUE(store.GetEvents(id, 0, 10).empty());
  }
  for (std::int64_t id : {old_running, old_queued, recent}) {
    EXPECT_TRUE(store.GetRun(id));
    EXPECT_EQ(store.GetTests(id).size(), 2u);
    EXPECT_EQ(store.GetAllAttempts(id).size(), 1u);
    EXPECT_EQ(store.GetEvents(id, 0, 10).size(), 1u);
  }
  EXPECT_EQ(store.DeleteRunsBefore(200), 0);

  // A run created after the deletions gets a new id, never a reused one.
  now_ = 400;
  EXPECT_GT(Create("s", RunStatus::kQueued).id, recent);

  // Many runs go in several transactions.
  now_ = 500;
  for (int i = 0; i < 250; ++i) Create("many", RunStatus::kPassed);
  EXPECT_EQ(store.DeleteRunsBefore(1000), 251);
  EXPECT_EQ(store.ListRuns({}).size(), 3u);
}

TEST_P(StoreContractTest, IngestedSuitesAreKeptOnceByNameAndOutliveTheirRuns) {
  Store& store = *store_;
  EXPECT_TRUE(store.ListIngestedSuites().empty());
  EXPECT_TRUE(store.AddIngestedSuite({"pytest-cart", 10}).ok());
  EXPECT_TRUE(store.AddIngestedSuite({"go.shop_payments-v2", 20}).ok());
  // The first report created it: a second keeps its creation time.
  EXPECT_TRUE(store.AddIngestedSuite({"pytest-cart", 30}).ok());
  const std::vector<IngestedSuite> want = {{"go.shop_payments-v2", 20}, {"pytest-cart", 10}};
  EXPECT_EQ(store.ListIngestedSuites(), want);

  // An ingested run of it, finished long ago: retention deletes the run, not the suite.
  now_ = 100;
  store::Run run;
  run.suite = "pytest-cart";
  run.status = RunStatus::kPassed;
  run.trigger = Trigger::kIngest;
  const std::int64_t id = ValueOf(store.CreateRun(run, {"test_add"})).run.id;
  EXPECT_EQ(store.GetRun(id)->trigger, Trigger::kIngest);
  EXPECT_EQ(store.DeleteRunsBefore(1000), 1);
  EXPECT_FALSE(store.GetRun(id));
  EXPECT_EQ(store.ListIngestedSuites(), want);
}

TEST_P(StoreContractTest, DeleteRunRemovesOneRunWithEverythingOfItsWhateverItsStatus) {
  Store& store = *store_;
  auto create = [&](const std::string& suite) {
    store::Run run;
    run.suite = suite;
    run.status = RunStatus::kRunning;
    run.trigger = Trigger::kIngest;
    const std::int64_t id = ValueOf(store.CreateRun(run, {"A", "B"})).run.id;
    WriteBatch batch;
    batch.tests.emplace_back(id, Row("A", TestStatus::kFailed));
    Attempt attempt;
    attempt.test = "A";
    attempt.status = TestStatus::kFailed;
    attempt.lines = TextLines({"boom"});
    batch.attempts.emplace_back(id, attempt);
    batch.events.emplace_back(id, Event(1, "run"));
    Delivery delivery;
    delivery.id = "d" + std::to_string(id);
    delivery.run_id = id;
    delivery.suite = suite;
    delivery.destination = "hook";
    delivery.event = "test.failed";
    batch.deliveries.push_back(delivery);
    batch.attachments.emplace_back(id, StoredAttachment{{"A", 1, "log.txt", "text/plain", 2}, "hi"});
    EXPECT_TRUE(WriteAndWait(store, batch));
    return id;
  };
  const std::int64_t doomed = create("s");
  const std::int64_t kept = create("s");
  EXPECT_TRUE(store.DeleteRun(doomed).ok());
  EXPECT_FALSE(store.GetRun(doomed));
  EXPECT_TRUE(store.GetTests(doomed).empty());
  EXPECT_TRUE(store.GetAllAttempts(doomed).empty());
  EXPECT_TRUE(store.GetEvents(doomed, 0, 10).empty());
  EXPECT_TRUE(store.RunDeliveries(doomed).empty());
  EXPECT_TRUE(ValueOf(store.ListAttachments(doomed, std::nullopt)).empty());
  // The other run is whole, and deleting a run that is not there is no error.
  EXPECT_EQ(store.GetTests(kept).size(), 2u);
  EXPECT_EQ(store.GetAllAttempts(kept).size(), 1u);
  EXPECT_EQ(store.RunDeliveries(kept).size(), 1u);
  EXPECT_EQ(ValueOf(store.ListAttachments(kept, std::nullopt)).size(), 1u);
  EXPECT_TRUE(store.DeleteRun(doomed).ok());
  EXPECT_EQ(Ids(store.ListRuns({})), std::vector<std::int64_t>{kept});
}

TEST_P(StoreContractTest, TenThousandTestsCommit) {
  Store& store = *store_;
  constexpr int kTests = 10000;
  std::vector<std::string> names;
  for (int i = 0; i < kTests; ++i) names.push_back("Test" + std::to_string(kTests - i));
  store::Run run;
  run.suite = "big";
  const std::int64_t id = ValueOf(store.CreateRun(run, names)).run.id;

  const auto start = std::chrono::steady_clock::now();
  std::atomic<int> committed{0};
  for (int i = 0; i < kTests; ++i) {
    WriteBatch batch;
    TestRow row = Row(names[i], i % 10 == 0 ? TestStatus::kFailed : TestStatus::kPassed);
    row.duration_ms = i;
    batch.tests.emplace_back(id, row);
    Attempt attempt;
    attempt.test = names[i];
    attempt.status = row.status;
    attempt.lines = TextLines({"starting " + names[i], "doing the thing", "done"});
    batch.attempts.emplace_back(id, std::move(attempt));
    batch.events.emplace_back(id, Event(2 * i + 1, "test"));
    batch.events.emplace_back(id, Event(2 * i + 2, "test"));
    store.Write(std::move(batch), [&](bool ok) {
      if (ok) ++committed;
    });
  }
  store.Sync();
  const auto written = std::chrono::steady_clock::now();
  std::vector<TestRow> rows = store.GetTests(id);
  const auto read = std::chrono::steady_clock::now();
  using std::chrono::duration;
  std::printf("[ measure  ] %s: committed %d tests in %.1f ms, GetTests in %.2f ms\n",
              StoreBackendName({GetParam(), 0}).c_str(), kTests,
              duration<double, std::milli>(written - start).count(),
              duration<double, std::milli>(read - written).count());

  EXPECT_EQ(committed.load(), kTests);
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kTests));
  EXPECT_EQ(TestNames(rows), names);
  EXPECT_EQ(rows[0].status, TestStatus::kFailed);
  EXPECT_EQ(rows[1].status, TestStatus::kPassed);
  EXPECT_EQ(rows[9999].duration_ms, 9999);
  std::vector<Attempt> attempts = store.GetAllAttempts(id);
  ASSERT_EQ(attempts.size(), static_cast<std::size_t>(kTests));
  EXPECT_EQ(attempts[5].test, names[5]);
  EXPECT_EQ(attempts[5].lines.size(), 3u);
  EXPECT_EQ(store.GetEvents(id, 0, 3 * kTests).size(), static_cast<std::size_t>(2 * kTests));
  EXPECT_EQ(store.GetEvents(id, 19990, 100).size(), 10u);
}

INSTANTIATE_TEST_SUITE_P(StoreContract, StoreContractTest, EveryStoreBackend(), StoreBackendName);

}  // namespace
}  // namespace handoff::store
