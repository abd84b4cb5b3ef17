#include "cli/serve_command.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>
#include <memory>
#include <optional>
#include <string_view>

#include "auth/auth.h"
#include "cli/auth_reload.h"
#include "cli/count_flag.h"
#include "duration/duration.h"
#include "dynlib/lazy_library.h"
#include "engine/secret_params.h"
#include "engine/serve_engine.h"
#include "engine/server_log.h"
#include "http/server.h"
#include "http/tls_server.h"
#include "base/result.h"
#include "cli/db_url_flag.h"
#include "store/open_store.h"
#include "store/ownership.h"
#include "store/pg_ownership.h"
#include "store/pg_url.h"
#include "store/store.h"
#include "engine/schedule_book.h"

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

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
  }
  return items;
}

// True for an address that only this machine can reach: 127.0.0.0/8, ::1, localhost.
bool IsLoopback(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

bool IsWildcard(const std::string& host) {
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_unspecified();
}

// The Hosts a server on `host` answers to by default: that address, and the names of
// loopback; on a wildcard address, also every address of this machine's interfaces and its
// host name (what a kubelet's probes and a Service's pod IP send). Each once, in order
// (loopback is an interface's address too).
std::vector<std::string> DefaultAllowedHosts(const std::string& host) {
  std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1"};
  const auto add = [&hosts](std::string name) {
    if (std::find(hosts.begin(), hosts.end(), name) == hosts.end()) {
      hosts.push_back(std::move(name));
    }
  };
  if (!IsWildcard(host)) {
    add(host);
    return hosts;
  }
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr) continue;
      char text[INET6_ADDRSTRLEN] = {};
      if (i->ifa_addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text,
                  sizeof text);
      } else if (i->ifa_addr->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, text,
                  sizeof text);
      } else {
        continue;
      }
      add(text);
    }
    freeifaddrs(list);
  }
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') add(name);
  return hosts;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

