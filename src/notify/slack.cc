// The built-in Slack plugin (issue 16): a Block Kit message posted to an incoming webhook or
// with a bot token through chat.postMessage, where a recovery answers in the thread of the
// message that reported the failure.
//
// Block Kit refuses a whole message for one text over its limit
// (https://api.slack.com/reference/block-kit), and a refused message is a lost one: every
// text is cut to the limits here, and the list of failed tests ends with "… and N more"
// rather than growing past them.

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "notify/builtin.h"
#include "notify/text.h"

namespace handoff::notify {
namespace {

namespace json = boost::json;

// Block Kit's limits.
constexpr std::size_t kMaxBlocks = 50;
constexpr std::size_t kMaxSectionText = 3000;
constexpr std::size_t kMaxHeaderText = 150;
constexpr std::size_t kMaxButtonText = 75;
constexpr std::size_t kMaxButtonUrl = 3000;
constexpr std::size_t kMaxContextElements = 10;
// Ours, so that a message stays readable and far below Slack's 40,000 characters a message:
// a context item, a listed test (name, location, message), the failed tests listed, the
// one-line fallback, and Slack's error word kept in a delivery's last_error.
constexpr std::size_t kMaxContextItem = 300;
constexpr std::size_t kMaxTestName = 200;
constexpr std::size_t kMaxLocation = 200;
constexpr std::size_t kMaxTestMessage = 400;
constexpr std::size_t kMaxListedFailures = 20;
constexpr std::size_t kMaxFallbackText = 500;
constexpr std::size_t kMaxSlackError = 100;

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // …
constexpr std::string_view kPassedIcon = "\xE2\x9C\x85";  // ✅
constexpr std::string_view kFailedIcon = "\xE2\x9D\x8C";  // ❌
constexpr std::string_view kSoftIcon = "\xE2\x9A\xA0\xEF\xB8\x8F";  // ⚠️
constexpr std::string_view kStartedIcon = "\xE2\x96\xB6\xEF\xB8\x8F";  // ▶️
constexpr std::string_view kCancelledIcon = "\xE2\x8F\xB9\xEF\xB8\x8F";  // ⏹️
constexpr std::string_view kFlakyIcon = "\xF0\x9F\x94\x81";  // 🔁

// ---------------------------------------------------------------------------------------
// Text: valid UTF-8, mrkdwn escapes, cuts by Slack's characters.

// Returns the length of the UTF-8 sequence `lead` starts, 0 when it starts none.
std::size_t SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Returns `text` with every byte that does not belong to a UTF-8 character replaced by
// U+FFFD: Slack refuses a body that is not UTF-8, and a test's output may be anything.
std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = SequenceLength(lead);
    bool ok = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; ok && k < length; ++k) {
      ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (ok && length >= 3) {  // no overlong forms, surrogates or code points past U+10FFFF
      const auto second = static_cast<unsigned char>(text[i + 1]);
      ok = !(lead == 0xE0 && second < 0xA0) && !(lead == 0xED && second > 0x9F) &&
           !(lead == 0xF0 && second < 0x90) && !(lead == 0xF4 && second > 0x8F);
    }
    if (ok) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// Slack counts characters; one beyond the BMP counts two here (UTF-16, the stricter of the
// ways it may be counted), so a cut text is within a limit however Slack counts.
std::size_t Weight(unsigned char lead) { return lead >= 0xF0 ? 2 : 1; }

// Returns the length of valid UTF-8 `text` in Slack's characters.
std::size_t Length(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte & 0xC0) != 0x80) n += Weight(byte);
  }
  return n;
}

