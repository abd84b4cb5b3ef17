#pragma once

// `serve`: the long-running server. Its flags (each also read from a HANDOFF_* environment
// variable; the flag wins) and the command itself.

#include <string>

#include "cli/notify_flags.h"
#include "cli/otlp_flags.h"
#include "handoff/main.h"
#include "runner/registry.h"

namespace CLI {
class App;
}

namespace handoff {

struct ServeFlags {
  std::string host = "127.0.0.1";
  int port = 1337;
  std::string db = "sqlite:handoff.db";
  int max_concurrent_runs = 4;
  std::string retention = "0";
  std::string environment;
  std::string secret_params;  // comma-separated names or globs: "PASSWORD,*_TOKEN"
  std::string shutdown_timeout = "30s";
  std::string grace = "5s";
  std::string max_hold = "30m";
  std::string log_format = "text";
  std::string isolation = "process";
  std::string backup_dir;  // empty: "backups" beside the database file
  std::string store_probe_interval = "5s";
  // Replicas on one PostgreSQL database: this one's name (empty: the host name) and the
  // lease it holds on each run it executes.
  std::string replica_id;
  std::string lease_ttl = "15s";
  std::string pg_prepared_statements = "on";  // off: for PgBouncer < 1.21, transaction mode
  // The HTTP server's connection limits (http::ServerOptions says what each does).
  std::string header_timeout = "10s";
  int max_connections = 1024;
  int max_connections_per_client = 64;
  int reserved_connections = 8;
  std::string sse_max_lag = "8MiB";
  std::string max_request_body = "1MiB";
  int http_workers = 4;
  // Security (docs/serve.md, Security).
  std::string auth = "auto";  // auto: on when tokens are configured; none: off on purpose
  std::string auth_file;
  std::string allowed_hosts;  // empty: the listen address and localhost
  std::string open_endpoints = "healthz,readyz,metrics";
  std::string auth_reload_interval = "5s";  // how often --auth-file is checked for changes
  // HTTPS (docs/serve.md, TLS and client certificates): certificate and key files, and the
  // CA that signs client certificates (mTLS); how often the files are looked at for a
  // rotated certificate (hidden: tests shorten it).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string tls_reload_interval = "10s";
  // Notifications (docs/integrations.md).
  NotifyCliFlags notify;
  // Trace export and the links of each attempt to its traces and logs (docs/serve.md,
  // Traces and logs).
  OtlpFlags otlp;
  std::string traces_link_template;
  std::string logs_link_template;
  // Validate everything, say what serve would do, and exit (0 or 2) instead of serving.
  bool check_config = false;

  // Declares the flags on `cmd`.
  void Add(CLI::App* cmd);
};

// Runs the server until SIGTERM or SIGINT, then shuts down gracefully. Returns the exit
// code: 0 after a clean shutdown, 2 for a bad flag value or a store, schedule or address
// that cannot be used (a store another server holds, a corrupt database, a port in use).
int RunServe(const ServeFlags& flags, const Catalog& catalog, const MainConfig& config);

}  // namespace handoff
