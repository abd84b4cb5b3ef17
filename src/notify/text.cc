#include "notify/text.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <set>

namespace handoff::notify {
namespace {

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";

}  // namespace

std::string_view Setting(const PluginConfig& config, const std::string& key) {
  auto it = config.settings.find(key);
  return it == config.settings.end() ? std::string_view() : std::string_view(it->second);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Returns `text` with every invalid UTF-8 sequence replaced by U+FFFD: test messages are
// whatever a test printed, and a JSON body must be UTF-8.
std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= text.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (ok && len == 2) ok = c >= 0xC2;  // no overlong forms
    if (ok && len == 3) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
    }
    if (ok && len == 4) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

// Returns the largest character boundary of `text` (valid UTF-8) at or before `at`.
std::size_t CharBoundary(std::string_view text, std::size_t at) {
  if (at >= text.size()) return text.size();
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  return at;
}

// Cuts `text` (valid UTF-8) to at most `max_bytes` bytes at a character boundary, ending
// with "…" when it was cut. Counting bytes keeps within a limit counted in characters too.
std::string Cut(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  if (max_bytes < kEllipsis.size()) return std::string();
  std::string out(text.substr(0, CharBoundary(text, max_bytes - kEllipsis.size())));
  out.append(kEllipsis);
  return out;
}

// The first line of a message, as one line of an alert shows it.
std::string_view FirstLine(std::string_view text) {
  return text.substr(0, text.find('\n'));
}

// Returns "scheme://authority" of an http(s) URL without its user info and the authority
// alone in `host`, or false when `url` is not one.
bool HasSpaceOrControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c));
  });
}

bool ParseBaseUrl(std::string_view url, std::string* host) {
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return false;
  const std::string_view scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return false;
  std::string_view rest = url.substr(scheme_end + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  if (authority.empty() || HasSpaceOrControl(url)) return false;
  *host = std::string(authority);
  return true;
}

std::string Sha256Hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::string hex;
  hex.reserve(2 * sizeof digest);
  for (unsigned char b : digest) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", b);
    hex.append(buf, 2);
  }
  return hex;
}

std::string IsoTime(std::int64_t ns) {
  const std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The tests that failed the run, leaves first: a test whose subtest failed is left out, the
// subtest says where.
std::vector<const TestOutcome*> FailedTests(const std::vector<TestOutcome>& tests) {
  std::vector<const TestOutcome*> failed;
  for (const TestOutcome& test : tests) {
    if (test.status == "failed" && !test.soft_failure) failed.push_back(&test);
  }
  std::set<std::string_view> parents;  // of a failed subtest
  for (const TestOutcome* test : failed) {
    const std::string_view name = test->name;
    for (std::size_t slash = name.find('/'); slash != std::string_view::npos;
         slash = name.find('/', slash + 1)) {
      parents.insert(name.substr(0, slash));
    }
  }
  std::vector<const TestOutcome*> leaves;
  for (const TestOutcome* test : failed) {
    if (parents.count(test->name) == 0) leaves.push_back(test);
  }
  return leaves;
}

std::string ChangeNote(const TestOutcome& test) {
  std::string since;
  if (test.failing_since_run != 0) {
    since = "since run #" + std::to_string(test.failing_since_run);
    if (!test.failing_since_reference.empty()) {
      const std::string reference = ValidUtf8(test.failing_since_reference);
      since += " (" + reference.substr(0, CharBoundary(reference, 12)) + ")";
    }
  }
  if (test.change == "new_failure") return "new failure";
  if (test.change == "still_failing") return since.empty() ? "still failing" : "failing " + since;
  if (test.change == "fixed") return since.empty() ? "fixed" : "fixed (failing " + since + ")";
  if (test.change == "new_test") return "new test";
  return {};
}

// A test's message and location: the fields when the notification has them, else read from
// a message that still carries "file:line: ".
void Locate(const TestOutcome& test, std::string* file, int* line, std::string* message) {
  if (!test.file.empty()) {
    *file = test.file;
    *line = test.line;
    *message = test.message;
    return;
  }
  SplitLocation(test.message, file, line, message);
}

}  // namespace handoff::notify
