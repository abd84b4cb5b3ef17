#include "cli/serve_command.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "cli/count_flag.h"
#include "duration/duration.h"
#include "engine/secret_params.h"
#include "engine/serve_engine.h"
#include "engine/server_log.h"
#include "http/server.h"
#include "base/result.h"
#include "store/open_store.h"
#include "store/ownership.h"
#include "store/store.h"

namespace handoff {
namespace {

constexpr int kExitUsage = 2;

int ServeUsageError(const std::string& message) {
  std::fprintf(stderr, "handoff: %s\nRun with serve --help for usage.\n", message.c_str());
  return kExitUsage;
}

// A configuration that is well formed but cannot be used here and now (a store held by
// another server, a corrupt database, a port in use): the message says what to do, and
// --help would not help.
int ServeStartError(const std::string& message) {
  std::fprintf(stderr, "handoff: %s\n", message.c_str());
  return kExitUsage;
}

// The directory of the database file, for the default backup directory.
std::string DefaultBackupDir(const std::string& db_url) {
  constexpr std::string_view kScheme = "sqlite:";
  if (!db_url.starts_with(kScheme) || db_url == "sqlite::memory:") return "backups";
  const std::filesystem::path parent =
      std::filesystem::path(db_url.substr(kScheme.size())).parent_path();
  return parent.empty() ? std::string("backups") : (parent / "backups").string();
}

// Parses a retention period: a Go duration, whole days ("30d"), or "0" for none.
std::optional<std::chrono::milliseconds> ParseRetention(const std::string& text) {
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.size() > 1 && text.back() == 'd') {
    const std::string days = text.substr(0, text.size() - 1);
    if (days.find_first_not_of("0123456789") != std::string::npos || days.size() > 6) {
      return std::nullopt;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::hours(24) *
                                                                  std::stoi(days));
  }
  auto d = ParseDuration(text);
  if (!d) return std::nullopt;
  return std::chrono::ceil<std::chrono::milliseconds>(*d);
}

// Parses a size in bytes: a whole number with an optional KiB, MiB or GiB suffix.
std::optional<std::size_t> ParseByteSize(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return std::nullopt;
  const std::string unit = text.substr(digits);
  std::size_t scale = 1;
  if (unit == "KiB") {
    scale = std::size_t{1} << 10;
  } else if (unit == "MiB") {
    scale = std::size_t{1} << 20;
  } else if (unit == "GiB") {
    scale = std::size_t{1} << 30;
  } else if (!unit.empty() && unit != "B") {
    return std::nullopt;
  }
  return static_cast<std::size_t>(std::stoull(text.substr(0, digits))) * scale;
}

}  // namespace

