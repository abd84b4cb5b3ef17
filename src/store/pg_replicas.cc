// PgStore's side of replicas (issue 17; store.h, "Several replicas on one store"): claims of
// queued runs and of runs whose lease expired, lease renewal and release, cancels, and the
// one firing of a schedule's due time. Each is its own short transaction on a connection of
// the read pool, never the writer's, so that a claim or a renewal never waits behind a
// batch of results. Lease times are the database's clock (now()), so replicas' clocks never
// matter; no session-level state (advisory locks, LISTEN) is relied on, so all of it works
// through PgBouncer's transaction pooling.

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "store/pg_db.h"
#include "store/pg_holder.h"
#include "store/pg_read_lease.h"
#include "store/pg_records.h"
#include "store/pg_schema.h"
#include "store/pg_store.h"
#include "store/store_log.h"

namespace handoff::store {
namespace {

// $1: the holders known to be gone (pg_holder.h), whose leases hold nothing. An ingested
// run is never claimed: it is written whole by the replica that took the report, and has
// nothing to execute.
constexpr const char* kClaimable =
    "status IN ('queued', 'running', 'held') AND run_trigger <> 'ingest' AND (lease_expires_at IS NULL "
    "OR lease_expires_at < now() OR lease_holder = ANY($1))";

// The holders of live leases, to find those that are gone.
constexpr const char* kLiveHolders =
    "SELECT DISTINCT lease_holder FROM runs WHERE status IN ('queued', 'running', 'held') "
    "AND lease_expires_at >= now() AND lease_holder <> ''";

// The suites with a run leased now: none of their other runs may start. $1 as above.
constexpr const char* kBusySuites =
    "SELECT DISTINCT suite FROM runs WHERE status IN ('queued', 'running', 'held') "
    "AND lease_expires_at >= now() AND NOT lease_holder = ANY($1)";

// Each row alone (FOR UPDATE SKIP LOCKED): a row a writer is fencing, or another claim
// holds, is left for the next claim.
const std::string& ClaimSql() {
  static const std::string sql = fmt::format(
      "UPDATE runs SET replica = $2, lease_token = lease_token + 1, "
      "lease_expires_at = clock_timestamp() + $3 * interval '1 millisecond', lease_holder = $4 "
      "WHERE id IN (SELECT id FROM runs WHERE id = ANY($5) AND {} FOR UPDATE SKIP LOCKED) "
      "RETURNING {}, lease_token, cancel_requested",
      kClaimable, kPgRunColumns);
  return sql;
}

// One lease at a time, each statement its own transaction: a renewal holds one row lock at
// a time, so it can wait for a writer's fence but never deadlock with it. Whatever the run's
// status: a run whose final state just committed is still this replica's.
constexpr const char* kRenew =
    "UPDATE runs SET lease_expires_at = now() + $3 * interval '1 millisecond' "
    "WHERE id = $1 AND lease_token = $2 AND replica = $4 RETURNING cancel_requested, "
    "release_requested";
// The token moves on too: a renewal that read the lease before it was released cannot
// extend it again.
constexpr const char* kRelease =
    "UPDATE runs SET lease_expires_at = now() - interval '1 millisecond', "
    "lease_token = lease_token + 1 WHERE id = $1 AND lease_token = $2";
constexpr const char* kRequestCancel =
    "UPDATE runs SET cancel_requested = TRUE WHERE id = $1 "
    "AND status IN ('queued', 'running', 'held') RETURNING ";
constexpr const char* kRequestRelease =
    "UPDATE runs SET release_requested = TRUE WHERE id = $1 AND status = 'held' RETURNING ";
constexpr const char* kClaimFiring =
    "INSERT INTO schedule_firings (schedule, due_at, replica) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING";
// A day of firings is kept (what `psql` may want to look at); older ones go as new ones come.
constexpr const char* kForgetFirings =
    "DELETE FROM schedule_firings WHERE schedule = $1 AND due_at < $2";
constexpr std::int64_t kFiringsKeptNs = 24LL * 3600 * 1'000'000'000;
constexpr const char* kUnfinishedScheduleRun =
    "SELECT id FROM runs WHERE schedule = $1 AND schedule <> '' "
    "AND status IN ('queued', 'running', 'held') ORDER BY id DESC LIMIT 1";

// Taken when free or expired, kept by its holder; answers a row only to the holder.
constexpr const char* kLead =
    "INSERT INTO replica_lead (singleton, holder, expires_at) "
    "VALUES (TRUE, $1, now() + $2 * interval '1 millisecond') "
    "ON CONFLICT (singleton) DO UPDATE SET holder = excluded.holder, "
    "expires_at = excluded.expires_at "
    "WHERE replica_lead.holder = excluded.holder OR replica_lead.expires_at < now() "
    "RETURNING holder";

Error Unavailable(PgDb* db, std::string_view what, std::string_view detail) {
  if (db != nullptr && db->InTransaction()) db->ExecScript("ROLLBACK");
  LogStoreError(what, detail);
  return Error{ErrorCode::kUnavailable, fmt::format("{}: {}", what, detail)};
}

}  // namespace

Result<std::vector<LeasedRun>> PgStore::ClaimRuns(const ClaimRequest& request) {
  const int limit = request.limit;
  const std::int64_t only_run = request.only_run;
  if (limit <= 0) return std::vector<LeasedRun>{};
  ReadLease lease(*this);
  PgDb* db = lease.db();
  if (db == nullptr) return Unavailable(nullptr, "claim of runs", "no connection to the database");
  // Claims are made one at a time (a transaction-level lock: released at COMMIT), so that
  // the busy suites one reads are not changed by another claim before it commits.
  PgResult begun =
      db->ExecScript(fmt::format("BEGIN; SELECT pg_advisory_xact_lock({})", kPgClaimLock));
  if (!begun.ok()) return Unavailable(db, "claim of runs", begun.error());
  PgResult holders = db->Exec(kLiveHolders);
  if (!holders.ok()) return Unavailable(db, "claim of runs", holders.error());
  std::vector<std::string> gone;
  for (int row = 0; row < holders.rows(); ++row) {
    if (HolderIsGone(holders.View(row, 0))) gone.push_back(holders.Text(row, 0));
  }
  auto with_gone = [&gone] {
    PgArray holders(PgArray::Of::kText);
    for (const std::string& holder : gone) holders.AddText(holder);
    PgParams params;
    params.Add(std::move(holders));
    return params;
  };
  std::vector<std::int64_t> chosen;
  if (only_run != 0) {
    PgParams params = with_gone();
    params.Add(only_run);
    PgResult found = db->Exec(fmt::format("SELECT id FROM runs WHERE {} AND id = $2", kClaimable),
                              params);
    if (!found.ok()) return Unavailable(db, "claim of runs", found.error());
    if (found.rows() == 1) chosen.push_back(only_run);
  } else {
    // The first claimable run of each suite that is not busy (one run of a suite at a time):
    // a long queue of one suite never hides another suite's runs.
    PgResult busy = db->Exec(kBusySuites, with_gone());
    if (!busy.ok()) return Unavailable(db, "claim of runs", busy.error());
    PgArray busy_suites(PgArray::Of::kText);
    for (int row = 0; row < busy.rows(); ++row) busy_suites.AddText(busy.View(row, 0));
    PgParams params = with_gone();
    params.Add(std::move(busy_suites));
    std::string sql = fmt::format(
        "SELECT DISTINCT ON (suite) id, status IN ('running', 'held'), hunt_id <> 0 FROM runs "
        "WHERE {} "
        "AND NOT suite = ANY($2)",
        kClaimable);
    if (!request.suites.empty()) {
      PgArray suites(PgArray::Of::kText);
      for (const std::string& suite : request.suites) suites.AddText(suite);
      params.Add(std::move(suites));
      sql += " AND suite = ANY($3)";
    }
    // A hunt's runs queue behind the suite's others (issue 21: a hunt never starves them).
    sql += " ORDER BY suite, (status IN ('running', 'held')) DESC, hunt_id <> 0, id";
    PgResult candidates = db->Exec(sql, params);
    if (!candidates.ok()) return Unavailable(db, "claim of runs", candidates.error());
    // Runs whose replica is gone first (they were running), then the oldest, hunts' runs
    // after every other.
    std::vector<std::tuple<bool, bool, std::int64_t>> firsts;
    for (int row = 0; row < candidates.rows(); ++row) {
      firsts.emplace_back(!candidates.Bool(row, 1), candidates.Bool(row, 2),
                          candidates.Int(row, 0));
    }
    std::sort(firsts.begin(), firsts.end());
    for (const auto& [queued, hunt, id] : firsts) {
      if (static_cast<int>(chosen.size()) >= limit) break;
      chosen.push_back(id);
    }
  }
  std::vector<LeasedRun> claimed;
  if (!chosen.empty()) {
    PgArray ids(PgArray::Of::kBigint);
    for (std::int64_t id : chosen) ids.Add(id);
    PgParams claim = with_gone();
    claim.Add(request.replica).Add(request.ttl_ms).Add(holder_).Add(std::move(ids));
    PgResult updated = db->Exec(ClaimSql(), claim);
    if (!updated.ok()) return Unavailable(db, "claim of runs", updated.error());
    const int columns = updated.columns();
    std::map<std::int64_t, LeasedRun> by_id;
    for (int row = 0; row < updated.rows(); ++row) {
      LeasedRun leased;
      leased.run = ReadPgRun(updated, row);
      leased.lease_token = updated.Int(row, columns - 2);
      leased.cancel_requested = updated.Bool(row, columns - 1);
      by_id.emplace(leased.run.id, std::move(leased));
    }
    for (std::int64_t id : chosen) {  // in the order chosen: resumed first, then oldest
      auto it = by_id.find(id);
      if (it != by_id.end()) claimed.push_back(std::move(it->second));
    }
  }
  PgResult committed = db->ExecScript("COMMIT");
  if (!committed.ok()) return Unavailable(db, "claim of runs", committed.error());
  return claimed;
}

Result<std::vector<LeaseState>> PgStore::RenewLeases(
    const std::string& replica, const std::vector<std::pair<std::int64_t, std::int64_t>>& leases,
    std::int64_t ttl_ms) {
  std::vector<LeaseState> states;
  if (leases.empty()) return states;
  ReadLease lease(*this);
  PgDb* db = lease.db();
  if (db == nullptr) return Unavailable(nullptr, "lease renewal", "no connection to the database");
  for (const auto& [id, token] : leases) {
    PgParams params;
    params.Add(id).Add(token).Add(ttl_ms).Add(replica);
    PgResult renewed = db->Exec(kRenew, params);
    if (!renewed.ok()) return Unavailable(db, "lease renewal", renewed.error());
    LeaseState state;
    state.run_id = id;
    state.held = renewed.rows() == 1;
    state.cancel_requested = state.held && renewed.Bool(0, 0);
    state.release_requested = state.held && renewed.Bool(0, 1);
    states.push_back(state);
  }
  return states;
}

void PgStore::ReleaseLeases(const std::vector<std::pair<std::int64_t, std::int64_t>>& leases) {
  if (leases.empty()) return;
  ReadLease lease(*this);
  PgDb* db = lease.db();
  if (db == nullptr) return;  // logged; the leases run out on their own
  for (const auto& [id, token] : leases) {
    PgParams params;
    params.Add(id).Add(token);
    if (!db->Exec(kRelease, params).ok()) return;  // logged
  }
}

Result<Run> PgStore::RequestCancel(std::int64_t run_id) {
  static const std::string sql = std::string(kRequestCancel) + std::string(kPgRunColumns);
  {
    ReadLease lease(*this);
    PgDb* db = lease.db();
    if (db == nullptr) return Unavailable(nullptr, "cancel", "no connection to the database");
    PgParams params;
    params.Add(run_id);
    PgResult updated = db->Exec(sql, params);
    if (!updated.ok()) return Unavailable(db, "cancel", updated.error());
    if (updated.rows() == 1) return ReadPgRun(updated, 0);
  }
  std::optional<Run> run = GetRun(run_id);
  if (!run) return Error{ErrorCode::kNotFound, fmt::format("no run with id {}", run_id)};
  return *run;  // finished already
}

Result<Run> PgStore::RequestRelease(std::int64_t run_id) {
  static const std::string sql = std::string(kRequestRelease) + std::string(kPgRunColumns);
  {
    ReadLease lease(*this);
    PgDb* db = lease.db();
    if (db == nullptr) return Unavailable(nullptr, "release", "no connection to the database");
    PgParams params;
    params.Add(run_id);
    PgResult updated = db->Exec(sql, params);
    if (!updated.ok()) return Unavailable(db, "release", updated.error());
    if (updated.rows() == 1) return ReadPgRun(updated, 0);
  }
  std::optional<Run> run = GetRun(run_id);
  if (!run) return Error{ErrorCode::kNotFound, fmt::format("no run with id {}", run_id)};
  return Error{ErrorCode::kConflict, fmt::format("run {} is not held (it is {})", run_id,
                                                 RunStatusName(run->status))};
}

Result<bool> PgStore::ClaimScheduleFiring(const std::string& schedule, std::int64_t due_ns,
                                          const std::string& replica) {
  ReadLease lease(*this);
  PgDb* db = lease.db();
  if (db == nullptr) {
    return Unavailable(nullptr, "schedule firing", "no connection to the database");
  }
  PgParams params;
  params.Add(schedule).Add(due_ns).Add(replica);
  PgResult inserted = db->Exec(kClaimFiring, params);
  if (!inserted.ok()) return Unavailable(db, "schedule firing", inserted.error());
  const bool won = inserted.Affected() == 1;
  if (won) {
    PgParams old;
    old.Add(schedule).Add(due_ns - kFiringsKeptNs);
    db->Exec(kForgetFirings, old);  // best effort: logged if it fails
  }
  return won;
}

Result<bool> PgStore::Lead(const std::string& holder, std::int64_t ttl_ms) {
  ReadLease lease(*this);
  PgDb* db = lease.db();
  if (db == nullptr) return Unavailable(nullptr, "lead", "no connection to the database");
  PgParams params;
  params.Add(holder).Add(ttl_ms);
  PgResult led = db->Exec(kLead, params);
  if (!led.ok()) return Unavailable(db, "lead", led.error());
  return led.rows() == 1;
}

Result<void> PgStore::SetCodeSchedulePaused(const std::string& name, bool paused) {
  ReadLease lease(*this);
  PgDb* db = lease.db();
  if (db == nullptr) return Unavailable(nullptr, "schedule pause", "no connection to the database");
  PgParams params;
  params.Add(name).Add(paused);
  PgResult written = db->Exec(
      "INSERT INTO code_schedule_pauses (name, paused) VALUES ($1, $2) "
      "ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
      params);
  if (!written.ok()) return Unavailable(db, "schedule pause", written.error());
  return {};
}

std::optional<std::map<std::string, bool>> PgStore::CodeSchedulePauses() {
  ReadLease lease(*this);
  PgDb* db = lease.db();
  if (db == nullptr) return std::nullopt;
  PgResult r = db->Exec("SELECT name, paused FROM code_schedule_pauses");
  if (!r.ok()) return std::nullopt;
  std::map<std::string, bool> pauses;
  for (int row = 0; row < r.rows(); ++row) pauses[r.Text(row, 0)] = r.Bool(row, 1);
  return pauses;
}

std::int64_t PgStore::CountRuns(const std::vector<RunStatus>& statuses) {
  ReadLease lease(*this);
  PgDb* db = lease.db();
  if (db == nullptr) return 0;
  PgArray names(PgArray::Of::kText);
  for (RunStatus status : statuses) names.AddText(RunStatusName(status));
  PgParams params;
  params.Add(std::move(names));
  PgResult counted = db->Exec("SELECT count(*) FROM runs WHERE status = ANY($1)", params);
  return counted.rows() == 1 ? counted.Int(0, 0) : 0;
}

void PgStore::NoteScheduleRun(const std::string& schedule, std::int64_t due_ns,
                              std::int64_t run_id) {
  ReadLease lease(*this);
  PgDb* db = lease.db();
  if (db == nullptr) return;  // logged
  PgParams params;
  params.Add(schedule).Add(due_ns).Add(run_id);
  db->Exec("UPDATE schedule_firings SET run_id = $3 WHERE schedule = $1 AND due_at = $2",
           params);  // logged if it fails
}

std::int64_t PgStore::UnfinishedScheduleRun(const std::string& schedule) {
  ReadLease lease(*this);
  PgDb* db = lease.db();
  if (db == nullptr) return 0;
  PgParams params;
  params.Add(schedule);
  PgResult found = db->Exec(kUnfinishedScheduleRun, params);
  return found.rows() == 1 ? found.Int(0, 0) : 0;
}

}  // namespace handoff::store
