#include "engine/trace_links.h"

#include <fmt/format.h>

#include <array>
#include <ctime>

#include "http_client/http_client.h"

namespace handoff {
namespace {

constexpr std::array<std::string_view, 7> kPlaceholders = {
    "trace_id", "suite", "test", "start", "end", "start_ms", "end_ms"};

bool IsNameChar(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

// Calls on_text for literal text and on_name for each placeholder of `text`.
template <typename OnText, typename OnName>
void Scan(std::string_view text, OnText on_text, OnName on_name) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '{') {
      std::size_t j = i + 1;
      while (j < text.size() && IsNameChar(text[j])) ++j;
      if (j > i + 1 && j < text.size() && text[j] == '}') {
        on_name(text.substr(i + 1, j - i - 1));
        i = j + 1;
        continue;
      }
    }
    on_text(text[i]);
    ++i;
  }
}

// RFC 3986's unreserved characters and ':' (allowed in paths, queries and fragments, and
// in every time: "2026-12-05T02:00:00.000Z" reads as itself) stay; every other byte is %XX.
void AppendEncoded(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
}

std::string Rfc3339(std::int64_t ns) {
  const std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (ns / 1'000'000) % 1000);
}

std::string Value(std::string_view name, const AttemptFacts& f) {
  if (name == "trace_id") return f.trace_id;
  if (name == "suite") return f.suite;
  if (name == "test") return f.test;
  if (name == "start") return Rfc3339(f.start_ns);
  if (name == "end") return Rfc3339(f.end_ns);
  if (name == "start_ms") return std::to_string(f.start_ns / 1'000'000);
  if (name == "end_ms") return std::to_string((f.end_ns + 999'999) / 1'000'000);
  return {};
}

}  // namespace

Result<LinkTemplate> LinkTemplate::Parse(std::string_view flag, std::string text) {
  if (text.empty()) return LinkTemplate();
  std::string unknown;
  Scan(text, [](char) {}, [&](std::string_view name) {
    bool known = false;
    for (std::string_view p : kPlaceholders) known = known || p == name;
    if (!known && unknown.empty()) unknown = name;
  });
  if (!unknown.empty()) {
    return Error{ErrorCode::kInvalid,
                 fmt::format("{}: unknown placeholder {{{}}} (known: {{trace_id}}, {{suite}}, "
                             "{{test}}, {{start}}, {{end}}, {{start_ms}}, {{end_ms}})",
                             flag, unknown)};
  }
  LinkTemplate t(std::move(text));
  const std::string sample = t.Render(AttemptFacts{"4bf92f3577b34da6a3ce929d0e0e4736", "Suite",
                                                   "Test/Sub", 1'700'000'000'000'000'000,
                                                   1'700'000'001'000'000'000});
  std::string error;
  const std::optional<http::Url> url = http::ParseUrl(sample, &error);
  if (!url || url->host.empty()) {
    return Error{ErrorCode::kInvalid,
                 fmt::format("{}: not an http:// or https:// URL with a host: {}", flag,
                             url ? sample : error)};
  }
  return t;
}

std::string LinkTemplate::Render(const AttemptFacts& facts) const {
  if (text_.empty() || facts.trace_id.empty()) return {};
  std::string out;
  out.reserve(text_.size() + 64);
  Scan(text_, [&](char c) { out += c; },
       [&](std::string_view name) { AppendEncoded(out, Value(name, facts)); });
  return out;
}

}  // namespace handoff
