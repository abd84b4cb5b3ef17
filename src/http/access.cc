#include "http/access.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "http/route_table.h"

namespace handoff::http {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The name or address of a Host value, without its port or an IPv6 address's brackets.
std::string_view HostName(std::string_view host) {
  if (host.starts_with('[')) {
    const std::size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  const std::size_t colon = host.find(':');
  // More than one colon: an IPv6 address without brackets, taken whole.
  if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) {
    return host.substr(0, colon);
  }
  return host;
}

// The authority (host[:port]) of an Origin value, or nullopt for "null" or no scheme.
std::optional<std::string_view> OriginAuthority(std::string_view origin) {
  const std::size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos) return std::nullopt;
  std::string_view authority = origin.substr(scheme + 3);
  if (const std::size_t slash = authority.find('/'); slash != std::string_view::npos) {
    authority = authority.substr(0, slash);
  }
  return authority;
}

// The authority a client addressed, with the scheme's default port made explicit, so that
// "Host: h" and "Origin: http://h:80" compare equal.
std::string Authority(std::string_view authority, bool https) {
  std::string out = Lower(authority);
  const std::string_view name = HostName(authority);
  const bool bracketed = authority.starts_with('[');
  const std::size_t name_end = (bracketed ? name.size() + 2 : name.size());
  if (name_end >= authority.size()) out += https ? ":443" : ":80";
  return out;
}

std::string_view RequiredRole(Access access) {
  switch (access) {
    case Access::kRun:
      return "run";
    case Access::kAdmin:
      return "admin";
    default:
      return "read";
  }
}

bool RoleAllows(auth::Role role, Access access) {
  switch (access) {
    case Access::kPublic:
    case Access::kProbe:
    case Access::kRead:
      return true;
    case Access::kRun:
      return role >= auth::Role::kRun;
    case Access::kAdmin:
      return role >= auth::Role::kAdmin;
  }
  return false;
}

bool ProbeOpen(std::string_view path, const AccessPolicy& policy) {
  if (path == "/healthz") return policy.healthz_open;
  if (path == "/readyz") return policy.readyz_open;
  if (path == "/metrics") return policy.metrics_open;
  return false;
}

Response Unauthenticated(std::string_view message) {
  Response r = ErrorResponse(401, "unauthenticated", message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"handoff\"");
  return r;
}

// Decodes the %XX escapes SessionCookie wrote; nullopt on a malformed one.
std::optional<std::string> Unescape(std::string_view value) {
  std::string out;
  if (!PercentDecode(value, false, &out)) return std::nullopt;
  return out;
}

// Who the credentials of `req` name: nullopt without any; a 401 for a bearer token that
// no entry has. A stale cookie counts as none (the UI then asks to log in again).
std::optional<Response> Identify(const Request& req, const auth::Authenticator& auth,
                                 std::optional<auth::Principal>* who) {
  if (const std::string* header = FindHeader(req.headers, "Authorization")) {
    const std::string_view value = *header;
    constexpr std::string_view kBearer = "bearer ";
    if (value.size() <= kBearer.size() || !IEquals(value.substr(0, kBearer.size()), kBearer)) {
      return Unauthenticated("the Authorization header must be \"Bearer TOKEN\"");
    }
    std::string_view token = value.substr(kBearer.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    *who = auth.FromToken(token, auth::Principal::Via::kToken);
    if (!*who) return Unauthenticated("the token is not valid (unknown, or revoked)");
    return std::nullopt;
  }
  if (!req.client_cert_name.empty()) {
    *who = auth.FromCertificate(req.client_cert_name);
    return std::nullopt;
  }
  if (const std::string* cookie = FindHeader(req.headers, "Cookie")) {
    if (std::optional<std::string> value = CookieValue(*cookie, kSessionCookie)) {
      if (std::optional<std::string> token = Unescape(*value)) {
        *who = auth.FromToken(*token, auth::Principal::Via::kCookie);
      }
    }
  }
  return std::nullopt;
}

// Returns true for the media types an HTML form can send (without a preflight).
bool FormMediaType(std::string_view type) {
  return IEquals(type, "application/x-www-form-urlencoded") ||
         IEquals(type, "multipart/form-data") || IEquals(type, "text/plain");
}

// Refuses a state-changing request that another site could have sent: a browser says where
// a request comes from in Sec-Fetch-Site and Origin; a form cannot send JSON. A route that
// takes a report (Body::kReport) takes other types too (curl sends a file as
// application/x-www-form-urlencoded unless told otherwise), but none a form can send from a
// browser's session (the cookie), and never multipart/form-data: a report is not a form.
std::optional<Response> RefuseCrossSite(const Request& req, Body body,
                                        const std::optional<auth::Principal>& who) {
  const std::string_view site = req.Header("Sec-Fetch-Site");
  if (!site.empty() && site != "same-origin" && site != "none") {
    return ErrorResponse(403, "cross_origin",
                         fmt::format("a {} request may not change state (Sec-Fetch-Site: {})",
                                     site == "same-site" ? "same-site" : "cross-site", site));
  }
  if (const std::string* origin = FindHeader(req.headers, "Origin")) {
    const std::optional<std::string_view> authority = OriginAuthority(*origin);
    const bool https = origin->starts_with("https://");
    if (!authority || Authority(*authority, https) != Authority(req.Header("Host"), https)) {
      return ErrorResponse(
          403, "cross_origin",
          fmt::format("a request from origin {} may not change state on this server", *origin));
    }
  }
  if (!req.body.empty()) {
    std::string_view type = req.Header("Content-Type");
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    if (body == Body::kReport) {
      const bool browser = who && who->via == auth::Principal::Via::kCookie;
      if (FormMediaType(type) && (browser || IEquals(type, "multipart/form-data"))) {
        return ErrorResponse(415, "unsupported_media_type",
                             fmt::format("a report may not be sent as {}{}", type,
                                         browser ? " from a browser's session" : ""));
      }
    } else if (!IEquals(type, "application/json")) {
      return ErrorResponse(415, "unsupported_media_type",
                           "a request body must be JSON (Content-Type: application/json)");
    }
  }
  return std::nullopt;
}

}  // namespace

