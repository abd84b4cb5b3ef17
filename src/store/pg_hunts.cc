#include "store/pg_hunts.h"

#include <fmt/format.h>

#include <string_view>
#include <utility>

#include "store/sql_where.h"
#include "store/store_log.h"
#include "store/value_encoding.h"

namespace handoff::store {
namespace {

constexpr std::string_view kHuntColumns =
    "id, suite, namespace, status, hunt_trigger, initiated_by, on_behalf_of, reference, "
    "schedule, test_filter, tests, labels, params, secret_params, max_attempts, timeout_ms, "
    "hold_on_failure, repeat_count, until_failure, max_duration_ms, created_at, finished_at, "
    "error";
constexpr const char* kInsertHunt =
    "INSERT INTO hunts (suite, namespace, status, hunt_trigger, initiated_by, on_behalf_of, "
    "reference, schedule, test_filter, tests, labels, params, secret_params, max_attempts, "
    "timeout_ms, hold_on_failure, repeat_count, until_failure, max_duration_ms, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
    "$19, $20) RETURNING id";
// Only a running hunt ends: of a stop and the end its last run decides (on any replicas),
// the first wins.
constexpr const char* kEndHunt =
    "UPDATE hunts SET status = $2, error = $3, finished_at = $4 "
    "WHERE id = $1 AND status = 'running'";
// Down runs_by_hunt. Unfinished is what is left: queued, running, and any state a run
// waits in.
constexpr const char* kCountHuntRuns =
    "SELECT count(*), count(*) FILTER (WHERE status = 'passed'), "
    "count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled'), "
    "count(*) FILTER (WHERE status = 'error'), "
    "coalesce(min(id) FILTER (WHERE status = 'failed'), 0), coalesce(max(id), 0) "
    "FROM runs WHERE hunt_id = $1";

Hunt ReadPgHunt(const PgResult& r, int row) {
  Hunt h;
  h.id = r.Int(row, 0);
  h.suite = r.Text(row, 1);
  h.namespace_name = r.Text(row, 2);
  if (!ParseHuntStatus(r.View(row, 3), &h.status)) {
    LogStoreError("corrupt stored value",
                  fmt::format("hunt {} has the unknown status \"{}\"", h.id, r.View(row, 3)));
  }
  ParseTrigger(r.View(row, 4), &h.trigger);
  h.initiated_by = r.Text(row, 5);
  h.on_behalf_of = r.Text(row, 6);
  h.reference = r.Text(row, 7);
  h.schedule = r.Text(row, 8);
  h.filter = r.Text(row, 9);
  h.tests = ValueOrLogged(DecodeStrings(r.View(row, 10)));
  h.labels = ValueOrLogged(DecodeKeyValues(r.View(row, 11)));
  h.params = ValueOrLogged(DecodeKeyValues(r.View(row, 12)));
  h.secret_params = ValueOrLogged(DecodeStrings(r.View(row, 13)));
  h.max_attempts = static_cast<int>(r.Int(row, 14));
  h.timeout_ms = r.Int(row, 15);
  h.hold_on_failure = r.Bool(row, 16);
  h.repeat = static_cast<int>(r.Int(row, 17));
  h.until_failure = r.Bool(row, 18);
  h.max_duration_ms = r.Int(row, 19);
  h.created_at_ns = r.Int(row, 20);
  h.finished_at_ns = r.Int(row, 21);
  h.error = r.Text(row, 22);
  return h;
}

}  // namespace

std::optional<std::int64_t> InsertPgHunt(PgDb& db, const Hunt& h, std::int64_t created_at) {
  PgParams params;
  params.Add(h.suite).Add(h.namespace_name).Add(HuntStatusName(h.status))
      .Add(TriggerName(h.trigger)).Add(h.initiated_by).Add(h.on_behalf_of).Add(h.reference)
      .Add(h.schedule).Add(h.filter).AddBytes(EncodeStrings(h.tests))
      .AddBytes(EncodeKeyValues(h.labels)).AddBytes(EncodeKeyValues(h.params))
      .AddBytes(EncodeStrings(h.secret_params)).Add(h.max_attempts).Add(h.timeout_ms)
      .Add(h.hold_on_failure).Add(h.repeat).Add(h.until_failure).Add(h.max_duration_ms)
      .Add(created_at);
  PgResult inserted = db.Exec(kInsertHunt, params);
  if (!inserted.ok() || inserted.rows() != 1) return std::nullopt;
  return inserted.Int(0, 0);
}

std::optional<bool> EndPgHunt(PgDb& db, std::int64_t id, HuntStatus status,
                              const std::string& error, std::int64_t finished_at_ns) {
  PgParams params;
  params.Add(id).Add(HuntStatusName(status)).AddBytes(error).Add(finished_at_ns);
  PgResult updated = db.Exec(kEndHunt, params);
  if (!updated.ok()) return std::nullopt;
  return updated.Affected() == 1;
}

std::optional<Hunt> SelectPgHunt(PgDb& db, std::int64_t id) {
  static const std::string sql = fmt::format("SELECT {} FROM hunts WHERE id = $1", kHuntColumns);
  PgParams params;
  params.Add(id);
  PgResult r = db.Exec(sql, params);
  if (!r.ok() || r.rows() != 1) return std::nullopt;
  return ReadPgHunt(r, 0);
}

std::vector<Hunt> SelectPgHunts(PgDb& db, const HuntQuery& query) {
  if (query.limit <= 0) return {};
  std::string sql = fmt::format("SELECT {} FROM hunts", kHuntColumns);
  PgParams params;
  WhereClause clause(sql);
  auto where = [&](std::string_view condition) {
    clause.Add(fmt::format("{} ${}", condition, params.size()));
  };
  if (!query.suite.empty()) {
    params.Add(query.suite);
    where("suite =");
  }
  if (query.status) {
    params.Add(HuntStatusName(*query.status));
    where("status =");
  }
  if (!query.schedule.empty()) {
    params.Add(query.schedule);
    where("schedule =");
  }
  if (query.before_id > 0) {
    params.Add(query.before_id);
    where("id <");
  }
  params.Add(query.limit);
  sql += fmt::format(" ORDER BY id DESC LIMIT ${}", params.size());
  PgResult r = db.Exec(sql, params);
  std::vector<Hunt> hunts;
  if (!r.ok()) return hunts;
  for (int row = 0; row < r.rows(); ++row) hunts.push_back(ReadPgHunt(r, row));
  return hunts;
}

std::optional<HuntRuns> CountPgHuntRuns(PgDb& db, std::int64_t id) {
  PgParams params;
  params.Add(id);
  PgResult r = db.Exec(kCountHuntRuns, params);
  if (!r.ok() || r.rows() != 1) return std::nullopt;
  HuntRuns c;
  c.runs = r.Int(0, 0);
  c.passed = r.Int(0, 1);
  c.failed = r.Int(0, 2);
  c.cancelled = r.Int(0, 3);
  c.errors = r.Int(0, 4);
  c.unfinished = c.runs - c.passed - c.failed - c.cancelled - c.errors;
  c.first_failed_run = r.Int(0, 5);
  c.last_run = r.Int(0, 6);
  return c;
}

}  // namespace handoff::store
