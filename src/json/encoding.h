#pragma once

// Byte-level helpers the reporters share: UTF-8 decoding (JSON and XML must replace invalid
// sequences) and UTC calendar arithmetic (timestamps are formatted from events' time_ns,
// never from the clock, and without the cost of gmtime_r on every line).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace handoff::report {

// Returns the length (2 to 4) of the well-formed UTF-8 sequence that starts at s[i] (which
// must be a byte >= 0x80) and stores its code point, or returns 0 if the bytes there are
// not well-formed UTF-8 (stray continuation, overlong form, surrogate, > U+10FFFF,
// truncated sequence).
inline int DecodeUtf8(std::string_view s, std::size_t i, char32_t* code_point) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  int length = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (int k = 1; k < length; ++k) {
    const unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return length;
}

// A UTC time broken down into calendar fields.
struct CivilTime {
  std::int64_t year = 1970;
  int month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int nanos = 0;  // 0..999'999'999
};

// Returns the UTC calendar time of `time_ns` nanoseconds since the Unix epoch (proleptic
// Gregorian calendar; Howard Hinnant's civil_from_days).
inline CivilTime ToCivilTime(std::int64_t time_ns) {
  constexpr std::int64_t kNsPerSecond = 1'000'000'000;
  std::int64_t seconds = time_ns / kNsPerSecond;
  std::int64_t nanos = time_ns % kNsPerSecond;
  if (nanos < 0) nanos += kNsPerSecond, --seconds;
  std::int64_t days = seconds / 86400;
  std::int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) second_of_day += 86400, --days;

  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  CivilTime t;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2 ? 1 : 0);
  t.hour = static_cast<int>(second_of_day / 3600);
  t.minute = static_cast<int>(second_of_day / 60 % 60);
  t.second = static_cast<int>(second_of_day % 60);
  t.nanos = static_cast<int>(nanos);
  return t;
}

// Appends `value` as exactly `width` decimal digits (zero-padded, truncated on the left).
inline void AppendDigits(std::string& out, std::int64_t value, int width) {
  char digits[20];
  for (int k = width - 1; k >= 0; --k) {
    digits[k] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits, static_cast<std::size_t>(width));
}

// Appends "YYYY-MM-DDTHH:MM:SS" (ISO 8601, no fraction, no zone) for `t`.
inline void AppendIsoSeconds(std::string& out, const CivilTime& t) {
  AppendDigits(out, t.year, 4);
  out += '-';
  AppendDigits(out, t.month, 2);
  out += '-';
  AppendDigits(out, t.day, 2);
  out += 'T';
  AppendDigits(out, t.hour, 2);
  out += ':';
  AppendDigits(out, t.minute, 2);
  out += ':';
  AppendDigits(out, t.second, 2);
}

// Appends a non-negative duration in seconds with `decimals` decimals, rounded half up
// ("0.012" for 12'345'678 ns with 3 decimals).
inline void AppendFixedSeconds(std::string& out, std::int64_t ns, int decimals) {
  if (ns < 0) ns = 0;
  std::int64_t unit = 1'000'000'000;
  for (int k = 0; k < decimals; ++k) unit /= 10;
  const std::int64_t scaled = (ns + unit / 2) / unit;
  std::int64_t scale = 1;
  for (int k = 0; k < decimals; ++k) scale *= 10;
  out += std::to_string(scaled / scale);
  if (decimals > 0) {
    out += '.';
    AppendDigits(out, scaled % scale, decimals);
  }
}

}  // namespace handoff::report
