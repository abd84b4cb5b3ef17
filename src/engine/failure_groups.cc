#include "engine/failure_groups.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

namespace handoff {
namespace {

constexpr std::size_t kMaxSignature = 300;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsAlnum(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Returns the length of the run of characters satisfying `pred` at `at`.
template <typename Pred>
std::size_t RunOf(std::string_view s, std::size_t at, Pred pred) {
  std::size_t n = 0;
  while (at + n < s.size() && pred(s[at + n])) ++n;
  return n;
}

// Returns the length of exactly `count` digits at `at`, or 0.
std::size_t Digits(std::string_view s, std::size_t at, std::size_t count) {
  return RunOf(s, at, IsDigit) >= count ? count : 0;
}

// A UUID (8-4-4-4-12 hex digits) at `at`: its length, or 0.
std::size_t Uuid(std::string_view s, std::size_t at) {
  static constexpr std::size_t kParts[] = {8, 4, 4, 4, 12};
  std::size_t i = at;
  for (std::size_t p = 0; p < 5; ++p) {
    if (p > 0) {
      if (i >= s.size() || s[i] != '-') return 0;
      ++i;
    }
    if (RunOf(s, i, IsHex) < kParts[p]) return 0;
    i += kParts[p];
  }
  if (i < s.size() && IsAlnum(s[i])) return 0;
  return i - at;
}

// An ISO 8601 date with a time (2026-12-05T06:10:00.123Z, or a space for the T) at `at`: its
// length, or 0.
std::size_t IsoTime(std::string_view s, std::size_t at) {
  std::size_t i = at;
  const auto expect = [&](std::size_t digits, char after) {
    if (Digits(s, i, digits) == 0) return false;
    i += digits;
    if (after == 0) return true;
    if (i >= s.size() || s[i] != after) return false;
    ++i;
    return true;
  };
  if (!expect(4, '-') || !expect(2, '-') || !expect(2, 0)) return 0;
  if (i >= s.size() || (s[i] != 'T' && s[i] != ' ')) return 0;
  ++i;
  if (!expect(2, ':') || !expect(2, 0)) return 0;
  if (i < s.size() && s[i] == ':' && Digits(s, i + 1, 2) != 0) {
    i += 3;
    if (i < s.size() && (s[i] == '.' || s[i] == ',') && RunOf(s, i + 1, IsDigit) > 0) {
      i += 1 + RunOf(s, i + 1, IsDigit);
    }
  }
  if (i < s.size() && s[i] == 'Z') {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-') && Digits(s, i + 1, 2) != 0) {
    std::size_t j = i + 3;
    if (j < s.size() && s[j] == ':') ++j;
    if (Digits(s, j, 2) != 0) i = j + 2;
  }
  return i - at;
}

// An IPv4 address at `at`: its length, or 0.
std::size_t Ipv4(std::string_view s, std::size_t at) {
  std::size_t i = at;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
    const std::size_t n = RunOf(s, i, IsDigit);
    if (n == 0 || n > 3) return 0;
    i += n;
  }
  if (i < s.size() && (IsAlnum(s[i]) || (s[i] == '.' && i + 1 < s.size() && IsDigit(s[i + 1])))) {
    return 0;
  }
  return i - at;
}

// A hex number at `at` (0x…, or 8 or more hex digits with a digit and a letter, standing
// alone): its length, or 0.
std::size_t HexNumber(std::string_view s, std::size_t at) {
  if (s[at] == '0' && at + 2 < s.size() && (s[at + 1] == 'x' || s[at + 1] == 'X') &&
      IsHex(s[at + 2])) {
    return 2 + RunOf(s, at + 2, IsHex);
  }
  const std::size_t n = RunOf(s, at, IsHex);
  if (n < 8 || (at + n < s.size() && IsAlnum(s[at + n]))) return 0;
  const std::string_view run = s.substr(at, n);
  const bool digit = std::any_of(run.begin(), run.end(), IsDigit);
  const bool letter = std::any_of(run.begin(), run.end(), [](char c) { return !IsDigit(c); });
  return digit && letter ? n : 0;
}

// Cuts `text` to at most `max` bytes at a UTF-8 character boundary.
void CutAtBoundary(std::string& text, std::size_t max) {
  if (text.size() <= max) return;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
}

// The first line of `message` that holds more than whitespace.
std::string_view FirstLine(std::string_view message) {
  while (!message.empty()) {
    const std::size_t end = message.find('\n');
    std::string_view line = message.substr(0, end);
    if (RunOf(line, 0, [](char c) { return IsSpace(c); }) < line.size()) return line;
    if (end == std::string_view::npos) break;
    message.remove_prefix(end + 1);
  }
  return {};
}

}  // namespace

std::string FailureSignature(std::string_view message) {
  const std::string_view line = FirstLine(message);
  std::string out;
  out.reserve(std::min(line.size(), kMaxSignature) + 8);
  std::size_t i = 0;
  while (i < line.size() && out.size() <= kMaxSignature) {
    const char c = line[i];
    if (IsSpace(c)) {
      i += RunOf(line, i, IsSpace);
      if (!out.empty()) out += ' ';
      continue;
    }
    // What follows a letter or digit is inside a word: only its digits are replaced.
    const bool word_start = i == 0 || !IsAlnum(line[i - 1]);
    if (word_start && IsHex(c)) {
      if (const std::size_t n = Uuid(line, i)) {
        out += "<uuid>";
        i += n;
        continue;
      }
      if (const std::size_t n = IsoTime(line, i)) {
        out += "<time>";
        i += n;
        continue;
      }
      if (const std::size_t n = Ipv4(line, i)) {
        out += "<ip>";
        i += n;
        continue;
      }
      if (const std::size_t n = HexNumber(line, i)) {
        out += "<hex>";
        i += n;
        continue;
      }
    }
    if (IsDigit(c)) {
      const std::size_t n = RunOf(line, i, IsDigit);
      // Between two letters, digits are part of a name (e2e, h2o): kept.
      if (i > 0 && IsLetter(line[i - 1]) && i + n < line.size() && IsLetter(line[i + n])) {
        out.append(line, i, n);
        i += n;
        continue;
      }
      i += n;
      if (i + 1 < line.size() && line[i] == '.' && IsDigit(line[i + 1])) {
        i += 1 + RunOf(line, i + 1, IsDigit);
      }
      out += "<n>";
      continue;
    }
    out += c;
    ++i;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  CutAtBoundary(out, kMaxSignature);
  return out;
}

std::vector<FailureGroup> GroupFailures(const std::vector<store::Run>& runs,
                                        const std::vector<std::vector<store::TestRow>>& rows) {
  std::vector<FailureGroup> groups;
  std::unordered_map<std::string, std::size_t> index;  // signature -> groups
  std::vector<std::set<std::string, std::less<>>> names;  // per group: names listed
  std::vector<std::int64_t> last_counted_run;
  for (std::size_t r = 0; r < runs.size() && r < rows.size(); ++r) {
    const store::Run& run = runs[r];
    const std::vector<store::TestRow>& tests = rows[r];
    const auto attempts = store::RetriedTopLevelAttempts(tests);
    std::vector<std::string_view> failed;  // names of the tests that failed the run
    for (const store::TestRow& t : tests) {
      if (store::IsCurrentRow(t, attempts) && store::VerdictOf(t).FailsRun()) {
        failed.push_back(t.name);
      }
    }
    std::sort(failed.begin(), failed.end());
    const auto subtest_failed = [&](const std::string& name) {
      const std::string prefix = name + "/";
      const auto it = std::lower_bound(failed.begin(), failed.end(), prefix);
      return it != failed.end() && it->starts_with(prefix);
    };
    for (const store::TestRow& t : tests) {
      if (!store::IsCurrentRow(t, attempts) || !store::VerdictOf(t).FailsRun()) continue;
      if (t.message.empty() && subtest_failed(t.name)) continue;
      std::string signature = FailureSignature(t.message);
      auto [it, inserted] = index.try_emplace(signature, groups.size());
      if (inserted) {
        FailureGroup& g = groups.emplace_back();
        g.signature = std::move(signature);
        g.first_run = run.id;
        names.emplace_back();
        last_counted_run.push_back(0);
      }
      FailureGroup& g = groups[it->second];
      ++g.failures;
      if (last_counted_run[it->second] != run.id || g.runs == 0) {
        last_counted_run[it->second] = run.id;
        ++g.runs;
      }
      g.first_run = std::min(g.first_run, run.id);
      if (run.id > g.last_run) {  // the newest run's first failure is the example
        g.last_run = run.id;
        g.last_seen_ns = run.created_at_ns;
        g.message = t.message;
      }
      std::set<std::string, std::less<>>& listed = names[it->second];
      if (listed.contains(t.name)) continue;
      if (g.tests.size() < kMaxGroupTests) {
        listed.insert(t.name);
        g.tests.push_back(t.name);
      } else if (listed.insert(t.name).second) {
        ++g.tests_left_out;
      }
    }
  }
  std::sort(groups.begin(), groups.end(), [](const FailureGroup& a, const FailureGroup& b) {
    if (a.runs != b.runs) return a.runs > b.runs;
    if (a.failures != b.failures) return a.failures > b.failures;
    if (a.last_run != b.last_run) return a.last_run > b.last_run;
    return a.signature < b.signature;
  });
  return groups;
}

}  // namespace handoff
