#include "stack/raw_stacks.h"

#include <charconv>

namespace handoff::stack {
namespace {

template <typename Int>
bool ParseNumber(std::string_view s, int base, Int* out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && end == s.data() + s.size();
}

// Splits off the first space-separated word of `rest`.
std::string_view Word(std::string_view& rest) {
  const std::size_t space = rest.find(' ');
  std::string_view word = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  return word;
}

}  // namespace

std::optional<RawStacks> ParseRawStacks(std::string_view text) {
  // A worker's fixed buffer may have cut the last line: what came whole is kept.
  if (const std::size_t last = text.rfind('\n'); last != std::string_view::npos) {
    text = text.substr(0, last + 1);
  }
  RawStacks out;
  bool headed = false;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) continue;
    std::string_view rest = line;
    const std::string_view record = Word(rest);
    if (record == "crash") {
      if (headed) return std::nullopt;
      if (!ParseNumber(Word(rest), 10, &out.signal) || !ParseNumber(rest, 10, &out.crashed_tid)) {
        return std::nullopt;
      }
      out.crash = true;
      headed = true;
    } else if (record == "dump") {
      if (headed || !rest.empty()) return std::nullopt;
      headed = true;
    } else if (record == "thread") {
      if (!headed || out.threads.size() >= static_cast<std::size_t>(kMaxThreads)) return std::nullopt;
      RawThread thread;
      if (!ParseNumber(Word(rest), 10, &thread.tid)) return std::nullopt;
      thread.name = std::string(rest);
      out.threads.push_back(std::move(thread));
    } else if (record == "frames") {
      // A thread has one frames line, and none once it is silent.
      if (out.threads.empty() || !out.threads.back().frames.empty() ||
          !out.threads.back().answered) {
        return std::nullopt;
      }
      std::vector<std::uint64_t>& frames = out.threads.back().frames;
      while (!rest.empty()) {
        std::uint64_t pc = 0;
        if (frames.size() >= static_cast<std::size_t>(kMaxFrames) ||
            !ParseNumber(Word(rest), 16, &pc)) {
          return std::nullopt;
        }
        frames.push_back(pc);
      }
    } else if (record == "silent") {
      // A thread that answered with frames is not silent.
      if (out.threads.empty() || !rest.empty() || !out.threads.back().frames.empty()) {
        return std::nullopt;
      }
      out.threads.back().answered = false;
    } else if (record == "map") {
      if (!headed) return std::nullopt;
      out.maps.append(rest);
      out.maps.push_back('\n');
    } else {
      return std::nullopt;
    }
  }
  if (!headed) return std::nullopt;
  return out;
}

}  // namespace handoff::stack
