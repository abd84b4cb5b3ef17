#include "store/value_encoding.h"

#include <fmt/format.h>

#include <charconv>

#include "store/compact_encoding.h"

namespace handoff::store {
namespace {

void PutKeyValues(std::string& out, const KeyValues& kv) {
  PutVarint(out, kv.size());
  for (const auto& [key, value] : kv) {
    PutString(out, key);
    PutString(out, value);
  }
}

// Returns `value` if `decoder` read it all without a fault, else kCorrupt naming `what`.
template <typename T>
Result<T> Decoded(const Decoder& decoder, T value, const char* what) {
  if (!decoder.ok()) return Error{ErrorCode::kCorrupt, what};
  return value;
}

}  // namespace

std::string EncodeKeyValues(const KeyValues& kv) {
  std::string out;
  if (!kv.empty()) PutKeyValues(out, kv);
  return out;
}

std::string EncodeStrings(const std::vector<std::string>& strings) {
  std::string out;
  if (strings.empty()) return out;
  PutVarint(out, strings.size());
  for (const auto& s : strings) PutString(out, s);
  return out;
}

std::string EncodeFailures(const std::vector<Failure>& failures) {
  std::string out;
  if (failures.empty()) return out;
  PutVarint(out, failures.size());
  for (const auto& f : failures) {
    PutString(out, f.message);
    PutString(out, f.file);
    PutSigned(out, f.line);
  }
  return out;
}

std::string EncodeSpans(const std::vector<Span>& spans) {
  std::string out;
  if (spans.empty()) return out;
  PutVarint(out, spans.size());
  for (const auto& span : spans) {
    PutString(out, span.name);
    PutSigned(out, span.start_ns);
    PutSigned(out, span.elapsed_ns);
    PutKeyValues(out, span.attributes);
  }
  return out;
}

Result<KeyValues> DecodeKeyValues(std::string_view data) {
  if (data.empty()) return KeyValues{};
  Decoder d(data);
  KeyValues kv = d.KeyValueList();
  return Decoded(d, std::move(kv), "key/value list");
}

Result<std::vector<std::string>> DecodeStrings(std::string_view data) {
  std::vector<std::string> strings;
  if (data.empty()) return strings;
  Decoder d(data);
  const std::size_t n = d.Count();
  strings.reserve(n);
  for (std::size_t i = 0; i < n && d.ok(); ++i) strings.push_back(d.String());
  return Decoded(d, std::move(strings), "string list");
}

Result<std::vector<Failure>> DecodeFailures(std::string_view data) {
  std::vector<Failure> failures;
  if (data.empty()) return failures;
  Decoder d(data);
  const std::size_t n = d.Count();
  failures.resize(n);
  for (auto& f : failures) {
    f.message = d.String();
    f.file = d.String();
    f.line = static_cast<int>(d.Signed());
  }
  return Decoded(d, std::move(failures), "failures");
}

Result<std::vector<Span>> DecodeSpans(std::string_view data) {
  std::vector<Span> spans;
  if (data.empty()) return spans;
  Decoder d(data);
  const std::size_t n = d.Count();
  spans.resize(n);
  for (auto& span : spans) {
    span.name = d.String();
    span.start_ns = d.Signed();
    span.elapsed_ns = d.Signed();
    span.attributes = d.KeyValueList();
  }
  return Decoded(d, std::move(spans), "spans");
}

std::string EncodeHold(const std::optional<RunHold>& hold) {
  std::string out;
  if (!hold) return out;
  PutVarint(out, 1);  // the layout's version
  PutString(out, hold->test);
  PutSigned(out, hold->attempt);
  PutSigned(out, hold->hold.pid);
  PutSigned(out, hold->hold.max_hold_ns);
  PutVarint(out, hold->hold.temp_dirs.size());
  for (const std::string& dir : hold->hold.temp_dirs) PutString(out, dir);
  PutVarint(out, hold->hold.runnables.size());
  for (const HeldRunnable& r : hold->hold.runnables) {
    PutString(out, r.name);
    PutString(out, r.dir);
    PutString(out, r.container_id);
    PutSigned(out, r.pid);
    PutKeyValues(out, r.endpoints);
  }
  PutSigned(out, hold->held_at_ns);
  PutSigned(out, hold->release_at_ns);
  PutSigned(out, hold->released_at_ns);
  PutString(out, hold->ended);
  return out;
}

Result<std::optional<RunHold>> DecodeHold(std::string_view data) {
  if (data.empty()) return std::optional<RunHold>();
  Decoder d(data);
  if (d.Varint() != 1) return Error{ErrorCode::kCorrupt, "hold"};
  RunHold hold;
  hold.test = d.String();
  hold.attempt = static_cast<int>(d.Signed());
  hold.hold.pid = static_cast<int>(d.Signed());
  hold.hold.max_hold_ns = d.Signed();
  const std::size_t dirs = d.Count();
  for (std::size_t i = 0; i < dirs && d.ok(); ++i) hold.hold.temp_dirs.push_back(d.String());
  const std::size_t runnables = d.Count();
  for (std::size_t i = 0; i < runnables && d.ok(); ++i) {
    HeldRunnable& r = hold.hold.runnables.emplace_back();
    r.name = d.String();
    r.dir = d.String();
    r.container_id = d.String();
    r.pid = static_cast<int>(d.Signed());
    r.endpoints = d.KeyValueList();
  }
  hold.held_at_ns = d.Signed();
  hold.release_at_ns = d.Signed();
  hold.released_at_ns = d.Signed();
  hold.ended = d.String();
  return Decoded(d, std::optional<RunHold>(std::move(hold)), "hold");
}

std::string EncodeTotals(const RunTotals& t) {
  return fmt::format("{} {} {} {} {} {} {}", t.total, t.passed, t.failed, t.skipped,
                     t.soft_failed, t.cancelled, t.flaky);
}

std::optional<RunTotals> DecodeTotals(std::string_view text) {
  RunTotals t;
  int* fields[] = {&t.total,       &t.passed,    &t.failed, &t.skipped,
                   &t.soft_failed, &t.cancelled, &t.flaky};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  int read = 0;
  for (int* field : fields) {
    while (p < end && *p == ' ') ++p;
    if (p == end && read >= 4) break;
    const auto [next, ec] = std::from_chars(p, end, *field);
    if (ec != std::errc()) return std::nullopt;
    p = next;
    ++read;
  }
  return t;
}

}  // namespace handoff::store
