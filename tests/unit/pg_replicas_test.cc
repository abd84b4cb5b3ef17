// The PostgreSQL store's side of replicas (store.h, "Several replicas on one store"): claims
// with one run of a suite at a time, leases that expire and are taken over with a higher
// fencing token, fenced writes, cancels, one firing per schedule and due time, the lead,
// and exclusive runs. Several stores on one database stand for several replicas.
//
// Needs a PostgreSQL server (support/postgres_cluster.h); skipped without one, failed under
// HANDOFF_REQUIRE_POSTGRES=1 (CI).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "result_testing.h"
#include "store/open_store.h"
#include "store/pg_db.h"
#include "store/pg_url.h"
#include "store/store.h"
#include "support/postgres_cluster.h"
#include "support/store_test_data.h"

namespace handoff::store {
namespace {

using ::handoff::testing::ValueOf;

class PgReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HANDOFF_NEED_POSTGRES();
    database_ = ValueOf(::handoff::testing::PostgresTestDatabase::Create());
    ASSERT_NE(database_, nullptr);
    one_ = ValueOf(OpenStore(database_->url()));
    two_ = ValueOf(OpenStore(database_->url()));
    ASSERT_TRUE(one_ && two_);
  }

  void TearDown() override {
    one_.reset();
    two_.reset();
    database_.reset();
  }

  std::int64_t Queue(Store& store, const std::string& suite) {
    store::Run run;
    run.suite = suite;
    CreatedRun created = ValueOf(store.CreateSharedRun(run, {"T"}, false));
    EXPECT_TRUE(created.created);
    return created.run.id;
  }

  void Exec(const std::string& sql) {
    std::unique_ptr<PgDb> db = ValueOf(PgDb::Connect(database_->url(), "test"));
    ASSERT_NE(db, nullptr);
    PgResult r = db->ExecScript(sql);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.error();
  }

  // Makes every lease of the database expired, as if its replica died a ttl ago.
  void ExpireLeases() { Exec("UPDATE runs SET lease_expires_at = now() - interval '1 second'"); }

  std::unique_ptr<::handoff::testing::PostgresTestDatabase> database_;
  std::unique_ptr<Store> one_;
  std::unique_ptr<Store> two_;
};

TEST_F(PgReplicasTest, ASharedRunStartsItsJournalWithTheQueuedRun) {
  EXPECT_TRUE(one_->Shared());
  const std::int64_t id = Queue(*one_, "s");
  std::vector<RunEvent> events = two_->GetEvents(id, 0, 10);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].seq, 1);
  EXPECT_EQ(events[0].type, "run");
  EXPECT_NE(events[0].data.find("\"status\":\"queued\""), std::string::npos) << events[0].data;
  EXPECT_EQ(two_->LastEventSeq(id), 1);
}