// Returns valid UTF-8 `text` cut to at most `max` characters, ending in "…" when cut. With
// `mrkdwn`, an escape (&amp; &lt; &gt;) is not cut in two.
std::string Cut(std::string_view text, std::size_t max, bool mrkdwn) {
  if (Length(text) <= max) return std::string(text);
  std::size_t units = 0;
  std::size_t end = 0;
  while (end < text.size()) {
    const auto lead = static_cast<unsigned char>(text[end]);
    if (units + Weight(lead) > max - 1) break;
    units += Weight(lead);
    end += std::max<std::size_t>(SequenceLength(lead), 1);
  }
  std::string out(text.substr(0, std::min(end, text.size())));
  if (mrkdwn) {
    const std::size_t amp = out.rfind('&');
    if (amp != std::string::npos && out.find(';', amp) == std::string::npos) out.resize(amp);
  }
  return out + std::string(kEllipsis);
}

// Returns `text` as mrkdwn shows it literally: Slack reads &, < and > as markup.
std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

// Returns untrusted `text` as mrkdwn, cut to `max` characters.
std::string Mrkdwn(std::string_view text, std::size_t max) {
  return Cut(Escape(ValidUtf8(text)), max, /*mrkdwn=*/true);
}

// Returns untrusted `text` as inline code (`text`), cut to `max` characters inside.
std::string InlineCode(std::string_view text, std::size_t max) {
  std::string safe(text);
  std::replace(safe.begin(), safe.end(), '`', '\'');
  std::replace(safe.begin(), safe.end(), '\n', ' ');
  return "`" + Mrkdwn(safe, max) + "`";
}

// Returns untrusted `text` as a code block, cut to `max` characters inside.
std::string CodeBlock(std::string_view text, std::size_t max) {
  std::string safe(text);
  for (std::size_t at = safe.find("```"); at != std::string::npos; at = safe.find("```", at)) {
    safe.replace(at, 3, "'''");
  }
  return "```" + Mrkdwn(safe, max) + "```";
}

