#include "event/attachment.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace handoff {
namespace {

// RFC 6838's restricted-name-chars.
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '!' || c == '#' || c == '$' ||
         c == '&' || c == '-' || c == '^' || c == '_' || c == '.' || c == '+';
}

bool IsRestrictedName(std::string_view s) {
  return !s.empty() && s.size() <= 127 && std::isalnum(static_cast<unsigned char>(s[0])) != 0 &&
         std::all_of(s.begin(), s.end(), IsNameChar);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string CheckAttachmentName(std::string_view name) {
  if (name.empty()) return "an attachment needs a name";
  if (name.size() > kMaxAttachmentName) {
    return fmt::format("attachment name is {} bytes, longer than {}", name.size(),
                       kMaxAttachmentName);
  }
  if (name == "." || name == "..") return fmt::format("\"{}\" cannot name an attachment", name);
  for (unsigned char c : name) {
    if (c == '/' || c == '\\') {
      return fmt::format("attachment name \"{}\" has a path separator: give a file name", name);
    }
    if (c < 0x20 || c == 0x7f) return "attachment name has a control character";
  }
  return {};
}

std::string CheckMediaType(std::string_view media_type) {
  const std::size_t slash = media_type.find('/');
  if (media_type.size() > kMaxMediaType || slash == std::string_view::npos ||
      !IsRestrictedName(media_type.substr(0, slash)) ||
      !IsRestrictedName(media_type.substr(slash + 1))) {
    return fmt::format("\"{}\" is not a media type (type/subtype, e.g. image/png)",
                       media_type.substr(0, std::min<std::size_t>(media_type.size(), 64)));
  }
  return {};
}

std::string NormalizeMediaType(std::string_view media_type) { return Lower(media_type); }

std::string GuessMediaType(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kTypes{{
      {"png", "image/png"},         {"jpg", "image/jpeg"},       {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},         {"webp", "image/webp"},      {"svg", "image/svg+xml"},
      {"txt", "text/plain"},        {"log", "text/plain"},       {"json", "application/json"},
      {"har", "application/json"},  {"html", "text/html"},       {"htm", "text/html"},
      {"xml", "application/xml"},   {"pdf", "application/pdf"},  {"zip", "application/zip"},
      {"csv", "text/csv"},          {"js", "text/javascript"},
  }};
  const std::size_t dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    const std::string ext = Lower(name.substr(dot + 1));
    for (const auto& [e, type] : kTypes) {
      if (e == ext) return std::string(type);
    }
  }
  return "application/octet-stream";
}

bool IsInlineSafe(std::string_view media_type) {
  const std::string type = Lower(media_type);
  return type == "image/png" || type == "image/jpeg" || type == "image/gif" ||
         type == "image/webp" || type == "text/plain" || type == "application/json" ||
         type == "application/pdf";
}

bool IsTextPreview(std::string_view media_type) {
  const std::string type = Lower(media_type);
  return type == "text/plain" || type == "application/json";
}

std::string PathComponent(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isalnum(c) != 0 || c == '_' || c == '-' || (c == '.' && i > 0)) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace handoff
