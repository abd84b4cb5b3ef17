#pragma once

// The compact encoding of the store's lists (a run's tests, labels and values; an
// attempt's failures, values, spans and output lines), shared by every backend: nothing
// outside src/store reads it, it round-trips any bytes, and it costs a few appends per item.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "store/store.h"

namespace handoff::store {

// The compact list encoding: unsigned LEB128 varints; signed numbers zigzagged; a string
// is its length then its bytes; a list is its count then its items. An empty list is the
// empty BLOB.

inline void PutVarint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

inline void PutSigned(std::string& out, std::int64_t value) {
  PutVarint(out, (static_cast<std::uint64_t>(value) << 1) ^
                     static_cast<std::uint64_t>(value >> 63));
}

inline void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

// Reads the encoding back; any truncation or overlong count marks it bad and yields
// zeros and empty strings from then on.
class Decoder {
 public:
  explicit Decoder(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}

  bool ok() const { return ok_; }
  bool empty() const { return p_ == end_; }

  std::uint64_t Varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      const auto byte = static_cast<unsigned char>(*p_++);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    ok_ = false;
    p_ = end_;
    return 0;
  }

  std::int64_t Signed() {
    const std::uint64_t v = Varint();
    return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }

  // A count of items that take at least one byte each, so a corrupt count cannot make us
  // reserve more than the data could hold.
  std::size_t Count() {
    const std::uint64_t n = Varint();
    if (n > static_cast<std::uint64_t>(end_ - p_)) {
      ok_ = false;
      p_ = end_;
      return 0;
    }
    return static_cast<std::size_t>(n);
  }

  std::string String() {
    const std::uint64_t n = Varint();
    if (n > static_cast<std::uint64_t>(end_ - p_)) {
      ok_ = false;
      p_ = end_;
      return {};
    }
    std::string s(p_, static_cast<std::size_t>(n));
    p_ += n;
    return s;
  }

  KeyValues KeyValueList() {
    KeyValues kv;
    const std::size_t n = Count();
    kv.reserve(n);
    for (std::size_t i = 0; i < n && ok_; ++i) {
      std::string key = String();
      kv.emplace_back(std::move(key), String());
    }
    return kv;
  }

 private:
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace handoff::store
