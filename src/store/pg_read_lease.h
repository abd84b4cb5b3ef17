#pragma once

// PgStore's read connections (see pg_store.h): a connection checked out of the pool for one
// call and returned when the lease is destroyed. Shared by the files that implement PgStore.

#include <memory>
#include <mutex>

#include "store/pg_db.h"
#include "store/pg_store.h"
#include "store/store_log.h"

namespace handoff::store {

// Idle read connections kept open; more are opened while more readers run at once.
inline constexpr std::size_t kMaxIdleReaders = 8;

class PgStore::ReadLease {
 public:
  // With `snapshot`, the reads of this lease share one read-only REPEATABLE READ
  // transaction.
  explicit ReadLease(PgStore& store, bool snapshot = false) : store_(store) {
    {
      std::lock_guard<std::mutex> lock(store.pool_mutex_);
      if (!store.read_pool_.empty()) {
        db_ = std::move(store.read_pool_.back());
        store.read_pool_.pop_back();
      }
    }
    if (db_ && !db_->EnsureConnected()) return;  // logged; kept, to be reset on next use
    if (!db_) {
      Result<std::unique_ptr<PgDb>> connected =
          PgDb::Connect(store.url_, store.shown_url_, store.options_.prepared_statements);
      if (!connected.ok()) {
        LogStoreError("read connection", connected.error().message);
        return;
      }
      db_ = std::move(connected).value();
    }
    usable_ = true;
    if (snapshot) {
      PgResult begun = db_->ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      if (!begun.ok()) {
        LogStoreError("read transaction", begun.error());
        usable_ = false;
      }
    }
  }

  ~ReadLease() {
    if (!db_) return;
    if (db_->InTransaction()) db_->ExecScript("ROLLBACK");  // it only read
    std::lock_guard<std::mutex> lock(store_.pool_mutex_);
    if (store_.read_pool_.size() < kMaxIdleReaders) store_.read_pool_.push_back(std::move(db_));
  }

  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;

  // The connection, or nullptr if none could be had (logged).
  PgDb* db() const { return usable_ ? db_.get() : nullptr; }

 private:
  PgStore& store_;
  std::unique_ptr<PgDb> db_;
  bool usable_ = false;
};

}  // namespace handoff::store
