#include "store/sqlite_hunts.h"

#include <fmt/format.h>

#include <string>

#include "store/sql_where.h"
#include "store/store_log.h"
#include "store/value_encoding.h"

namespace handoff::store {
namespace {

#define HANDOFF_HUNT_COLUMNS                                                                \
  "id, suite, namespace, status, hunt_trigger, initiated_by, on_behalf_of, reference, "     \
  "schedule, test_filter, tests, labels, params, secret_params, max_attempts, timeout_ms, " \
  "hold_on_failure, repeat_count, until_failure, max_duration_ms, created_at, finished_at, " \
  "error"
constexpr const char* kInsertHunt =
    "INSERT INTO hunts (suite, namespace, status, hunt_trigger, initiated_by, on_behalf_of, "
    "reference, schedule, test_filter, tests, labels, params, secret_params, max_attempts, "
    "timeout_ms, hold_on_failure, repeat_count, until_failure, max_duration_ms, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20)";
constexpr const char* kSelectHunt = "SELECT " HANDOFF_HUNT_COLUMNS " FROM hunts WHERE id = ?1";
constexpr std::string_view kHuntColumns = HANDOFF_HUNT_COLUMNS;
#undef HANDOFF_HUNT_COLUMNS
// Only a running hunt ends: of a stop and the end its last run decides, the first wins.
constexpr const char* kEndHunt =
    "UPDATE hunts SET status = ?2, error = ?3, finished_at = ?4 "
    "WHERE id = ?1 AND status = 'running'";
// Down runs_by_hunt. Unfinished is what is left: queued, running, and any state a run
// waits in.
constexpr const char* kCountHuntRuns =
    "SELECT count(*), "
    "coalesce(sum(status = 'passed'), 0), coalesce(sum(status = 'failed'), 0), "
    "coalesce(sum(status = 'cancelled'), 0), coalesce(sum(status = 'error'), 0), "
    "coalesce(min(CASE WHEN status = 'failed' THEN id END), 0), coalesce(max(id), 0) "
    "FROM runs WHERE hunt_id = ?1";

Hunt ReadHunt(const Stmt& s) {
  Hunt h;
  h.id = s.Int(0);
  h.suite = s.Text(1);
  h.namespace_name = s.Text(2);
  if (!ParseHuntStatus(s.View(3), &h.status)) {
    LogStoreError("corrupt stored value",
                  fmt::format("hunt {} has the unknown status \"{}\"", h.id, s.View(3)));
  }
  ParseTrigger(s.View(4), &h.trigger);
  h.initiated_by = s.Text(5);
  h.on_behalf_of = s.Text(6);
  h.reference = s.Text(7);
  h.schedule = s.Text(8);
  h.filter = s.Text(9);
  h.tests = ValueOrLogged(DecodeStrings(s.View(10)));
  h.labels = ValueOrLogged(DecodeKeyValues(s.View(11)));
  h.params = ValueOrLogged(DecodeKeyValues(s.View(12)));
  h.secret_params = ValueOrLogged(DecodeStrings(s.View(13)));
  h.max_attempts = static_cast<int>(s.Int(14));
  h.timeout_ms = s.Int(15);
  h.hold_on_failure = s.Bool(16);
  h.repeat = static_cast<int>(s.Int(17));
  h.until_failure = s.Bool(18);
  h.max_duration_ms = s.Int(19);
  h.created_at_ns = s.Int(20);
  h.finished_at_ns = s.Int(21);
  h.error = s.Text(22);
  return h;
}

}  // namespace

std::optional<std::int64_t> InsertHuntRow(SqliteDb& db, const Hunt& h, std::int64_t created_at) {
  const std::string tests = EncodeStrings(h.tests);
  const std::string labels = EncodeKeyValues(h.labels);
  const std::string params = EncodeKeyValues(h.params);
  const std::string secret_params = EncodeStrings(h.secret_params);
  Stmt s(db, kInsertHunt);
  s.Bind(h.suite).Bind(h.namespace_name).Bind(HuntStatusName(h.status))
      .Bind(TriggerName(h.trigger)).Bind(h.initiated_by).Bind(h.on_behalf_of).Bind(h.reference)
      .Bind(h.schedule).Bind(h.filter).BindBlob(tests).BindBlob(labels).BindBlob(params)
      .BindBlob(secret_params).Bind(h.max_attempts).Bind(h.timeout_ms).Bind(h.hold_on_failure)
      .Bind(h.repeat).Bind(h.until_failure).Bind(h.max_duration_ms).Bind(created_at);
  if (!s.Run()) return std::nullopt;
  return sqlite3_last_insert_rowid(db.handle());
}

std::optional<bool> EndHuntRow(SqliteDb& db, std::int64_t id, HuntStatus status,
                               const std::string& error, std::int64_t finished_at_ns) {
  Stmt s(db, kEndHunt);
  s.Bind(id).Bind(HuntStatusName(status)).Bind(error).Bind(finished_at_ns);
  if (!s.Run()) return std::nullopt;
  return sqlite3_changes(db.handle()) == 1;
}

std::optional<Hunt> SelectHunt(SqliteDb& db, std::int64_t id) {
  Stmt s(db, kSelectHunt);
  s.Bind(id);
  if (!s.Step()) return std::nullopt;
  return ReadHunt(s);
}

std::vector<Hunt> SelectHunts(SqliteDb& db, const HuntQuery& query) {
  if (query.limit <= 0) return {};
  std::string sql = fmt::format("SELECT {} FROM hunts", kHuntColumns);
  WhereClause where(sql);
  if (!query.suite.empty()) where.Add("suite = ?");
  if (query.status) where.Add("status = ?");
  if (!query.schedule.empty()) where.Add("schedule = ?");
  if (query.before_id > 0) where.Add("id < ?");
  sql += " ORDER BY id DESC LIMIT ?";
  Stmt s(db, sql);
  if (!query.suite.empty()) s.Bind(query.suite);
  if (query.status) s.Bind(HuntStatusName(*query.status));
  if (!query.schedule.empty()) s.Bind(query.schedule);
  if (query.before_id > 0) s.Bind(query.before_id);
  s.Bind(query.limit);
  std::vector<Hunt> hunts;
  while (s.Step()) hunts.push_back(ReadHunt(s));
  return hunts;
}

std::optional<HuntRuns> CountHuntRunRows(SqliteDb& db, std::int64_t id) {
  Stmt s(db, kCountHuntRuns);
  s.Bind(id);
  if (!s.Step()) return std::nullopt;
  HuntRuns r;
  r.runs = s.Int(0);
  r.passed = s.Int(1);
  r.failed = s.Int(2);
  r.cancelled = s.Int(3);
  r.errors = s.Int(4);
  r.unfinished = r.runs - r.passed - r.failed - r.cancelled - r.errors;
  r.first_failed_run = s.Int(5);
  r.last_run = s.Int(6);
  return r;
}

}  // namespace handoff::store
