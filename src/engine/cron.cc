#include "engine/cron.h"

#include <date/tz.h>
#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <vector>

#include "duration/duration.h"

namespace handoff {
namespace {

constexpr std::array<const char*, 12> kMonths = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                 "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 7> kDays = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct FieldSpec {
  const char* name;
  int min, max;
  const char* const* names = nullptr;  // names[i] is value names_base + i
  int names_count = 0;
  int names_base = 0;
};

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// Parses one value of a field: a number or (for months and days) a name.
bool ParseValue(std::string_view text, const FieldSpec& f, int* out, std::string* error) {
  if (f.names != nullptr && !text.empty() && std::isalpha(static_cast<unsigned char>(text[0]))) {
    std::string upper;
    for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (int i = 0; i < f.names_count; ++i) {
      if (upper == f.names[i]) {
        *out = f.names_base + i;
        return true;
      }
    }
    *error = fmt::format("{} field: unknown name \"{}\"", f.name, text);
    return false;
  }
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    *error = fmt::format("{} field: \"{}\" is not a number", f.name, text);
    return false;
  }
  if (value < f.min || value > f.max) {
    *error = fmt::format("{} field: {} is out of range {}-{}", f.name, value, f.min, f.max);
    return false;
  }
  *out = value;
  return true;
}

// Parses a whole field ("*/5", "1-5,10", "MON-FRI") into the set of values it allows.
// Sets *any when the field is '*' or '?'.
template <std::size_t N>
bool ParseField(std::string_view text, const FieldSpec& f, std::bitset<N>* bits, bool* any,
                std::string* error) {
  *any = text == "*" || text == "?";
  for (std::string_view part : Split(text, ',')) {
    std::string_view range = part;
    int step = 1;
    if (std::size_t slash = part.find('/'); slash != std::string_view::npos) {
      range = part.substr(0, slash);
      std::string_view step_text = part.substr(slash + 1);
      auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (step_text.empty() || ec != std::errc() || end != step_text.data() + step_text.size() ||
          step < 1) {
        *error = fmt::format("{} field: step \"{}\" must be a positive number", f.name, step_text);
        return false;
      }
    }
    int low, high;
    if (range == "*" || range == "?") {
      low = f.min;
      high = f.max;
    } else if (std::size_t dash = range.find('-'); dash != std::string_view::npos) {
      if (!ParseValue(range.substr(0, dash), f, &low, error) ||
          !ParseValue(range.substr(dash + 1), f, &high, error)) {
        return false;
      }
      if (low > high) {
        *error = fmt::format("{} field: range \"{}\" runs backwards", f.name, range);
        return false;
      }
    } else {
      if (!ParseValue(range, f, &low, error)) return false;
      // "5/15" means from 5 to the end in steps of 15, as in Vixie cron.
      high = part.find('/') != std::string_view::npos ? f.max : low;
    }
    for (int v = low; v <= high; v += step) bits->set(static_cast<std::size_t>(v));
  }
  if (text.find('/') != std::string_view::npos) *any = false;
  return true;
}

