#pragma once

// The web UI: the files of web/, embedded into the library at build time by
// cmake/EmbedWeb.cmake, so that every handoff binary serves it with no network.

#include <span>
#include <string_view>

namespace handoff::http {

struct WebAsset {
  std::string_view path;          // "/index.html", "/app.js", "/js/run.js"
  std::string_view content_type;  // by extension
  std::string_view data;
};

// Every embedded file, by path.
std::span<const WebAsset> WebAssets();

}  // namespace handoff::http
