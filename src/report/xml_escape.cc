#include "report/xml_escape.h"

#include "json/encoding.h"

namespace handoff {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

void AppendXmlEscaped(std::string& out, std::string_view s, bool attribute) {
  std::size_t clean_from = 0;
  const auto flush_clean = [&](std::size_t to) {
    if (to > clean_from) out.append(s.data() + clean_from, to - clean_from);
  };
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      char32_t cp = 0;
      const int length = report::DecodeUtf8(s, i, &cp);
      if (length > 0 && cp != 0xFFFE && cp != 0xFFFF) {
        i += static_cast<std::size_t>(length);
        continue;
      }
      flush_clean(i);
      out += kReplacement;
      i += length > 0 ? static_cast<std::size_t>(length) : 1;
      clean_from = i;
      continue;
    }
    const char* replacement = nullptr;
    switch (c) {
      case '&': replacement = "&amp;"; break;
      case '<': replacement = "&lt;"; break;
      case '>': replacement = "&gt;"; break;
      case '"': replacement = attribute ? "&quot;" : nullptr; break;
      case '\t': replacement = attribute ? "&#9;" : nullptr; break;
      case '\n': replacement = attribute ? "&#10;" : nullptr; break;
      case '\r': replacement = "&#13;"; break;
      default:
        if (c < 0x20) {
          flush_clean(i);
          out += kReplacement;
          ++i;
          clean_from = i;
          continue;
        }
        break;
    }
    if (replacement != nullptr) {
      flush_clean(i);
      out += replacement;
      clean_from = i + 1;
    }
    ++i;
  }
  flush_clean(s.size());
}

void AppendXmlAttribute(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "=\"";
  AppendXmlEscaped(out, value, /*attribute=*/true);
  out += '"';
}

void AppendXmlAttribute(std::string& out, std::string_view name, int value) {
  AppendXmlAttribute(out, name, std::to_string(value));
}

}  // namespace handoff
