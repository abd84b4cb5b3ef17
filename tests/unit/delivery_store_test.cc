// The store's outbox of notifications (issue 16): deliveries written with the batch that
// commits what they tell, their outcomes, the queue the delivery worker reads, and the
// table's life with its runs, over every backend (DeliveryStoreTest); then what only SQLite
// has: its file's backups and indexes, the migration from schema 7 (DeliveryStoreFileTest).

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "result_testing.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "support/store_backends.h"
#include "support/store_test_data.h"
#include "support/temp_dir.h"

namespace handoff::store {
namespace {

using ::handoff::testing::EveryStoreBackend;
using ::handoff::testing::StoreBackendName;
using ::handoff::testing::TempDir;
using ::handoff::testing::ValueOf;
using ::handoff::testing::WriteAndWait;

// Runs `sql` on a connection of our own to the database file `path`; "" or the error.
std::string ExecOn(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string error;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    error = sqlite3_errmsg(db);
  } else {
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      error = message != nullptr ? message : "failed";
    }
    sqlite3_free(message);
  }
  sqlite3_close(db);
  return error;
}

// The rows `sql` returns from the database file `path`, each row's columns joined with '|'.
std::vector<std::string> QueryOn(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> rows;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        std::string row;
        for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
          if (i > 0) row += '|';
          const unsigned char* text = sqlite3_column_text(stmt, i);
          if (text != nullptr) row += reinterpret_cast<const char*>(text);
        }
        rows.push_back(std::move(row));
      }
    } else {
      ADD_FAILURE() << sqlite3_errmsg(db) << ": " << sql;
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return rows;
}

// A pending delivery of run `run_id` to `destination`, created at `created_at_ns` and due then.
Delivery MakeDelivery(std::string id, std::int64_t run_id, std::string destination,
                      std::int64_t created_at_ns) {
  Delivery d;
  d.id = std::move(id);
  d.run_id = run_id;
  d.suite = "checkout";
  d.destination = std::move(destination);
  d.plugin = "webhook";
  d.target = "http://receiver.example/hook";
  d.event = "run.finished";
  d.payload = R"({"id":")" + d.id + R"(","run":{"id":)" + std::to_string(run_id) + "}}";
  d.created_at_ns = created_at_ns;
  d.next_attempt_at_ns = created_at_ns;
  return d;
}

std::vector<std::string> DeliveryIds(const std::vector<Delivery>& deliveries) {
  std::vector<std::string> ids;
  for (const Delivery& d : deliveries) ids.push_back(d.id);
  return ids;
}

TEST(DeliveryStateTest, NamesRoundTrip) {
  for (DeliveryState state : {DeliveryState::kPending, DeliveryState::kDelivered,
                              DeliveryState::kFailed, DeliveryState::kDisabled}) {
    DeliveryState parsed = state == DeliveryState::kPending ? DeliveryState::kFailed
                                                            : DeliveryState::kPending;
    ASSERT_TRUE(ParseDeliveryState(DeliveryStateName(state), &parsed)) << DeliveryStateName(state);
    EXPECT_EQ(parsed, state);
  }
  EXPECT_STREQ(DeliveryStateName(DeliveryState::kPending), "pending");
  EXPECT_STREQ(DeliveryStateName(DeliveryState::kDelivered), "delivered");
  EXPECT_STREQ(DeliveryStateName(DeliveryState::kFailed), "failed");
  EXPECT_STREQ(DeliveryStateName(DeliveryState::kDisabled), "disabled");
  DeliveryState unchanged = DeliveryState::kFailed;
  EXPECT_FALSE(ParseDeliveryState("Pending", &unchanged));
  EXPECT_FALSE(ParseDeliveryState("", &unchanged));
  EXPECT_EQ(unchanged, DeliveryState::kFailed);
}

