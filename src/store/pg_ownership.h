#pragma once

// Store ownership for PostgreSQL (see store/ownership.h): a store-wide lease, one row of
// `handoff_owner`, held by a tool that must have the database to itself (`db migrate`'s
// target; `serve`'s replicas lease runs one by one instead, pg_replicas.cc):
//
//   singleton (always true), holder (who: host, pid, pid space and a random tag), host, pid,
//   token (the fencing token: it grows by one at every take-over), acquired_at, expires_at
//
// Acquiring takes the row in one transaction if it is absent or expired, by the database's
// clock (now()), so the servers' clocks never matter; a live holder refuses it (kConflict
// naming host, pid and since). A renewer thread extends expires_at every ttl/3 while the
// object lives and logs (through the store log) when the lease is lost (taken over after
// it expired) or cannot be renewed; destroying the object expires the lease at once, so the
// next server starts without waiting. A server killed without releasing blocks the next
// one for at most the ttl, except on its own machine: a holder of this host and pid space
// (the kernel's boot id and the pid namespace) whose pid no longer runs is gone, and its
// lease is taken over at once, as the kernel releases SQLite's lock of a killed server.
// No session-level advisory lock is involved, so the lease works through PgBouncer's
// transaction pooling and survives reconnections.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "store/ownership.h"

namespace handoff::store {

// What a test may change about the lease.
struct PgOwnershipOptions {
  // How long the lease lasts without renewal; it is renewed every third of it.
  std::chrono::milliseconds ttl = std::chrono::seconds(15);
};

// The lease on a PostgreSQL database, held until destroyed.
class PgOwnership : public StoreOwnership {
 public:
  ~PgOwnership() override = default;
  // The fencing token of this holder: higher than every earlier holder's.
  virtual std::int64_t token() const = 0;
};

// Takes the lease on the database at `url` (a postgres:// or postgresql:// URL). kConflict
// naming the holder (host, pid, since) while another server's lease is live; kUnavailable
// when the database cannot be reached or written. Messages and the description name the
// database by its URL without the password.
Result<std::unique_ptr<PgOwnership>> AcquirePgOwnership(const std::string& url,
                                                        const PgOwnershipOptions& options = {});

// For a replica about to serve the database at `url`: kConflict naming the holder while a
// live lease of `handoff_owner` says something has the database to itself (`db migrate`,
// or a server of a handoff from before replicas, which would run the same runs unfenced);
// ok when there is none (or no such table). kUnavailable when it cannot be read.
// `prepared_statements`: as PgDb::Connect's.
Result<void> CheckNoPgOwner(const std::string& url, bool prepared_statements = true);

}  // namespace handoff::store
