#pragma once

// Who may send what to `serve`, decided before a route's handler runs (router.cc):
//   1. the Host must be one the server answers to (DNS rebinding: a page of evil.example
//      whose name was made to point at 127.0.0.1 sends Host: evil.example);
//   2. with authentication on, the caller is identified by `Authorization: Bearer TOKEN`, a
//      verified client certificate, or the UI's session cookie, and must hold the role the
//      route needs (route_table.h, Access): 401 without a valid identity, 403 with too
//      small a role;
//   3. a request that changes state must come from the same origin (Origin, Sec-Fetch-Site)
//      and, when it has a body, be JSON: a form that another site posts is refused whether
//      or not authentication is on.
// Every request that changes state is logged with who made it, refused ones included.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "engine/server_log.h"
#include "http/router.h"

namespace handoff::http {

struct RouteSpec;

// The name of the cookie that holds the UI's session (its value: the token, escaped).
inline constexpr std::string_view kSessionCookie = "handoff_session";

// How the server admits requests. The default admits everyone (no authentication, any
// Host): what unit tests of the routes use.
struct AccessPolicy {
  // Null: no authentication (serve --auth=none, or loopback with nothing configured).
  const auth::Authenticator* auth = nullptr;
  // Hosts the server answers to ("name", "*.suffix", or "*" for any); empty: any.
  std::vector<std::string> allowed_hosts;
  // Which of the probe routes stay open when authentication is on.
  bool healthz_open = true;
  bool readyz_open = true;
  bool metrics_open = true;
  // Where requests that change state are logged; null: nowhere.
  ServerLog* log = nullptr;
};

// What the policy decided about one request: a refusal to send, or who the caller is
// (nullopt without authentication, or on a public route without credentials).
struct Admission {
  std::optional<Response> refusal;
  std::optional<auth::Principal> who;
};

// Decides whether `req` (for `path`) may reach `route` (null when no route fits: it then
// needs the read role, so that an unauthenticated client learns nothing of the API).
Admission Admit(const Request& req, std::string_view path, const RouteSpec* route,
                const AccessPolicy& policy);

// Logs a request that changed state (or tried to) with who made it and its answer.
void Audit(const Request& req, std::string_view path, const Admission& admission,
           const Response& response, const AccessPolicy& policy);

// Returns true if `host` (a Host header: name or address, with or without a port) is one
// of `allowed` ("name", "*.suffix" or "*"; case-insensitive). An empty list allows any.
bool HostAllowed(std::string_view host, const std::vector<std::string>& allowed);

// Returns the value of cookie `name` in a Cookie header, or nullopt.
std::optional<std::string> CookieValue(std::string_view cookie_header, std::string_view name);

// Returns the Set-Cookie value that keeps `token` as the UI's session (HttpOnly,
// SameSite=Strict, Secure when `secure`), or that ends it when `token` is empty.
std::string SessionCookie(std::string_view token, bool secure);

}  // namespace handoff::http