// Returns the zone named `name`, or null if tzdata has none by that name.
const date::time_zone* LocateZone(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

std::string TimeZoneError(std::string_view time_zone) {
  if (time_zone.empty() || LocateZone(std::string(time_zone)) != nullptr) return {};
  return fmt::format("unknown time zone \"{}\" (want an IANA name like Europe/Paris)",
                     time_zone);
}

std::optional<CronSchedule> CronSchedule::Parse(std::string_view spec, std::string_view time_zone,
                                                std::string* error) {
  CronSchedule s;
  s.spec_ = spec;
  s.zone_name_ = time_zone.empty() ? "UTC" : std::string(time_zone);
  s.zone_ = LocateZone(s.zone_name_);
  if (s.zone_ == nullptr) {
    *error = TimeZoneError(s.zone_name_);
    return std::nullopt;
  }

  std::string_view text = spec;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.starts_with("@every")) {
    std::string_view rest = text.substr(6);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    auto d = ParseDuration(rest);
    if (!d || *d < std::chrono::seconds(1)) {
      *error = fmt::format("\"{}\": @every wants a duration of at least 1s, like @every 30s", spec);
      return std::nullopt;
    }
    s.every_ = std::chrono::ceil<std::chrono::seconds>(*d);
    return s;
  }
  static const std::array<std::pair<std::string_view, std::string_view>, 7> kMacros = {{
      {"@yearly", "0 0 0 1 1 *"}, {"@annually", "0 0 0 1 1 *"}, {"@monthly", "0 0 0 1 * *"},
      {"@weekly", "0 0 0 * * 0"}, {"@daily", "0 0 0 * * *"},    {"@midnight", "0 0 0 * * *"},
      {"@hourly", "0 0 * * * *"},
  }};
  std::string expanded(text);
  if (text.starts_with('@')) {
    bool known = false;
    for (const auto& [macro, fields] : kMacros) {
      if (text == macro) expanded = fields, known = true;
    }
    if (!known) {
      *error = fmt::format("\"{}\": unknown macro (want @yearly, @monthly, @weekly, @daily, "
                           "@hourly or @every DURATION)", spec);
      return std::nullopt;
    }
  }

  std::vector<std::string_view> fields;
  for (std::string_view f : Split(expanded, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() == 5) {
    fields.insert(fields.begin(), "0");
  } else if (fields.size() != 6) {
    *error = fmt::format("\"{}\": want 5 fields (minute hour day-of-month month day-of-week) "
                         "or 6 with seconds first, got {}", spec, fields.size());
    return std::nullopt;
  }
  const FieldSpec kSecond{"second", 0, 59}, kMinute{"minute", 0, 59}, kHour{"hour", 0, 23},
      kDom{"day-of-month", 1, 31}, kMonth{"month", 1, 12, kMonths.data(), 12, 1},
      kDow{"day-of-week", 0, 7, kDays.data(), 7, 0};
  bool any;
  std::bitset<8> dow;  // 0..7, 7 is Sunday again
  if (!ParseField(fields[0], kSecond, &s.seconds_, &any, error) ||
      !ParseField(fields[1], kMinute, &s.minutes_, &any, error) ||
      !ParseField(fields[2], kHour, &s.hours_, &any, error) ||
      !ParseField(fields[3], kDom, &s.days_of_month_, &s.any_day_of_month_, error) ||
      !ParseField(fields[4], kMonth, &s.months_, &any, error) ||
      !ParseField(fields[5], kDow, &dow, &s.any_day_of_week_, error)) {
    *error = fmt::format("\"{}\": {}", spec, *error);
    return std::nullopt;
  }
  for (int d = 0; d < 7; ++d) s.days_of_week_[static_cast<std::size_t>(d)] = dow[static_cast<std::size_t>(d)];
  if (dow[7]) s.days_of_week_.set(0);

  if (!s.Next(std::chrono::system_clock::now())) {
    *error = fmt::format("\"{}\": never fires (no such date in the next five years)", spec);
    return std::nullopt;
  }
  return s;
}

bool CronSchedule::DayMatches(int day_of_month, int day_of_week) const {
  const bool dom = days_of_month_[static_cast<std::size_t>(day_of_month)];
  const bool dow = days_of_week_[static_cast<std::size_t>(day_of_week)];
  if (any_day_of_month_ && any_day_of_week_) return true;
  if (any_day_of_month_) return dow;
  if (any_day_of_week_) return dom;
  return dom || dow;  // both restricted: either matches, as in cron
}

std::optional<CronSchedule::TimePoint> CronSchedule::Next(TimePoint after) const {
  using namespace std::chrono;
  if (every_.count() > 0) {
    // Beyond the five years looked ahead, as below; adding a longer interval (up to
    // ParseDuration's 2562047h) to a time point overflowed it.
    if (every_ > date::days(5 * 366)) return std::nullopt;
    // The next multiple of the interval since the Unix epoch: every server computes the same
    // due times whenever it started, so that replicas fire each one once (issue 17).
    const auto every = duration_cast<TimePoint::duration>(every_);
    const auto since = after.time_since_epoch();
    auto periods = since / every;
    if (since.count() < 0 && since % every != TimePoint::duration::zero()) --periods;
    return TimePoint((periods + 1) * every);
  }

  const auto after_s = floor<seconds>(after);
  date::local_seconds t = zone_->to_local(after_s) + seconds(1);
  const auto limit = t + date::days(5 * 366);
  while (t < limit) {
    const date::local_days day = floor<date::days>(t);
    const date::year_month_day ymd(day);
    const date::hh_mm_ss<seconds> hms(t - day);
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      // First second of the next month.
      const date::year_month next = date::year_month(ymd.year(), ymd.month()) + date::months(1);
      t = date::local_days(next / date::day(1));
      continue;
    }
    if (!DayMatches(static_cast<int>(static_cast<unsigned>(ymd.day())),
                    static_cast<int>(date::weekday(day).c_encoding()))) {
      t = day + date::days(1);
      continue;
    }
    if (!hours_[static_cast<std::size_t>(hms.hours().count())]) {
      t = day + hms.hours() + hours(1);
      continue;
    }
    if (!minutes_[static_cast<std::size_t>(hms.minutes().count())]) {
      t = day + hms.hours() + hms.minutes() + minutes(1);
      continue;
    }
    if (!seconds_[static_cast<std::size_t>(hms.seconds().count())]) {
      t += seconds(1);
      continue;
    }
    // A local time skipped by a DST change maps to the change; a repeated one to its first
    // occurrence, so it fires once.
    const auto info = zone_->get_info(t);
    sys_seconds fire;
    if (info.result == date::local_info::nonexistent) {
      fire = info.second.begin;
    } else {
      fire = date::sys_seconds(t.time_since_epoch() - info.first.offset);
    }
    if (fire > after_s) return fire;
    t += seconds(1);
  }
  return std::nullopt;
}

}  // namespace handoff
