#include "store/open_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "store/sqlite_lock.h"
#include "store/sqlite_store.h"

namespace handoff::store {
namespace {

// One backend: the URLs it serves and how.
struct Backend {
  std::string_view scheme;  // the URL's prefix, "sqlite:"
  std::string_view forms;   // the URLs it accepts, for messages
  Result<std::unique_ptr<Store>> (*open)(const std::string& url, const OpenOptions& options);
  // Takes ownership of the store at the URL without its scheme.
  Result<std::unique_ptr<StoreOwnership>> (*acquire)(const std::string& rest);
};

Result<std::unique_ptr<Store>> OpenSqlite(const std::string& url, const OpenOptions& options) {
  SqliteStoreOptions sqlite_options;
  sqlite_options.log = options.log;
  sqlite_options.now_ns = options.now_ns;
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(url, sqlite_options);
  if (!store.ok()) return std::move(store).error();
  return std::unique_ptr<Store>(std::move(store).value());
}

// Every backend of this build; a new one is one more entry.
constexpr Backend kBackends[] = {
    {"sqlite:", "sqlite:PATH or sqlite::memory:", &OpenSqlite, &AcquireSqliteOwnership},
};

// The backend of `url`, or kUnsupported naming the accepted forms. A scheme with nothing
// after it names no store.
Result<const Backend*> FindBackend(const std::string& url) {
  for (const Backend& backend : kBackends) {
    if (url.starts_with(backend.scheme) && url.size() > backend.scheme.size()) return &backend;
  }
  return Error{ErrorCode::kUnsupported,
               fmt::format("unsupported database URL \"{}\": use {}", ShownStoreUrl(url),
                           AcceptedStoreUrls())};
}

// The parts of a "scheme://[userinfo@]host…[?query]" URL a password may be in.
struct UrlPasswordSpans {
  // The password in the userinfo ("user:PASSWORD@"): [begin, end); begin == end: none.
  std::size_t userinfo_begin = 0;
  std::size_t userinfo_end = 0;
  // Each "password=VALUE" query parameter's value: [begin, end).
  std::vector<std::pair<std::size_t, std::size_t>> query_values;
  bool any() const { return userinfo_begin != userinfo_end || !query_values.empty(); }
};

// Returns true for a "scheme://…" URL (PostgreSQL's, or one no backend serves, which is
// quoted in an error); "sqlite:PATH" has no authority, so no password.
bool HasAuthority(std::string_view url) {
  const std::size_t sep = url.find("://");
  return sep != std::string_view::npos && sep > 0 && url.find_first_of(":/?#@") == sep;
}

UrlPasswordSpans FindPasswords(std::string_view url) {
  UrlPasswordSpans spans;
  if (!HasAuthority(url)) return spans;
  const std::size_t authority = url.find("://") + 3;
  const std::size_t authority_end = std::min(url.find_first_of("/?#", authority), url.size());
  // The userinfo ends at the authority's last '@' (a password may hold '@' unescaped).
  const std::size_t at = url.substr(0, authority_end).rfind('@');
  if (at != std::string_view::npos && at >= authority) {
    const std::size_t colon = url.substr(0, at).find(':', authority);
    if (colon != std::string_view::npos) {
      spans.userinfo_begin = colon + 1;
      spans.userinfo_end = at;
    }
  }
  const std::size_t query = url.find('?', authority_end);
  if (query == std::string_view::npos) return spans;
  std::size_t pos = query + 1;
  while (pos <= url.size()) {
    std::size_t end = url.find_first_of("&#", pos);
    if (end == std::string_view::npos) end = url.size();
    const std::string_view param = url.substr(pos, end - pos);
    if (param.starts_with("password=")) {
      spans.query_values.emplace_back(pos + 9, end);
    }
    if (end >= url.size() || url[end] == '#') break;
    pos = end + 1;
  }
  return spans;
}

}  // namespace

std::string ShownStoreUrl(std::string_view url) {
  const UrlPasswordSpans spans = FindPasswords(url);
  if (!spans.any()) return std::string(url);
  // Replace from the back, so earlier offsets stay valid.
  std::vector<std::pair<std::size_t, std::size_t>> cuts = spans.query_values;
  if (spans.userinfo_begin != spans.userinfo_end) {
    cuts.emplace_back(spans.userinfo_begin, spans.userinfo_end);
  }
  std::sort(cuts.begin(), cuts.end());
  std::string shown(url);
  for (auto it = cuts.rbegin(); it != cuts.rend(); ++it) {
    shown.replace(it->first, it->second - it->first, kRedacted);
  }
  return shown;
}

bool StoreUrlHasPassword(std::string_view url) { return FindPasswords(url).any(); }

std::string AcceptedStoreUrls() {
  std::string forms;
  for (const Backend& backend : kBackends) {
    if (!forms.empty()) forms += ", or ";
    forms += backend.forms;
  }
  return forms;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const OpenOptions& options) {
  Result<const Backend*> backend = FindBackend(url);
  if (!backend.ok()) return std::move(backend).error();
  return (*backend)->open(url, options);
}

Result<std::unique_ptr<StoreOwnership>> AcquireStoreOwnership(const std::string& url) {
  Result<const Backend*> backend = FindBackend(url);
  if (!backend.ok()) return std::move(backend).error();
  return (*backend)->acquire(url.substr((*backend)->scheme.size()));
}

}  // namespace handoff::store