// The outbox's part of the store contract, run over every backend.
class DeliveryStoreTest : public ::handoff::testing::StoreBackendTest {
 protected:
  // Creates a run of `suite` with `status`, created at the clock's time.
  std::int64_t CreateRun(RunStatus status = RunStatus::kRunning,
                         const std::string& suite = "checkout") {
    store::Run run;
    run.suite = suite;
    run.status = status;
    return ValueOf(store_->CreateRun(run, {"TestPay"})).run.id;
  }
};

TEST_P(DeliveryStoreTest, PreviousFullRunIsTheLatestComparableRunHoweverManyOthersCameBetween) {
  Store& store = *store_;
  const auto create = [&](RunStatus status, std::string filter = "",
                          std::vector<std::string> tests = {}, std::string environment = "staging",
                          std::string namespace_name = "shop", std::string suite = "checkout") {
    store::Run run;
    run.suite = std::move(suite);
    run.namespace_name = std::move(namespace_name);
    run.environment = std::move(environment);
    run.status = status;
    run.filter = std::move(filter);
    run.tests = std::move(tests);
    return ValueOf(store.CreateRun(run, {"TestPay"})).run;
  };
  const store::Run first = create(RunStatus::kFailed);
  EXPECT_FALSE(store.PreviousFullRun(first).has_value());
  // Sixty runs that do not count: partial, cancelled, another environment, namespace or suite.
  for (int i = 0; i < 12; ++i) {
    create(RunStatus::kPassed, "TestPay");
    create(RunStatus::kPassed, "", {"TestPay"});
    create(RunStatus::kCancelled);
    create(RunStatus::kPassed, "", {}, "production");
    create(RunStatus::kPassed, "", {}, "staging", "other");
  }
  create(RunStatus::kRunning);  // not finished
  const store::Run now = create(RunStatus::kPassed);
  std::optional<store::Run> previous = store.PreviousFullRun(now);
  ASSERT_TRUE(previous.has_value());
  EXPECT_EQ(previous->id, first.id);
  EXPECT_EQ(previous->status, RunStatus::kFailed);
  // Only runs before it count.
  const store::Run later = create(RunStatus::kPassed);
  EXPECT_EQ(store.PreviousFullRun(later)->id, now.id);
  EXPECT_EQ(store.PreviousFullRun(now)->id, first.id);
}

TEST_P(DeliveryStoreTest, DeliveriesCommitWithTheRunUpdateOfTheirBatch) {
  Store& store = *store_;
  const std::int64_t run = CreateRun();
  WriteBatch batch;
  RunUpdate finished;
  finished.id = run;
  finished.status = RunStatus::kFailed;
  finished.finished_at_ns = 2'000'000;
  batch.run_updates.push_back(finished);
  Delivery slack = MakeDelivery("d-slack", run, "team-slack", 2'000'000);
  slack.plugin = "slack";
  slack.target = "#e2e";
  slack.payload = std::string("{\"text\":\"a\\u0000b \xe2\x9c\x93\"}");
  Delivery hook = MakeDelivery("d-hook", run, "hook", 2'000'001);
  hook.event = "test.failed";
  batch.deliveries = {slack, hook};
  ASSERT_TRUE(WriteAndWait(store, batch));

  EXPECT_EQ(store.GetRun(run)->status, RunStatus::kFailed);
  // The worker's queue has every field, the payload included.
  std::vector<Delivery> pending = store.PendingDeliveries("team-slack", 10);
  ASSERT_EQ(pending.size(), 1u);
  const Delivery& got = pending[0];
  EXPECT_EQ(got.id, "d-slack");
  EXPECT_EQ(got.run_id, run);
  EXPECT_EQ(got.suite, "checkout");
  EXPECT_EQ(got.destination, "team-slack");
  EXPECT_EQ(got.plugin, "slack");
  EXPECT_EQ(got.target, "#e2e");
  EXPECT_EQ(got.event, "run.finished");
  EXPECT_EQ(got.payload, slack.payload);
  EXPECT_EQ(got.state, DeliveryState::kPending);
  EXPECT_EQ(got.attempts, 0);
  EXPECT_EQ(got.created_at_ns, 2'000'000);
  EXPECT_EQ(got.next_attempt_at_ns, 2'000'000);
  EXPECT_EQ(got.finished_at_ns, 0);
  EXPECT_EQ(got.last_error, "");
  EXPECT_EQ(got.progress, "");
  // The run's list is oldest first and leaves the payloads out.
  std::vector<Delivery> of_run = store.RunDeliveries(run);
  ASSERT_EQ(DeliveryIds(of_run), (std::vector<std::string>{"d-slack", "d-hook"}));
  EXPECT_EQ(of_run[1].event, "test.failed");
  EXPECT_EQ(of_run[1].destination, "hook");
  EXPECT_TRUE(of_run[0].payload.empty());
  EXPECT_TRUE(of_run[1].payload.empty());
  EXPECT_TRUE(store.RunDeliveries(run + 1).empty());
}

