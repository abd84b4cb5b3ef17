// The web UI's files (web/, embedded by cmake/EmbedWeb.cmake), each with an ETag and a gzip
// copy made on first use; the app's deep links are answered with index.html.

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/router.h"
#include "http/routes.h"
#include "http/web_assets.h"

namespace handoff::http {
namespace {

struct EmbeddedFile {
  const WebAsset* asset;
  std::string etag;
  std::string plain;
  std::string gzip;  // empty: not worth compressing
};

// A body that points at a file's bytes (they live as long as the program).
std::shared_ptr<const std::string> StaticBody(const std::string& bytes) {
  return std::shared_ptr<const std::string>(std::shared_ptr<void>(), &bytes);
}

const std::vector<EmbeddedFile>& EmbeddedFiles() {
  static const std::vector<EmbeddedFile> files = [] {
    std::vector<EmbeddedFile> out;
    for (const WebAsset& asset : WebAssets()) {
      EmbeddedFile& file = out.emplace_back();
      file.asset = &asset;
      std::uint64_t hash = 14695981039346656037ull;  // FNV-1a
      for (const char c : asset.data) {
        hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      }
      file.etag = fmt::format("\"{:016x}\"", hash);
      file.plain = std::string(asset.data);
      const bool text = asset.content_type.starts_with("text/") ||
                        asset.content_type.starts_with("application/json") ||
                        asset.content_type.starts_with("image/svg");
      if (text && asset.data.size() > 1024) file.gzip = GzipCompress({asset.data}, 9);
    }
    return out;
  }();
  return files;
}

// The pages of the UI: each deep link is answered with the app, which routes it.
bool IsAppPath(std::string_view path) {
  for (std::string_view page : {"/suites", "/runs", "/hunts"}) {
    if (path == page || (path.starts_with(page) && path[page.size()] == '/')) return true;
  }
  return path == "/" || path == "/flaky" || path == "/schedules" || path == "/activity" ||
         path == "/search";
}

const EmbeddedFile* FindWebFile(std::string_view path) {
  if (IsAppPath(path)) path = "/index.html";
  for (const EmbeddedFile& file : EmbeddedFiles()) {
    if (file.asset->path == path) return &file;
  }
  return nullptr;
}

Response WebFileResponse(const Request& req, const EmbeddedFile& file) {
  Response r;
  r.content_type = std::string(file.asset->content_type);
  // Revalidated on each load (cheap: 304), so a new binary's UI is seen at once.
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("ETag", file.etag);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (file.asset->content_type.starts_with("text/html")) {
    // The app builds its pages with DOM calls and talks only to this server.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; script-src 'self'; style-src 'self' "
                           "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (!file.gzip.empty()) r.headers.emplace_back("Vary", "Accept-Encoding");
  const std::string_view if_none_match = req.Header("If-None-Match");
  if (!if_none_match.empty() && if_none_match.find(file.etag) != std::string_view::npos) {
    r.status = 304;
    return r;
  }
  if (!file.gzip.empty() && AcceptsGzip(req.Header("Accept-Encoding"))) {
    r.shared_body = StaticBody(file.gzip);
    r.headers.emplace_back("Content-Encoding", "gzip");
  } else {
    r.shared_body = StaticBody(file.plain);
  }
  return r;
}

}  // namespace

bool IsWebPath(std::string_view path) {
  // The API's paths are never the UI's, whatever web/ holds.
  if (path == kApiPrefix || path.starts_with(std::string(kApiPrefix) + "/")) return false;
  // The embedded list, not EmbeddedFiles(): the route table asks for every path, and the
  // gzip copies are made only when the UI is first served.
  if (IsAppPath(path)) path = "/index.html";
  for (const WebAsset& asset : WebAssets()) {
    if (asset.path == path) return true;
  }
  return false;
}

Response ServeWebFile(const RouteContext& ctx) {
  const EmbeddedFile* file = FindWebFile(ctx.path);
  if (file == nullptr) return NotFound(fmt::format("no such endpoint: {}", ctx.path));
  return WebFileResponse(ctx.req, *file);
}

}  // namespace handoff::http