void ServeFlags::Add(CLI::App* cmd) {
  cmd->add_option("--host", host, "Address to listen on")->envname("HANDOFF_HOST");
  cmd->add_option("--port", port, "Port to listen on; 0 picks a free one and prints it")
      ->envname("HANDOFF_PORT")
      ->check(WholeNumber(0, 65535));
  cmd->add_option("--db", db, "Store: sqlite:PATH or sqlite::memory:")->envname("HANDOFF_DB");
  cmd->add_option("--max-concurrent-runs", max_concurrent_runs, "Runs executing at once")
      ->envname("HANDOFF_MAX_CONCURRENT_RUNS")
      ->check(WholeNumber(1));
  cmd->add_option("--retention", retention,
                  "Delete runs older than this, e.g. 30d or 12h (0 keeps them)")
      ->envname("HANDOFF_RETENTION");
  cmd->add_option("--environment", environment,
                  "Name stored on every run, e.g. staging")
      ->envname("HANDOFF_ENVIRONMENT");
  cmd->add_option("--secret-params", secret_params,
                  "Run params whose values are never shown (API, live stream, UI, logs, "
                  "hooks): comma-separated names or globs, case-insensitive, e.g. "
                  "'PASSWORD,*_TOKEN,*_KEY'")
      ->envname("HANDOFF_SECRET_PARAMS");
  cmd->add_option("--shutdown-timeout", shutdown_timeout,
                  "On SIGTERM, how long running tests may finish before they are stopped")
      ->envname("HANDOFF_SHUTDOWN_TIMEOUT");
  cmd->add_option("--grace", grace, "How long a test asked to stop may take before it is killed")
      ->envname("HANDOFF_GRACE");
  cmd->add_option("--log-format", log_format, "Log lines on stderr: text or json")
      ->envname("HANDOFF_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--isolation", isolation,
                  "process: each run in a worker process; none: in the server (debugging only)")
      ->envname("HANDOFF_ISOLATION")
      ->check(CLI::IsMember({"process", "none"}));
  cmd->add_option("--backup-dir", backup_dir,
                  "Where POST /api/v1/admin/backup writes snapshots (default: backups/ beside "
                  "the database)")
      ->envname("HANDOFF_BACKUP_DIR");
  cmd->add_option("--store-probe-interval", store_probe_interval,
                  "How often readiness checks that the store can write, e.g. 5s")
      ->envname("HANDOFF_STORE_PROBE_INTERVAL");
  cmd->add_option("--header-timeout", header_timeout,
                  "Time a connection has to send a whole request header, e.g. 10s")
      ->envname("HANDOFF_HEADER_TIMEOUT");
  cmd->add_option("--max-connections", max_connections,
                  "Open connections (beyond them, the oldest one still waiting for its "
                  "request header is closed for room)")
      ->envname("HANDOFF_MAX_CONNECTIONS")
      ->check(WholeNumber(1));
  cmd->add_option("--max-connections-per-client", max_connections_per_client,
                  "Open connections one client address may hold")
      ->envname("HANDOFF_MAX_CONNECTIONS_PER_CLIENT")
      ->check(WholeNumber(1));
  cmd->add_option("--reserved-connections", reserved_connections,
                  "Connections beyond --max-connections kept for /healthz, /readyz and /metrics")
      ->envname("HANDOFF_RESERVED_CONNECTIONS")
      ->check(WholeNumber(0, 65535));
  cmd->add_option("--sse-max-lag", sse_max_lag,
                  "Live events an event stream's client may leave unread before it is "
                  "disconnected (it resumes with Last-Event-ID), e.g. 8MiB")
      ->envname("HANDOFF_SSE_MAX_LAG");
  cmd->add_option("--http-workers", http_workers,
                  "Threads that answer API requests (they read the store)")
      ->envname("HANDOFF_HTTP_WORKERS")
      ->check(WholeNumber(1, 256));
}