TEST_P(DeliveryStoreTest, AFailedBatchLeavesNeitherItsRunUpdateNorItsDeliveries) {
  Store& store = *store_;
  const std::int64_t run = CreateRun();
  WriteBatch journal;
  journal.events.emplace_back(run, RunEvent{1, "run", "{}"});
  ASSERT_TRUE(WriteAndWait(store, journal));

  RunUpdate finished;
  finished.id = run;
  finished.status = RunStatus::kPassed;
  // The run update is written, then a journal entry breaks (run id, seq)'s uniqueness: the
  // deliveries (written last) go with it.
  WriteBatch broken_later;
  broken_later.run_updates.push_back(finished);
  broken_later.deliveries.push_back(MakeDelivery("d1", run, "hook", 10));
  broken_later.events.emplace_back(run, RunEvent{1, "run", "{}"});
  // A delivery about a run that does not exist fails the batch, and its run update with it.
  WriteBatch orphan;
  orphan.run_updates.push_back(finished);
  orphan.deliveries.push_back(MakeDelivery("d2", run + 100, "hook", 10));
  // Queued together, so that they share the writer's transaction with a good batch.
  std::vector<std::promise<bool>> results(3);
  WriteBatch good;
  good.deliveries.push_back(MakeDelivery("d3", run, "hook", 20));
  store.Write(broken_later, [&](bool ok) { results[0].set_value(ok); });
  store.Write(orphan, [&](bool ok) { results[1].set_value(ok); });
  store.Write(good, [&](bool ok) { results[2].set_value(ok); });
  EXPECT_FALSE(results[0].get_future().get());
  EXPECT_FALSE(results[1].get_future().get());
  EXPECT_TRUE(results[2].get_future().get());

  EXPECT_EQ(store.GetRun(run)->status, RunStatus::kRunning);
  EXPECT_EQ(DeliveryIds(store.RunDeliveries(run)), std::vector<std::string>{"d3"});
  EXPECT_TRUE(store.RunDeliveries(run + 100).empty());
  EXPECT_EQ(DeliveryIds(store.PendingDeliveries("hook", 10)), std::vector<std::string>{"d3"});
}

TEST_P(DeliveryStoreTest, ADeliveryDecidedAgainKeepsTheFirst) {
  Store& store = *store_;
  const std::int64_t run = CreateRun();
  WriteBatch first;
  first.deliveries.push_back(MakeDelivery("d1", run, "hook", 10));
  first.deliveries[0].payload = "first";
  ASSERT_TRUE(WriteAndWait(store, first));
  ASSERT_TRUE(store.UpdateDelivery({.id = "d1",
                                    .state = DeliveryState::kPending,
                                    .attempts = 1,
                                    .next_attempt_at_ns = 50,
                                    .last_error = "HTTP 503"})
                  .ok());

  // The same decision after a restart, and again within one batch: still one delivery, as
  // it was, with its attempts so far.
  WriteBatch again;
  RunUpdate update;
  update.id = run;
  update.status = RunStatus::kPassed;
  again.run_updates.push_back(update);
  Delivery second = MakeDelivery("d1", run, "hook", 30);
  second.payload = "second";
  second.state = DeliveryState::kDelivered;
  again.deliveries = {second, second};
  ASSERT_TRUE(WriteAndWait(store, again));
  EXPECT_EQ(store.GetRun(run)->status, RunStatus::kPassed);

  std::vector<Delivery> pending = store.PendingDeliveries("hook", 10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].payload, "first");
  EXPECT_EQ(pending[0].created_at_ns, 10);
  EXPECT_EQ(pending[0].attempts, 1);
  EXPECT_EQ(pending[0].next_attempt_at_ns, 50);
  EXPECT_EQ(pending[0].last_error, "HTTP 503");
  EXPECT_EQ(store.RunDeliveries(run).size(), 1u);
}

