#include "googletest/gtest_filter.h"

#include <algorithm>

#include <fmt/format.h>

namespace handoff {
namespace {

constexpr std::string_view kDisabledPrefix = "DISABLED_";

// True if `c` is written as %XX in any part of a GoogleTest name.
bool MustEscape(unsigned char c) {
  return c <= 0x20 || c == 0x7F || c == '%' || c == '*' || c == '?' || c == ':' || c == '-';
}

void AppendEscaped(std::string& out, std::string_view part, bool suite) {
  for (const char ch : part) {
    const auto c = static_cast<unsigned char>(ch);
    if (MustEscape(c) || (suite && (c == '.' || c == '/'))) {
      out += fmt::format("%{:02X}", c);
    } else {
      out += ch;
    }
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes of a part; nullopt if an escape is malformed or not one GTestName
// writes (so that the inverse is exact).
std::optional<std::string> Unescape(std::string_view part, bool suite) {
  std::string out;
  out.reserve(part.size());
  for (std::size_t i = 0; i < part.size(); ++i) {
    const auto c = static_cast<unsigned char>(part[i]);
    if (c != '%') {
      if (MustEscape(c) || (suite && (c == '.' || c == '/'))) return std::nullopt;
      out += part[i];
      continue;
    }
    if (i + 2 >= part.size()) return std::nullopt;
    const int hi = HexValue(part[i + 1]);
    const int lo = HexValue(part[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const auto decoded = static_cast<unsigned char>(hi * 16 + lo);
    if (!MustEscape(decoded) && !(suite && (decoded == '.' || decoded == '/'))) {
      return std::nullopt;
    }
    out += static_cast<char>(decoded);
    i += 2;
  }
  return out;
}

bool IsGlob(std::string_view pattern) {
  return pattern.find_first_of("*?") != std::string_view::npos;
}

// Returns true if `pattern` matches all of `text`, simulating it as an automaton: `states[i]`
// is true if the first i characters of the pattern can have matched the text read so far.
// Linear in the pattern for each character of the text, so no pattern takes exponential
// time. With `within_level`, '*' and '?' do not match '/' (a wildcard stays in its level).
bool RunPattern(std::string_view pattern, std::string_view text, bool within_level) {
  const std::size_t n = pattern.size();
  std::vector<char> states(n + 1, 0), next(n + 1, 0);
  auto close = [&](std::vector<char>& s) {
    // A '*' may match nothing: reaching it reaches the position after it.
    for (std::size_t i = 0; i < n; ++i) {
      if (s[i] && pattern[i] == '*') s[i + 1] = 1;
    }
  };
  states[0] = 1;
  close(states);
  for (const char c : text) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!states[i]) continue;
      if (pattern[i] == '*') {
        if (within_level && c == '/') continue;
        next[i] = 1;
        any = true;
      } else if ((pattern[i] == '?' && !(within_level && c == '/')) || pattern[i] == c) {
        next[i + 1] = 1;
        any = true;
      }
    }
    states.swap(next);
    if (!any) return false;
    close(states);
  }
  return states[n] != 0;
}

// Splits on `sep` as GoogleTest's SplitString does (always at least one part).
std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = text.find(sep, start);
    if (at == std::string_view::npos) {
      parts.emplace_back(text.substr(start));
      return parts;
    }
    parts.emplace_back(text.substr(start, at - start));
    start = at + 1;
  }
}

}  // namespace

std::string GTestName(std::string_view suite, std::string_view test) {
  std::string out;
  out.reserve(suite.size() + test.size() + 1);
  AppendEscaped(out, suite, /*suite=*/true);
  out += '.';
  AppendEscaped(out, test, /*suite=*/false);
  return out;
}

std::optional<std::pair<std::string, std::string>> ParseGTestName(std::string_view name) {
  const std::size_t dot = name.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::optional<std::string> suite = Unescape(name.substr(0, dot), /*suite=*/true);
  std::optional<std::string> test = Unescape(name.substr(dot + 1), /*suite=*/false);
  if (!suite || !test) return std::nullopt;
  return std::pair{std::move(*suite), std::move(*test)};
}

