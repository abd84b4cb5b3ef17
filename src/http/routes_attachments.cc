// Attachments (t.Attach): a run's list, and one attachment's download. A test decides an
// attachment's bytes and media type, so the download is treated as hostile content on the
// UI's origin: only types a browser cannot run (images but SVG, plain text, JSON, PDF) are
// served inline, under their own type; every other type is a download of
// application/octet-stream. Both carry nosniff and a CSP sandbox that allows no script.

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event/attachment.h"
#include "http/routes.h"
#include "json/json_writer.h"
#include "store/run_json.h"

namespace handoff::http {
namespace {

// Returns `name` for a Content-Disposition header: the filename parameter in ASCII (other
// bytes and quotes as '_') and filename* with every byte (RFC 6266, RFC 8187).
std::string Disposition(std::string_view kind, std::string_view name) {
  std::string ascii, encoded;
  for (unsigned char c : name) {
    ascii += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? static_cast<char>(c) : '_';
    if (std::isalnum(c) != 0 || c == '.' || c == '-' || c == '_') {
      encoded += static_cast<char>(c);
    } else {
      fmt::format_to(std::back_inserter(encoded), "%{:02X}", c);
    }
  }
  return fmt::format("{}; filename=\"{}\"; filename*=UTF-8''{}", kind, ascii, encoded);
}

}  // namespace

Response ListRunAttachments(const RouteContext& ctx) {
  const std::optional<store::Run> run = ctx.store.GetRun(ctx.params.Id("run"));
  if (!run) return NotFound(fmt::format("no run with id {}", ctx.params.Id("run")));
  const Result<std::vector<store::AttachmentInfo>> list =
      ctx.store.ListAttachments(run->id, std::nullopt);
  if (!list.ok()) return FromError(list.error());
  std::string out = fmt::format("{{\"run_id\":{},\"attachments\":[", run->id);
  for (std::size_t i = 0; i < list->size(); ++i) {
    const store::AttachmentInfo& a = (*list)[i];
    if (i > 0) out += ',';
    out += "{\"test\":";
    AppendJsonString(out, a.test);
    fmt::format_to(std::back_inserter(out), ",\"attempt\":{},\"name\":", a.attempt);
    AppendJsonString(out, a.name);
    out += ",\"media_type\":";
    AppendJsonString(out, a.media_type);
    fmt::format_to(std::back_inserter(out), ",\"size\":{},\"url\":", a.size);
    AppendJsonString(out, store::AttachmentUrl(run->id, a));
    out += '}';
  }
  out += "]}";
  return JsonResponse(200, std::move(out));
}

Response DownloadAttachment(const RouteContext& ctx) {
  const std::optional<store::Run> run = ctx.store.GetRun(ctx.params.Id("run"));
  if (!run) return NotFound(fmt::format("no run with id {}", ctx.params.Id("run")));
  // {test}/{attempt}/{name}: the test may have '/' in it (subtests), the name never.
  const std::string_view path = ctx.params.Get("path");
  const std::size_t name_at = path.rfind('/');
  const std::size_t attempt_at =
      name_at == std::string_view::npos || name_at == 0 ? std::string_view::npos
                                                        : path.rfind('/', name_at - 1);
  if (attempt_at == std::string_view::npos || attempt_at == 0) {
    return BadRequest("an attachment's path is {test}/{attempt}/{name}");
  }
  std::string test, name;
  if (!PercentDecode(path.substr(0, attempt_at), false, &test) ||
      !PercentDecode(path.substr(name_at + 1), false, &name)) {
    return BadRequest("malformed test or attachment name in the path");
  }
  const std::string_view attempt_text = path.substr(attempt_at + 1, name_at - attempt_at - 1);
  int attempt = 0;
  const auto [end, ec] =
      std::from_chars(attempt_text.data(), attempt_text.data() + attempt_text.size(), attempt);
  if (ec != std::errc() || end != attempt_text.data() + attempt_text.size() || attempt < 0) {
    return BadRequest(fmt::format("attempt \"{}\" is not a number", attempt_text));
  }
  if (const std::string why = CheckAttachmentName(name); !why.empty()) return BadRequest(why);
  const Result<std::optional<store::StoredAttachment>> found =
      ctx.store.GetAttachment(run->id, test, attempt, name);
  if (!found.ok()) return FromError(found.error());
  if (!*found) {
    return NotFound(fmt::format("run {} has no attachment \"{}\" of test \"{}\" attempt {}",
                                run->id, name, test, attempt));
  }
  const store::StoredAttachment& a = **found;
  Response r;
  const bool inline_safe = IsInlineSafe(a.info.media_type);
  if (!inline_safe) {
    r.content_type = "application/octet-stream";
  } else if (a.info.media_type.starts_with("text/")) {
    r.content_type = a.info.media_type + "; charset=utf-8";
  } else {
    r.content_type = a.info.media_type;
  }
  r.body = a.data;
  r.headers.emplace_back("Content-Disposition",
                         Disposition(inline_safe ? "inline" : "attachment", a.info.name));
  r.headers.emplace_back("Content-Security-Policy", "default-src 'none'; img-src 'self'; sandbox");
  r.headers.emplace_back("X-Attachment-Media-Type", a.info.media_type);
  r.headers.emplace_back("Cache-Control", "private, max-age=3600");
  return r;
}

}  // namespace handoff::http