// Returns a run's duration as people read it: "850 ms", "42s", "3m 05s", "2h 07m".
std::string FormatDuration(std::int64_t ns) {
  const std::int64_t ms = ns / 1'000'000;
  char buffer[32];
  if (ms < 1000) {
    std::snprintf(buffer, sizeof buffer, "%lld ms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buffer, sizeof buffer, "%llds", static_cast<long long>(ms / 1000));
  } else if (ms < 3'600'000) {
    std::snprintf(buffer, sizeof buffer, "%lldm %02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldh %02lldm",
                  static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  }
  return buffer;
}

std::string Plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// ---------------------------------------------------------------------------------------
// Block Kit.

json::object PlainText(std::string_view text) {
  return {{"type", "plain_text"}, {"text", text}, {"emoji", true}};
}

json::object HeaderBlock(std::string_view text) {
  return {{"type", "header"}, {"text", PlainText(Cut(text, kMaxHeaderText, false))}};
}

// `text` is mrkdwn already cut to the limit by its writer; cut again only as a guard.
json::object SectionBlock(std::string_view text) {
  return {{"type", "section"},
          {"text", {{"type", "mrkdwn"}, {"text", Cut(text, kMaxSectionText, true)}}}};
}

json::object ContextBlock(const std::vector<std::string>& items) {
  json::array elements;
  for (const std::string& item : items) {
    if (elements.size() == kMaxContextElements) break;
    elements.push_back(json::object{{"type", "mrkdwn"}, {"text", item}});
  }
  return {{"type", "context"}, {"elements", std::move(elements)}};
}

json::object ButtonBlock(const RunFacts& run) {
  json::object button{
      {"type", "button"},
      {"text", PlainText(Cut("View run #" + std::to_string(run.id), kMaxButtonText, false))},
      {"url", ValidUtf8(run.url)},
      {"action_id", "handoff_view_run"}};
  return {{"type", "actions"}, {"elements", json::array{std::move(button)}}};
}

// Returns true when the run has a link a button may carry.
bool HasLink(const RunFacts& run) {
  return !run.url.empty() && run.url.size() <= kMaxButtonUrl &&
         (run.url.starts_with("http://") || run.url.starts_with("https://"));
}

// The context line: what, where and who, then how long.
std::vector<std::string> RunContext(const RunFacts& run, bool with_duration) {
  std::vector<std::string> items;
  items.push_back("Run #" + std::to_string(run.id));
  if (!run.environment.empty()) {
    items.push_back("*Environment:* " + Mrkdwn(run.environment, kMaxContextItem));
  }
  if (!run.reference.empty()) {
    items.push_back("*Reference:* " + InlineCode(run.reference, kMaxContextItem));
  }
  if (!run.initiated_by.empty()) {
    std::string who = "*Initiated by:* " + Mrkdwn(run.initiated_by, kMaxContextItem / 2);
    if (!run.on_behalf_of.empty()) {
      who += " for " + Mrkdwn(run.on_behalf_of, kMaxContextItem / 2);
    }
    items.push_back(std::move(who));
  }
  if (!run.trigger.empty()) items.push_back("*Trigger:* " + Mrkdwn(run.trigger, kMaxContextItem));
  if (run.partial && !run.filter.empty()) {
    items.push_back("*Filter:* " + InlineCode(run.filter, kMaxContextItem));
  }
  if (with_duration && run.started_at_ns > 0 && run.finished_at_ns >= run.started_at_ns) {
    items.push_back("*Duration:* " + FormatDuration(run.finished_at_ns - run.started_at_ns));
  }
  return items;
}

// Returns the counts of a finished run: "*12* passed · *2* failed · *1* skipped".
std::string CountsText(const Totals& totals) {
  std::string text = "*" + std::to_string(totals.passed) + "* passed \xC2\xB7 *" +
                     std::to_string(totals.failed) + "* failed";
  const std::pair<int, const char*> more[] = {{totals.soft_failed, "soft-failed"},
                                              {totals.skipped, "skipped"},
                                              {totals.cancelled, "cancelled"},
                                              {totals.flaky, "flaky"}};
  for (const auto& [count, label] : more) {
    if (count > 0) text += " \xC2\xB7 *" + std::to_string(count) + "* " + label;
  }
  return text;
}

// Returns one failed test as the message lists it: its name, marks and location, then its
// first failure message.
std::string FailureEntry(const TestOutcome& test) {
  std::string entry(test.soft_failure ? kSoftIcon : kFailedIcon);
  entry += " " + InlineCode(test.name, kMaxTestName);
  if (test.soft_failure) entry += " _soft failure_";
  if (test.flaky) entry += " _flaky_";
  if (const std::string note = ChangeNote(test); !note.empty()) {
    entry += " _" + Escape(note) + "_";
  }
  if (!test.file.empty()) {
    std::string location = test.file;
    if (test.line > 0) location += ":" + std::to_string(test.line);
    entry += " at " + InlineCode(location, kMaxLocation);
  }
  if (!test.message.empty()) entry += "\n" + CodeBlock(test.message, kMaxTestMessage);
  return entry;
}

// Returns the failed tests to list, failures of the run first and soft failures after. A
// parent that only failed because a subtest did (no message of its own) is left out: its
// subtest says why.
std::vector<const TestOutcome*> ListedFailures(const std::vector<TestOutcome>& tests) {
  std::vector<std::string_view> failed_names;
  for (const TestOutcome& test : tests) {
    if (test.status == "failed") failed_names.push_back(test.name);
  }
  std::sort(failed_names.begin(), failed_names.end());
  // The first failed name after "Parent/" in sorted order starts with it if any does.
  const auto subtest_failed = [&](const std::string& name) {
    const std::string prefix = name + "/";
    const auto it = std::lower_bound(failed_names.begin(), failed_names.end(), prefix);
    return it != failed_names.end() && it->starts_with(prefix);
  };
  std::vector<const TestOutcome*> hard;
  std::vector<const TestOutcome*> soft;
  for (const TestOutcome& test : tests) {
    if (test.status != "failed") continue;
    if (test.message.empty() && subtest_failed(test.name)) continue;
    (test.soft_failure ? soft : hard).push_back(&test);
  }
  hard.insert(hard.end(), soft.begin(), soft.end());
  return hard;
}

// Returns the tests that passed on a retry, in one section ("… and N more" when cut).
std::string FlakyText(const std::vector<TestOutcome>& tests) {
  std::vector<const TestOutcome*> flaky;
  for (const TestOutcome& test : tests) {
    if (test.flaky && test.status == "passed") flaky.push_back(&test);
  }
  if (flaky.empty()) return {};
  std::string text = std::string(kFlakyIcon) + " *Flaky* (passed on a retry): ";
  constexpr std::size_t kRoomForNote = 60;
  for (std::size_t i = 0; i < flaky.size(); ++i) {
    std::string item = InlineCode(flaky[i]->name, kMaxTestName);
    if (flaky[i]->attempt > 1) item += " (attempt " + std::to_string(flaky[i]->attempt) + ")";
    if (i > 0) item = ", " + item;
    if (Length(text) + Length(item) > kMaxSectionText - kRoomForNote) {
      text += ", " + std::string(kEllipsis) + " and " +
              Plural(flaky.size() - i, "more flaky test", "more flaky tests");
      return text;
    }
    text += item;
  }
  return text;
}

// Returns the header of a finished run: "✅ checkout passed", "❌ checkout broke".
std::string FinishedHeadline(const Notification& n) {
  const RunFacts& run = n.run;
  if (n.change == Change::kRecovered) return std::string(kPassedIcon) + " " + run.suite + " recovered";
  if (run.Failed() && n.change == Change::kBroke) {
    return std::string(kFailedIcon) + " " + run.suite + " broke";
  }
  if (run.status == "passed") return std::string(kPassedIcon) + " " + run.suite + " passed";
  if (run.status == "failed") return std::string(kFailedIcon) + " " + run.suite + " failed";
  if (run.status == "error") return std::string(kFailedIcon) + " " + run.suite + " ended in an error";
  if (run.status == "cancelled") return std::string(kCancelledIcon) + " " + run.suite + " was cancelled";
  return run.suite + " " + run.status;
}

// A message: the fallback text and the blocks.
struct Message {
  std::string text;
  json::array blocks;
};

Message FinishedMessage(const Notification& n) {
  const RunFacts& run = n.run;
  const std::string headline = ValidUtf8(FinishedHeadline(n));
  Message message;
  std::string fallback = headline;
  if (!run.environment.empty()) fallback += " in " + run.environment;
  fallback += ": " + std::to_string(run.totals.failed) + " failed, " +
              std::to_string(run.totals.passed) + " passed (run #" + std::to_string(run.id) + ")";
  message.text = Cut(Escape(ValidUtf8(fallback)), kMaxFallbackText, true);

  json::array& blocks = message.blocks;
  blocks.push_back(HeaderBlock(headline));
  std::vector<std::string> context = RunContext(run, /*with_duration=*/true);
  if (n.previous && (n.change == Change::kBroke || n.change == Change::kRecovered)) {
    // What it changed from, so that a reader finds the run to compare with.
    context.push_back("*Previous:* run #" + std::to_string(n.previous->id) + " " +
                      Mrkdwn(n.previous->status, kMaxContextItem));
  }
  blocks.push_back(ContextBlock(context));
  blocks.push_back(SectionBlock(CountsText(run.totals)));
  if (!run.error.empty()) {
    blocks.push_back(SectionBlock("*Error:* " + CodeBlock(run.error, kMaxSectionText / 2)));
  }

  const std::string flaky = FlakyText(n.tests);
  const bool link = HasLink(run);
  // Blocks kept for what follows the failures: the "… and N more" note, the flaky tests
  // and the button.
  const std::size_t reserved = 1 + (flaky.empty() ? 0 : 1) + (link ? 1 : 0);
  const std::vector<const TestOutcome*> failures = ListedFailures(n.tests);
  std::size_t listed = 0;
  std::string section;
  for (const TestOutcome* test : failures) {
    if (listed == kMaxListedFailures) break;
    const std::string entry = FailureEntry(*test);
    if (!section.empty() && Length(section) + 2 + Length(entry) > kMaxSectionText) {
      if (blocks.size() + 1 + reserved >= kMaxBlocks) break;
      blocks.push_back(SectionBlock(section));
      section.clear();
    }
    section += (section.empty() ? "" : "\n\n") + entry;
    ++listed;
  }
  if (!section.empty()) blocks.push_back(SectionBlock(section));
  if (listed < failures.size()) {
    std::string note = std::string(kEllipsis) + " and " +
                       Plural(failures.size() - listed, "more failed test", "more failed tests");
    if (link) note += ": see the run";
    blocks.push_back(SectionBlock(note));
  }
  if (!flaky.empty()) blocks.push_back(SectionBlock(flaky));
  if (link) blocks.push_back(ButtonBlock(run));
  return message;
}

Message StartedMessage(const Notification& n) {
  const RunFacts& run = n.run;
  const std::string headline = ValidUtf8(std::string(kStartedIcon) + " " + run.suite + " started");
  Message message;
  std::string fallback = headline;
  if (!run.environment.empty()) fallback += " in " + run.environment;
  fallback += " (run #" + std::to_string(run.id) + ")";
  message.text = Cut(Escape(ValidUtf8(fallback)), kMaxFallbackText, true);
  message.blocks.push_back(HeaderBlock(headline));
  message.blocks.push_back(ContextBlock(RunContext(run, /*with_duration=*/false)));
  if (HasLink(run)) message.blocks.push_back(ButtonBlock(run));
  return message;
}

Message TestFailedMessage(const Notification& n) {
  const RunFacts& run = n.run;
  const TestOutcome* test = n.tests.empty() ? nullptr : &n.tests.front();
  const std::string name = test ? test->name : "a test";
  const bool soft = test && test->soft_failure;
  const std::string headline = ValidUtf8(std::string(soft ? kSoftIcon : kFailedIcon) + " " +
                                         run.suite + ": " + name +
                                         (soft ? " failed (soft)" : " failed"));
  Message message;
  std::string fallback = headline;
  if (!run.environment.empty()) fallback += " in " + run.environment;
  fallback += " (run #" + std::to_string(run.id) + ")";
  message.text = Cut(Escape(ValidUtf8(fallback)), kMaxFallbackText, true);
  message.blocks.push_back(HeaderBlock(headline));
  if (test) message.blocks.push_back(SectionBlock(FailureEntry(*test)));
  message.blocks.push_back(ContextBlock(RunContext(run, /*with_duration=*/false)));
  if (HasLink(run)) message.blocks.push_back(ButtonBlock(run));
  return message;
}

// ---------------------------------------------------------------------------------------
// Configuration.

constexpr std::array<std::string_view, 4> kSettings = {"api_url", "channel", "token",
                                                       "webhook_url"};
constexpr std::string_view kDefaultApiUrl = "https://slack.com/api";

// Returns `s` without surrounding whitespace (a secret file's trailing newline).
std::string Trimmed(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// Returns true if `s` has a space or a control character (no header or URL may).
bool HasSpaceOrControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7F;
  });
}

