#pragma once

// The PostgreSQL implementation of Store, through libpq ("postgres://..." or
// "postgresql://...": libpq connection URIs, PG* environment variables and ~/.pgpass apply).
//
// Writes: one writer thread owns a connection of its own. Write() only queues; the writer
// commits everything queued (up to max_transaction_ops) in one transaction, each batch in
// its own savepoint so that one bad batch fails alone. Consecutive batches without run
// updates go first as one: a multi-row statement a table for all their rows
// (pg_batch_writes.h), in one savepoint and one round trip; only if that fails do they go
// again one savepoint each, in one pipeline, to find the bad one. The synchronous writes
// (CreateRun, schedules, UpdateDelivery, retention, the probe) go through the same queue
// and wait for their commit. A lost connection fails what was not committed (kUnavailable, or a
// callback's false) and is re-established before the next transaction.
// Reads: a small pool of connections, each read one statement (READ COMMITTED), or one
// read-only REPEATABLE READ transaction when it reads several tables that one commit
// changes together (a journal, a test's attempts and row), so that it never sees half a
// commit. A read that fails is logged and returns nothing, as store.h says.
//
// Its plumbing lives beside it: connections, parameters and results (pg_db.h), the schema
// and its migrations (pg_schema.h), rows as records (pg_records.h), the outbox's SQL
// (pg_deliveries.h), URLs without passwords (pg_url.h) and the lease of one server per
// database (pg_ownership.h).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "store/store.h"

namespace handoff::store {

class PgDb;

// What a test (or an embedder) may change about a PgStore.
struct PgStoreOptions {
  // The clock that stamps created_at, in nanoseconds since the Unix epoch; empty: the
  // system clock.
  std::function<std::int64_t()> now_ns;
  // How many operations (rows written) the writer puts in one transaction at most; a
  // single larger batch still goes in whole.
  std::size_t max_transaction_ops = 4096;
  // Receives the store's log lines (failed writes, corrupt values, a new schema); empty:
  // they go to stderr.
  StoreLog log;
  // False: no statement is prepared by name (PgDb::Connect), for PgBouncer before 1.21 in
  // transaction pooling mode.
  bool prepared_statements = true;
};

class PgStore : public Store {
 public:
  // The schema version this build writes; a database with a newer one is refused.
  static int SchemaVersion();

  // Connects to `url`, creates or migrates the schema (pg_schema.h) and starts the writer
  // thread. An error names the database by its URL without the password: kUnsupported for
  // a URL that is not postgres:// or postgresql://, kUnavailable when the server cannot be
  // reached (libpq's message), refuses, or has a newer schema.
  static Result<std::unique_ptr<PgStore>> Open(std::string_view url,
                                               const PgStoreOptions& options = {});

