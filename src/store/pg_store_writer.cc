// PgStore's writer (see pg_store.h): the queue, the thread that drains it, and the
// transactions it commits. Every write of the store goes through here.

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <future>
#include <iterator>
#include <optional>
#include <span>
#include <utility>

#include "store/pg_batch_writes.h"
#include "store/pg_db.h"
#include "store/pg_records.h"
#include "store/pg_store.h"
#include "store/store_log.h"

namespace handoff::store {
namespace {

constexpr const char* kSavepoint = "SAVEPOINT write";
constexpr const char* kRelease = "RELEASE SAVEPOINT write";
constexpr const char* kRollbackToSavepoint =
    "ROLLBACK TO SAVEPOINT write; RELEASE SAVEPOINT write";

// Undoes a write that failed inside the writer's transaction. If even that fails (the
// savepoint never began, the connection is gone), the whole transaction is rolled back:
// the caller sees it is no longer in one.
void RollBackWrite(PgDb& db) {
  if (!db.InTransaction()) return;
  PgResult undone = db.ExecScript(kRollbackToSavepoint);
  if (!undone.ok() || db.TransactionFailed()) db.ExecScript("ROLLBACK");
}

// Fails (SQLSTATE HF001) unless every (run id, token) is a run's current lease, and keeps
// those leases from changing until the transaction ends (schema version 2).
constexpr const char* kFence = "SELECT handoff_fence($1, $2)";

// Returns the check of `batches`' fences (WriteBatch::fences), or nullopt if they have none.
std::optional<PgCall> FenceCall(std::span<const WriteBatch* const> batches) {
  std::vector<std::pair<std::int64_t, std::int64_t>> fences;
  for (const WriteBatch* batch : batches) {
    fences.insert(fences.end(), batch->fences.begin(), batch->fences.end());
  }
  if (fences.empty()) return std::nullopt;
  std::sort(fences.begin(), fences.end());
  fences.erase(std::unique(fences.begin(), fences.end()), fences.end());
  PgArray ids(PgArray::Of::kBigint);
  PgArray tokens(PgArray::Of::kBigint);
  for (const auto& [id, token] : fences) {
    ids.Add(id);
    tokens.Add(token);
  }
  PgParams params;
  params.Add(std::move(ids)).Add(std::move(tokens));
  return PgCall{kFence, std::move(params)};
}

void AddFenceCall(std::span<const WriteBatch* const> batches, std::vector<PgCall>& calls) {
  if (std::optional<PgCall> fence = FenceCall(batches)) calls.push_back(std::move(*fence));
}

// Returns true for a batch that can share a pipeline with others: one without run
// updates, each of which must find its run before the batch's savepoint is released.
bool Pipelines(const WriteBatch& batch) { return batch.run_updates.empty(); }

// Writes a batch with run updates inside the open transaction, in savepoint "write"
// (released on success): the updates one at a time, each checked, then the rest in one
// pipeline.
bool ApplyBatchWithUpdates(PgDb& db, const WriteBatch& batch) {
  if (!db.ExecScript(kSavepoint).ok()) return false;
  const WriteBatch* self[] = {&batch};
  if (std::optional<PgCall> fence = FenceCall(self)) {
    if (!db.Exec(fence->sql, fence->params).ok()) return false;
  }
  for (const RunUpdate& update : batch.run_updates) {
    if (!UpdatePgRun(db, update)) return false;
  }
  std::vector<PgCall> calls;
  const WriteBatch* batches[] = {&batch};
  AddBatchCalls(batches, calls);
  calls.push_back(PgCall{kRelease, {}});
  return db.Pipeline(calls) == calls.size();
}

// Writes the batches `writes[begin, end)` as one, in savepoint "write" (released on
// success): one statement a table for all of their rows. False (rolled back to the
// savepoint, or out of the transaction if even that failed) if any of them failed; the
// failure is not logged, as the batch that caused it is found and logged after.
bool ApplyBatchesAsOne(PgDb& db, const std::vector<const WriteBatch*>& batches) {
  std::vector<PgCall> calls;
  calls.push_back(PgCall{kSavepoint, {}});
  AddFenceCall(batches, calls);
  AddBatchCalls(batches, calls);
  calls.push_back(PgCall{kRelease, {}});
  if (db.Pipeline(calls, PgDb::Failures::kQuiet) == calls.size()) return true;
  RollBackWrite(db);
  return false;
}

}  // namespace

void PgStore::WriterLoop() {
  for (;;) {
    std::vector<PendingWrite> writes;
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is committed
      std::size_t ops = 0;
      while (!queue_.empty() &&
             (writes.empty() || ops + queue_.front().ops <= options_.max_transaction_ops)) {
        ops += queue_.front().ops;
        writes.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    Commit(writes);
  }
}

bool PgStore::Apply(PendingWrite& write) {
  PgDb& db = *writer_;
  bool applied = false;
  try {
    if (write.task) {
      PgResult begun = db.ExecScript(kSavepoint);
      if (!begun.ok()) {
        LogStoreError(kSavepoint, begun.error());
      } else {
        applied = write.task(db);
        if (applied) {
          PgResult released = db.ExecScript(kRelease);
          if (!released.ok()) LogStoreError(kRelease, released.error());
          applied = released.ok();
        }
      }
    } else {
      applied = ApplyBatchWithUpdates(db, write.batch);
    }
  } catch (const std::exception& e) {
    LogStoreError("write", e.what());
    applied = false;
  } catch (...) {
    LogStoreError("write", "unknown exception");
    applied = false;
  }
  if (!applied) RollBackWrite(db);
  return applied;
}

void PgStore::ApplyPipelined(std::vector<PendingWrite>& writes, std::size_t begin,
                             std::size_t end, std::vector<char>& ok) {
  PgDb& db = *writer_;
  // All of them as one first: a statement a table instead of a few a batch, and one
  // savepoint. This is what nearly always happens; the batches' rows end as written one
  // after the other (pg_batch_writes.h).
  if (end - begin > 1) {
    std::vector<const WriteBatch*> batches;
    for (std::size_t i = begin; i < end; ++i) batches.push_back(&writes[i].batch);
    if (ApplyBatchesAsOne(db, batches)) {
      std::fill(ok.begin() + static_cast<std::ptrdiff_t>(begin),
                ok.begin() + static_cast<std::ptrdiff_t>(end), 1);
      return;
    }
    if (!db.InTransaction()) {
      LogStoreError("write", db.Connected() ? "the transaction failed" : db.ErrorMessage());
      return;  // the caller fails the whole transaction
    }
  }
  // One of them failed (or there is only one): each in its own savepoint, in one pipeline:
  //   SAVEPOINT write; <batch 1>; RELEASE; SAVEPOINT write; <batch 2>; RELEASE; ...
  // The server stops at a failure, so the batches before the failed one are applied, the
  // failed one is rolled back to its savepoint, and those after it go again in a new
  // pipeline: one bad batch fails alone, as it would on its own.
  std::size_t next = begin;
  while (next < end) {
    std::vector<PgCall> calls;
    std::vector<std::size_t> ends;  // per batch from `next`: one past its last call
    for (std::size_t i = next; i < end; ++i) {
      calls.push_back(PgCall{kSavepoint, {}});
      const WriteBatch* batch[] = {&writes[i].batch};
      AddFenceCall(batch, calls);
      AddBatchCalls(batch, calls);
      calls.push_back(PgCall{kRelease, {}});
      ends.push_back(calls.size());
    }
    const std::size_t succeeded = db.Pipeline(calls);
    std::size_t failed = next;  // the batch of the first call that did not succeed
    for (std::size_t k = 0; k < ends.size() && ends[k] <= succeeded; ++k) {
      ok[failed++] = 1;
    }
    if (failed == end) return;
    ok[failed] = 0;
    RollBackWrite(db);
    if (!db.InTransaction()) return;  // the caller fails the whole transaction
    next = failed + 1;
  }
}

void PgStore::Commit(std::vector<PendingWrite>& writes) {
  std::vector<char> ok(writes.size(), 0);
  PgDb& db = *writer_;
  if (!db.EnsureConnected()) {
    SetCommitError(fmt::format("cannot connect to database \"{}\": {}", shown_url_,
                               db.ErrorMessage()));
  } else {
    bool in_transaction = false;
    std::size_t first = 0;  // the first write of the open transaction
    for (std::size_t i = 0; i < writes.size();) {
      if (!in_transaction) {
        first = i;
        PgResult begun = db.ExecScript("BEGIN");
        in_transaction = begun.ok();
        if (!in_transaction) {
          // A lost connection that could not be re-established says why in its own error.
          std::string error = db.Connected() ? begun.error() : db.ErrorMessage();
          LogStoreError("BEGIN", error);
          SetCommitError(fmt::format("database \"{}\": {}", shown_url_, error));
          if (!db.Connected()) break;
          ++i;
          continue;
        }
      }
      // A run of plain batches shares one pipeline; tasks and run updates go one by one.
      std::size_t end = i + 1;
      if (!writes[i].task && Pipelines(writes[i].batch)) {
        while (end < writes.size() && !writes[end].task && Pipelines(writes[end].batch)) ++end;
        ApplyPipelined(writes, i, end, ok);
      } else {
        ok[i] = Apply(writes[i]);
      }
      if (!db.InTransaction()) {
        // The whole transaction is gone (the connection was lost, or it failed beyond a
        // savepoint): every write since BEGIN is lost.
        std::fill(ok.begin() + static_cast<std::ptrdiff_t>(first),
                  ok.begin() + static_cast<std::ptrdiff_t>(end), 0);
        in_transaction = false;
        if (!db.Connected()) {
          SetCommitError(fmt::format("database \"{}\": {}", shown_url_, db.ErrorMessage()));
          break;  // the rest fail too; the connection is reset before the next transaction
        }
      }
      i = end;
    }
    if (in_transaction) {
      // COMMIT of a failed transaction "succeeds" as a rollback: never let it.
      PgResult committed = db.TransactionFailed() ? PgResult(nullptr, "the transaction failed")
                                                  : db.ExecScript("COMMIT");
      if (!committed.ok()) {
        LogStoreError("COMMIT", committed.error());
        SetCommitError(fmt::format("database \"{}\": {}", shown_url_, committed.error()));
        if (db.InTransaction()) db.ExecScript("ROLLBACK");
        std::fill(ok.begin() + static_cast<std::ptrdiff_t>(first), ok.end(), 0);
      } else {
        NoteStoreWriteCommitted();
      }
    }
  }
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (!writes[i].done) continue;
    try {
      writes[i].done(ok[i] != 0);
    } catch (const std::exception& e) {
      LogStoreError("write callback", e.what());
    } catch (...) {
      LogStoreError("write callback", "unknown exception");
    }
  }
}

bool PgStore::RunTask(std::size_t ops, std::function<bool(PgDb&)> task) {
  std::promise<bool> committed;
  std::future<bool> result = committed.get_future();
  PendingWrite write;
  write.task = std::move(task);
  write.ops = ops;
  write.done = [&committed](bool ok) { committed.set_value(ok); };
  if (std::this_thread::get_id() == writer_thread_.get_id()) {
    // Called from a write callback: the writer is between transactions, so run it here
    // rather than wait for ourselves.
    std::vector<PendingWrite> writes;
    writes.push_back(std::move(write));
    Commit(writes);
  } else {
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      queue_.push_back(std::move(write));
    }
    queue_cv_.notify_one();
  }
  return result.get();
}

void PgStore::Write(WriteBatch batch, std::function<void(bool ok)> done) {
  PendingWrite write;
  write.ops = std::max<std::size_t>(1, batch.run_updates.size() + batch.tests.size() +
                                           batch.attempts.size() + batch.events.size() +
                                           batch.deliveries.size() + batch.attachments.size());
  write.batch = std::move(batch);
  write.done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back(std::move(write));
  }
  queue_cv_.notify_one();
}

void PgStore::Sync() {
  if (std::this_thread::get_id() == writer_thread_.get_id()) {
    // Called from a write callback: commit what is queued here rather than wait for
    // ourselves.
    std::vector<PendingWrite> writes;
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      writes.assign(std::make_move_iterator(queue_.begin()),
                    std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    if (!writes.empty()) Commit(writes);
    return;
  }
  RunTask(0, [](PgDb&) { return true; });
}

}  // namespace handoff::store