// Returns the host (and port) of an http(s) URL without its user information, or "" when
// `url` is not an http(s) URL with a host.
std::string UrlHost(std::string_view url) {
  std::size_t scheme = 0;
  const auto lower_equal = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  };
  if (url.size() > 7 && std::equal(url.begin(), url.begin() + 7, "http://", lower_equal)) {
    scheme = 7;
  } else if (url.size() > 8 && std::equal(url.begin(), url.begin() + 8, "https://", lower_equal)) {
    scheme = 8;
  } else {
    return {};
  }
  std::string_view authority = url.substr(scheme);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.empty() || authority.front() == ':') return {};
  return std::string(authority);
}

struct SlackSettings {
  std::string webhook_url;  // incoming webhook mode when not empty
  std::string token;        // bot token mode when not empty
  std::string channel;
  std::string api_url;
};

Result<SlackSettings> ReadSettings(const PluginConfig& config) {
  for (const auto& [key, value] : config.settings) {
    if (std::find(kSettings.begin(), kSettings.end(), key) == kSettings.end()) {
      return Error{ErrorCode::kInvalid,
                   "unknown slack setting \"" + ValidUtf8(key) +
                       "\" (allowed: api_url, channel, token, webhook_url)"};
    }
  }
  // The settings map, not PluginConfig::Get: a key set to "" (an empty secret file) is an
  // error, not a setting left out.
  const auto set = [&](std::string_view key) {
    return config.settings.count(std::string(key)) > 0;
  };
  const auto get = [&](std::string_view key) {
    const auto it = config.settings.find(std::string(key));
    return it == config.settings.end() ? std::string() : Trimmed(it->second);
  };
  for (std::string_view key : kSettings) {
    if (set(key) && get(key).empty()) {
      return Error{ErrorCode::kInvalid, "slack setting " + std::string(key) + " is empty"};
    }
  }
  SlackSettings s;
  s.webhook_url = get("webhook_url");
  s.token = get("token");
  s.channel = get("channel");
  s.api_url = get("api_url");
  if (set("webhook_url") && set("token")) {
    return Error{ErrorCode::kInvalid,
                 "slack takes either webhook_url (an incoming webhook) or token and channel "
                 "(a bot token), not both"};
  }
  if (!set("webhook_url") && !set("token")) {
    return Error{ErrorCode::kInvalid,
                 "slack needs webhook_url (an incoming webhook) or token and channel "
                 "(a bot token)"};
  }
  if (set("webhook_url")) {
    if (set("channel") || set("api_url")) {
      return Error{ErrorCode::kInvalid,
                   "slack's channel and api_url go with token: an incoming webhook posts to "
                   "the channel it was made for"};
    }
    if (HasSpaceOrControl(s.webhook_url) || UrlHost(s.webhook_url).empty()) {
      return Error{ErrorCode::kInvalid, "slack's webhook_url is not an http:// or https:// URL"};
    }
    return s;
  }
  if (HasSpaceOrControl(s.token)) {
    return Error{ErrorCode::kInvalid, "slack's token has spaces or control characters"};
  }
  if (!set("channel")) {
    return Error{ErrorCode::kInvalid, "slack's token needs channel (a channel name or ID)"};
  }
  if (HasSpaceOrControl(s.channel)) {
    return Error{ErrorCode::kInvalid, "slack's channel has spaces or control characters"};
  }
  if (s.api_url.empty()) s.api_url = kDefaultApiUrl;
  if (HasSpaceOrControl(s.api_url) || UrlHost(s.api_url).empty()) {
    return Error{ErrorCode::kInvalid,
                 "slack's api_url \"" + ValidUtf8(s.api_url) + "\" is not an http:// or https:// URL"};
  }
  while (s.api_url.ends_with('/')) s.api_url.pop_back();
  return s;
}

