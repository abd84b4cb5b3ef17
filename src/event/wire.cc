#include "event/wire.h"

#include <algorithm>
#include <cstring>

namespace handoff::wire {
namespace {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out), start_(out.size()) { U32(0); }
  void U8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(std::uint32_t v) {
    char b[4];
    std::memcpy(b, &v, 4);
    out_.append(b, 4);
  }
  void I64(std::int64_t v) {
    char b[8];
    std::memcpy(b, &v, 8);
    out_.append(b, 8);
  }
  void Str(std::string_view s) {
    U32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  // Writes the payload length into the frame header.
  void Finish() {
    std::uint32_t len = static_cast<std::uint32_t>(out_.size() - start_ - 4);
    std::memcpy(out_.data() + start_, &len, 4);
  }

 private:
  std::string& out_;
  std::size_t start_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  std::uint8_t U8() {
    if (!Need(1)) return 0;
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  std::uint32_t U32() {
    std::uint32_t v = 0;
    if (Need(4)) std::memcpy(&v, in_.data() + pos_, 4), pos_ += 4;
    return v;
  }
  std::int64_t I64() {
    std::int64_t v = 0;
    if (Need(8)) std::memcpy(&v, in_.data() + pos_, 8), pos_ += 8;
    return v;
  }
  std::string Str() {
    std::uint32_t n = U32();
    if (!Need(n)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }

 private:
  bool Need(std::size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

void AppendEvent(std::string& out, const Event& e) {
  Writer w(out);
  w.U8(static_cast<std::uint8_t>(e.kind));
  w.I64(e.time_ns);
  w.Str(e.suite);
  w.Str(e.test);
  w.U32(static_cast<std::uint32_t>(e.attempt));
  w.U8(static_cast<std::uint8_t>(e.status));
  w.I64(e.elapsed_ns);
  w.Str(e.text);
  w.Str(e.key);
  w.Str(e.file);
  w.U32(static_cast<std::uint32_t>(e.line));
  w.U8(static_cast<std::uint8_t>((e.soft ? 1 : 0) | (e.flaky ? 2 : 0)));
  w.U32(e.span_id);
  w.U32(static_cast<std::uint32_t>(e.attributes.size()));
  for (const auto& [k, v] : e.attributes) {
    w.Str(k);
    w.Str(v);
  }
  w.Str(e.trace_id);
  w.I64(static_cast<std::int64_t>(e.trace_span));
  w.I64(static_cast<std::int64_t>(e.parent_span));
  w.Finish();
}

std::size_t EncodeStacks(char* out, std::size_t capacity, std::int64_t time_ns,
                         std::string_view text) {
  // The layout of AppendEvent for an Event whose only fields are kind, time_ns and text.
  constexpr std::size_t kFixed = 4 + 1 + 8 + 4 + 4 + 4 + 1 + 8 + 4 + 4 + 4 + 4 + 1 + 4 + 4 + 4 + 8 + 8;
  const std::size_t total = kFixed + text.size();
  if (total > capacity || total - 4 > kMaxFrameBytes) return 0;
  char* p = out;
  auto u8 = [&](std::uint8_t v) { *p++ = static_cast<char>(v); };
  auto u32 = [&](std::uint32_t v) { std::memcpy(p, &v, 4), p += 4; };
  auto i64 = [&](std::int64_t v) { std::memcpy(p, &v, 8), p += 8; };
  u32(static_cast<std::uint32_t>(total - 4));
  u8(static_cast<std::uint8_t>(EventKind::kStacks));
  i64(time_ns);
  u32(0);  // suite
  u32(0);  // test
  u32(0);  // attempt
  u8(static_cast<std::uint8_t>(Status::kPassed));
  i64(0);  // elapsed_ns
  u32(static_cast<std::uint32_t>(text.size()));
  std::memcpy(p, text.data(), text.size());
  p += text.size();
  u32(0);  // key
  u32(0);  // file
  u32(0);  // line
  u8(0);   // flags
  u32(0);  // span_id
  u32(0);  // attributes
  u32(0);  // trace_id
  i64(0);  // trace_span
  i64(0);  // parent_span
  return static_cast<std::size_t>(p - out);
}

std::optional<Event> DecodeEvent(std::string_view payload) {
  Reader r(payload);
  Event e;
  std::uint8_t kind = r.U8();
  if (kind > static_cast<std::uint8_t>(EventKind::kStacks)) return std::nullopt;
  e.kind = static_cast<EventKind>(kind);
  e.time_ns = r.I64();
  e.suite = r.Str();
  e.test = r.Str();
  e.attempt = static_cast<int>(r.U32());
  std::uint8_t status = r.U8();
  if (status > static_cast<std::uint8_t>(Status::kCancelled)) return std::nullopt;
  e.status = static_cast<Status>(status);
  e.elapsed_ns = r.I64();
  e.text = r.Str();
  e.key = r.Str();
  e.file = r.Str();
  e.line = static_cast<int>(r.U32());
  std::uint8_t flags = r.U8();
  e.soft = (flags & 1) != 0;
  e.flaky = (flags & 2) != 0;
  e.span_id = r.U32();
  std::uint32_t n = r.U32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    std::string k = r.Str();
    std::string v = r.Str();
    e.attributes.emplace_back(std::move(k), std::move(v));
  }
  e.trace_id = r.Str();
  e.trace_span = static_cast<std::uint64_t>(r.I64());
  e.parent_span = static_cast<std::uint64_t>(r.I64());
  if (!r.ok() || !r.done()) return std::nullopt;
  return e;
}

std::optional<std::string_view> FrameReader::Next() {
  if (corrupt_) return std::nullopt;
  if (pending() < 4) {
    if (offset_ > 0 && offset_ == buffer_.size()) buffer_.clear(), offset_ = 0;
    return std::nullopt;
  }
  std::uint32_t len;
  std::memcpy(&len, buffer_.data() + offset_, 4);
  if (len > kMaxFrameBytes) {
    corrupt_ = true;
    return std::nullopt;
  }
  if (pending() - 4 < len) {
    // Compact so the buffer does not grow without bound.
    if (offset_ > 0) buffer_.erase(0, offset_), offset_ = 0;
    return std::nullopt;
  }
  std::string_view payload(buffer_.data() + offset_ + 4, len);
  offset_ += 4 + len;
  return payload;
}

std::string EncodePlan(const WorkerPlan& plan) {
  return EncodePlan(plan, plan.tests, plan.run_teardown_only);
}

std::string EncodePlan(const WorkerPlan& plan, std::span<const PlannedTest> tests,
                       bool run_teardown_only) {
  std::string out;
  std::size_t size = 64 + plan.suite.size() + plan.run_pattern.size() +
                     plan.skip_pattern.size() + plan.assess_pattern.size() +
                     plan.skip_assess_pattern.size() + plan.gtest_filter.size();
  for (const PlannedTest& t : tests) size += 16 + t.name.size();
  for (const auto& [key, value] : plan.params) size += 8 + key.size() + value.size();
  out.reserve(size);
  Writer w(out);
  w.Str(plan.suite);
  w.U32(static_cast<std::uint32_t>(tests.size()));
  for (const PlannedTest& t : tests) {
    w.Str(t.name);
    w.U32(static_cast<std::uint32_t>(t.first_attempt));
    w.I64(t.timeout_ms);
  }
  w.U32(static_cast<std::uint32_t>(plan.max_attempts));
  w.I64(plan.hook_timeout_ms);
  w.I64(plan.timeout_cap_ms);
  w.Str(plan.run_pattern);
  w.Str(plan.skip_pattern);
  w.U8(static_cast<std::uint8_t>((plan.fail_fast ? 1 : 0) | (run_teardown_only ? 2 : 0) |
                                 (plan.parallel ? 4 : 0) | (plan.gtest ? 8 : 0) |
                                 (plan.gtest_run_disabled ? 16 : 0) |
                                 (plan.hold_on_failure ? 32 : 0)));
  w.Str(plan.assess_pattern);
  w.Str(plan.skip_assess_pattern);
  w.U32(static_cast<std::uint32_t>(plan.params.size()));
  for (const auto& [key, value] : plan.params) {
    w.Str(key);
    w.Str(value);
  }
  w.Str(plan.gtest_filter);
  w.I64(plan.max_hold_ms);
  w.U8(plan.external ? 1 : 0);
  if (plan.external) {
    const ExternalPlan& x = *plan.external;
    auto strings = [&](const std::vector<std::string>& list) {
      w.U32(static_cast<std::uint32_t>(list.size()));
      for (const std::string& s : list) w.Str(s);
    };
    strings(x.command);
    w.Str(x.working_dir);
    w.U32(static_cast<std::uint32_t>(x.env.size()));
    for (const auto& [key, value] : x.env) {
      w.Str(key);
      w.Str(value);
    }
    w.U8(x.format);
    w.U8(x.tool);
    w.Str(x.report_file);
    w.I64(x.grace_ms);
    strings(x.tests);
  }
  w.Finish();
  return out;
}

std::optional<WorkerPlan> DecodePlan(std::string_view payload) {
  Reader r(payload);
  WorkerPlan plan;
  plan.suite = r.Str();
  std::uint32_t n = r.U32();
  // Each test takes at least 16 bytes: a count beyond what the payload holds is not trusted.
  plan.tests.reserve(std::min<std::size_t>(n, payload.size() / 16));
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    PlannedTest t;
    t.name = r.Str();
    t.first_attempt = static_cast<int>(r.U32());
    t.timeout_ms = r.I64();
    plan.tests.push_back(std::move(t));
  }
  plan.max_attempts = static_cast<int>(r.U32());
  plan.hook_timeout_ms = r.I64();
  plan.timeout_cap_ms = r.I64();
  plan.run_pattern = r.Str();
  plan.skip_pattern = r.Str();
  std::uint8_t flags = r.U8();
  plan.fail_fast = (flags & 1) != 0;
  plan.run_teardown_only = (flags & 2) != 0;
  plan.parallel = (flags & 4) != 0;
  plan.gtest = (flags & 8) != 0;
  plan.gtest_run_disabled = (flags & 16) != 0;
  plan.hold_on_failure = (flags & 32) != 0;
  plan.assess_pattern = r.Str();
  plan.skip_assess_pattern = r.Str();
  std::uint32_t params = r.U32();
  for (std::uint32_t i = 0; i < params && r.ok(); ++i) {
    std::string key = r.Str();
    plan.params.emplace_back(std::move(key), r.Str());
  }
  plan.gtest_filter = r.Str();
  plan.max_hold_ms = r.I64();
  if (r.U8() == 1) {
    ExternalPlan& x = plan.external.emplace();
    auto strings = [&](std::vector<std::string>& list) {
      const std::uint32_t count = r.U32();
      for (std::uint32_t i = 0; i < count && r.ok(); ++i) list.push_back(r.Str());
    };
    strings(x.command);
    x.working_dir = r.Str();
    const std::uint32_t env = r.U32();
    for (std::uint32_t i = 0; i < env && r.ok(); ++i) {
      std::string key = r.Str();
      x.env.emplace_back(std::move(key), r.Str());
    }
    x.format = r.U8();
    x.tool = r.U8();
    x.report_file = r.Str();
    x.grace_ms = r.I64();
    strings(x.tests);
  }
  if (!r.ok() || !r.done()) return std::nullopt;
  return plan;
}

}  // namespace handoff::wire
