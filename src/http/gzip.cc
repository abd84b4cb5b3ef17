// gzip for responses: whether a client accepts it, and compressing a body made of parts.

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>

#include "http/router.h"

namespace handoff::http {

bool AcceptsGzip(std::string_view accept_encoding) {
  // Accept-Encoding = #( codings [ ";" "q=" qvalue ] ), e.g. "gzip, deflate;q=0.5".
  constexpr std::string_view kSpace = " \t";
  auto trim = [&](std::string_view s) {
    const std::size_t b = s.find_first_not_of(kSpace);
    if (b == std::string_view::npos) return std::string_view();
    return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
  };
  auto iequals = [](std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) ==
             std::tolower(static_cast<unsigned char>(y));
    });
  };
  while (!accept_encoding.empty()) {
    const std::size_t comma = accept_encoding.find(',');
    std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    const std::size_t semi = item.find(';');
    const std::string_view coding = trim(item.substr(0, semi));
    if (!iequals(coding, "gzip") && !iequals(coding, "x-gzip")) continue;
    bool refused = false;  // q=0 (q=0.0, q=0.000) means "not acceptable"
    for (std::string_view params = semi == std::string_view::npos ? std::string_view()
                                                                   : item.substr(semi + 1);
         !params.empty();) {
      const std::size_t next = params.find(';');
      const std::string_view param = trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      if (param.size() < 2 || !iequals(param.substr(0, 2), "q=")) continue;
      const std::string_view q = trim(param.substr(2));
      refused = !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
    }
    if (!refused) return true;
  }
  return false;
}

std::string GzipCompress(std::initializer_list<std::string_view> parts, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::size_t total = 0;
  for (const std::string_view part : parts) total += part.size();
  std::string out;
  // JSON compresses tens of times over: start at an eighth of the input (not deflateBound,
  // a little over the input, which would zero and fault in a megabyte for a 10,000-test run
  // whose gzip is 35 KB) and grow if that falls short.
  out.resize(std::min<std::size_t>(deflateBound(&zs, static_cast<uLong>(total)),
                                   total / 8 + 4096) +
             64);
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  // Runs deflate until `done`, growing `out` when it is full.
  auto run = [&](int flush, auto done) {
    for (;;) {
      if (zs.avail_out == 0) {
        const std::size_t used = zs.total_out;
        out.resize(out.size() * 2);
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
        zs.avail_out = static_cast<uInt>(out.size() - used);
      }
      const int rc = deflate(&zs, flush);
      if (rc == Z_STREAM_ERROR) return false;
      if (done(rc)) return true;
    }
  };
  bool ok = true;
  for (const std::string_view part : parts) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    zs.avail_in = static_cast<uInt>(part.size());
    ok = ok && run(Z_NO_FLUSH, [&](int) { return zs.avail_in == 0; });
  }
  ok = ok && run(Z_FINISH, [](int rc) { return rc == Z_STREAM_END; });
  const std::size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (!ok) throw std::runtime_error("deflate failed");
  out.resize(produced);
  return out;
}

}  // namespace handoff::http