bool HostAllowed(std::string_view host, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  const std::string name = Lower(HostName(host));
  if (name.empty()) return false;
  for (const std::string& entry : allowed) {
    if (entry == "*") return true;
    const std::string pattern = Lower(HostName(entry));
    if (pattern.starts_with("*.")) {
      const std::string_view suffix = std::string_view(pattern).substr(1);  // ".example.com"
      if (name.size() > suffix.size() && name.ends_with(suffix)) return true;
    } else if (name == pattern) {
      return true;
    }
  }
  return false;
}

std::optional<std::string> CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t semicolon = header.find(';');
    std::string_view pair = header.substr(0, semicolon);
    header = semicolon == std::string_view::npos ? std::string_view()
                                                 : header.substr(semicolon + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    std::string_view value = pair.substr(eq + 1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return std::nullopt;
}

std::string SessionCookie(std::string_view token, bool secure) {
  std::string value;
  for (const char c : token) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      value += c;
    } else {
      fmt::format_to(std::back_inserter(value), "%{:02X}", static_cast<unsigned char>(c));
    }
  }
  // A week, or now to end it; HttpOnly keeps it from scripts, SameSite=Strict from every
  // request another site makes.
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", kSessionCookie,
                     value, token.empty() ? 0 : 7 * 24 * 3600, secure ? "; Secure" : "");
}

Admission Admit(const Request& req, std::string_view path, const RouteSpec* route,
                const AccessPolicy& policy) {
  Admission admission;
  const Access access = route != nullptr ? route->access : Access::kRead;
  // Probes answer any Host: kubelet and Prometheus send the pod's address, which a custom
  // --allowed-hosts cannot name. The Host check keeps a rebound DNS name from lending a
  // browser's session to another site; a probe shows nothing a session could, and a closed
  // one still needs a token, which a browser never adds by itself.
  const bool open_probe = access == Access::kProbe && ProbeOpen(path, policy);
  if (access != Access::kProbe && !HostAllowed(req.Header("Host"), policy.allowed_hosts)) {
    admission.refusal = ErrorResponse(
        403, "host_not_allowed",
        fmt::format("this server does not answer to Host \"{}\" (serve --allowed-hosts)",
                    req.Header("Host")));
    return admission;
  }
  if (policy.auth != nullptr) {
    std::optional<auth::Principal> who;
    std::optional<Response> refused = Identify(req, *policy.auth, &who);
    const bool open = access == Access::kPublic || open_probe;
    if (!open) {
      if (refused) {
        admission.refusal = std::move(refused);
        return admission;
      }
      if (!who) {
        admission.refusal = Unauthenticated(
            "authentication required: send Authorization: Bearer TOKEN (remote: --token or "
            "HANDOFF_TOKEN), or log in to the web UI");
        return admission;
      }
      if (!RoleAllows(who->role, access)) {
        admission.refusal = ErrorResponse(
            403, "forbidden",
            fmt::format("{} has the {} role; this needs the {} role", who->name,
                        auth::RoleName(who->role), RequiredRole(access)));
        admission.who = std::move(who);
        return admission;
      }
    }
    admission.who = std::move(who);
  }
  if (route != nullptr && route->changes_state) {
    admission.refusal = RefuseCrossSite(req, route->body, admission.who);
  }
  return admission;
}

void Audit(const Request& req, std::string_view path, const Admission& admission,
           const Response& response, const AccessPolicy& policy) {
  if (policy.log == nullptr) return;
  ServerLog::Fields fields = {
      {"method", req.method},
      {"path", std::string(path)},
      {"status", std::to_string(response.status)},
      {"user", admission.who ? admission.who->name
                             : (policy.auth != nullptr ? "-" : "anonymous")},
  };
  if (admission.who) {
    fields.emplace_back("role", std::string(auth::RoleName(admission.who->role)));
    fields.emplace_back("via", std::string(auth::ViaName(admission.who->via)));
  }
  if (!req.peer_address.empty()) fields.emplace_back("peer", req.peer_address);
  if (response.status == 401 || response.status == 403 || response.status == 415) {
    policy.log->Warn("api request refused", fields);
  } else {
    policy.log->Info("api request", fields);
  }
}

}  // namespace handoff::http
