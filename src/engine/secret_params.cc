#include "engine/secret_params.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <utility>

namespace handoff {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool SecretPatternMatches(std::string_view pattern, std::string_view name) {
  // Greedy with one backtrack point (the last '*'): linear in practice, never exponential.
  std::size_t p = 0, n = 0;
  std::size_t star = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
    } else if (p < pattern.size() && (pattern[p] == '?' || Lower(pattern[p]) == Lower(name[n]))) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<SecretParamPatterns> SecretParamPatterns::Parse(std::string_view list) {
  std::vector<std::string> patterns;
  if (Trim(list).empty()) return SecretParamPatterns();
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view pattern = Trim(list.substr(0, comma));
    if (pattern.empty()) {
      return Error{ErrorCode::kInvalid,
                   "empty pattern: want a comma-separated list of names or globs, e.g. "
                   "\"PASSWORD,*_TOKEN,*_KEY\""};
    }
    patterns.emplace_back(pattern);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return SecretParamPatterns(std::move(patterns));
}

bool SecretParamPatterns::Matches(std::string_view name) const {
  return std::any_of(patterns_.begin(), patterns_.end(),
                     [&](const std::string& p) { return SecretPatternMatches(p, name); });
}

std::vector<std::string> DecideSecretParams(const store::KeyValues& params,
                                            const SecretParamPatterns& suite,
                                            const SecretParamPatterns& server,
                                            const std::vector<std::string>& known) {
  std::vector<std::string> secret;
  for (const auto& [key, value] : params) {
    if (std::find(secret.begin(), secret.end(), key) != secret.end()) continue;
    if (suite.Matches(key) || server.Matches(key) ||
        std::find(known.begin(), known.end(), key) != known.end()) {
      secret.push_back(key);
    }
  }
  return secret;
}

SecretMask SecretMask::Of(const store::Run& run) { return Of(run.params, run.secret_params); }

SecretMask SecretMask::Of(const store::KeyValues& params,
                          const std::vector<std::string>& secret_params) {
  SecretMask mask;
  for (const auto& [key, value] : params) {
    if (std::find(secret_params.begin(), secret_params.end(), key) == secret_params.end()) {
      continue;
    }
    std::string_view rest = value;
    while (true) {
      const std::size_t eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() >= kMinMaskedLength) mask.secrets_.emplace_back(line);
      if (eol == std::string_view::npos) break;
      rest.remove_prefix(eol + 1);
    }
  }
  std::sort(mask.secrets_.begin(), mask.secrets_.end(),
            [](const std::string& a, const std::string& b) {
              return a.size() != b.size() ? a.size() > b.size() : a < b;
            });
  mask.secrets_.erase(std::unique(mask.secrets_.begin(), mask.secrets_.end()),
                      mask.secrets_.end());
  return mask;
}

void SecretMask::MaskDescription(store::KeyValues& labels,
                                 std::initializer_list<std::string*> texts) const {
  if (secrets_.empty()) return;
  for (auto& [key, value] : labels) Mask(value);
  for (std::string* text : texts) Mask(*text);
}

bool SecretMask::Mask(std::string& text) const {
  bool masked = false;
  for (const std::string& secret : secrets_) {
    std::size_t at = text.find(secret);
    while (at != std::string::npos) {
      text.replace(at, secret.size(), store::kRedacted);
      masked = true;
      at = text.find(secret, at + store::kRedacted.size());
    }
  }
  return masked;
}

}  // namespace handoff