std::optional<std::string> ReadFile(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = fmt::format("cannot read {}: {}", path, std::strerror(errno));
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string JoinList(const std::vector<std::string>& items, std::string_view empty) {
  if (items.empty()) return std::string(empty);
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// What `serve --check-config` checks beyond the flags (each already checked as serve checks
// it): the certificate, the schedules declared in code and the store, all without changing
// anything. Prints what serve would do on stdout; returns 0, or 2 with the error on stderr.
struct ConfigToCheck {
  const ServeFlags& flags;
  const Catalog& catalog;
  const MainConfig& config;
  const ServeOptions& options;
  std::string auth;  // how callers are authenticated
  std::vector<std::string> open_endpoints;
  std::vector<std::string> allowed_hosts;
  std::chrono::milliseconds tls_reload_interval;
};

int CheckServeConfig(const ConfigToCheck& c) {
  std::vector<std::pair<std::string, std::string>> lines;
  const bool tls = !c.flags.tls_cert.empty();
  const std::string host =
      c.flags.host.find(':') != std::string::npos ? "[" + c.flags.host + "]" : c.flags.host;
  lines.emplace_back("listen", fmt::format("{}://{}:{} for Hosts {}", tls ? "https" : "http",
                                           host,
                                           c.flags.port == 0 ? std::string("(a free port)")
                                                             : std::to_string(c.flags.port),
                                           JoinList(c.allowed_hosts, "")));
  if (tls) {
    ServerLog quiet(false);
    Result<std::shared_ptr<http::ServerTls>> loaded = http::ServerTls::Load(
        {c.flags.tls_cert, c.flags.tls_key, c.flags.tls_client_ca}, c.tls_reload_interval,
        &quiet);
    if (!loaded.ok()) return ServeUsageError(loaded.error().message);
    lines.emplace_back("tls", (*loaded)->Describe());
  }
  lines.emplace_back("auth", c.auth);
  lines.emplace_back("open", JoinList(c.open_endpoints, "nothing: every endpoint needs a token"));

  const std::string shown_db = store::ShownStoreUrl(c.flags.db);
  store::OpenOptions store_options;
  store_options.pg_prepared_statements = c.flags.pg_prepared_statements == "on";
  Result<std::string> db = store::CheckStore(c.flags.db, store_options);
  if (!db.ok()) return ServeStartError("--db: " + db.error().message);
  lines.emplace_back("store", *db);
  if (store::IsPostgresUrl(c.flags.db)) {
    lines.emplace_back("replica", fmt::format("{}, leases of {}", c.options.replica,
                                              c.flags.lease_ttl));
  }

  std::vector<std::string> suites;
  for (const Suite& suite : c.catalog.suites) {
    suites.push_back(fmt::format("{} ({} test{})", suite.name, suite.tests.size(),
                                 suite.tests.size() == 1 ? "" : "s"));
  }
  lines.emplace_back("suites", JoinList(suites, "none"));
  ScheduleBook book;
  if (Result<void> added =
          ServeEngine::AddCodeSchedules(c.catalog, c.config.schedules, book,
                                        std::chrono::system_clock::now());
      !added.ok()) {
    return ServeUsageError(added.error().message);
  }
  std::vector<std::string> schedules;
  for (const Schedule& schedule : c.config.schedules) {
    schedules.push_back(fmt::format("{} ({}, {})", schedule.name, schedule.suite, schedule.spec));
  }
  lines.emplace_back("schedules", JoinList(schedules, "none in code"));
  std::vector<std::string> destinations;
  for (const NotifyDestination& destination : c.options.destinations) {
    destinations.push_back(fmt::format("{} ({})", destination.config.name,
                                       destination.config.kind));
  }
  lines.emplace_back("notify", JoinList(destinations, "none"));
  lines.emplace_back("traces", c.flags.otlp.Describe());
  lines.emplace_back("links", fmt::format("traces {}, logs {}",
                                          c.options.traces_link.empty()
                                              ? std::string("none")
                                              : c.options.traces_link.text(),
                                          c.options.logs_link.empty()
                                              ? std::string("none")
                                              : c.options.logs_link.text()));
  lines.emplace_back("runs", fmt::format("at most {} at once, {} isolation, retention {}{}",
                                         c.options.max_concurrent_runs, c.flags.isolation,
                                         c.flags.retention == "0" ? "none" : c.flags.retention,
                                         c.flags.environment.empty()
                                             ? ""
                                             : ", environment " + c.flags.environment));
  std::printf("handoff: serve would start with this configuration:\n");
  for (const auto& [name, text] : lines) std::printf("  %-10s %s\n", name.c_str(), text.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace

void ServeFlags::Add(CLI::App* cmd) {
  cmd->add_option("--host", host, "Address to listen on")->envname("HANDOFF_HOST");
  cmd->add_option("--port", port, "Port to listen on; 0 picks a free one and prints it")
      ->envname("HANDOFF_PORT")
      ->check(WholeNumber(0, 65535));
  cmd->add_option("--db", db,
                  "Store: sqlite:PATH, sqlite::memory:, or postgres://USER@HOST:PORT/DB "
                  "(libpq's PG* variables and password file apply; a URL with a password "
                  "only in HANDOFF_DB)")
      ->envname("HANDOFF_DB");
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
  cmd->add_option("--max-hold", max_hold,
                  "How long a run started with hold_on_failure holds its failed test at most "
                  "before its cleanups run anyway, e.g. 30m")
      ->envname("HANDOFF_MAX_HOLD");
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
  cmd->add_option("--max-request-body", max_request_body,
                  "The largest request body taken (a larger one gets 413): what bounds an "
                  "ingested report, e.g. 16MiB")
      ->envname("HANDOFF_MAX_REQUEST_BODY");
  cmd->add_option("--http-workers", http_workers,
                  "Threads that answer API requests (they read the store)")
      ->envname("HANDOFF_HTTP_WORKERS")
      ->check(WholeNumber(1, 256));
  cmd->add_option("--auth", auth,
                  "auto: tokens required once --auth-file or HANDOFF_AUTH_TOKEN gives any; "
                  "none: no authentication, even beyond loopback (on purpose)")
      ->envname("HANDOFF_AUTH")
      ->check(CLI::IsMember({"auto", "none"}));
  cmd->add_option("--auth-file", auth_file,
                  "Tokens and roles: lines NAME ROLE sha256:HASH (see the token command); "
                  "HANDOFF_AUTH_TOKEN adds one admin token")
      ->envname("HANDOFF_AUTH_FILE");
  cmd->add_option("--allowed-hosts", allowed_hosts,
                  "Host names the server answers to, comma-separated (*.suffix, or * for any; "
                  "default: the listen address and localhost)")
      ->envname("HANDOFF_ALLOWED_HOSTS");
  cmd->add_option("--tls-cert", tls_cert,
                  "Serve HTTPS with this PEM certificate (and its chain); reloaded when the "
                  "file changes. Needs --tls-key")
      ->envname("HANDOFF_TLS_CERT");
  cmd->add_option("--tls-key", tls_key, "The PEM private key of --tls-cert (unencrypted)")
      ->envname("HANDOFF_TLS_KEY");
  cmd->add_option("--tls-client-ca", tls_client_ca,
                  "Require client certificates signed by this PEM CA (mTLS); the certificate's "
                  "CN is the caller, with the role --auth-file gives that name (else run)")
      ->envname("HANDOFF_TLS_CLIENT_CA");
  // Hidden: how often the TLS files are checked for a new certificate (tests use 100ms).
  cmd->add_option("--tls-reload-interval", tls_reload_interval)
      ->envname("HANDOFF_TLS_RELOAD_INTERVAL")
      ->group("");
  cmd->add_option("--open-endpoints", open_endpoints,
                  "Which of healthz,readyz,metrics answer without a token (none: all need "
                  "one)")
      ->envname("HANDOFF_OPEN_ENDPOINTS");
  cmd->add_option("--replica-id", replica_id,
                  "With a PostgreSQL --db: this replica's name, shown on the runs it executes "
                  "(default: the host name, a pod's name in Kubernetes)")
      ->envname("HANDOFF_REPLICA_ID");
  cmd->add_option("--lease-ttl", lease_ttl,
                  "With a PostgreSQL --db: how long a replica's lease on a run lasts unless "
                  "renewed; a run whose replica died resumes on another within it, e.g. 15s")
      ->envname("HANDOFF_LEASE_TTL");
  cmd->add_option("--pg-prepared-statements", pg_prepared_statements,
                  "With a PostgreSQL --db: off sends every statement unnamed, for PgBouncer "
                  "before 1.21 in transaction pooling mode")
      ->envname("HANDOFF_PG_PREPARED_STATEMENTS")
      ->check(CLI::IsMember({"on", "off"}));
  // Hidden: tests shorten it; an operator has no reason to.
  cmd->add_option("--auth-reload-interval", auth_reload_interval,
                  "How often --auth-file is checked for changes, e.g. 5s")
      ->group("");
  notify.Add(cmd);
  otlp.Add(cmd, true);
  cmd->add_option("--traces-link-template", traces_link_template,
                  "URL of an attempt's trace: {trace_id}, {start}, {end}, {start_ms}, {end_ms}, "
                  "{suite}, {test} are replaced (docs/serve.md)")
      ->envname("HANDOFF_TRACES_LINK_TEMPLATE");
  cmd->add_option("--logs-link-template", logs_link_template,
                  "URL of an attempt's logs, with the placeholders of --traces-link-template")
      ->envname("HANDOFF_LOGS_LINK_TEMPLATE");
  cmd->add_flag("--check-config", check_config,
                "Check every flag, variable, notification destination, certificate, the "
                "schedules and the database (changing nothing), print what serve would do, "
                "and exit: 0 when it would start, 2 when it would not");
}

int RunServe(const ServeFlags& flags, const Catalog& catalog, const MainConfig& config) {
  // A password in --db would be in every process listing: it may come from HANDOFF_DB (the
  // flag wins over the variable, so a different value came from argv), PGPASSWORD or a
  // password file.
  if (const std::string error = PasswordOnCommandLine("--db", flags.db); !error.empty()) {
    return ServeUsageError(error);
  }
  // Tokens, sessions, signatures and TLS need OpenSSL, opened when first called
  // (dynlib/lazy_library.h): a host without it fails here, not at its first request.
  if (const std::string missing = dynlib::LoadOpenSsl(); !missing.empty()) {
    return ServeStartError(missing);
  }
  const std::string shown_db = store::ShownStoreUrl(flags.db);
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
  auto max_hold = ParseDuration(flags.max_hold);
  if (!max_hold || max_hold->count() <= 0) {
    return ServeUsageError("--max-hold: invalid duration \"" + flags.max_hold + "\" (e.g. 30m)");
  }
  options.max_hold = std::chrono::ceil<std::chrono::milliseconds>(*max_hold);
  auto probe_interval = ParseDuration(flags.store_probe_interval);
  if (!probe_interval || *probe_interval <= std::chrono::nanoseconds(0)) {
    return ServeUsageError("--store-probe-interval: invalid duration \"" +
                           flags.store_probe_interval + "\" (e.g. 5s)");
  }
  options.store_probe_interval = std::chrono::ceil<std::chrono::milliseconds>(*probe_interval);
  const auto auth_reload_interval = ParseDuration(flags.auth_reload_interval);
  if (!auth_reload_interval || *auth_reload_interval <= std::chrono::nanoseconds(0)) {
    return ServeUsageError("--auth-reload-interval: invalid duration \"" +
                           flags.auth_reload_interval + "\" (e.g. 5s)");
  }
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
  const std::optional<std::size_t> max_request_body = ParseByteSize(flags.max_request_body);
  if (!max_request_body || *max_request_body == 0) {
    return ServeUsageError("--max-request-body: invalid size \"" + flags.max_request_body +
                           "\" (bytes, or e.g. 512KiB, 16MiB)");
  }
  options.backup_dir = flags.backup_dir.empty() ? DefaultBackupDir(flags.db) : flags.backup_dir;
  options.replica = flags.replica_id.empty() ? HostName() : flags.replica_id;
  if (options.replica.empty() || options.replica.size() > 100 ||
      std::any_of(options.replica.begin(), options.replica.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return ServeUsageError("--replica-id: a name of 1 to 100 characters without control "
                           "characters, got \"" + options.replica + "\"");
  }
  const auto lease_ttl = ParseDuration(flags.lease_ttl);
  if (!lease_ttl || *lease_ttl < std::chrono::seconds(1)) {
    return ServeUsageError("--lease-ttl: invalid duration \"" + flags.lease_ttl +
                           "\" (at least 1s, e.g. 15s)");
  }
  options.lease_ttl = std::chrono::ceil<std::chrono::milliseconds>(*lease_ttl);
  {
    std::vector<std::string> hook_names;
    for (const auto& hook : config.hooks) hook_names.push_back(hook->Name());
    if (Result<void> notify = flags.notify.Apply(options, hook_names); !notify.ok()) {
      return ServeUsageError(notify.error().message);
    }
  }

  // TLS, before anything is opened: a certificate that cannot be served stops the start.
  std::shared_ptr<http::ServerTls> tls;
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return ServeUsageError(flags.tls_cert.empty()
                               ? "--tls-key needs --tls-cert: give both to serve HTTPS"
                               : "--tls-cert needs --tls-key: give both to serve HTTPS");
  }
  if (!flags.tls_client_ca.empty() && flags.tls_cert.empty()) {
    return ServeUsageError(
        "--tls-client-ca needs --tls-cert and --tls-key: client certificates are asked for "
        "in the TLS handshake, so the server must serve HTTPS");
  }
  auto tls_reload_interval = ParseDuration(flags.tls_reload_interval);
  if (!tls_reload_interval || *tls_reload_interval <= std::chrono::nanoseconds(0)) {
    return ServeUsageError("--tls-reload-interval: invalid duration \"" +
                           flags.tls_reload_interval + "\" (e.g. 10s)");
  }
  const bool client_certificates = !flags.tls_client_ca.empty();

  // Authentication: tokens from the auth file and HANDOFF_AUTH_TOKEN (never from argv), and
  // client certificates (mTLS).
  std::optional<auth::Authenticator> authenticator;
  std::vector<auth::AuthEntry> auth_entries;
  if (!flags.auth_file.empty()) {
    std::string error;
    const std::optional<std::string> text = ReadFile(flags.auth_file, &error);
    if (!text) return ServeUsageError("--auth-file: " + error);
    Result<std::vector<auth::AuthEntry>> parsed = auth::ParseAuthFile(*text);
    if (!parsed.ok()) {
      return ServeUsageError(fmt::format("--auth-file {}: {}", flags.auth_file,
                                         parsed.error().message));
    }
    auth_entries = std::move(parsed).value();
  }
  std::optional<std::string> admin_token;
  if (const char* env = std::getenv("HANDOFF_AUTH_TOKEN")) admin_token = std::string(env);
  const bool auth_configured =
      !flags.auth_file.empty() || admin_token.has_value() || client_certificates;
  if (flags.auth == "none" && auth_configured) {
    return ServeUsageError(
        client_certificates
            ? "--auth=none turns authentication off, but --tls-client-ca requires client "
              "certificates: choose one"
            : "--auth=none turns authentication off, but --auth-file or HANDOFF_AUTH_TOKEN "
              "gives tokens: choose one");
  }
  if (auth_configured) {
    Result<auth::Authenticator> created =
        auth::Authenticator::Create(std::move(auth_entries), std::move(admin_token));
    if (!created.ok()) {
      const std::string& message = created.error().message;
      return ServeUsageError(message.starts_with("HANDOFF_AUTH_TOKEN")
                                 ? message
                                 : fmt::format("--auth-file {}: {}", flags.auth_file, message));
    }
    authenticator = std::move(created).value();
    // With client certificates, an auth file may name certificate holders only.
    if (authenticator->tokens() == 0 && !client_certificates) {
      return ServeUsageError(fmt::format(
          "--auth-file {}: no token in it: nobody could use the server (the token command "
          "makes one)",
          flags.auth_file));
    }
  } else if (flags.auth != "none" && !IsLoopback(flags.host)) {
    return ServeUsageError(fmt::format(
        "--host {} can be reached from other machines, and no authentication is configured: "
        "anyone who reaches it could start runs and read their params. Give tokens with "
        "--auth-file FILE or HANDOFF_AUTH_TOKEN, or require client certificates with "
        "--tls-client-ca (docs/serve.md, Security), or pass --auth=none to serve without "
        "authentication on purpose",
        flags.host));
  }
  std::vector<std::string> open_endpoints = SplitList(flags.open_endpoints);
  if (open_endpoints.size() == 1 && open_endpoints[0] == "none") open_endpoints.clear();
  for (const std::string& endpoint : open_endpoints) {
    if (endpoint != "healthz" && endpoint != "readyz" && endpoint != "metrics") {
      return ServeUsageError(fmt::format(
          "--open-endpoints: unknown endpoint \"{}\" (healthz, readyz, metrics, or none)",
          endpoint));
    }
  }
  const auto open = [&](std::string_view name) {
    return std::find(open_endpoints.begin(), open_endpoints.end(), name) !=
           open_endpoints.end();
  };
  std::vector<std::string> allowed_hosts = SplitList(flags.allowed_hosts);
  if (allowed_hosts.empty()) allowed_hosts = DefaultAllowedHosts(flags.host);
  std::string auth_description = "none";
  if (authenticator) {
    auth_description = fmt::format("{} token{}", authenticator->tokens(),
                                   authenticator->tokens() == 1 ? "" : "s");
    if (client_certificates) auth_description += " and client certificates";
  }
  Result<std::optional<otlp::ExporterOptions>> otlp_options = flags.otlp.Options();
  if (!otlp_options.ok()) return ServeUsageError(otlp_options.error().message);
  Result<LinkTemplate> traces_link =
      LinkTemplate::Parse("--traces-link-template", flags.traces_link_template);
  if (!traces_link.ok()) return ServeUsageError(traces_link.error().message);
  options.traces_link = std::move(traces_link).value();
  Result<LinkTemplate> logs_link =
      LinkTemplate::Parse("--logs-link-template", flags.logs_link_template);
  if (!logs_link.ok()) return ServeUsageError(logs_link.error().message);
  options.logs_link = std::move(logs_link).value();
  if (flags.check_config) {
    return CheckServeConfig({flags, catalog, config, options,
                             auth_description, open_endpoints, allowed_hosts,
                             std::chrono::ceil<std::chrono::milliseconds>(*tls_reload_interval)});
  }

  // Signals are taken by sigwait below: block them before any thread starts, so every
  // thread inherits the mask (workers reset it when they start).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  ServerLog log(flags.log_format == "json");
  if (*otlp_options) {
    (*otlp_options)->on_error = [&log](const std::string& line) {
      log.Warn("trace export failed", {{"error", line}});
    };
    Result<std::unique_ptr<otlp::Exporter>> exporter =
        otlp::Exporter::Start(std::move(**otlp_options));
    if (!exporter.ok()) return ServeUsageError("--otlp-endpoint: " + exporter.error().message);
    options.traces = std::move(exporter).value();
  }
  // The exporter logs through `log`: its thread ends before `log` does, on every return.
  struct StopTraces {
    std::shared_ptr<otlp::Exporter> traces;
    ~StopTraces() {
      if (traces) traces->Shutdown(std::chrono::milliseconds(0));
    }
  } stop_traces{options.traces};
  if (!flags.tls_cert.empty()) {
    Result<std::shared_ptr<http::ServerTls>> loaded = http::ServerTls::Load(
        {flags.tls_cert, flags.tls_key, flags.tls_client_ca},
        std::chrono::ceil<std::chrono::milliseconds>(*tls_reload_interval), &log);
    if (!loaded.ok()) return ServeUsageError(loaded.error().message);
    tls = std::move(loaded).value();
  }
  // One server per SQLite store, held until exit; taken before the store is opened, so a
  // second server neither migrates nor resumes anything. Replicas share a PostgreSQL
  // database: each run is leased by the replica executing it (docs/scale-out.md).
  std::unique_ptr<store::StoreOwnership> owned;
  std::string owner = fmt::format("replica {}: runs leased one at a time (lease ttl {} ms)",
                                  options.replica, options.lease_ttl.count());
  if (store::IsPostgresUrl(flags.db)) {
    if (Result<void> free =
            store::CheckNoPgOwner(flags.db, flags.pg_prepared_statements == "on");
        !free.ok()) {
      return ServeStartError("--db: " + free.error().message);
    }
  } else {
    Result<std::unique_ptr<store::StoreOwnership>> acquired =
        store::AcquireStoreOwnership(flags.db);
    if (!acquired.ok()) return ServeStartError("--db: " + acquired.error().message);
    owned = std::move(acquired).value();
    owner = owned->Description();
  }
  store::OpenOptions store_options;
  store_options.pg_prepared_statements = flags.pg_prepared_statements == "on";
  store_options.log = [&log, &shown_db](store::LogLevel level, std::string_view message,
                             std::string_view detail) {
    const ServerLog::Level server_level = level == store::LogLevel::kError
                                              ? ServerLog::Level::kError
                                          : level == store::LogLevel::kWarn
                                              ? ServerLog::Level::kWarn
                                              : ServerLog::Level::kInfo;
    log.Write(server_level, message,
              {{"store", shown_db},
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
  http_options.body_limit = *max_request_body;
  http_options.workers = flags.http_workers;
  http_options.log = &log;
  http_options.access.auth = authenticator ? &*authenticator : nullptr;
  http_options.access.allowed_hosts = allowed_hosts;
  http_options.access.healthz_open = open("healthz");
  http_options.access.readyz_open = open("readyz");
  http_options.access.metrics_open = open("metrics");
  http_options.access.log = &log;
  http_options.tls = tls;
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
  // Tokens are added and revoked by editing the auth file.
  std::optional<AuthFileReloader> auth_reloader;
  if (authenticator && !flags.auth_file.empty()) {
    auth_reloader.emplace(flags.auth_file, *authenticator, log,
                          std::chrono::ceil<std::chrono::milliseconds>(*auth_reload_interval));
  }
  const std::string host = flags.host.find(':') != std::string::npos ? "[" + flags.host + "]"
                                                                      : flags.host;
  const char* scheme = tls ? "https" : "http";
  std::printf("handoff: serving %zu suites on %s://%s:%u (store %s)\n", catalog.suites.size(),
              scheme, host.c_str(), static_cast<unsigned>(server.port()), shown_db.c_str());
  std::fflush(stdout);
  ServerLog::Fields started = {{"address", fmt::format("{}://{}:{}", scheme, host, server.port())},
                               {"db", shown_db},
                               {"auth", auth_description},
                               {"owner", owner},
                               {"environment", flags.environment}};
  if (tls) started.emplace_back("tls", tls->Describe());
  log.Info("server started", started);

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
  // The spans of the last tests go before the server stops.
  if (options.traces) options.traces->Shutdown(std::chrono::seconds(5));
  server.Stop();
  log.Info("server stopped");
  return 0;
}

}  // namespace handoff