TEST_P(DeliveryStoreTest, PendingDeliveriesAreOldestFirstWhenEverTheyAreDue) {
  Store& store = *store_;
  const std::int64_t run = CreateRun();
  auto due = [&](std::string id, std::string destination, std::int64_t created,
                 std::int64_t next) {
    Delivery d = MakeDelivery(std::move(id), run, std::move(destination), created);
    d.next_attempt_at_ns = next;
    return d;
  };
  WriteBatch batch;
  batch.deliveries = {
      due("late", "a", 100, 900),       due("old", "a", 100, 500),
      due("new", "a", 300, 500),        due("first-due", "a", 400, 200),
      due("other", "b", 50, 50),        due("same-time-1", "a", 600, 700),
      due("same-time-2", "a", 600, 700),
  };
  ASSERT_TRUE(WriteAndWait(store, batch));

  EXPECT_EQ(DeliveryIds(store.PendingDeliveries("a", 100)),
            (std::vector<std::string>{"late", "old", "new", "first-due", "same-time-1",
                                      "same-time-2"}));
  EXPECT_EQ(DeliveryIds(store.PendingDeliveries("a", 2)),
            (std::vector<std::string>{"late", "old"}));
  EXPECT_EQ(DeliveryIds(store.PendingDeliveries("b", 100)), std::vector<std::string>{"other"});
  EXPECT_TRUE(store.PendingDeliveries("a", 0).empty());
  EXPECT_TRUE(store.PendingDeliveries("a", -1).empty());
  EXPECT_TRUE(store.PendingDeliveries("nobody", 10).empty());
  // Deliveries written already settled are not in the queue.
  WriteBatch settled;
  Delivery done = due("done", "a", 10, 10);
  done.state = DeliveryState::kDelivered;
  settled.deliveries.push_back(done);
  ASSERT_TRUE(WriteAndWait(store, settled));
  EXPECT_EQ(store.PendingDeliveries("a", 1)[0].id, "late");
}

