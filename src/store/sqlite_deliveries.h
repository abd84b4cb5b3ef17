#pragma once

// The SQL of the SQLite store's outbox (issue 16): the `deliveries` table (schema version 8,
// sqlite_schema.cc) read and written on a connection the store hands over. SqliteStore
// decides which connection and transaction: inserts go in the batch that commits what they
// tell, an update commits on its own, reads run on a read connection.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite_db.h"
#include "store/store.h"

namespace handoff::store {

// Deletes a run's deliveries (with the run's other rows, by DeleteRunsBefore).
inline constexpr const char* kDeleteRunDeliveries = "DELETE FROM deliveries WHERE run_id = ?1";

// Inserts each delivery unless one with its id exists (the first one stays as it is);
// false (logged) if a statement failed, a delivery about a run that does not exist included.
bool InsertDeliveries(SqliteDb& db, const std::vector<Delivery>& deliveries);

// Writes the outcome `update` to its delivery: whether the delivery exists, or nullopt
// (logged) if the statement failed.
std::optional<bool> UpdateDeliveryRow(SqliteDb& db, const DeliveryUpdate& update);

// Pending deliveries of `destination`, the soonest due first, then the oldest, at most `limit`.
std::vector<Delivery> SelectPendingDeliveries(SqliteDb& db, const std::string& destination,
                                              int limit);

// Every delivery of a run, oldest first, their payloads left empty.
std::vector<Delivery> SelectRunDeliveries(SqliteDb& db, std::int64_t run_id);

// The progress of the newest (by creation) delivered delivery of `destination` about `suite`
// that kept one, or "".
std::string SelectLastDeliveryProgress(SqliteDb& db, const std::string& destination,
                                       const std::string& suite);

// How many deliveries are pending, by destination (absent: none).
std::map<std::string, std::int64_t> CountPendingDeliveries(SqliteDb& db);

}  // namespace handoff::store
