#pragma once

// The SQL of the PostgreSQL store's outbox (issue 16): the `deliveries` table
// (pg_schema.cc) read and written on a connection the store hands over, as
// sqlite_deliveries.h does for SQLite. PgStore decides which connection and transaction.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/pg_db.h"
#include "store/store.h"

namespace handoff::store {

// Deletes a run's deliveries ($1: the run's id), with the run's other rows.
inline constexpr const char* kPgDeleteRunDeliveries = "DELETE FROM deliveries WHERE run_id = $1";

// Appends to `calls` the insert of `deliveries` (one statement; none if there are none),
// each skipped if a delivery with its id exists (the first one stays as it is, one earlier
// in `deliveries` too); a delivery about a run that does not exist fails its foreign key,
// and the batch.
void AddDeliveryInserts(const std::vector<const Delivery*>& deliveries,
                        std::vector<PgCall>& calls);

// Writes the outcome `update` to its delivery: whether the delivery exists, or nullopt
// (logged) if the statement failed.
std::optional<bool> UpdatePgDeliveryRow(PgDb& db, const DeliveryUpdate& update);

// Pending deliveries of `destination`, the oldest first, at most `limit` (none if the read
// failed, which is logged).
std::vector<Delivery> SelectPgPendingDeliveries(PgDb& db, const std::string& destination,
                                                int limit);

// Every delivery of a run, oldest first, their payloads left empty.
std::vector<Delivery> SelectPgRunDeliveries(PgDb& db, std::int64_t run_id);

// The progress of the newest (by creation) delivered delivery of `destination` about `suite`
// that kept one, or "".
std::string SelectPgLastDeliveryProgress(PgDb& db, const std::string& destination,
                                         const std::string& suite);

// How many deliveries are pending, by destination (absent: none).
std::map<std::string, std::int64_t> CountPgPendingDeliveries(PgDb& db);

}  // namespace handoff::store
