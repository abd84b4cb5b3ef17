#include "store/sqlite_deliveries.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <string_view>

#include "store/store_log.h"

namespace handoff::store {
namespace {

// Only a delivery with the same id is skipped (INSERT OR IGNORE would also skip a row that
// breaks NOT NULL silently); a run that does not exist fails the foreign key, and the batch.
constexpr const char* kInsertDelivery =
    "INSERT INTO deliveries (id, run_id, suite, destination, plugin, target, event, payload, "
    "state, attempts, created_at, next_attempt_at, finished_at, last_error, progress) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
    "ON CONFLICT (id) DO NOTHING";
constexpr const char* kUpdateDelivery =
    "UPDATE deliveries SET state = ?2, attempts = ?3, next_attempt_at = ?4, "
    "finished_at = ?5, last_error = ?6, progress = ?7 WHERE id = ?1";

// What ReadDelivery reads; `payload` last, so that RunDeliveries leaves it out.
#define HANDOFF_DELIVERY_COLUMNS                                                          \
  "SELECT id, run_id, suite, destination, plugin, target, event, state, attempts, "       \
  "created_at, next_attempt_at, finished_at, last_error, progress"
// `state = 'pending'` spelled as in the partial index deliveries_pending, so that the
// planner uses it: the queue is read in index order, without a sort.
constexpr const char* kSelectPending =
    HANDOFF_DELIVERY_COLUMNS ", payload FROM deliveries "
    "WHERE destination = ?1 AND state = 'pending' "
    "ORDER BY created_at, rowid LIMIT ?2";
constexpr const char* kSelectRunDeliveries =
    HANDOFF_DELIVERY_COLUMNS " FROM deliveries WHERE run_id = ?1 ORDER BY created_at, rowid";
#undef HANDOFF_DELIVERY_COLUMNS
// Along the partial index deliveries_progress, newest first: one row read.
constexpr const char* kSelectLastProgress =
    "SELECT progress FROM deliveries "
    "WHERE destination = ?1 AND suite = ?2 AND state = 'delivered' AND progress <> '' "
    "ORDER BY created_at DESC, rowid DESC LIMIT 1";
// Covered by deliveries_pending.
constexpr const char* kCountPending =
    "SELECT destination, count(*) FROM deliveries WHERE state = 'pending' "
    "GROUP BY destination";

// Reads the columns of kSelectPending and kSelectRunDeliveries.
Delivery ReadDelivery(const Stmt& s, bool with_payload) {
  Delivery d;
  d.id = s.Text(0);
  d.run_id = s.Int(1);
  d.suite = s.Text(2);
  d.destination = s.Text(3);
  d.plugin = s.Text(4);
  d.target = s.Text(5);
  d.event = s.Text(6);
  if (!ParseDeliveryState(s.View(7), &d.state)) {
    LogStoreError("corrupt stored value",
                  fmt::format("delivery \"{}\" has the unknown state \"{}\"", d.id, s.View(7)));
  }
  d.attempts = static_cast<int>(s.Int(8));
  d.created_at_ns = s.Int(9);
  d.next_attempt_at_ns = s.Int(10);
  d.finished_at_ns = s.Int(11);
  d.last_error = s.Text(12);
  d.progress = s.Text(13);
  if (with_payload) d.payload = s.Text(14);
  return d;
}

}  // namespace

bool InsertDeliveries(SqliteDb& db, const std::vector<Delivery>& deliveries) {
  if (deliveries.empty()) return true;
  Stmt insert(db, kInsertDelivery);
  for (const Delivery& d : deliveries) {
    insert.Reset();
    insert.Bind(d.id).Bind(d.run_id).Bind(d.suite).Bind(d.destination).Bind(d.plugin)
        .Bind(d.target).Bind(d.event).Bind(d.payload).Bind(DeliveryStateName(d.state))
        .Bind(d.attempts).Bind(d.created_at_ns).Bind(d.next_attempt_at_ns)
        .Bind(d.finished_at_ns).Bind(d.last_error).Bind(d.progress);
    if (!insert.Run()) return false;
  }
  return true;
}

std::optional<bool> UpdateDeliveryRow(SqliteDb& db, const DeliveryUpdate& update) {
  Stmt s(db, kUpdateDelivery);
  s.Bind(update.id).Bind(DeliveryStateName(update.state)).Bind(update.attempts)
      .Bind(update.next_attempt_at_ns).Bind(update.finished_at_ns).Bind(update.last_error)
      .Bind(update.progress);
  if (!s.Run()) return std::nullopt;
  return sqlite3_changes(db.handle()) > 0;
}

std::vector<Delivery> SelectPendingDeliveries(SqliteDb& db, const std::string& destination,
                                              int limit) {
  if (limit <= 0) return {};
  Stmt s(db, kSelectPending);
  s.Bind(destination).Bind(limit);
  std::vector<Delivery> deliveries;
  while (s.Step()) deliveries.push_back(ReadDelivery(s, /*with_payload=*/true));
  return deliveries;
}

std::vector<Delivery> SelectRunDeliveries(SqliteDb& db, std::int64_t run_id) {
  Stmt s(db, kSelectRunDeliveries);
  s.Bind(run_id);
  std::vector<Delivery> deliveries;
  while (s.Step()) deliveries.push_back(ReadDelivery(s, /*with_payload=*/false));
  return deliveries;
}

std::string SelectLastDeliveryProgress(SqliteDb& db, const std::string& destination,
                                       const std::string& suite) {
  Stmt s(db, kSelectLastProgress);
  s.Bind(destination).Bind(suite);
  if (!s.Step()) return {};
  return s.Text(0);
}

std::map<std::string, std::int64_t> CountPendingDeliveries(SqliteDb& db) {
  Stmt s(db, kCountPending);
  std::map<std::string, std::int64_t> counts;
  while (s.Step()) counts.emplace(s.Text(0), s.Int(1));
  return counts;
}

}  // namespace handoff::store
