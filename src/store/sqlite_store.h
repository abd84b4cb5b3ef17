#pragma once

// The SQLite implementation of Store.
//
// One writer thread owns the write connection: Write() only queues, and the writer commits
// everything queued (up to a cap) in one transaction, each batch inside its own savepoint so
// that one bad batch fails alone. The synchronous writes (CreateRun, schedules, retention)
// go through the same queue and wait for their commit, so every write is serialized.
// Reads use a pool of read-only connections: in WAL mode they run beside the writer and
// each other and see only committed transactions. "sqlite::memory:" has one connection,
// shared by the writer and the readers under a mutex.
//
// Its SQLite plumbing lives beside it: connections and statements (sqlite_db.h), the schema
// and its migrations (sqlite_schema.h), checks of a database file (sqlite_files.h), the lock
// of one server per database (sqlite_lock.h), online backups (sqlite_backup.h) and the SQL
// of the outbox of notifications (sqlite_deliveries.h). What any
// backend does alike (encodings, quiet attempts, the journal, planned tests) is not here.

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

class SqliteDb;

// What a test (or an embedder) may change about a SqliteStore.
struct SqliteStoreOptions {
  // The clock that stamps created_at, in nanoseconds since the Unix epoch; empty: the
  // system clock.
  std::function<std::int64_t()> now_ns;
  // How many operations (rows written) the writer puts in one transaction at most; a
  // single larger batch still goes in whole.
  std::size_t max_transaction_ops = 4096;
  // Receives the store's log lines (failed writes, corrupt values, a new database); empty:
  // they go to stderr.
  StoreLog log;
  // Time the integrity check at open may take (see CheckDatabase in sqlite_files.h).
  int integrity_check_budget_ms = 2000;
};

class SqliteStore : public Store {
 public:
  // The schema version this build writes; a database with a newer one is refused.
  static int SchemaVersion();

  // Opens "sqlite:PATH" or "sqlite::memory:", creating or migrating the schema, and starts
  // the writer thread. An existing database is checked first (bounded, see
  // sqlite_files.h): a corrupt one, or a file that is not a database, is refused
  // (kCorrupt); a missing or empty (0-byte) file is initialised as a new store, and logged
  // so. An error names the file and says why: kUnsupported for another URL, kUnavailable
  // when it cannot be opened or migrated.
  static Result<std::unique_ptr<SqliteStore>> Open(std::string_view url,
                                                   const SqliteStoreOptions& options = {});

  // Commits everything queued, then stops the writer and closes the database.
  ~SqliteStore() override;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Store
  Result<CreatedRun> CreateRun(Run run, const std::vector<std::string>& test_names) override;
  void Write(WriteBatch batch, std::function<void(bool ok)> done = nullptr) override;
  void Sync() override;
  std::optional<Run> GetRun(std::int64_t id) override;
  std::vector<Run> ListRuns(const RunQuery& query) override;
  std::vector<Run> RunsWithStatus(const std::vector<RunStatus>& statuses) override;
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
  // The outbox: WriteBatch::deliveries go in the batch's transaction; UpdateDelivery
  // commits through the writer like the schedules' writes; the rest are reads.
  std::vector<Delivery> PendingDeliveries(const std::string& destination, int limit) override;
  Result<void> UpdateDelivery(const DeliveryUpdate& update) override;
  std::vector<Delivery> RunDeliveries(std::int64_t run_id) override;
  std::string LastDeliveryProgress(const std::string& destination,
                                   const std::string& suite) override;
  std::map<std::string, std::int64_t> PendingDeliveryCounts() override;
  // Upserts one row of its own table (handoff_probe) and commits, through the writer like
  // every write: it fails while commits fail (a full disk: each commit appends to the WAL).
  Result<void> ProbeWrite() override;
  // A consistent copy, in steps, through a read connection (see sqlite_backup.h); in
  // memory, in one step under the memory lock.
  Result<BackupInfo> Backup(const std::string& path) override;

 private:
  // A unit of the writer's queue: a batch, or a task run on the write connection.
  struct PendingWrite {
    WriteBatch batch;
    std::function<bool(SqliteDb&)> task;  // instead of the batch; false rolls it back
    std::function<void(bool ok)> done;
    std::size_t ops = 0;
  };

  // A read connection checked out for one call; returned to the pool when destroyed.
  class ReadLease;

  SqliteStore(std::string path, const SqliteStoreOptions& options,
              std::unique_ptr<SqliteDb> writer);

  void WriterLoop();
  // Applies `writes` in one transaction (starting a new one if the database rolled the
  // current one back), then calls their callbacks in order.
  void Commit(std::vector<PendingWrite>& writes);
  // Runs `task` on the write connection in its own savepoint, serialized with Write(), and
  // returns once it is committed; false if it failed or was rolled back.
  bool RunTask(std::size_t ops, std::function<bool(SqliteDb&)> task);
  std::int64_t Now() const;
  // The error of a synchronous write (`what`) that did not commit (logged already).
  static Error NotCommitted(std::string_view what);
  // Remembers why the last transaction failed to commit (for ProbeWrite's answer).
  void SetCommitError(std::string error);
  std::string CommitError();

  const std::string path_;  // empty: in memory, `writer_` is the only connection
  std::shared_ptr<const StoreLog> log_;  // the log this store installed, if any
  const SqliteStoreOptions options_;
  std::unique_ptr<SqliteDb> writer_;

  // In memory only: held by the writer for a whole transaction and by each read.
  std::mutex memory_mutex_;

  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<SqliteDb>> read_pool_;

  std::mutex commit_error_mutex_;
  std::string commit_error_;  // why the last failed commit failed

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<PendingWrite> queue_;
  bool stopping_ = false;
  std::thread writer_thread_;
};

}  // namespace handoff::store