TEST_P(DeliveryStoreTest, AnOutcomeIsKeptAndASettledDeliveryLeavesTheQueue) {
  Store& store = *store_;
  const std::int64_t run = CreateRun();
  WriteBatch batch;
  for (const char* id : {"to-deliver", "to-fail", "to-disable", "to-retry"}) {
    batch.deliveries.push_back(MakeDelivery(id, run, "hook", 100));
  }
  ASSERT_TRUE(WriteAndWait(store, batch));

  // A retry: still pending, due later, so the others come first.
  EXPECT_TRUE(store.UpdateDelivery({.id = "to-retry",
                                    .state = DeliveryState::kPending,
                                    .attempts = 1,
                                    .next_attempt_at_ns = 5000,
                                    .last_error = "HTTP 429: retry after 5s",
                                    .progress = "step 1"})
                  .ok());
  EXPECT_EQ(DeliveryIds(store.PendingDeliveries("hook", 10)),
            (std::vector<std::string>{"to-deliver", "to-fail", "to-disable", "to-retry"}));
  EXPECT_TRUE(store.UpdateDelivery({.id = "to-deliver",
                                    .state = DeliveryState::kDelivered,
                                    .attempts = 2,
                                    .finished_at_ns = 300,
                                    .progress = "1700000000.000100"})
                  .ok());
  EXPECT_TRUE(store.UpdateDelivery({.id = "to-fail",
                                    .state = DeliveryState::kFailed,
                                    .attempts = 7,
                                    .finished_at_ns = 400,
                                    .last_error = "HTTP 400: invalid routing key"})
                  .ok());
  EXPECT_TRUE(store.UpdateDelivery({.id = "to-disable",
                                    .state = DeliveryState::kDisabled,
                                    .attempts = 1,
                                    .finished_at_ns = 500,
                                    .last_error = "HTTP 410: gone"})
                  .ok());
  EXPECT_EQ(DeliveryIds(store.PendingDeliveries("hook", 10)),
            std::vector<std::string>{"to-retry"});
  EXPECT_EQ(store.PendingDeliveries("hook", 10)[0].progress, "step 1");

  std::map<std::string, Delivery> by_id;
  for (Delivery& d : store.RunDeliveries(run)) by_id[d.id] = std::move(d);
  ASSERT_EQ(by_id.size(), 4u);
  EXPECT_EQ(by_id["to-deliver"].state, DeliveryState::kDelivered);
  EXPECT_EQ(by_id["to-deliver"].attempts, 2);
  EXPECT_EQ(by_id["to-deliver"].finished_at_ns, 300);
  EXPECT_EQ(by_id["to-deliver"].progress, "1700000000.000100");
  EXPECT_EQ(by_id["to-fail"].state, DeliveryState::kFailed);
  EXPECT_EQ(by_id["to-fail"].attempts, 7);
  EXPECT_EQ(by_id["to-fail"].last_error, "HTTP 400: invalid routing key");
  EXPECT_EQ(by_id["to-disable"].state, DeliveryState::kDisabled);
  EXPECT_EQ(by_id["to-disable"].last_error, "HTTP 410: gone");
  EXPECT_EQ(by_id["to-disable"].finished_at_ns, 500);
  EXPECT_EQ(by_id["to-retry"].state, DeliveryState::kPending);
  EXPECT_EQ(by_id["to-retry"].attempts, 1);
  EXPECT_EQ(by_id["to-retry"].next_attempt_at_ns, 5000);
  EXPECT_EQ(by_id["to-retry"].last_error, "HTTP 429: retry after 5s");
  // What the update does not carry stays.
  EXPECT_EQ(by_id["to-fail"].target, "http://receiver.example/hook");
  EXPECT_EQ(by_id["to-fail"].created_at_ns, 100);

  Result<void> unknown = store.UpdateDelivery({.id = "no-such", .state = DeliveryState::kFailed});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_NE(unknown.error().message.find("no-such"), std::string::npos) << unknown.error().message;
}

TEST_P(DeliveryStoreTest, UpdateDeliveryMayBeCalledFromAWriteCallback) {
  Store& store = *store_;
  const std::int64_t run = CreateRun();
  WriteBatch batch;
  batch.deliveries.push_back(MakeDelivery("d1", run, "hook", 100));
  std::promise<bool> updated;
  store.Write(batch, [&](bool ok) {
    EXPECT_TRUE(ok);
    updated.set_value(
        store.UpdateDelivery({.id = "d1", .state = DeliveryState::kDelivered, .attempts = 1})
            .ok());
  });
  EXPECT_TRUE(updated.get_future().get());
  EXPECT_EQ(store.RunDeliveries(run)[0].state, DeliveryState::kDelivered);
}

