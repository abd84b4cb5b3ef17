#include "store/open_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "store/pg_ownership.h"
#include "store/pg_store.h"
#include "store/pg_url.h"
#include "store/sqlite_lock.h"
#include "store/sqlite_store.h"
#include "store/store_check.h"

namespace handoff::store {
namespace {

// One backend: the URLs it serves and how.
struct Backend {
  std::string_view scheme;  // the URL's prefix, "sqlite:"
  std::string_view forms;   // the URLs it accepts, for messages ("": said by another row)
  Result<std::unique_ptr<Store>> (*open)(const std::string& url, const OpenOptions& options);
  // Takes ownership of the store at the URL.
  Result<std::unique_ptr<StoreOwnership>> (*acquire)(const std::string& url);
  // The URL as messages may show it (without a password).
  std::string (*shown)(std::string_view url);
  // What a server would find there, without changing anything (store_check.h).
  Result<std::string> (*check)(const std::string& url, const OpenOptions& options);
};

std::string AsGiven(std::string_view url) { return std::string(url); }

Result<std::unique_ptr<Store>> OpenSqlite(const std::string& url, const OpenOptions& options) {
  SqliteStoreOptions sqlite_options;
  sqlite_options.log = options.log;
  sqlite_options.now_ns = options.now_ns;
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(url, sqlite_options);
  if (!store.ok()) return std::move(store).error();
  return std::unique_ptr<Store>(std::move(store).value());
}

Result<std::unique_ptr<StoreOwnership>> AcquireSqlite(const std::string& url) {
  return AcquireSqliteOwnership(url.substr(std::string_view("sqlite:").size()));
}

Result<std::unique_ptr<Store>> OpenPostgres(const std::string& url, const OpenOptions& options) {
  PgStoreOptions pg_options;
  pg_options.log = options.log;
  pg_options.now_ns = options.now_ns;
  pg_options.prepared_statements = options.pg_prepared_statements;
  Result<std::unique_ptr<PgStore>> store = PgStore::Open(url, pg_options);
  if (!store.ok()) return std::move(store).error();
  return std::unique_ptr<Store>(std::move(store).value());
}

Result<std::unique_ptr<StoreOwnership>> AcquirePostgres(const std::string& url) {
  Result<std::unique_ptr<PgOwnership>> lease = AcquirePgOwnership(url);
  if (!lease.ok()) return std::move(lease).error();
  return std::unique_ptr<StoreOwnership>(std::move(lease).value());
}

Result<std::string> CheckSqlite(const std::string& url, const OpenOptions&) {
  return CheckSqliteStore(url.substr(std::string_view("sqlite:").size()));
}

Result<std::string> CheckPostgres(const std::string& url, const OpenOptions& options) {
  return CheckPgStore(url, options.pg_prepared_statements);
}

// Every backend of this build; a new one is one more entry.
constexpr Backend kBackends[] = {
    {"sqlite:", "sqlite:PATH or sqlite::memory:", &OpenSqlite, &AcquireSqlite, &AsGiven,
     &CheckSqlite},
    // libpq connection URIs; PG* environment variables and ~/.pgpass apply.
    {"postgres://", "postgres://USER@HOST:PORT/DATABASE (or postgresql://...)", &OpenPostgres,
     &AcquirePostgres, &PostgresUrlWithoutPassword, &CheckPostgres},
    {"postgresql://", "", &OpenPostgres, &AcquirePostgres, &PostgresUrlWithoutPassword,
     &CheckPostgres},
};

// What an error may quote of a URL no backend serves: of "scheme://..." only its scheme,
// since the rest may hold a password this file does not know how to find.
std::string SchemeOf(const std::string& url) {
  const std::size_t authority = url.find("://");
  // Without an authority ("sqlite:", a path) there is no password to hide.
  if (authority == std::string::npos) return url;
  return url.substr(0, authority + 3) + "...";
}

// The backend of `url`, or kUnsupported naming the accepted forms. A scheme with nothing
// after it names no store.
Result<const Backend*> FindBackend(const std::string& url) {
  for (const Backend& backend : kBackends) {
    if (url.starts_with(backend.scheme) && url.size() > backend.scheme.size()) return &backend;
  }
  return Error{ErrorCode::kUnsupported,
               fmt::format("unsupported database URL \"{}\": use {}", SchemeOf(url),
                           AcceptedStoreUrls())};
}

}  // namespace

std::string AcceptedStoreUrls() {
  std::string forms;
  for (const Backend& backend : kBackends) {
    if (backend.forms.empty()) continue;
    if (!forms.empty()) forms += ", or ";
    forms += backend.forms;
  }
  return forms;
}

std::string ShownStoreUrl(const std::string& url) {
  Result<const Backend*> backend = FindBackend(url);
  if (!backend.ok()) return SchemeOf(url);
  std::string shown = (*backend)->shown(url);
  // Left with no store ("postgres://?" without its '?'), it is shown as no backend's URL,
  // so that it reads alike when shown again.
  return FindBackend(shown).ok() ? shown : SchemeOf(shown);
}

bool StoreUrlHasPassword(const std::string& url) { return ShownStoreUrl(url) != url; }

Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const OpenOptions& options) {
  Result<const Backend*> backend = FindBackend(url);
  if (!backend.ok()) return std::move(backend).error();
  return (*backend)->open(url, options);
}

Result<std::unique_ptr<StoreOwnership>> AcquireStoreOwnership(const std::string& url) {
  Result<const Backend*> backend = FindBackend(url);
  if (!backend.ok()) return std::move(backend).error();
  return (*backend)->acquire(url);
}

Result<std::string> CheckStore(const std::string& url, const OpenOptions& options) {
  Result<const Backend*> backend = FindBackend(url);
  if (!backend.ok()) return std::move(backend).error();
  return (*backend)->check(url, options);
}

}  // namespace handoff::store
