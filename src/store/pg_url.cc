#include "store/pg_url.h"

#include <cstddef>

namespace handoff::store {
namespace {

constexpr std::string_view kSchemes[] = {"postgresql://", "postgres://"};

// Returns `query` ("a=1&password=x&b=2", without the '?') without its password parameters
// and its empty ones ("a=1&&b=2" reads "a=1&b=2"), so that what it returns comes back alike.
std::string QueryWithoutPassword(std::string_view query) {
  std::string kept;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty() || param == "password" || param.starts_with("password=")) continue;
    if (!kept.empty()) kept += '&';
    kept.append(param);
  }
  return kept;
}

}  // namespace

bool IsPostgresUrl(std::string_view url) {
  for (std::string_view scheme : kSchemes) {
    if (url.starts_with(scheme)) return true;
  }
  return false;
}

std::string PostgresUrlWithoutPassword(std::string_view url) {
  std::size_t start = 0;
  for (std::string_view scheme : kSchemes) {
    if (url.starts_with(scheme)) {
      start = scheme.size();
      break;
    }
  }
  if (start == 0) {
    // Not a URI: keep the text up to a "password" keyword, if any, out of caution.
    const std::size_t at = url.find("password");
    return std::string(url.substr(0, at));
  }
  std::string out(url.substr(0, start));
  std::string_view rest = url.substr(start);
  // The authority ends at the path or the query, as libpq reads it (libpq gives '#' no
  // meaning: it is part of what it stands in).
  const std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  // user:password@host: the userinfo ends at the last '@' ('@' in a password is escaped, but
  // be lenient with one that is not).
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    out.append(userinfo.substr(0, userinfo.find(':')));
    out.append(authority.substr(at));
  } else {
    out.append(authority);
  }
  const std::size_t question = rest.find('?');
  if (question == std::string_view::npos) {
    out.append(rest);
    return out;
  }
  out.append(rest.substr(0, question));
  // Everything after the '?' is parameters, a '#' included, as libpq reads them.
  const std::string kept = QueryWithoutPassword(rest.substr(question + 1));
  if (!kept.empty()) {
    out += '?';
    out += kept;
  }
  return out;
}

}  // namespace handoff::store