// ---------------------------------------------------------------------------------------
// Answers.

// Slack's errors that a later attempt may not get.
constexpr std::array<std::string_view, 5> kTransientErrors = {
    "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"};

// Returns `word` if it is a short word of letters, digits, '_', '.', ':' and '-' (as Slack's
// error codes and scopes are), else "": an answer may say anything, and a delivery's
// last_error is shown to everyone.
std::string PlainWord(std::string word) {
  if (word.empty() || word.size() > kMaxSlackError) return {};
  const bool plain = std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '-';
  });
  return plain ? word : std::string();
}

// Returns Slack's error word from an answer's body (`{"ok":false,"error":"…"}` from the Web
// API, a plain "no_service" from a webhook), or "" when the body is not one.
std::string SlackErrorWord(std::string_view body) {
  std::string word = Trimmed(body);
  boost::system::error_code ec;
  const json::value value = json::parse(body, ec);
  if (!ec && value.is_object()) {
    const json::value* error = value.as_object().if_contains("error");
    word = error != nullptr && error->is_string() ? std::string(error->as_string()) : "";
  }
  return PlainWord(std::move(word));
}

// Returns what an error word means for the operator, when Slack's word alone is terse.
std::string_view Hint(std::string_view word) {
  if (word == "not_in_channel") return " (invite the Slack app to the channel)";
  if (word == "channel_not_found") return " (check the channel's name or ID)";
  if (word == "invalid_auth" || word == "token_revoked" || word == "token_expired" ||
      word == "account_inactive" || word == "not_authed") {
    return " (check the token)";
  }
  if (word == "missing_scope") return " (the token needs the chat:write scope)";
  if (word == "no_service" || word == "no_team" || word == "invalid_token") {
    return " (the incoming webhook was removed or its URL is wrong)";
  }
  if (word == "channel_is_archived" || word == "is_archived") return " (the channel is archived)";
  return {};
}

