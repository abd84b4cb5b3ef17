#pragma once

// Store ownership: the promise that one server, and only one, executes the runs of a store.
// Two servers on one SQLite file would both resume the same running run, both fire the
// code schedules, and overwrite each other's cancels; so `serve` acquires ownership of its
// store at start-up, before opening it (AcquireStoreOwnership in store/open_store.h), and
// holds it until it exits.
//
// SQLite: an exclusive lock on a file beside the database, `<db>.lock`, held with flock(2)
// for the life of the process (as PostgreSQL's postmaster.pid and Prometheus' TSDB `lock`).
// The kernel releases the lock when the process ends, however it ends (SIGKILL, a crash), so
// a lock file left behind by a dead server never blocks the next one. The file holds the
// holder's pid, host and start time, which a second server quotes when it is refused. The
// descriptor is close-on-exec: workers never inherit the lock.
//
// In memory ("sqlite::memory:") nothing is shared, so there is nothing to lock.
//
// PostgreSQL: `serve` takes no store-wide ownership: replicas share the database, and each
// run is leased by the replica executing it (rows claimed with an expiry and a fencing
// token, renewed while the run executes: Store::ClaimRuns and WriteBatch::fences), so that
// replicas never execute one run twice. The store-wide lease, the one row of `handoff_owner`
// with an expiry and a fencing token (pg_ownership.h), is what `db migrate` takes on its
// target.
//
// Tools that only read the database (`backup`) take no ownership: they work beside a
// running server.

#include <memory>
#include <string>

namespace handoff::store {

// Ownership of a store, held until the object is destroyed.
class StoreOwnership {
 public:
  // Releases the ownership.
  virtual ~StoreOwnership() = default;

  // What holds the ownership, for the server's log ("lock file /data/h.db.lock").
  virtual std::string Description() const = 0;
};

}  // namespace handoff::store
