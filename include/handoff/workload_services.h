#pragma once

// Ready-made services for e2e tests, from Debian's packages: Prometheus, PostgreSQL and
// Redis, as runnables of either environment.
//
//   namespace wl = handoff::workload;
//   auto env = wl::Environment::NewProcess(t);  // or NewDocker(t): the same calls
//   auto db = wl::NewPostgres(*env, "db", {.database = "shop"});
//   auto cache = wl::NewRedis(*env, "cache");
//   auto shop = ...;  // the service under test, given wl::PostgresInternalUrl(*db) and
//                     // cache->InternalEndpoint("redis")
//   auto prom = wl::NewPrometheus(*env, "prom",
//                                 {.scrape_targets = {shop->InternalEndpoint("http")}});
//   if (auto st = wl::StartAndWaitReady({db, cache, shop, prom}); !st) t.Fatal(st.message());
//   // the test reaches them at wl::PostgresUrl(*db), cache->Endpoint("redis")...
//
// In the process environment they run the host's programs. In a Docker environment each
// runs in an image built, on first use, from those same host files (no registry needed):
// FROM scratch, the programs at their host paths with the shared libraries they need. An
// image is tagged by what went into it (handoff/<service>:<hash>), so it is built once per
// engine and rebuilt when the host's package changes. Building happens in Start.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "handoff/workload.h"

namespace handoff::workload {

struct PrometheusOptions {
  // host:port of each target to scrape at /metrics, as other runnables reach it (a
  // runnable's InternalEndpoint), in job "targets".
  std::vector<std::string> scrape_targets;
  // Also scrape its own metrics, in job "prometheus".
  bool scrape_self = true;
  std::chrono::milliseconds scrape_interval{1000};
  // Added to the command line after the flags the helper sets.
  std::vector<std::string> extra_args;
  // Debian's package prometheus.
  std::string executable = "/usr/bin/prometheus";
  Backoff wait_backoff;
};

// Defines (does not start) a Prometheus named `name` serving on port "http" (also its
// metrics port), ready when /-/ready answers 200. Its configuration (prometheus.yml) and
// its data are in its Dir().
std::shared_ptr<Runnable> NewPrometheus(Environment& env, std::string name,
                                        PrometheusOptions options = {});

struct PostgresOptions {
  // The superuser initdb creates, and the database the URLs name (created when it is not
  // "postgres"). Letters, digits and '_' only.
  std::string user = "postgres";
  std::string database = "postgres";
  // Empty: every connection is trusted. Else TCP connections need it (scram-sha-256).
  std::string password;
  // Added to postgres's command line after the helper's (e.g. {"-c", "fsync=off"}).
  std::vector<std::string> extra_args;
  // Debian's PostgreSQL 15 (package postgresql-15); lib/ and share are found beside it.
  std::string bin_dir = "/usr/lib/postgresql/15/bin";
  Backoff wait_backoff;
};

// Defines (does not start) a PostgreSQL named `name` on port "postgres", its cluster
// initialised in its Dir() on first start, ready when pg_isready says it accepts
// connections. It runs as user "postgres" (or "nobody" where there is none) when the test
// runs as root, since postgres refuses root. Its environment sets PGHOST, PGPORT, PGUSER,
// PGDATABASE (and PGPASSWORD), so Exec({bin_dir + "/psql", "-c", sql}) needs no options.
std::shared_ptr<Runnable> NewPostgres(Environment& env, std::string name,
                                      PostgresOptions options = {});

// Returns the URL the test connects with, postgresql://user[:password]@host:port/database,
// or "" before Start. `postgres` is a runnable NewPostgres made.
std::string PostgresUrl(const Runnable& postgres);
// Returns the URL other runnables connect with (through its InternalEndpoint).
std::string PostgresInternalUrl(const Runnable& postgres);

struct RedisOptions {
  // Added to redis-server's command line after the helper's (e.g. {"--maxmemory", "64mb"}).
  std::vector<std::string> extra_args;
  // Debian's packages redis-server and redis-tools.
  std::string server = "/usr/bin/redis-server";
  std::string cli = "/usr/bin/redis-cli";
  Backoff wait_backoff;
};

// Defines (does not start) a Redis named `name` on port "redis": no persistence, no
// protected mode, listening on every address; ready when PING answers PONG.
std::shared_ptr<Runnable> NewRedis(Environment& env, std::string name, RedisOptions options = {});

}  // namespace handoff::workload
