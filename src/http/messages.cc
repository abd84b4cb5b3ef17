// Requests and responses: header lookup, bodies, JSON errors, percent-decoding, ids and
// query values. Shared by the router, the route table and every handler.

#include <fmt/format.h>

#include <charconv>
#include <string>
#include <string_view>
#include <system_error>

#include "http/router.h"
#include "http/routes.h"
#include "json/json_writer.h"

namespace handoff::http {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string* FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

std::string_view Request::Header(std::string_view name) const {
  const std::string* value = FindHeader(headers, name);
  return value == nullptr ? std::string_view() : std::string_view(*value);
}

std::string Response::FullBody() const {
  std::string out = body;
  if (shared_body) out += *shared_body;
  return out;
}

std::size_t Response::BodySize() const {
  return body.size() + (shared_body ? shared_body->size() : 0);
}

Response ErrorResponse(int status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  r.body = "{\"error\":{\"code\":";
  AppendJsonString(r.body, code);
  r.body += ",\"message\":";
  AppendJsonString(r.body, message);
  r.body += "}}";
  return r;
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      *out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      *out += ' ';
    } else {
      *out += c;
    }
  }
  return true;
}

Response NotFound(std::string_view message) { return ErrorResponse(404, "not_found", message); }

Response BadRequest(std::string_view message) {
  return ErrorResponse(400, "invalid_argument", message);
}

Response FromError(const Error& error) {
  const std::string_view message = error.message;
  switch (error.code) {
    case ErrorCode::kNotFound:
      return ErrorResponse(404, "not_found", message);
    case ErrorCode::kInvalid:
      return ErrorResponse(400, "invalid_argument", message);
    case ErrorCode::kConflict:
      return ErrorResponse(409, "conflict", message);
    case ErrorCode::kUnavailable:
      return ErrorResponse(503, "unavailable", message);
    case ErrorCode::kCorrupt:
    case ErrorCode::kUnsupported:
    case ErrorCode::kInternal:
      break;  // not the client's to fix, nor a state that passes
  }
  return ErrorResponse(500, "internal", message);
}

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

const std::string* QueryValue(const QueryParams& query, std::string_view name) {
  for (const auto& [key, value] : query) {
    if (key == name) return &value;
  }
  return nullptr;
}

std::optional<std::int64_t> ParsePositiveId(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

// Reads the positive integer query parameter `name` (at most `max`; `fallback` if absent)
// into `value`; returns the 400 to send instead when it is not one.
std::optional<Response> IntParam(const QueryParams& query, const char* name, int fallback,
                                 int max, int* value) {
  *value = fallback;
  const std::string* v = QueryValue(query, name);
  if (v == nullptr || v->empty()) return std::nullopt;
  const std::optional<std::int64_t> parsed = ParsePositiveId(*v);
  if (!parsed || *parsed > max) {
    return BadRequest(fmt::format("{} \"{}\" must be an integer from 1 to {}", name, *v, max));
  }
  *value = static_cast<int>(*parsed);
  return std::nullopt;
}

// Returns the suite named `name`, or nullopt.
std::optional<SuiteInfo> FindSuite(ServeApi& api, const std::string& name) {
  for (SuiteInfo& s : api.Suites()) {
    if (s.name == name) return std::move(s);
  }
  return std::nullopt;
}

Response NoSuchSuite(const std::string& name) {
  return NotFound(fmt::format("no suite named \"{}\"", name));
}

void AppendNextCursor(std::string& out, std::int64_t id) {
  out += ",\"next_cursor\":";
  if (id != 0) {
    out += '"';
    out += std::to_string(id);
    out += '"';
  } else {
    out += "null";
  }
}

Response NoSuchRun(std::int64_t id) { return NotFound(fmt::format("no run with id {}", id)); }

}  // namespace handoff::http

