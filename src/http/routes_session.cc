// The browser's session: the UI logs in with a token, which the server keeps in an HttpOnly,
// SameSite=Strict cookie (scripts cannot read it; other sites' requests do not carry it),
// and logs out by clearing it. Clients other than the browser send the token itself.

#include <string>

#include "http/access.h"
#include "http/json_input.h"
#include "http/routes.h"
#include "json/json_writer.h"

namespace handoff::http {
namespace {

// {"auth":bool,"authenticated":bool[,"name","role","via"]}
std::string SessionJson(const AccessPolicy* policy, const auth::Principal* who) {
  std::string body = "{\"auth\":";
  body += policy != nullptr && policy->auth != nullptr ? "true" : "false";
  body += ",\"authenticated\":";
  body += who != nullptr ? "true" : "false";
  if (who != nullptr) {
    body += ",\"name\":";
    AppendJsonString(body, who->name);
    body += ",\"role\":";
    AppendJsonString(body, auth::RoleName(who->role));
    body += ",\"via\":";
    AppendJsonString(body, auth::ViaName(who->via));
  }
  body += '}';
  return body;
}

}  // namespace

Response GetSession(const RouteContext& ctx) {
  return JsonResponse(200, SessionJson(ctx.policy, ctx.who));
}

Response LogIn(const RouteContext& ctx) {
  if (ctx.policy == nullptr || ctx.policy->auth == nullptr) {
    return ErrorResponse(409, "conflict", "authentication is off on this server: no need to log in");
  }
  std::string token;
  BodyFields body(ctx.req.body);
  if (!body.error().empty()) return BadRequest(body.error());
  for (std::size_t i = 0; i < body.size(); ++i) {
    const bool ok = body.name(i) == "token" ? body.String(i, &token) : body.Unknown(i);
    if (!ok) return BadRequest(body.error());
  }
  if (token.empty()) return BadRequest("field \"token\" is required");
  const std::optional<auth::Principal> who =
      ctx.policy->auth->FromToken(token, auth::Principal::Via::kCookie);
  if (!who) {
    return ErrorResponse(401, "unauthenticated", "the token is not valid (unknown, or revoked)");
  }
  Response r = JsonResponse(200, SessionJson(ctx.policy, &*who));
  r.headers.emplace_back("Set-Cookie", SessionCookie(token, ctx.req.secure));
  return r;
}

Response LogOut(const RouteContext& ctx) {
  Response r = JsonResponse(200, SessionJson(ctx.policy, nullptr));
  r.headers.emplace_back("Set-Cookie", SessionCookie("", ctx.req.secure));
  return r;
}

}  // namespace handoff::http
