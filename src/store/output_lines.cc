#include "store/output_lines.h"

#include "event/located.h"
#include "store/compact_encoding.h"

namespace handoff::store {
namespace {

// A line is a head varint: its kind in the low 4 bits, then these flags; then its time
// (signed, from the previous line's, the first from base_ns) and its text; then, with
// kHasLocation, its file (unless kSameFile: the previous located line's) and line number;
// with kHasKey, its key.
constexpr std::uint64_t kKindMask = 0x0f;
constexpr std::uint64_t kHasLocation = 1 << 4;
constexpr std::uint64_t kSameFile = 1 << 5;
constexpr std::uint64_t kHasKey = 1 << 6;
constexpr std::uint64_t kSoft = 1 << 7;
constexpr std::uint64_t kFailed = 1 << 8;
constexpr std::uint64_t kKnownFlags = kKindMask | kHasLocation | kSameFile | kHasKey | kSoft | kFailed;
constexpr std::uint64_t kLastKind = static_cast<std::uint64_t>(LineKind::kTeardownFinished);

}  // namespace

std::string EncodeOutputLines(const std::vector<OutputLine>& lines, std::int64_t base_ns) {
  std::string out;
  if (lines.empty()) return out;
  std::size_t size = 2;
  for (const OutputLine& line : lines) size += line.text.size() + 4;
  out.reserve(size);
  PutVarint(out, lines.size());
  std::int64_t previous_ns = base_ns;
  const std::string* previous_file = nullptr;
  for (const OutputLine& line : lines) {
    std::uint64_t head = static_cast<std::uint64_t>(line.kind);
    const bool located = !line.file.empty() || line.line != 0;
    const bool same_file = located && previous_file != nullptr && *previous_file == line.file;
    if (located) head |= kHasLocation;
    if (same_file) head |= kSameFile;
    if (!line.key.empty()) head |= kHasKey;
    if (line.soft) head |= kSoft;
    if (line.failed) head |= kFailed;
    PutVarint(out, head);
    PutSigned(out, line.time_ns - previous_ns);
    previous_ns = line.time_ns;
    PutString(out, line.text);
    if (located) {
      if (!same_file) PutString(out, line.file);
      PutSigned(out, line.line);
      previous_file = &line.file;
    }
    if (!line.key.empty()) PutString(out, line.key);
  }
  return out;
}

std::optional<std::vector<OutputLine>> DecodeOutputLines(std::string_view data,
                                                        std::int64_t base_ns) {
  std::vector<OutputLine> lines;
  if (data.empty()) return lines;
  Decoder d(data);
  const std::size_t n = d.Count();
  lines.resize(n);
  std::int64_t previous_ns = base_ns;
  const std::string* previous_file = nullptr;
  for (OutputLine& line : lines) {
    const std::uint64_t head = d.Varint();
    if ((head & ~kKnownFlags) != 0 || (head & kKindMask) > kLastKind) return std::nullopt;
    line.kind = static_cast<LineKind>(head & kKindMask);
    line.time_ns = previous_ns + d.Signed();
    previous_ns = line.time_ns;
    line.text = d.String();
    if ((head & kHasLocation) != 0) {
      if ((head & kSameFile) != 0) {
        if (previous_file == nullptr) return std::nullopt;
        line.file = *previous_file;
      } else {
        line.file = d.String();
      }
      line.line = static_cast<int>(d.Signed());
      previous_file = &line.file;
    }
    if ((head & kHasKey) != 0) line.key = d.String();
    line.soft = (head & kSoft) != 0;
    line.failed = (head & kFailed) != 0;
    if (!d.ok()) return std::nullopt;
  }
  if (!d.ok() || !d.empty()) return std::nullopt;
  return lines;
}

std::vector<OutputLine> LinesFromText(std::string_view text, const std::vector<Failure>& failures,
                                      std::string_view skip_reason, std::int64_t time_ns) {
  std::vector<OutputLine> lines;
  std::size_t next_failure = 0;
  bool skip_seen = false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t newline = text.find('\n', start);
    const std::string_view piece =
        text.substr(start, newline == std::string_view::npos ? std::string_view::npos
                                                             : newline - start);
    OutputLine& line = lines.emplace_back();
    line.time_ns = time_ns;
    if (next_failure < failures.size() &&
        piece == Located(failures[next_failure].message, failures[next_failure].file,
                         failures[next_failure].line)) {
      const Failure& f = failures[next_failure++];
      line.kind = LineKind::kFailure;
      line.text = f.message;
      line.file = f.file;
      line.line = f.line;
    } else if (!skip_seen && !skip_reason.empty() && piece == skip_reason) {
      skip_seen = true;
      line.kind = LineKind::kSkip;
      line.text = piece;
    } else {
      line.text = piece;
    }
    if (newline == std::string_view::npos) break;
    start = newline + 1;
  }
  // Failures that never made it into the text still happened.
  for (; next_failure < failures.size(); ++next_failure) {
    const Failure& f = failures[next_failure];
    OutputLine& line = lines.emplace_back();
    line.kind = LineKind::kFailure;
    line.time_ns = time_ns;
    line.text = f.message;
    line.file = f.file;
    line.line = f.line;
  }
  return lines;
}

}  // namespace handoff::store
