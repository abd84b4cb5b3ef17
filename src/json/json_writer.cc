#include "json/json_writer.h"

#include "json/encoding.h"

namespace handoff {
namespace {

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

void AppendJsonEscaped(std::string& out, std::string_view s) {
  std::size_t clean_from = 0;
  const auto flush_clean = [&](std::size_t to) {
    if (to > clean_from) out.append(s.data() + clean_from, to - clean_from);
  };
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      char32_t cp = 0;
      const int length = report::DecodeUtf8(s, i, &cp);
      if (length > 0 && cp != 0x2028 && cp != 0x2029) {
        i += static_cast<std::size_t>(length);
        continue;
      }
      flush_clean(i);
      if (length == 0) {
        out += "\\ufffd";
        i += 1;
      } else {
        out += cp == 0x2028 ? "\\u2028" : "\\u2029";
        i += static_cast<std::size_t>(length);
      }
      clean_from = i;
      continue;
    }
    flush_clean(i);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        const char escape[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(escape, sizeof escape);
        break;
      }
    }
    ++i;
    clean_from = i;
  }
  flush_clean(s.size());
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  AppendJsonEscaped(out, s);
  out += '"';
}

}  // namespace handoff
