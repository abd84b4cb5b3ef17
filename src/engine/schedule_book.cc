#include "engine/schedule_book.h"

#include <fmt/format.h>

#include <algorithm>

namespace handoff {
namespace {

std::int64_t ToNs(std::optional<ScheduleBook::TimePoint> t) {
  if (!t) return 0;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t->time_since_epoch()).count();
}

// The longest time between two of the next ScheduleBook::kGapFirings firings after `now`.
std::chrono::nanoseconds LongestGap(const CronSchedule& cron, ScheduleBook::TimePoint now) {
  std::chrono::nanoseconds longest{0};
  std::optional<ScheduleBook::TimePoint> at = cron.Next(now);
  for (int i = 0; at && i < ScheduleBook::kGapFirings; ++i) {
    std::optional<ScheduleBook::TimePoint> next = cron.Next(*at);
    if (!next) break;
    longest = std::max<std::chrono::nanoseconds>(longest, *next - *at);
    at = next;
  }
  return longest;
}

}  // namespace

std::string ScheduleNameError(std::string_view name) {
  if (name.empty()) return "name: must not be empty";
  if (name.size() > kMaxScheduleNameLength) {
    return fmt::format("name: at most {} characters, got {}", kMaxScheduleNameLength,
                       name.size());
  }
  if (name.find('/') != std::string_view::npos) {
    return fmt::format("name: \"{}\" may not contain '/'", name);
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return "name: may not contain control characters";
  }
  return {};
}

bool ScheduleBook::Add(const ScheduleInfo& info, TimePoint now, std::string* error) {
  if (std::string why = ScheduleNameError(info.name); !why.empty()) {
    *error = std::move(why);
    return false;
  }
  if (Find(info.name) != nullptr) {
    *error = "a schedule named \"" + info.name + "\" already exists";
    return false;
  }
  if (std::string why = TimeZoneError(info.time_zone); !why.empty()) {
    *error = "time_zone: " + why;
    return false;
  }
  std::string cron_error;
  std::optional<CronSchedule> cron = CronSchedule::Parse(info.spec, info.time_zone, &cron_error);
  if (!cron) {
    *error = "spec: " + cron_error;
    return false;
  }
  Entry entry{info, *cron, std::nullopt, LongestGap(*cron, now)};
  if (!info.paused) entry.next = entry.cron.Next(now);
  entries_.push_back(std::move(entry));
  return true;
}

bool ScheduleBook::Remove(const std::string& name) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.info.name == name; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

bool ScheduleBook::SetPaused(const std::string& name, bool paused, TimePoint now) {
  for (Entry& e : entries_) {
    if (e.info.name != name) continue;
    e.info.paused = paused;
    e.next = paused ? std::nullopt : e.cron.Next(now);
    return true;
  }
  return false;
}

void ScheduleBook::SetLastRun(const std::string& name, std::int64_t run_id) {
  for (Entry& e : entries_) {
    if (e.info.name == name) e.info.last_run_id = run_id;
  }
}

std::optional<ScheduleBook::TimePoint> ScheduleBook::NextWake() const {
  std::optional<TimePoint> wake;
  for (const Entry& e : entries_) {
    if (e.next && (!wake || *e.next < *wake)) wake = e.next;
  }
  return wake;
}

std::vector<ScheduleBook::Firing> ScheduleBook::Due(TimePoint now) {
  std::vector<Firing> due;
  for (Entry& e : entries_) {
    if (!e.next || *e.next > now) continue;
    due.push_back(Firing{e.info, *e.next});
    e.next = e.cron.Next(now);
  }
  return due;
}

std::vector<ScheduleBook::Timing> ScheduleBook::Timings() const {
  std::vector<Timing> out;
  for (const Entry& e : entries_) {
    if (e.next) out.push_back(Timing{e.info.name, e.info.suite, *e.next, e.longest_gap});
  }
  return out;
}

std::vector<ScheduleInfo> ScheduleBook::List() const {
  std::vector<ScheduleInfo> out;
  for (const Entry& e : entries_) {
    ScheduleInfo info = e.info;
    info.next_run_ns = ToNs(e.next);
    out.push_back(std::move(info));
  }
  return out;
}

const ScheduleInfo* ScheduleBook::Find(const std::string& name) const {
  for (const Entry& e : entries_) {
    if (e.info.name == name) return &e.info;
  }
  return nullptr;
}

}  // namespace handoff
