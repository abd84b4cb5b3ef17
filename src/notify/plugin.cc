#include "notify/plugin.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

namespace handoff::notify {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// `*` matches any run of characters, everything else itself.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool AnyGlob(const std::vector<std::string>& patterns, std::string_view text) {
  if (patterns.empty()) return true;
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return GlobMatch(p, text); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the only HTTP-date form a
// sender may generate.
std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view s) {
  std::tm tm{};
  const std::string text(s);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

// The longest wait a receiver may ask for: more is taken as this much.
constexpr std::chrono::seconds kMaxRetryAfter{3600};

}  // namespace

std::string Response::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

const char* PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kAlways: return "always";
    case Policy::kFailure: return "failure";
    case Policy::kChange: return "change";
  }
  return "failure";
}

bool PolicyWants(Policy policy, const RunFacts& run, Change change) {
  switch (policy) {
    case Policy::kAlways: return true;
    case Policy::kFailure: return run.Failed();
    case Policy::kChange:
      return change == Change::kFirst || change == Change::kBroke || change == Change::kRecovered;
  }
  return false;
}

bool ParsePolicy(std::string_view name, Policy* out) {
  for (Policy p : {Policy::kAlways, Policy::kFailure, Policy::kChange}) {
    if (name == PolicyName(p)) {
      *out = p;
      return true;
    }
  }
  return false;
}

bool Route::Matches(const RunFacts& run) const {
  if (!AnyGlob(suites, run.suite)) return false;
  if (!AnyGlob(namespaces, run.namespace_name)) return false;
  if (!environments.empty() &&
      std::find(environments.begin(), environments.end(), run.environment) ==
          environments.end()) {
    return false;
  }
  for (const auto& [key, value] : labels) {
    const bool found = std::any_of(run.labels.begin(), run.labels.end(), [&](const auto& kv) {
      return kv.first == key && kv.second == value;
    });
    if (!found) return false;
  }
  return true;
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value,
                                                    std::chrono::system_clock::time_point now) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t seconds = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) return kMaxRetryAfter;
    if (ec != std::errc() || ptr != value.data() + value.size()) return std::nullopt;
    return std::min(std::chrono::seconds(seconds), kMaxRetryAfter);
  }
  std::optional<std::chrono::system_clock::time_point> at = ParseHttpDate(value);
  if (!at) return std::nullopt;
  if (*at <= now) return std::chrono::seconds(0);
  return std::min(std::chrono::ceil<std::chrono::seconds>(*at - now), kMaxRetryAfter);
}

Outcome ClassifyHttp(const Response& response, std::chrono::system_clock::time_point now) {
  Outcome outcome;
  if (!response.error.empty()) {
    outcome.verdict = Verdict::kRetry;
    outcome.error = response.error;
    return outcome;
  }
  const int status = response.status;
  if (status >= 200 && status < 300) return outcome;
  outcome.error = "HTTP " + std::to_string(status);
  if (status == 429 || status == 503) {
    outcome.verdict = Verdict::kRetry;
    outcome.retry_after = ParseRetryAfter(response.Header("Retry-After"), now);
  } else if (status >= 500 || status == 408) {
    outcome.verdict = Verdict::kRetry;
  } else if (status == 410) {
    outcome.verdict = Verdict::kDisabled;
    outcome.error += ": the receiver is gone; this destination is disabled";
  } else if (status >= 300 && status < 400) {
    outcome.verdict = Verdict::kFailed;
    const std::string location = response.Header("Location");
    outcome.error += location.empty() ? ": redirects are not followed"
                                      : ": redirects are not followed (to " + location + ")";
  } else {
    outcome.verdict = Verdict::kFailed;
  }
  return outcome;
}

}  // namespace handoff::notify