bool IsGTestDisabled(std::string_view name) {
  if (name.starts_with(kDisabledPrefix)) return true;
  for (std::size_t slash = name.find('/'); slash != std::string_view::npos;
       slash = name.find('/', slash + 1)) {
    if (name.substr(slash + 1).starts_with(kDisabledPrefix)) return true;
  }
  return false;
}

bool GTestPatternMatches(std::string_view pattern, std::string_view text) {
  return RunPattern(pattern, text, /*within_level=*/false);
}

bool GTestPatternSelectsBelow(std::string_view pattern, std::string_view name) {
  for (std::size_t slash = pattern.find('/'); slash != std::string_view::npos;
       slash = pattern.find('/', slash + 1)) {
    if (RunPattern(pattern.substr(0, slash), name, /*within_level=*/true)) return true;
  }
  return false;
}

bool GTestFilter::Patterns::Matches(std::string_view name) const {
  if (!exact.empty() && exact.count(std::string(name)) != 0) return true;
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return GTestPatternMatches(g, name); });
}

bool GTestFilter::Patterns::SelectsBelow(std::string_view name) const {
  for (const std::string& e : exact) {
    if (e.size() > name.size() && e[name.size()] == '/' && std::string_view(e).starts_with(name)) {
      return true;
    }
  }
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return GTestPatternSelectsBelow(g, name); });
}

Result<std::shared_ptr<const GTestFilter>> GTestFilter::Parse(std::string_view filter,
                                                               bool run_disabled) {
  if (filter.size() > kMaxLength) {
    return Error{ErrorCode::kInvalid,
                 fmt::format("filter of {} bytes is longer than the limit of {}", filter.size(),
                             kMaxLength)};
  }
  if (filter.find('\0') != std::string_view::npos) {
    return Error{ErrorCode::kInvalid, "filter holds a NUL byte"};
  }
  std::shared_ptr<GTestFilter> out(new GTestFilter());
  out->text_ = std::string(filter);
  out->run_disabled_ = run_disabled;
  // GoogleTest splits at the first '-'; any further '-' belongs to the negative part.
  const std::size_t dash = filter.find('-');
  std::string_view positive = filter.substr(0, dash);
  if (positive.empty()) positive = "*";
  auto fill = [](Patterns& into, std::string_view text) {
    for (std::string& p : Split(text, ':')) {
      if (IsGlob(p)) {
        into.globs.push_back(std::move(p));
      } else {
        into.exact.insert(std::move(p));
      }
    }
  };
  fill(out->positive_, positive);
  if (dash != std::string_view::npos) fill(out->negative_, filter.substr(dash + 1));
  return std::shared_ptr<const GTestFilter>(std::move(out));
}

bool GTestFilter::Matches(std::string_view name) const {
  return positive_.Matches(name) && !negative_.Matches(name);
}

bool GTestFilter::Selects(std::string_view suite, std::string_view test) const {
  if (!run_disabled_ && (IsGTestDisabled(suite) || IsGTestDisabled(test))) return false;
  const std::string name = GTestName(suite, test);
  // The name of each level: "S.T", "S.T/A", "S.T/A/B" are prefixes of the full name that
  // end where an unescaped '/' of the test part begins (the suite's are escaped).
  const std::size_t test_begin = name.find('.') + 1;
  bool selected = false;
  for (std::size_t end = name.find('/', test_begin);; end = name.find('/', end + 1)) {
    const std::string_view level = std::string_view(name).substr(0, end);
    if (negative_.Matches(level)) return false;
    if (!selected && positive_.Matches(level)) selected = true;
    if (end == std::string::npos) break;
  }
  return selected || positive_.SelectsBelow(name);
}

}  // namespace handoff