TEST_P(DeliveryStoreTest, LastDeliveryProgressIsTheNewestDeliveredOfThatDestinationAndSuite) {
  Store& store = *store_;
  const std::int64_t run = CreateRun();
  auto kept = [&](std::string id, std::string destination, std::string suite,
                  std::int64_t created, DeliveryState state, std::string progress) {
    Delivery d = MakeDelivery(std::move(id), run, std::move(destination), created);
    d.suite = std::move(suite);
    d.state = state;
    d.progress = std::move(progress);
    return d;
  };
  EXPECT_EQ(store.LastDeliveryProgress("slack", "checkout"), "");
  WriteBatch batch;
  batch.deliveries = {
      kept("older", "slack", "checkout", 100, DeliveryState::kDelivered, "ts-older"),
      kept("newest", "slack", "checkout", 200, DeliveryState::kDelivered, "ts-newest"),
      // Newer, but kept nothing, or not delivered: not what a reply answers.
      kept("none-kept", "slack", "checkout", 300, DeliveryState::kDelivered, ""),
      kept("in-progress", "slack", "checkout", 400, DeliveryState::kPending, "step 1"),
      kept("failed", "slack", "checkout", 500, DeliveryState::kFailed, "ts-failed"),
      kept("disabled", "slack", "checkout", 550, DeliveryState::kDisabled, "ts-disabled"),
      // Another destination, another suite.
      kept("other-destination", "slack-2", "checkout", 600, DeliveryState::kDelivered, "ts-2"),
      kept("other-suite", "slack", "search", 700, DeliveryState::kDelivered, "ts-search"),
  };
  ASSERT_TRUE(WriteAndWait(store, batch));
  EXPECT_EQ(store.LastDeliveryProgress("slack", "checkout"), "ts-newest");
  EXPECT_EQ(store.LastDeliveryProgress("slack-2", "checkout"), "ts-2");
  EXPECT_EQ(store.LastDeliveryProgress("slack", "search"), "ts-search");
  EXPECT_EQ(store.LastDeliveryProgress("slack", "nothing"), "");

  // A pending one delivered later (created later) becomes the newest.
  ASSERT_TRUE(store.UpdateDelivery({.id = "in-progress",
                                    .state = DeliveryState::kDelivered,
                                    .attempts = 2,
                                    .finished_at_ns = 900,
                                    .progress = "ts-threaded"})
                  .ok());
  EXPECT_EQ(store.LastDeliveryProgress("slack", "checkout"), "ts-threaded");
}

TEST_P(DeliveryStoreTest, PendingDeliveryCountsByDestination) {
  Store& store = *store_;
  EXPECT_TRUE(store.PendingDeliveryCounts().empty());
  const std::int64_t run = CreateRun();
  WriteBatch batch;
  batch.deliveries = {MakeDelivery("a1", run, "a", 1), MakeDelivery("a2", run, "a", 2),
                      MakeDelivery("a3", run, "a", 3), MakeDelivery("b1", run, "b", 4),
                      MakeDelivery("c1", run, "c", 5)};
  ASSERT_TRUE(WriteAndWait(store, batch));
  ASSERT_TRUE(store.UpdateDelivery({.id = "a2", .state = DeliveryState::kDelivered}).ok());
  ASSERT_TRUE(store.UpdateDelivery({.id = "c1", .state = DeliveryState::kFailed}).ok());
  EXPECT_EQ(store.PendingDeliveryCounts(),
            (std::map<std::string, std::int64_t>{{"a", 2}, {"b", 1}}));
}

TEST_P(DeliveryStoreTest, DeletingOldRunsDeletesTheirDeliveries) {
  Store& store = *store_;
  now_ = 100;
  const std::int64_t old_run = CreateRun(RunStatus::kPassed);
  now_ = 300;
  const std::int64_t recent = CreateRun(RunStatus::kFailed);
  WriteBatch batch;
  batch.deliveries = {MakeDelivery("old-1", old_run, "hook", 100),
                      MakeDelivery("old-2", old_run, "slack", 100),
                      MakeDelivery("recent", recent, "hook", 300)};
  ASSERT_TRUE(WriteAndWait(store, batch));

  EXPECT_EQ(store.DeleteRunsBefore(200), 1);
  EXPECT_TRUE(store.RunDeliveries(old_run).empty());
  EXPECT_EQ(DeliveryIds(store.RunDeliveries(recent)), std::vector<std::string>{"recent"});
  EXPECT_EQ(DeliveryIds(store.PendingDeliveries("hook", 10)),
            std::vector<std::string>{"recent"});
  EXPECT_TRUE(store.PendingDeliveries("slack", 10).empty());
  EXPECT_EQ(store.PendingDeliveryCounts(), (std::map<std::string, std::int64_t>{{"hook", 1}}));
  if (Queryable()) {
    EXPECT_EQ(Query("SELECT id FROM deliveries"), std::vector<std::string>{"recent"});
  }
}