class SlackPlugin final : public Plugin {
 public:
  SlackPlugin(SlackSettings settings, Policy policy, std::vector<Event> events)
      : settings_(std::move(settings)), policy_(policy), events_(std::move(events)) {}

  // Plugin
  std::string_view kind() const override { return "slack"; }

  std::string destination() const override {
    if (bot()) {
      return settings_.channel.starts_with('#') ? settings_.channel : "#" + settings_.channel;
    }
    return "Slack incoming webhook (" + UrlHost(settings_.webhook_url) + ")";
  }

  bool Wants(Event event, const RunFacts& run, Change change) const override {
    if (std::find(events_.begin(), events_.end(), event) == events_.end()) return false;
    if (event != Event::kRunFinished) return true;
    return PolicyWants(policy_, run, change);
  }

  Result<Request> Render(const Notification& notification,
                         const RenderContext& context) const override {
    Message message;
    switch (notification.event) {
      case Event::kRunStarted: message = StartedMessage(notification); break;
      case Event::kRunFinished: message = FinishedMessage(notification); break;
      case Event::kTestFailed: message = TestFailedMessage(notification); break;
    }
    json::object body;
    if (bot()) body["channel"] = settings_.channel;
    body["text"] = std::move(message.text);
    body["blocks"] = std::move(message.blocks);
    body["unfurl_links"] = false;
    body["unfurl_media"] = false;
    if (bot() && notification.event == Event::kRunFinished &&
        notification.change == Change::kRecovered) {
      ThreadOnto(context.suite_reply, &body);
    }
    Request request;
    request.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
    if (bot()) {
      request.url = settings_.api_url + "/chat.postMessage";
      request.headers.emplace_back("Authorization", "Bearer " + settings_.token);
    } else {
      request.url = settings_.webhook_url;
    }
    request.body = json::serialize(body);
    return request;
  }

