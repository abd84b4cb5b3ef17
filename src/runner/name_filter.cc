#include "runner/name_filter.h"

#include <re2/re2.h>

namespace handoff {

std::vector<std::string> SplitPattern(std::string_view pattern) {
  std::vector<std::string> levels;
  if (pattern.empty()) return levels;
  std::string current;
  int brackets = 0, parens = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    switch (c) {
      case '[': ++brackets; break;
      case ']': if (brackets > 0) --brackets; break;
      case '(': if (brackets == 0) ++parens; break;
      case ')': if (brackets == 0 && parens > 0) --parens; break;
      case '\\':
        current += c;
        if (i + 1 < pattern.size()) current += pattern[++i];
        continue;
      case '/':
        if (brackets == 0 && parens == 0) {
          levels.push_back(std::move(current));
          current.clear();
          continue;
        }
        break;
    }
    current += c;
  }
  levels.push_back(std::move(current));
  return levels;
}

std::vector<std::string_view> SplitName(std::string_view name) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(name.substr(start));
      return parts;
    }
    parts.push_back(name.substr(start, slash - start));
    start = slash + 1;
  }
}

NameFilter::~NameFilter() = default;

std::shared_ptr<const NameFilter> NameFilter::Compile(std::string_view pattern,
                                                      std::string* error) {
  std::shared_ptr<NameFilter> filter(new NameFilter());
  RE2::Options options;
  options.set_log_errors(false);
  // Bound the memory a hostile pattern can take.
  options.set_max_mem(8 << 20);
  for (const std::string& level : SplitPattern(pattern)) {
    auto re = std::make_unique<re2::RE2>(level, options);
    if (!re->ok()) {
      *error = "invalid regular expression \"" + level + "\": " + re->error();
      return nullptr;
    }
    filter->levels_.push_back(std::move(re));
  }
  return filter;
}

bool NameFilter::Selects(std::string_view name) const {
  std::vector<std::string_view> parts = SplitName(name);
  for (std::size_t i = 0; i < parts.size() && i < levels_.size(); ++i) {
    if (!RE2::PartialMatch(parts[i], *levels_[i])) return false;
  }
  return true;
}

bool NameFilter::Skips(std::string_view name) const {
  if (levels_.empty()) return false;
  std::vector<std::string_view> parts = SplitName(name);
  if (parts.size() < levels_.size()) return false;
  for (std::size_t i = 0; i < levels_.size(); ++i) {
    if (!RE2::PartialMatch(parts[i], *levels_[i])) return false;
  }
  return true;
}

}  // namespace handoff