  // Commits everything queued, then stops the writer and closes every connection.
  ~PgStore() override;

  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  // Store
  Result<CreatedRun> CreateRun(Run run, const std::vector<std::string>& test_names) override;
  void Write(WriteBatch batch, std::function<void(bool ok)> done = nullptr) override;
  void Sync() override;
  std::optional<Run> GetRun(std::int64_t id) override;
  std::vector<Run> ListRuns(const RunQuery& query) override;
  std::vector<Run> RunsWithStatus(const std::vector<RunStatus>& statuses) override;
  std::int64_t CountRuns(const std::vector<RunStatus>& statuses) override;
  std::vector<Run> LastRuns(const std::string& suite, int limit) override;
  std::optional<Run> PreviousFullRun(const Run& run) override;
  std::vector<TestInRun> TestHistory(const TestHistoryQuery& query) override;
  std::optional<TestInRun> FirstFailure(const std::string& suite,
                                        const std::string& test) override;
  std::vector<TestInRun> SearchTests(const TestSearch& search) override;
  ReferenceRuns RunsOfReference(const std::string& suite,
                                const std::string& reference) override;
  std::vector<TestRow> GetTests(std::int64_t run_id) override;
  std::vector<Attempt> GetAttempts(std::int64_t run_id, const std::string& test) override;
  std::vector<Attempt> GetAllAttempts(std::int64_t run_id) override;
  std::vector<RunEvent> GetEvents(std::int64_t run_id, std::int64_t after_seq,
                                  int limit) override;
  std::int64_t LastEventSeq(std::int64_t run_id) override;
  Result<std::vector<AttachmentInfo>> ListAttachments(
      std::int64_t run_id, const std::optional<std::string>& test) override;
  Result<std::optional<StoredAttachment>> GetAttachment(std::int64_t run_id,
                                                        const std::string& test, int attempt,
                                                        const std::string& name) override;
  Result<void> PutSchedule(const StoredSchedule& schedule) override;
  Result<void> UpdateSchedulePaused(const std::string& name, bool paused) override;
  Result<void> DeleteSchedule(const std::string& name) override;
  std::vector<StoredSchedule> ListSchedules() override;
  std::optional<std::vector<StoredSchedule>> TryListSchedules() override;
  // Deletes a run's deliveries with its other rows, pending ones included.
  std::int64_t DeleteRunsBefore(std::int64_t cutoff_ns) override;
  Result<void> DeleteRun(std::int64_t run_id) override;
  Result<void> AddIngestedSuite(const IngestedSuite& suite) override;
  std::vector<IngestedSuite> ListIngestedSuites() override;
  Result<Hunt> CreateHunt(Hunt hunt) override;
  std::optional<Hunt> GetHunt(std::int64_t id) override;
  std::vector<Hunt> ListHunts(const HuntQuery& query) override;
  Result<bool> EndHunt(std::int64_t id, HuntStatus status, const std::string& error,
                       std::int64_t finished_at_ns) override;
  std::optional<HuntRuns> CountHuntRuns(std::int64_t id) override;
  std::vector<Delivery> PendingDeliveries(const std::string& destination, int limit) override;
  Result<void> UpdateDelivery(const DeliveryUpdate& update) override;
  std::vector<Delivery> RunDeliveries(std::int64_t run_id) override;
  std::string LastDeliveryProgress(const std::string& destination,
                                   const std::string& suite) override;
  std::map<std::string, std::int64_t> PendingDeliveryCounts() override;
  // Replicas (pg_replicas.cc): the queue, leases, cancels and schedule firings are rows of
  // the database, so every replica on it reads the same.
  bool Shared() const override { return true; }
  Result<CreatedRun> CreateSharedRun(Run run, const std::vector<std::string>& test_names,
                                     bool exclusive) override;
  Result<std::vector<LeasedRun>> ClaimRuns(const ClaimRequest& request) override;
  Result<std::vector<LeaseState>> RenewLeases(
      const std::string& replica, const std::vector<std::pair<std::int64_t, std::int64_t>>& leases,
      std::int64_t ttl_ms) override;
  void ReleaseLeases(const std::vector<std::pair<std::int64_t, std::int64_t>>& leases) override;
  Result<Run> RequestCancel(std::int64_t run_id) override;
  Result<Run> RequestRelease(std::int64_t run_id) override;
  Result<bool> ClaimScheduleFiring(const std::string& schedule, std::int64_t due_ns,
                                   const std::string& replica) override;
  std::int64_t UnfinishedScheduleRun(const std::string& schedule) override;
  void NoteScheduleRun(const std::string& schedule, std::int64_t due_ns,
                       std::int64_t run_id) override;
  Result<bool> Lead(const std::string& holder, std::int64_t ttl_ms) override;
  Result<void> SetCodeSchedulePaused(const std::string& name, bool paused) override;
  std::optional<std::map<std::string, bool>> CodeSchedulePauses() override;
  // Upserts the one row of handoff_probe and commits, through the writer like every write.
  Result<void> ProbeWrite() override;
  // kUnsupported: a PostgreSQL database is backed up with pg_dump (or the server's own
  // backups), not by handoff.
  Result<BackupInfo> Backup(const std::string& path) override;

 private:
  // A unit of the writer's queue: a batch, or a task run on the write connection.
  struct PendingWrite {
    WriteBatch batch;
    std::function<bool(PgDb&)> task;  // instead of the batch; false rolls it back
    std::function<void(bool ok)> done;
    std::size_t ops = 0;
  };

  // A read connection checked out for one call; returned to the pool when destroyed.
  class ReadLease;

  // Creates a run as CreateRun and CreateSharedRun (`shared`) do.
  Result<CreatedRun> InsertRun(Run run, const std::vector<std::string>& test_names, bool shared,
                               bool exclusive);

  PgStore(std::string url, std::string shown_url, const PgStoreOptions& options,
          std::unique_ptr<PgDb> writer);

  void WriterLoop();
  // Applies `writes` in one transaction (starting a new one if the current one was lost),
  // then calls their callbacks in order.
  void Commit(std::vector<PendingWrite>& writes);
  // Applies one write (a task, or a batch with run updates) in its own savepoint; false if
  // it failed (rolled back).
  bool Apply(PendingWrite& write);
  // Applies the batches writes[begin, end) (none with run updates) as one if they all
  // succeed, else each in its own savepoint, and sets their `ok`: one that fails is rolled
  // back alone.
  void ApplyPipelined(std::vector<PendingWrite>& writes, std::size_t begin, std::size_t end,
                      std::vector<char>& ok);
  // Runs `task` on the write connection in its own savepoint, serialized with Write(), and
  // returns once it is committed; false if it failed or was rolled back.
  bool RunTask(std::size_t ops, std::function<bool(PgDb&)> task);
  std::int64_t Now() const;
  // The error of a synchronous write (`what`) that did not commit (logged already).
  static Error NotCommitted(std::string_view what);
  // Remembers why the last transaction failed to commit (for ProbeWrite's answer).
  void SetCommitError(std::string error);
  std::string CommitError();

  const std::string url_;        // as given: libpq needs its password
  const std::string holder_;     // this process, as the holder of its leases on runs
  const std::string shown_url_;  // without the password, for every message
  std::shared_ptr<const StoreLog> log_;  // the log this store installed, if any
  const PgStoreOptions options_;
  std::unique_ptr<PgDb> writer_;

  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<PgDb>> read_pool_;

  std::mutex commit_error_mutex_;
  std::string commit_error_;  // why the last failed commit failed

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<PendingWrite> queue_;
  bool stopping_ = false;
  std::thread writer_thread_;
};

}  // namespace handoff::store
