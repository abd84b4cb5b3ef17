#include "event/trace_context.h"

#include <sys/random.h>

#include <chrono>
#include <cstring>

namespace handoff {
namespace {

// xoshiro256** (Blackman and Vigna): fast, and good enough for ids that only need to be
// unique, not secret. One per thread, so parallel tests share no lock.
class IdGenerator {
 public:
  IdGenerator() {
    std::uint64_t seed[4] = {};
    if (getrandom(seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
      // No entropy source (an old sandbox): the clock and this object's address still make
      // ids that differ between workers, which is all they are for.
      seed[0] = static_cast<std::uint64_t>(
          std::chrono::high_resolution_clock::now().time_since_epoch().count());
      seed[1] = reinterpret_cast<std::uintptr_t>(this);
    }
    for (int i = 0; i < 4; ++i) s_[i] = SplitMix(seed[i] + static_cast<std::uint64_t>(i));
  }

  std::uint64_t Next() {
    const std::uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

 private:
  static std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t SplitMix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  std::uint64_t s_[4];
};

IdGenerator& Generator() {
  thread_local IdGenerator generator;
  return generator;
}

void AppendHex(std::string& out, std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char buf[16];
  for (int i = 15; i >= 0; --i, v >>= 4) buf[i] = kDigits[v & 0xf];
  out.append(buf, 16);
}

}  // namespace

std::string NewTraceId() {
  std::uint64_t hi = 0, lo = 0;
  while (hi == 0 && lo == 0) {
    hi = Generator().Next();
    lo = Generator().Next();
  }
  std::string out;
  out.reserve(32);
  AppendHex(out, hi);
  AppendHex(out, lo);
  return out;
}

std::uint64_t NewSpanId() {
  std::uint64_t id = 0;
  while (id == 0) id = Generator().Next();
  return id;
}

std::string SpanIdHex(std::uint64_t span_id) {
  std::string out;
  out.reserve(16);
  AppendHex(out, span_id);
  return out;
}

std::string FormatTraceParent(std::string_view trace_id, std::uint64_t span_id) {
  std::string out;
  out.reserve(55);
  out += "00-";
  out += trace_id;
  out += '-';
  AppendHex(out, span_id);
  out += "-01";
  return out;
}

bool IsTraceId(std::string_view trace_id) {
  if (trace_id.size() != 32) return false;
  bool nonzero = false;
  for (char c : trace_id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    nonzero = nonzero || c != '0';
  }
  return nonzero;
}

}  // namespace handoff