INSTANTIATE_TEST_SUITE_P(DeliveryStore, DeliveryStoreTest, EveryStoreBackend(),
                         StoreBackendName);

// Tests that need the database file: another connection, reopening, backups.
class DeliveryStoreFileTest : public ::testing::Test {
 protected:
  std::string Path() const { return (dir_.path() / "handoff.db").string(); }
  std::string Url() const { return "sqlite:" + Path(); }

  static std::unique_ptr<SqliteStore> OpenAt(const std::string& url) {
    std::unique_ptr<SqliteStore> store = ValueOf(SqliteStore::Open(url));
    if (!store) std::abort();
    return store;
  }

  TempDir dir_;
};

TEST_F(DeliveryStoreFileTest, AnUpdateThatCannotCommitIsUnavailableAndChangesNothing) {
  std::unique_ptr<SqliteStore> store = OpenAt(Url());
  store::Run run;
  run.suite = "checkout";
  const std::int64_t id = ValueOf(store->CreateRun(run, {})).run.id;
  WriteBatch batch;
  batch.deliveries.push_back(MakeDelivery("d1", id, "hook", 100));
  ASSERT_TRUE(WriteAndWait(*store, batch));
  // The database refuses the write (as a full disk or an I/O error would).
  ASSERT_EQ(ExecOn(Path(), "CREATE TRIGGER refuse BEFORE UPDATE ON deliveries "
                           "BEGIN SELECT RAISE(ABORT, 'refused'); END"),
            "");
  Result<void> refused =
      store->UpdateDelivery({.id = "d1", .state = DeliveryState::kDelivered, .attempts = 1});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("d1"), std::string::npos) << refused.error().message;
  EXPECT_EQ(store->PendingDeliveries("hook", 10).size(), 1u);
  EXPECT_EQ(store->RunDeliveries(id)[0].attempts, 0);
}

TEST_F(DeliveryStoreFileTest, TheQueriesReadTheirIndexesWithoutSorting) {
  OpenAt(Url());
  auto plan = [&](const std::string& sql) {
    std::string joined;
    for (const std::string& row : QueryOn(Path(), "EXPLAIN QUERY PLAN " + sql)) {
      joined += row + "\n";
    }
    return joined;
  };
  const std::string pending = plan(
      "SELECT id FROM deliveries WHERE destination = 'a' AND state = 'pending' "
      "ORDER BY created_at, rowid LIMIT 10");
  EXPECT_NE(pending.find("deliveries_pending"), std::string::npos) << pending;
  EXPECT_EQ(pending.find("TEMP B-TREE"), std::string::npos) << pending;
  const std::string progress = plan(
      "SELECT progress FROM deliveries WHERE destination = 'a' AND suite = 's' "
      "AND state = 'delivered' AND progress <> '' ORDER BY created_at DESC, rowid DESC LIMIT 1");
  EXPECT_NE(progress.find("deliveries_progress"), std::string::npos) << progress;
  EXPECT_EQ(progress.find("TEMP B-TREE"), std::string::npos) << progress;
  const std::string of_run =
      plan("SELECT id FROM deliveries WHERE run_id = 1 ORDER BY created_at, rowid");
  EXPECT_NE(of_run.find("deliveries_by_run"), std::string::npos) << of_run;
  EXPECT_EQ(of_run.find("TEMP B-TREE"), std::string::npos) << of_run;
  const std::string counts = plan(
      "SELECT destination, count(*) FROM deliveries WHERE state = 'pending' "
      "GROUP BY destination");
  EXPECT_NE(counts.find("deliveries_pending"), std::string::npos) << counts;
}