int RunServe(const ServeFlags& flags, const Catalog& catalog, const MainConfig& config) {
  ServeOptions options;
  options.environment = flags.environment;
  options.max_concurrent_runs = flags.max_concurrent_runs;
  options.isolated = flags.isolation == "process";
  Result<SecretParamPatterns> secret_params = SecretParamPatterns::Parse(flags.secret_params);
  if (!secret_params.ok()) {
    return ServeUsageError("--secret-params: " + secret_params.error().message + ", got \"" +
                           flags.secret_params + "\"");
  }
  options.secret_params = std::move(secret_params).value();
  auto retention = ParseRetention(flags.retention);
  if (!retention) {
    return ServeUsageError("--retention: invalid period \"" + flags.retention +
                           "\" (e.g. 30d, 12h, or 0 to keep every run)");
  }
  options.retention = *retention;
  auto shutdown_timeout = ParseDuration(flags.shutdown_timeout);
  if (!shutdown_timeout) {
    return ServeUsageError("--shutdown-timeout: invalid duration \"" + flags.shutdown_timeout +
                           "\" (e.g. 30s)");
  }
  auto grace = ParseDuration(flags.grace);
  if (!grace) return ServeUsageError("--grace: invalid duration \"" + flags.grace + "\" (e.g. 5s)");
  options.grace = std::chrono::ceil<std::chrono::milliseconds>(*grace);
  auto probe_interval = ParseDuration(flags.store_probe_interval);
  if (!probe_interval || *probe_interval <= std::chrono::nanoseconds(0)) {
    return ServeUsageError("--store-probe-interval: invalid duration \"" +
                           flags.store_probe_interval + "\" (e.g. 5s)");
  }
  options.store_probe_interval = std::chrono::ceil<std::chrono::milliseconds>(*probe_interval);
  auto header_timeout = ParseDuration(flags.header_timeout);
  if (!header_timeout || *header_timeout <= std::chrono::nanoseconds(0)) {
    return ServeUsageError("--header-timeout: invalid duration \"" + flags.header_timeout +
                           "\" (e.g. 10s)");
  }
  const std::optional<std::size_t> sse_max_lag = ParseByteSize(flags.sse_max_lag);
  if (!sse_max_lag || *sse_max_lag == 0) {
    return ServeUsageError("--sse-max-lag: invalid size \"" + flags.sse_max_lag +
                           "\" (bytes, or e.g. 512KiB, 8MiB)");
  }
  options.backup_dir = flags.backup_dir.empty() ? DefaultBackupDir(flags.db) : flags.backup_dir;

  // Signals are taken by sigwait below: block them before any thread starts, so every
  // thread inherits the mask (workers reset it when they start).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  ServerLog log(flags.log_format == "json");
  // One server per store, held until exit; taken before the store is opened, so a second
  // server neither migrates nor resumes anything.
  Result<std::unique_ptr<store::StoreOwnership>> owned = store::AcquireStoreOwnership(flags.db);
  if (!owned.ok()) return ServeStartError("--db: " + owned.error().message);
  store::OpenOptions store_options;
  store_options.log = [&log, &flags](store::LogLevel level, std::string_view message,
                             std::string_view detail) {
    const ServerLog::Level server_level = level == store::LogLevel::kError
                                              ? ServerLog::Level::kError
                                          : level == store::LogLevel::kWarn
                                              ? ServerLog::Level::kWarn
                                              : ServerLog::Level::kInfo;
    log.Write(server_level, message,
              {{"store", flags.db},
               {server_level == ServerLog::Level::kInfo ? "detail" : "error", std::string(detail)}});
  };
  Result<std::unique_ptr<store::Store>> opened = store::OpenStore(flags.db, store_options);
  if (!opened.ok()) return ServeStartError("--db: " + opened.error().message);
  std::unique_ptr<store::Store> store = std::move(opened).value();

  std::string error;
  ServeEngine engine(catalog, *store, log, config.schedules, config.hooks, options);
  if (!engine.Start(&error)) {
    engine.Shutdown(std::chrono::milliseconds(0));
    return ServeUsageError(error);
  }

  http::ServerOptions http_options;
  http_options.host = flags.host;
  http_options.port = static_cast<std::uint16_t>(flags.port);
  http_options.header_timeout = std::chrono::ceil<std::chrono::milliseconds>(*header_timeout);
  http_options.max_connections = static_cast<std::size_t>(flags.max_connections);
  http_options.max_connections_per_client =
      static_cast<std::size_t>(flags.max_connections_per_client);
  http_options.reserved_connections = static_cast<std::size_t>(flags.reserved_connections);
  http_options.sse_max_lag_bytes = *sse_max_lag;
  http_options.workers = flags.http_workers;
  http_options.log = &log;
  http::Server server(engine, *store, http_options);
  if (!server.Start(&error)) {
    engine.Shutdown(std::chrono::milliseconds(0));
    if (error.find("already in use") != std::string::npos) {
      return ServeStartError(fmt::format(
          "--port: cannot listen on {}:{}: the port is already in use by another process. "
          "Stop it, choose another --port, or use --port 0 to pick a free port (the server "
          "prints the one it got)",
          flags.host, flags.port));
    }
    return ServeStartError(fmt::format("--host/--port: {}", error));
  }
  const std::string host = flags.host.find(':') != std::string::npos ? "[" + flags.host + "]"
                                                                      : flags.host;
  std::printf("handoff: serving %zu suites on http://%s:%u (store %s)\n", catalog.suites.size(),
              host.c_str(), static_cast<unsigned>(server.port()), flags.db.c_str());
  std::fflush(stdout);
  log.Info("server started", {{"address", fmt::format("{}:{}", host, server.port())},
                              {"db", flags.db},
                              {"owner", (*owned)->Description()},
                              {"environment", flags.environment}});

  int sig = 0;
  sigwait(&signals, &sig);
  log.Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                             {"timeout", flags.shutdown_timeout}});
  // A second signal while draining ends the process at once (workers die with it).
  std::thread second([signals] {
    int again = 0;
    sigset_t set = signals;
    if (sigwait(&set, &again) == 0) {
      std::fprintf(stderr, "handoff: second signal, exiting now\n");
      std::_Exit(130);
    }
  });
  second.detach();
  engine.Shutdown(std::chrono::ceil<std::chrono::milliseconds>(*shutdown_timeout));
  server.Stop();
  log.Info("server stopped");
  return 0;
}

}  // namespace handoff
