// Operating the server: liveness (/healthz), readiness (/readyz), Prometheus metrics
// (/metrics) and an online backup of the store (POST /api/v1/admin/backup).

#include <fmt/format.h>

#include <string>

#include "http/routes.h"
#include "json/json_writer.h"

namespace handoff::http {

Response Healthz(const RouteContext&) { return JsonResponse(200, "{\"status\":\"ok\"}"); }

Response Readyz(const RouteContext& ctx) {
  if (ctx.api.Ready()) return JsonResponse(200, "{\"status\":\"ready\"}");
  std::string body = "{\"status\":\"not ready\",\"reason\":";
  AppendJsonString(body, ctx.api.NotReadyReason());
  body += '}';
  return JsonResponse(503, std::move(body));
}

Response Metrics(const RouteContext& ctx) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = ctx.api.Metrics();
  return r;
}

// A snapshot of the store written on the server, in its backup directory (as Prometheus'
// POST /api/v1/admin/tsdb/snapshot). The file stays on the server's volume, where the
// database is, and the client never chooses a path the server would write to.
Response AdminBackup(const RouteContext& ctx) {
  const Result<store::BackupInfo> backup = ctx.api.Backup();
  if (!backup.ok()) return FromError(backup.error());
  std::string out = "{\"path\":";
  AppendJsonString(out, backup->path);
  out += fmt::format(",\"bytes\":{},\"pages\":{},\"duration_ms\":{}}}", backup->bytes,
                     backup->pages, backup->duration_ms);
  return JsonResponse(200, std::move(out));
}

}  // namespace handoff::http