TEST_F(PgReplicasTest, EachRunIsClaimedOnceAndOneRunOfASuiteAtATime) {
  const std::int64_t a1 = Queue(*one_, "a");
  const std::int64_t a2 = Queue(*one_, "a");
  const std::int64_t b1 = Queue(*two_, "b");
  std::vector<LeasedRun> first = ValueOf(one_->ClaimRuns({"r1", 10, 60'000}));
  ASSERT_EQ(first.size(), 2u);  // a1 and b1; a2 waits for a1
  EXPECT_EQ(first[0].run.id, a1);
  EXPECT_EQ(first[1].run.id, b1);
  EXPECT_EQ(first[0].run.replica, "r1");
  EXPECT_GT(first[0].lease_token, 0);
  EXPECT_TRUE(ValueOf(two_->ClaimRuns({"r2", 10, 60'000})).empty());
  // a1 finishes: a2 may start, on either replica.
  WriteBatch done;
  RunUpdate finished;
  finished.id = a1;
  finished.status = RunStatus::kPassed;
  done.run_updates.push_back(finished);
  done.fences.emplace_back(a1, first[0].lease_token);
  std::promise<bool> committed;
  one_->Write(done, [&](bool ok) { committed.set_value(ok); });
  ASSERT_TRUE(committed.get_future().get());
  std::vector<LeasedRun> second = ValueOf(two_->ClaimRuns({"r2", 10, 60'000}));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].run.id, a2);
  EXPECT_EQ(one_->GetRun(a2).value().replica, "r2");
}

TEST_F(PgReplicasTest, AReplicaClaimsOnlyTheSuitesItHas) {
  const std::int64_t known = Queue(*one_, "known");
  const std::int64_t newer = Queue(*one_, "only-in-the-new-binary");
  ClaimRequest old_binary{"old", 10, 60'000};
  old_binary.suites = {"known", "other"};
  std::vector<LeasedRun> claimed = ValueOf(one_->ClaimRuns(old_binary));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].run.id, known);
  ClaimRequest new_binary{"new", 10, 60'000};
  new_binary.suites = {"known", "only-in-the-new-binary"};
  claimed = ValueOf(two_->ClaimRuns(new_binary));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].run.id, newer);
}

TEST_F(PgReplicasTest, ConcurrentClaimsNeverShareARun) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(Queue(*one_, "suite-" + std::to_string(i)));
  std::vector<std::int64_t> got_one;
  std::vector<std::int64_t> got_two;
  auto claim = [](Store& store, const std::string& replica, std::vector<std::int64_t>& got) {
    for (int i = 0; i < 40; ++i) {
      for (const LeasedRun& leased : ValueOf(store.ClaimRuns({replica, 1, 60'000}))) {
        got.push_back(leased.run.id);
      }
    }
  };
  std::thread a([&] { claim(*one_, "r1", got_one); });
  std::thread b([&] { claim(*two_, "r2", got_two); });
  a.join();
  b.join();
  std::vector<std::int64_t> all = got_one;
  all.insert(all.end(), got_two.begin(), got_two.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, ids);  // every run once, none twice
}

TEST_F(PgReplicasTest, AnExpiredLeaseIsTakenOverAndTheStaleReplicaIsFencedOff) {
  const std::int64_t id = Queue(*one_, "s");
  LeasedRun mine = ValueOf(one_->ClaimRuns({"r1", 1, 60'000})).at(0);
  EXPECT_EQ(mine.run.status, RunStatus::kQueued);
  // While the lease is live nobody else gets it.
  EXPECT_TRUE(ValueOf(two_->ClaimRuns({"r2", 1, 60'000})).empty());
  ExpireLeases();
  LeasedRun theirs = ValueOf(two_->ClaimRuns({"r2", 1, 60'000})).at(0);
  EXPECT_EQ(theirs.run.id, id);
  EXPECT_GT(theirs.lease_token, mine.lease_token);
  EXPECT_EQ(theirs.run.replica, "r2");

  // The stale replica renews nothing and writes nothing.
  std::vector<LeaseState> states = ValueOf(one_->RenewLeases("r1", {{id, mine.lease_token}}, 60'000));
  ASSERT_EQ(states.size(), 1u);
  EXPECT_FALSE(states[0].held);
  WriteBatch stale;
  TestRow row;
  row.name = "T";
  row.status = TestStatus::kFailed;
  stale.tests.emplace_back(id, row);
  stale.fences.emplace_back(id, mine.lease_token);
  WriteBatch fresh;
  TestRow passed = row;
  passed.status = TestStatus::kPassed;
  fresh.tests.emplace_back(id, passed);
  fresh.fences.emplace_back(id, theirs.lease_token);
  std::promise<bool> stale_done;
  std::promise<bool> fresh_done;
  // Queued one after the other: in one transaction (the stale one fails alone) or in two.
  one_->Write(fresh, [&](bool ok) { fresh_done.set_value(ok); });
  one_->Write(stale, [&](bool ok) { stale_done.set_value(ok); });
  EXPECT_TRUE(fresh_done.get_future().get());
  EXPECT_FALSE(stale_done.get_future().get());
  std::vector<TestRow> rows = two_->GetTests(id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, TestStatus::kPassed);

  // A batch with a run update is fenced too.
  WriteBatch finish;
  RunUpdate update;
  update.id = id;
  update.status = RunStatus::kFailed;
  finish.run_updates.push_back(update);
  finish.fences.emplace_back(id, mine.lease_token);
  std::promise<bool> finish_done;
  one_->Write(finish, [&](bool ok) { finish_done.set_value(ok); });
  EXPECT_FALSE(finish_done.get_future().get());
  EXPECT_EQ(two_->GetRun(id).value().status, RunStatus::kQueued);
}

TEST_F(PgReplicasTest, ARunningRunWhoseLeaseExpiredIsClaimedBeforeQueuedOnes) {
  const std::int64_t queued = Queue(*one_, "a");
  const std::int64_t running = Queue(*one_, "b");
  Exec("UPDATE runs SET status = 'running' WHERE id = " + std::to_string(running));
  std::vector<LeasedRun> claimed = ValueOf(two_->ClaimRuns({"r2", 1, 60'000}));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].run.id, running);
  EXPECT_EQ(claimed[0].run.status, RunStatus::kRunning);
  EXPECT_EQ(ValueOf(two_->ClaimRuns({"r2", 1, 60'000})).at(0).run.id, queued);
}

TEST_F(PgReplicasTest, RenewalKeepsALeaseAndReleaseHandsItOver) {
  const std::int64_t id = Queue(*one_, "s");
  LeasedRun mine = ValueOf(one_->ClaimRuns({"r1", 1, 1'000})).at(0);
  std::vector<LeaseState> states =
      ValueOf(one_->RenewLeases("r1", {{id, mine.lease_token}}, 60'000));
  ASSERT_EQ(states.size(), 1u);
  EXPECT_TRUE(states[0].held);
  EXPECT_FALSE(states[0].cancel_requested);
  EXPECT_TRUE(ValueOf(two_->ClaimRuns({"r2", 1, 60'000})).empty());
  one_->ReleaseLeases({{id, mine.lease_token}});
  EXPECT_EQ(ValueOf(two_->ClaimRuns({"r2", 1, 60'000})).size(), 1u);
}

TEST_F(PgReplicasTest, ACancelReachesTheReplicaHoldingTheRun) {
  const std::int64_t id = Queue(*one_, "s");
  LeasedRun mine = ValueOf(one_->ClaimRuns({"r1", 1, 60'000})).at(0);
  store::Run shown = ValueOf(two_->RequestCancel(id));
  EXPECT_EQ(shown.id, id);
  std::vector<LeaseState> states =
      ValueOf(one_->RenewLeases("r1", {{id, mine.lease_token}}, 60'000));
  ASSERT_EQ(states.size(), 1u);
  EXPECT_TRUE(states[0].cancel_requested);
  EXPECT_EQ(two_->RequestCancel(999999).error().code, ErrorCode::kNotFound);
  // A queued run cancelled before any claim is claimed with its cancel.
  const std::int64_t other = Queue(*one_, "t");
  ValueOf(two_->RequestCancel(other));
  std::vector<LeasedRun> claimed = ValueOf(two_->ClaimRuns({"r2", 1, 60'000, other}));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_TRUE(claimed[0].cancel_requested);
}

TEST_F(PgReplicasTest, AReleaseReachesTheReplicaHoldingTheRunAndOnlyTheHoldItSaw) {
  const std::int64_t id = Queue(*one_, "s");
  LeasedRun mine = ValueOf(one_->ClaimRuns({"r1", 1, 60'000})).at(0);
  // Not held: nothing to release.
  EXPECT_EQ(two_->RequestRelease(id).error().code, ErrorCode::kConflict);
  EXPECT_EQ(two_->RequestRelease(999999).error().code, ErrorCode::kNotFound);
  auto hold_update = [&](RunStatus status, const std::string& ended) {
    RunHold hold;
    hold.test = "T";
    hold.ended = ended;
    RunUpdate update;
    update.id = id;
    update.status = status;
    update.hold = hold;
    WriteBatch batch;
    batch.run_updates.push_back(update);
    batch.fences.emplace_back(id, mine.lease_token);
    ASSERT_TRUE(::handoff::testing::WriteAndWait(*one_, std::move(batch)));
  };
  hold_update(RunStatus::kHeld, "");
  auto renewed = [&] {
    std::vector<LeaseState> states =
        ValueOf(one_->RenewLeases("r1", {{id, mine.lease_token}}, 60'000));
    EXPECT_EQ(states.size(), 1u);
    return !states.empty() && states[0].release_requested;
  };
  EXPECT_FALSE(renewed());
  store::Run shown = ValueOf(two_->RequestRelease(id));
  EXPECT_EQ(shown.status, RunStatus::kHeld);
  EXPECT_TRUE(renewed());
  // The hold's end clears the request: it never releases a later hold.
  hold_update(RunStatus::kRunning, "released");
  EXPECT_FALSE(renewed());
}

TEST_F(PgReplicasTest, AScheduleFiresOncePerDueTime) {
  const std::int64_t due = 1'700'000'000'000'000'000;
  int won = 0;
  for (Store* store : {one_.get(), two_.get(), one_.get()}) {
    if (ValueOf(store->ClaimScheduleFiring("nightly", due, "r"))) ++won;
  }
  EXPECT_EQ(won, 1);
  EXPECT_TRUE(ValueOf(two_->ClaimScheduleFiring("nightly", due + 1'000'000'000, "r")));
  EXPECT_TRUE(ValueOf(two_->ClaimScheduleFiring("hourly", due, "r")));
}

TEST_F(PgReplicasTest, OneReplicaLeadsUntilItsLeadExpires) {
  EXPECT_TRUE(ValueOf(one_->Lead("r1/a", 60'000)));
  EXPECT_FALSE(ValueOf(two_->Lead("r2/b", 60'000)));
  EXPECT_TRUE(ValueOf(one_->Lead("r1/a", 60'000)));
  Exec("UPDATE replica_lead SET expires_at = now() - interval '1 second'");
  EXPECT_TRUE(ValueOf(two_->Lead("r2/b", 60'000)));
  EXPECT_FALSE(ValueOf(one_->Lead("r1/a", 60'000)));
}

TEST_F(PgReplicasTest, AnExclusiveSuiteHasOneUnfinishedRunAcrossReplicas) {
  store::Run run;
  run.suite = "solo";
  std::vector<CreatedRun> created(2);
  std::thread a([&] { created[0] = ValueOf(one_->CreateSharedRun(run, {"T"}, true)); });
  std::thread b([&] { created[1] = ValueOf(two_->CreateSharedRun(run, {"T"}, true)); });
  a.join();
  b.join();
  ASSERT_NE(created[0].created, created[1].created);
  const CreatedRun& made = created[0].created ? created[0] : created[1];
  const CreatedRun& refused = created[0].created ? created[1] : created[0];
  EXPECT_EQ(refused.busy_with, made.run.id);
  // Another suite is not held back, nor is this one once its run finished.
  store::Run other;
  other.suite = "other";
  EXPECT_TRUE(ValueOf(one_->CreateSharedRun(other, {"T"}, true)).created);
  Exec("UPDATE runs SET status = 'passed' WHERE id = " + std::to_string(made.run.id));
  EXPECT_TRUE(ValueOf(two_->CreateSharedRun(run, {"T"}, true)).created);
  // An idempotency key answers its run before the suite is found busy.
  store::Run keyed = run;
  keyed.idempotency_key = "k";
  Exec("UPDATE runs SET status = 'passed' WHERE suite = 'solo'");
  const CreatedRun first = ValueOf(one_->CreateSharedRun(keyed, {"T"}, true));
  const CreatedRun again = ValueOf(two_->CreateSharedRun(keyed, {"T"}, true));
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.busy_with, 0);
  EXPECT_EQ(again.run.id, first.run.id);
}

TEST_F(PgReplicasTest, AnUnfinishedScheduleRunIsFound) {
  store::Run run;
  run.suite = "s";
  run.schedule = "nightly";
  const std::int64_t id = ValueOf(one_->CreateSharedRun(run, {"T"}, false)).run.id;
  EXPECT_EQ(two_->UnfinishedScheduleRun("nightly"), id);
  EXPECT_EQ(two_->UnfinishedScheduleRun("other"), 0);
  Exec("UPDATE runs SET status = 'passed'");
  EXPECT_EQ(two_->UnfinishedScheduleRun("nightly"), 0);
}

}  // namespace
}  // namespace handoff::store