TEST_F(DeliveryStoreFileTest, ADatabaseOfSchemaSevenUpgradesAndKeepsItsRuns) {
  std::int64_t id = 0;
  {
    std::unique_ptr<SqliteStore> store = OpenAt(Url());
    store::Run run;
    run.suite = "checkout";
    run.on_behalf_of = "carol";
    id = ValueOf(store->CreateRun(run, {"TestPay"})).run.id;
  }
  // Schema 7 is schema 8 without the outbox (and 9 without runs_by_suite_reference).
  ASSERT_EQ(ExecOn(Path(),
                   "DROP TABLE deliveries; DROP INDEX runs_by_suite_reference; "
                   "ALTER TABLE tests DROP COLUMN trace_id; ALTER TABLE attempts DROP COLUMN trace_id; DROP TABLE attachments; PRAGMA user_version=7"),
            "");
  ASSERT_TRUE(QueryOn(Path(), "SELECT name FROM sqlite_master WHERE name LIKE 'deliveries%'")
                  .empty());

  std::unique_ptr<SqliteStore> store = OpenAt(Url());
  EXPECT_EQ(QueryOn(Path(), "PRAGMA user_version"),
            std::vector<std::string>{std::to_string(SqliteStore::SchemaVersion())});
  std::optional<store::Run> kept = store->GetRun(id);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->suite, "checkout");
  EXPECT_EQ(kept->on_behalf_of, "carol");
  EXPECT_EQ(store->GetTests(id).size(), 1u);
  EXPECT_TRUE(store->RunDeliveries(id).empty());
  WriteBatch batch;
  batch.deliveries.push_back(MakeDelivery("d1", id, "hook", 100));
  ASSERT_TRUE(WriteAndWait(*store, batch));
  EXPECT_EQ(DeliveryIds(store->PendingDeliveries("hook", 10)), std::vector<std::string>{"d1"});
}

TEST_F(DeliveryStoreFileTest, DeliveriesSurviveReopeningAndBackups) {
  std::int64_t id = 0;
  const std::string copy = (dir_.path() / "copy.db").string();
  {
    std::unique_ptr<SqliteStore> store = OpenAt(Url());
    store::Run run;
    run.suite = "checkout";
    id = ValueOf(store->CreateRun(run, {})).run.id;
    WriteBatch batch;
    batch.deliveries = {MakeDelivery("pending", id, "hook", 100),
                        MakeDelivery("delivered", id, "slack", 200)};
    ASSERT_TRUE(WriteAndWait(*store, batch));
    ASSERT_TRUE(store->UpdateDelivery({.id = "delivered",
                                       .state = DeliveryState::kDelivered,
                                       .attempts = 1,
                                       .finished_at_ns = 250,
                                       .progress = "ts-1"})
                    .ok());
    ASSERT_TRUE(store->Backup(copy).ok());
  }
  for (const std::string& url : {Url(), "sqlite:" + copy}) {
    SCOPED_TRACE(url);
    std::unique_ptr<SqliteStore> store = OpenAt(url);
    EXPECT_EQ(DeliveryIds(store->RunDeliveries(id)),
              (std::vector<std::string>{"pending", "delivered"}));
    ASSERT_EQ(store->PendingDeliveries("hook", 10).size(), 1u);
    EXPECT_EQ(store->PendingDeliveries("hook", 10)[0].payload,
              MakeDelivery("pending", id, "hook", 100).payload);
    EXPECT_EQ(store->LastDeliveryProgress("slack", "checkout"), "ts-1");
  }
}

}  // namespace
}  // namespace handoff::store
