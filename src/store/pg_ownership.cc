// Store ownership for PostgreSQL: the lease row (see pg_ownership.h).

#include "store/pg_ownership.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <string_view>
#include <vector>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include "store/pg_db.h"
#include "store/pg_holder.h"
#include "store/pg_schema.h"
#include "store/pg_url.h"
#include "store/store_log.h"

namespace handoff::store {
namespace {

// Created here, not by the schema's migrations: a server takes ownership before it opens
// the store. Under the schema's advisory lock, like every creation of a table.
constexpr const char* kCreateOwner =
    "CREATE TABLE IF NOT EXISTS handoff_owner ("
    "singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton), "
    "holder TEXT NOT NULL, host TEXT NOT NULL, pid BIGINT NOT NULL, token BIGINT NOT NULL, "
    "acquired_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL)";
constexpr const char* kSelectOwner =
    "SELECT holder, host, pid, token, "
    "to_char(acquired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "expires_at > now(), ceil(extract(epoch FROM expires_at - now()))::bigint "
    "FROM handoff_owner FOR UPDATE";
constexpr const char* kTakeOwner =
    "INSERT INTO handoff_owner (singleton, holder, host, pid, token, acquired_at, expires_at) "
    "VALUES (TRUE, $1, $2, $3, $4, now(), now() + $5 * interval '1 millisecond') "
    "ON CONFLICT (singleton) DO UPDATE SET holder = excluded.holder, host = excluded.host, "
    "pid = excluded.pid, token = excluded.token, acquired_at = excluded.acquired_at, "
    "expires_at = excluded.expires_at";
// Only this holder's lease, by its token: a lease taken over is never extended.
constexpr const char* kRenew =
    "UPDATE handoff_owner SET expires_at = now() + $3 * interval '1 millisecond' "
    "WHERE holder = $1 AND token = $2";
// Expired, not deleted: the next holder's token must still be higher.
constexpr const char* kRelease =
    "UPDATE handoff_owner SET expires_at = now() WHERE holder = $1 AND token = $2";
constexpr const char* kSelectHolder = "SELECT host, pid, token FROM handoff_owner";

class Lease : public PgOwnership {
 public:
  Lease(std::unique_ptr<PgDb> db, std::string holder, std::int64_t token,
        std::chrono::milliseconds ttl)
      : db_(std::move(db)), holder_(std::move(holder)), token_(token), ttl_(ttl) {
    renewer_ = std::thread([this] { RenewLoop(); });
  }

  ~Lease() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    renewer_.join();
    if (lost_ || !db_->EnsureConnected()) return;  // it expires on its own
    PgResult released = db_->Exec(kRelease, Params());
    if (!released.ok()) {
      WriteStoreLog(LogLevel::kWarn, "could not release the lease on the database",
                    fmt::format("{}: {}; it expires within {} ms", db_->shown_url(),
                                released.error(), ttl_.count()));
    }
  }

  std::string Description() const override {
    return "lease on postgres database " + db_->shown_url();
  }
  std::int64_t token() const override { return token_; }

 private:
  PgParams Params() const {
    PgParams params;
    params.Add(holder_).Add(token_);
    return params;
  }

  void RenewLoop() {
    auto renewed_at = std::chrono::steady_clock::now();
    bool late_logged = false;
    std::unique_lock lock(mutex_);
    while (!cv_.wait_for(lock, ttl_ / 3, [this] { return stopping_; })) {
      lock.unlock();
      const Renewal renewal = Renew();
      lock.lock();
      if (renewal == Renewal::kRenewed) {
        renewed_at = std::chrono::steady_clock::now();
        late_logged = false;
      } else if (renewal == Renewal::kLost) {
        lost_ = true;
        return;
      } else if (!late_logged && std::chrono::steady_clock::now() - renewed_at >= ttl_) {
        late_logged = true;
        WriteStoreLog(LogLevel::kError, "the lease on the database may have expired",
                      fmt::format("{}: not renewed for {} ms; another server may take it over",
                                  db_->shown_url(), ttl_.count()));
      }
    }
  }

  enum class Renewal { kRenewed, kFailed, kLost };

  Renewal Renew() {
    if (!db_->EnsureConnected()) return Renewal::kFailed;  // logged
    PgParams params = Params();
    params.Add(static_cast<std::int64_t>(ttl_.count()));
    PgResult renewed = db_->Exec(kRenew, params);
    if (!renewed.ok()) return Renewal::kFailed;  // logged
    if (renewed.Affected() > 0) return Renewal::kRenewed;
    PgResult holder = db_->Exec(kSelectHolder);
    WriteStoreLog(
        LogLevel::kError, "lost the lease on the database: another server holds it",
        holder.rows() == 1
            ? fmt::format("{}: pid {} on host {} took it over (token {}, ours {})",
                          db_->shown_url(), holder.Int(0, 1), holder.Text(0, 0),
                          holder.Int(0, 2), token_)
            : fmt::format("{}: the lease row is gone", db_->shown_url()));
    return Renewal::kLost;
  }

