#include "store/pg_deliveries.h"

#include <fmt/format.h>

#include <utility>

#include "store/store_log.h"

namespace handoff::store {
namespace {

// Only a delivery with the same id is skipped (one sent twice in the statement too: the
// first stays); any other failure (a run that does not exist) fails the statement, and the
// batch. In the order sent, so that `seq` follows it.
constexpr const char* kInsertDeliveries =
    "INSERT INTO deliveries (id, run_id, suite, destination, plugin, target, event, payload, "
    "state, attempts, created_at, next_attempt_at, finished_at, last_error, progress) "
    "SELECT id, run_id, suite, destination, plugin, target, event, payload, state, attempts, "
    "created_at, next_attempt_at, finished_at, last_error, progress "
    "FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
    "WITH ORDINALITY AS d (id, run_id, suite, destination, plugin, target, event, payload, "
    "state, attempts, created_at, next_attempt_at, finished_at, last_error, progress, n) "
    "ORDER BY n ON CONFLICT (id) DO NOTHING";
constexpr const char* kUpdateDelivery =
    "UPDATE deliveries SET state = $2, attempts = $3, next_attempt_at = $4, "
    "finished_at = $5, last_error = $6, progress = $7 WHERE id = $1";

// What ReadDelivery reads; `payload` last, so that RunDeliveries leaves it out.
#define HANDOFF_DELIVERY_COLUMNS                                                          \
  "SELECT id, run_id, suite, destination, plugin, target, event, state, attempts, "       \
  "created_at, next_attempt_at, finished_at, last_error, progress"
// `state = 'pending'` spelled as in the partial index deliveries_pending, so that the
// planner reads the queue in index order.
constexpr const char* kSelectPending =
    HANDOFF_DELIVERY_COLUMNS ", payload FROM deliveries "
    "WHERE destination = $1 AND state = 'pending' ORDER BY created_at, seq LIMIT $2";
constexpr const char* kSelectRunDeliveries =
    HANDOFF_DELIVERY_COLUMNS " FROM deliveries WHERE run_id = $1 ORDER BY created_at, seq";
#undef HANDOFF_DELIVERY_COLUMNS
// Along the partial index deliveries_progress, newest first: one row read.
constexpr const char* kSelectLastProgress =
    "SELECT progress FROM deliveries "
    "WHERE destination = $1 AND suite = $2 AND state = 'delivered' AND progress <> '' "
    "ORDER BY created_at DESC, seq DESC LIMIT 1";
constexpr const char* kCountPending =
    "SELECT destination, count(*) FROM deliveries WHERE state = 'pending' "
    "GROUP BY destination";

Delivery ReadDelivery(const PgResult& r, int row, bool with_payload) {
  Delivery d;
  d.id = r.Text(row, 0);
  d.run_id = r.Int(row, 1);
  d.suite = r.Text(row, 2);
  d.destination = r.Text(row, 3);
  d.plugin = r.Text(row, 4);
  d.target = r.Text(row, 5);
  d.event = r.Text(row, 6);
  if (!ParseDeliveryState(r.View(row, 7), &d.state)) {
    LogStoreError("corrupt stored value", fmt::format("delivery \"{}\" has the unknown state \"{}\"",
                                                      d.id, r.View(row, 7)));
  }
  d.attempts = static_cast<int>(r.Int(row, 8));
  d.created_at_ns = r.Int(row, 9);
  d.next_attempt_at_ns = r.Int(row, 10);
  d.finished_at_ns = r.Int(row, 11);
  d.last_error = r.Text(row, 12);
  d.progress = r.Text(row, 13);
  if (with_payload) d.payload = r.Text(row, 14);
  return d;
}

std::vector<Delivery> ReadDeliveries(const PgResult& r, bool with_payload) {
  std::vector<Delivery> deliveries;
  deliveries.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) deliveries.push_back(ReadDelivery(r, row, with_payload));
  return deliveries;
}

}  // namespace

void AddDeliveryInserts(const std::vector<const Delivery*>& deliveries,
                        std::vector<PgCall>& calls) {
  if (deliveries.empty()) return;
  using Of = PgArray::Of;
  PgArray id(Of::kText), run_id(Of::kBigint), suite(Of::kText), destination(Of::kText),
      plugin(Of::kText), target(Of::kText), event(Of::kText), payload(Of::kBytea),
      state(Of::kText), attempts(Of::kBigint), created_at(Of::kBigint),
      next_attempt_at(Of::kBigint), finished_at(Of::kBigint), last_error(Of::kBytea),
      progress(Of::kBytea);
  for (const Delivery* d : deliveries) {
    id.AddText(d->id);
    run_id.Add(d->run_id);
    suite.AddText(d->suite);
    destination.AddText(d->destination);
    plugin.AddText(d->plugin);
    target.AddText(d->target);
    event.AddText(d->event);
    payload.AddBytes(d->payload);
    state.AddText(DeliveryStateName(d->state));
    attempts.Add(d->attempts);
    created_at.Add(d->created_at_ns);
    next_attempt_at.Add(d->next_attempt_at_ns);
    finished_at.Add(d->finished_at_ns);
    last_error.AddBytes(d->last_error);
    progress.AddBytes(d->progress);
  }
  PgCall& call = calls.emplace_back();
  call.sql = kInsertDeliveries;
  call.params.Add(std::move(id)).Add(std::move(run_id)).Add(std::move(suite))
      .Add(std::move(destination)).Add(std::move(plugin)).Add(std::move(target))
      .Add(std::move(event)).Add(std::move(payload)).Add(std::move(state))
      .Add(std::move(attempts)).Add(std::move(created_at)).Add(std::move(next_attempt_at))
      .Add(std::move(finished_at)).Add(std::move(last_error)).Add(std::move(progress));
}

std::optional<bool> UpdatePgDeliveryRow(PgDb& db, const DeliveryUpdate& update) {
  PgParams params;
  params.Add(update.id).Add(DeliveryStateName(update.state)).Add(update.attempts)
      .Add(update.next_attempt_at_ns).Add(update.finished_at_ns).AddBytes(update.last_error)
      .AddBytes(update.progress);
  PgResult r = db.Exec(kUpdateDelivery, params);
  if (!r.ok()) return std::nullopt;
  return r.Affected() > 0;
}

std::vector<Delivery> SelectPgPendingDeliveries(PgDb& db, const std::string& destination,
                                                int limit) {
  if (limit <= 0) return {};
  PgParams params;
  params.Add(destination).Add(limit);
  return ReadDeliveries(db.Exec(kSelectPending, params), /*with_payload=*/true);
}

std::vector<Delivery> SelectPgRunDeliveries(PgDb& db, std::int64_t run_id) {
  PgParams params;
  params.Add(run_id);
  return ReadDeliveries(db.Exec(kSelectRunDeliveries, params), /*with_payload=*/false);
}

std::string SelectPgLastDeliveryProgress(PgDb& db, const std::string& destination,
                                         const std::string& suite) {
  PgParams params;
  params.Add(destination).Add(suite);
  PgResult r = db.Exec(kSelectLastProgress, params);
  if (r.rows() == 0) return {};
  return r.Text(0, 0);
}

std::map<std::string, std::int64_t> CountPgPendingDeliveries(PgDb& db) {
  PgResult r = db.Exec(kCountPending);
  std::map<std::string, std::int64_t> counts;
  for (int row = 0; row < r.rows(); ++row) counts.emplace(r.Text(row, 0), r.Int(row, 1));
  return counts;
}

}  // namespace handoff::store
