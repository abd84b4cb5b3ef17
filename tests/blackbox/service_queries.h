#pragma once

// What the tests of the ready-made services (include/handoff/workload_services.h) ask them,
// in either environment: PromQL of Prometheus, SQL of PostgreSQL through psql.

#include <map>
#include <string>

#include "blackbox/process.h"
#include "handoff/workload.h"

namespace handoff::testing {

// Where Debian's postgresql-15 keeps its programs.
inline constexpr const char* kPostgresBin = "/usr/lib/postgresql/15/bin";

// Runs an instant PromQL query on `prometheus`'s "http" endpoint and returns the value of its
// first sample ("" when the result is empty or the query fails; *answer gets the body).
std::string QueryFirstValue(workload::Runnable& prometheus, const std::string& promql,
                            std::string* answer);

// Creates table orders (amount int) holding 20 and 22 with psql run beside `db` (its Exec,
// where psql finds the server, user, database and password in its environment).
workload::ExecResult CreateOrders(workload::Runnable& db);

// Asks the database at `url` for the sum of the orders, its user and its name, with the
// host's psql (-At, at most 30 s) run with `env` added to its environment.
ProcessResult SumOrders(const std::string& url, const std::map<std::string, std::string>& env);

}  // namespace handoff::testing