  std::unique_ptr<PgDb> db_;
  const std::string holder_;
  const std::int64_t token_;
  const std::chrono::milliseconds ttl_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool lost_ = false;  // written by the renewer, read after it is joined
  std::thread renewer_;
};

}  // namespace

Result<std::unique_ptr<PgOwnership>> AcquirePgOwnership(const std::string& url,
                                                        const PgOwnershipOptions& options) {
  const std::string shown = PostgresUrlWithoutPassword(url);
  Result<std::unique_ptr<PgDb>> connected = PgDb::Connect(url, shown);
  if (!connected.ok()) return std::move(connected).error();
  std::unique_ptr<PgDb> db = std::move(connected).value();
  auto unavailable = [&](std::string_view what, std::string detail) -> Error {
    if (db->InTransaction()) db->ExecScript("ROLLBACK");
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot take ownership of database \"{}\": {}: {}", shown, what,
                             detail)};
  };
  PgResult begun = db->ExecScript(
      fmt::format("BEGIN; SELECT pg_advisory_xact_lock({}); {}", kPgSchemaLock, kCreateOwner));
  if (!begun.ok()) return unavailable("cannot create its lease table", begun.error());
  PgResult current = db->Exec(kSelectOwner);
  if (!current.ok()) return unavailable("cannot read its lease", current.error());
  std::int64_t token = 1;
  if (current.rows() == 1) {
    const bool gone = current.Bool(0, 5) && HolderIsGone(current.View(0, 0));
    if (gone) {
      WriteStoreLog(LogLevel::kInfo, "taking over the lease of a server that is gone",
                    fmt::format("{}: pid {} on this host held it and no longer runs", shown,
                                current.Int(0, 2)));
    }
    if (current.Bool(0, 5) && !gone) {
      db->ExecScript("ROLLBACK");
      return Error{ErrorCode::kConflict,
                   fmt::format("database \"{}\" is in use by another handoff server: pid {} on "
                               "host {} since {} (its lease in table handoff_owner expires in "
                               "{} s unless renewed). One server per PostgreSQL database: stop "
                               "that server, or use another --db",
                               shown, current.Int(0, 2), current.Text(0, 1),
                               current.Text(0, 4), current.Int(0, 6))};
    }
    token = current.Int(0, 3) + 1;
  }
  const std::string host = HostName();
  const std::string holder = MakeHolder(host);
  PgParams take;
  take.Add(holder).Add(host).Add(static_cast<std::int64_t>(::getpid())).Add(token)
      .Add(static_cast<std::int64_t>(options.ttl.count()));
  PgResult taken = db->Exec(kTakeOwner, take);
  if (!taken.ok()) return unavailable("cannot write its lease", taken.error());
  PgResult committed = db->ExecScript("COMMIT");
  if (!committed.ok()) return unavailable("cannot commit its lease", committed.error());
  return std::unique_ptr<PgOwnership>(
      std::make_unique<Lease>(std::move(db), holder, token, options.ttl));
}

Result<void> CheckNoPgOwner(const std::string& url, bool prepared_statements) {
  const std::string shown = PostgresUrlWithoutPassword(url);
  Result<std::unique_ptr<PgDb>> connected = PgDb::Connect(url, shown, prepared_statements);
  if (!connected.ok()) return std::move(connected).error();
  PgDb& db = **connected;
  PgResult exists = db.Exec("SELECT to_regclass('handoff_owner') IS NOT NULL");
  if (!exists.ok() || exists.rows() != 1) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("database \"{}\": cannot read its lease table: {}", shown,
                             exists.error())};
  }
  if (!exists.Bool(0, 0)) return {};
  PgResult current = db.Exec(
      "SELECT holder, host, pid, "
      "to_char(acquired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
      "FROM handoff_owner WHERE expires_at > now()");
  if (!current.ok()) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("database \"{}\": cannot read its lease: {}", shown,
                             current.error())};
  }
  if (current.rows() == 0 || HolderIsGone(current.View(0, 0))) return {};
  return Error{ErrorCode::kConflict,
               fmt::format("database \"{}\" is held by pid {} on host {} since {} (table "
                           "handoff_owner): a `db migrate` into it, or a handoff server from "
                           "before replicas, which would execute the same runs. Stop it (an "
                           "older server: upgrade it), then start the replicas",
                           shown, current.Int(0, 2), current.Text(0, 1), current.Text(0, 3))};
}

}  // namespace handoff::store
