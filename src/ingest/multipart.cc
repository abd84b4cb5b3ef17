#include "ingest/multipart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>

namespace handoff::ingest {
namespace {

// RFC 2046: a boundary is 1 to 70 characters.
constexpr std::size_t kMaxBoundary = 70;
// A part's header fields, together.
constexpr std::size_t kMaxPartHeader = 8 << 10;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

// Returns the value of parameter `name` of a header value ("type; name=value" or
// name="value"), or nullopt.
std::optional<std::string> Parameter(std::string_view value, std::string_view name) {
  std::size_t at = value.find(';');
  while (at != std::string_view::npos) {
    value.remove_prefix(at + 1);
    const std::size_t eq = value.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = Trim(value.substr(0, eq));
    std::string_view rest = value.substr(eq + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    std::string parsed;
    std::size_t end = 0;
    if (!rest.empty() && rest.front() == '"') {
      end = 1;
      while (end < rest.size() && rest[end] != '"') {
        if (rest[end] == '\\' && end + 1 < rest.size()) ++end;
        parsed += rest[end++];
      }
      end = std::min(end + 1, rest.size());
    } else {
      end = std::min(rest.find(';'), rest.size());
      parsed = std::string(Trim(rest.substr(0, end)));
    }
    if (IEquals(key, name)) return parsed;
    value = rest.substr(end);
    at = value.find(';');
  }
  return std::nullopt;
}

// Returns the position of the next delimiter line ("--boundary" at the start of the body
// or of a line) at or after `from`, or npos.
std::size_t FindDelimiter(std::string_view body, std::string_view delimiter, std::size_t from) {
  if (from == 0 && body.starts_with(delimiter)) return 0;
  std::size_t at = from;
  while (true) {
    at = body.find(delimiter, at);
    if (at == std::string_view::npos) return at;
    if (at > 0 && body[at - 1] == '\n') return at;
    ++at;
  }
}

Error Invalid(std::string message) {
  return Error{ErrorCode::kInvalid, "multipart body: " + std::move(message)};
}

}  // namespace

bool IsMultipartMixed(std::string_view content_type) {
  return IEquals(Trim(content_type.substr(0, content_type.find(';'))), "multipart/mixed");
}

Result<std::vector<BodyPart>> SplitMultipart(std::string_view content_type,
                                             std::string_view body) {
  const std::optional<std::string> boundary = Parameter(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > kMaxBoundary) {
    return Invalid("Content-Type needs a boundary of 1 to 70 characters");
  }
  const std::string delimiter = "--" + *boundary;
  std::size_t at = FindDelimiter(body, delimiter, 0);
  if (at == std::string_view::npos) return Invalid("no part starts with --" + *boundary);
  std::vector<BodyPart> parts;
  while (true) {
    at += delimiter.size();
    if (body.substr(at).starts_with("--")) break;  // the close delimiter
    // The rest of the delimiter line: optional white space, then the line's end.
    while (at < body.size() && (body[at] == ' ' || body[at] == '\t')) ++at;
    if (at < body.size() && body[at] == '\r') ++at;
    if (at >= body.size() || body[at] != '\n') {
      return Invalid(fmt::format("part {}: its delimiter line does not end", parts.size() + 1));
    }
    ++at;
    if (parts.size() == kMaxParts) return Invalid(fmt::format("more than {} parts", kMaxParts));
    BodyPart& part = parts.emplace_back();
    // Header fields up to an empty line.
    while (true) {
      const std::size_t nl = body.find('\n', at);
      if (nl == std::string_view::npos || nl - at > kMaxPartHeader) {
        return Invalid(fmt::format("part {}: its header does not end", parts.size()));
      }
      const std::string_view line = Trim(body.substr(at, nl - at));
      at = nl + 1;
      if (line.empty()) break;
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        return Invalid(fmt::format("part {}: header line without a colon", parts.size()));
      }
      const std::string_view name = Trim(line.substr(0, colon));
      const std::string_view value = Trim(line.substr(colon + 1));
      if (IEquals(name, "Content-Type")) {
        part.content_type = std::string(value);
      } else if (IEquals(name, "Content-Disposition")) {
        std::optional<std::string> file = Parameter(value, "filename");
        if (!file) file = Parameter(value, "name");
        if (file) part.file_name = std::move(*file);
      }
    }
    const std::size_t next = FindDelimiter(body, delimiter, at);
    if (next == std::string_view::npos) {
      return Invalid(fmt::format("part {} does not end with --{}: the body is cut short",
                                 parts.size(), *boundary));
    }
    // The line break before the delimiter belongs to it, not to the part.
    std::size_t end = next;
    if (end > at && body[end - 1] == '\n') --end;
    if (end > at && body[end - 1] == '\r') --end;
    part.body = body.substr(at, std::max(end, at) - at);
    at = next;
  }
  if (parts.empty()) return Invalid("it has no part");
  return parts;
}

}  // namespace handoff::ingest