  Outcome Classify(const Notification& notification, const Request& /*request*/,
                   const Response& response) const override {
    Outcome outcome = ClassifyHttp(response, std::chrono::system_clock::now());
    if (outcome.verdict != Verdict::kDelivered) {
      if (const std::string word = SlackErrorWord(response.body); !word.empty()) {
        outcome.error += ": " + word + std::string(Hint(word));
      }
    } else if (bot()) {
      ReadPostMessageAnswer(notification, response, &outcome);
    }
    outcome.error = Redacted(std::move(outcome.error));
    return outcome;
  }

 private:
  bool bot() const { return !settings_.token.empty(); }

  // Makes `body` a reply in the thread of the failure `suite_reply` kept. The reply is
  // also broadcast to the channel: the failure was news there, so its end is too, and the
  // thread keeps the two together.
  static void ThreadOnto(std::string_view suite_reply, json::object* body) {
    if (suite_reply.empty()) return;
    boost::system::error_code ec;
    const json::value kept = json::parse(suite_reply, ec);
    if (ec || !kept.is_object()) return;
    const json::value* ts = kept.as_object().if_contains("ts");
    const json::value* channel = kept.as_object().if_contains("channel");
    if (ts == nullptr || !ts->is_string() || ts->as_string().empty()) return;
    // A thread lives in the channel of its first message (Slack answers with its ID).
    if (channel != nullptr && channel->is_string() && !channel->as_string().empty()) {
      (*body)["channel"] = channel->as_string();
    }
    (*body)["thread_ts"] = ts->as_string();
    (*body)["reply_broadcast"] = true;
  }

