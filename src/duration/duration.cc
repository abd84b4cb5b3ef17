#include "duration/duration.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace handoff {

std::string FormatDuration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  auto trim = [](std::string s) {
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    return s;
  };
  if (d < 1ms) return trim(fmt::format("{:.3f}", d.count() / 1e3)) + "µs";
  if (d < 1s) return trim(fmt::format("{:.3f}", d.count() / 1e6)) + "ms";
  auto h = duration_cast<hours>(d);
  auto m = duration_cast<minutes>(d - h);
  double s = (d - h - m).count() / 1e9;
  std::string out;
  if (h.count() > 0) out += fmt::format("{}h", h.count());
  if (h.count() > 0 || m.count() > 0) out += fmt::format("{}m", m.count());
  out += trim(fmt::format("{:.3f}", s)) + "s";
  return out;
}


std::optional<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return std::chrono::nanoseconds(0);
  long double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    std::string number(text.substr(start, i - start));
    if (number == "." || number.find('.') != number.rfind('.')) return std::nullopt;
    // Thousands of digits are out of a long double's range, where std::stold would throw.
    errno = 0;
    const long double value = std::strtold(number.c_str(), nullptr);
    if (errno == ERANGE) return std::nullopt;
    std::size_t unit_start = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '.') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    long double scale;
    if (unit == "ns") scale = 1;
    else if (unit == "us" || unit == "µs") scale = 1e3;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "s") scale = 1e9;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else return std::nullopt;
    total += value * scale;
  }
  if (total > 9.2e18L) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<long long>(total));
}

}  // namespace handoff