  // Reads chat.postMessage's 200: `ok` false is Slack's refusal, and the message that
  // reports a failed run is kept (ts, channel) for the recovery's thread.
  static void ReadPostMessageAnswer(const Notification& notification, const Response& response,
                                    Outcome* outcome) {
    boost::system::error_code ec;
    const json::value value = json::parse(response.body, ec);
    const json::object* answer = !ec && value.is_object() ? &value.as_object() : nullptr;
    const json::value* ok = answer != nullptr ? answer->if_contains("ok") : nullptr;
    if (ok == nullptr || !ok->is_bool()) {
      outcome->verdict = Verdict::kFailed;
      outcome->error = "Slack's answer to chat.postMessage is not its JSON (HTTP " +
                       std::to_string(response.status) + ")";
      return;
    }
    if (!ok->as_bool()) {
      std::string word = SlackErrorWord(response.body);
      if (word.empty()) word = "unknown_error";
      const bool transient =
          std::find(kTransientErrors.begin(), kTransientErrors.end(), word) != kTransientErrors.end();
      outcome->verdict = transient ? Verdict::kRetry : Verdict::kFailed;
      outcome->error = "Slack refused the message: " + word + std::string(Hint(word));
      if (const json::value* needed = answer->if_contains("needed");
          needed != nullptr && needed->is_string()) {
        const std::string scope = PlainWord(std::string(needed->as_string()));
        if (!scope.empty()) outcome->error += " (needed: " + scope + ")";
      }
      if (transient) {
        outcome->retry_after =
            ParseRetryAfter(response.Header("Retry-After"), std::chrono::system_clock::now());
      }
      return;
    }
    if (notification.event != Event::kRunFinished || !notification.run.Failed()) return;
    const json::value* ts = answer->if_contains("ts");
    const json::value* channel = answer->if_contains("channel");
    if (ts == nullptr || !ts->is_string() || ts->as_string().empty()) return;
    json::object kept{{"ts", ts->as_string()}};
    if (channel != nullptr && channel->is_string()) kept["channel"] = channel->as_string();
    outcome->progress = json::serialize(kept);
  }

  // Returns `text` with every secret (the token, the webhook's URL and its path) replaced:
  // an error of the HTTP client or a redirect's Location may repeat them.
  std::string Redacted(std::string text) const {
    std::vector<std::string> secrets;
    if (!settings_.token.empty()) secrets.push_back(settings_.token);
    if (!settings_.webhook_url.empty()) {
      secrets.push_back(settings_.webhook_url);
      // Everything after the host: the path or query that holds the webhook's token.
      const std::size_t host = settings_.webhook_url.find("://") + 3;
      const std::size_t rest = settings_.webhook_url.find_first_of("/?#", host);
      if (rest != std::string::npos && settings_.webhook_url.size() - rest > 1) {
        secrets.push_back(settings_.webhook_url.substr(rest));
      }
    }
    for (const std::string& secret : secrets) {
      for (std::size_t at = text.find(secret); at != std::string::npos;
           at = text.find(secret, at)) {
        text.replace(at, secret.size(), "[redacted]");
      }
    }
    return text;
  }

  SlackSettings settings_;
  Policy policy_;
  std::vector<Event> events_;
};

}  // namespace

Result<std::unique_ptr<Plugin>> MakeSlack(const PluginConfig& config) {
  Result<SlackSettings> settings = ReadSettings(config);
  if (!settings.ok()) return std::move(settings).error();
  std::vector<Event> events = config.events;
  if (events.empty()) events.push_back(Event::kRunFinished);
  return std::unique_ptr<Plugin>(std::make_unique<SlackPlugin>(
      std::move(settings).value(), config.policy.value_or(Policy::kFailure), std::move(events)));
}

}  // namespace handoff::notify
