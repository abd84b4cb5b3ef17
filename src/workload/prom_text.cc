#include "workload/prom_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace handoff::workload {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsMetricNameChar(char c, bool first) {
  return IsLetter(c) || c == '_' || c == ':' || (!first && IsDigit(c));
}
bool IsLabelNameChar(char c, bool first) { return IsLetter(c) || c == '_' || (!first && IsDigit(c)); }

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);  // ASCII letters only; b is lower case
         });
}

// Quotes a piece of input for an error message: short, printable.
std::string Quote(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

// Parses a sample value as Go's strconv.ParseFloat does for the formats Prometheus writes:
// decimal and exponent forms with an optional sign, "NaN", "+Inf", "-Inf" (any case).
bool ParseValue(std::string_view text, double* out) {
  bool negative = false;
  std::string_view body = text;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.empty()) return false;
  if (EqualsIgnoreCase(body, "inf") || EqualsIgnoreCase(body, "infinity")) {
    *out = negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
    return true;
  }
  if (EqualsIgnoreCase(body, "nan")) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (!IsDigit(body[0]) && body[0] != '.') return false;
  double value = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec != std::errc() || end != body.data() + body.size()) return false;
  *out = negative ? -value : value;
  return true;
}

bool ParseTimestamp(std::string_view text, std::int64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// Whether a family of `type` named F has a sample named F + `suffix` ("" for F itself).
bool TypeHasSuffix(MetricType type, std::string_view suffix) {
  switch (type) {
    case MetricType::kCounter:
      return suffix.empty() || suffix == "_total" || suffix == "_created";
    case MetricType::kHistogram:
      return suffix == "_bucket" || suffix == "_sum" || suffix == "_count" || suffix == "_created";
    case MetricType::kSummary:
      return suffix.empty() || suffix == "_sum" || suffix == "_count" || suffix == "_created";
    case MetricType::kGauge:
    case MetricType::kUntyped:
      return suffix.empty();
  }
  return false;
}

// A view of one line with a read position.
class LineCursor {
 public:
  explicit LineCursor(std::string_view line) : line_(line) {}

  bool AtEnd() const { return pos_ == line_.size(); }
  char Peek() const { return AtEnd() ? '\0' : line_[pos_]; }
  void Advance() { ++pos_; }
  // Skips spaces and tabs; returns true if there were any.
  bool SkipBlanks() {
    std::size_t start = pos_;
    while (!AtEnd() && IsBlank(line_[pos_])) ++pos_;
    return pos_ != start;
  }
  // Reads up to the next blank or the end of the line.
  std::string_view Token() {
    std::size_t start = pos_;
    while (!AtEnd() && !IsBlank(line_[pos_])) ++pos_;
    return line_.substr(start, pos_ - start);
  }
  // Reads a name made of the characters `is_char` accepts (possibly empty).
  template <typename CharTest>
  std::string_view Name(CharTest is_char) {
    std::size_t start = pos_;
    while (!AtEnd() && is_char(line_[pos_], pos_ == start)) ++pos_;
    return line_.substr(start, pos_ - start);
  }
  std::string_view Rest() const { return line_.substr(pos_); }

 private:
  std::string_view line_;
  std::size_t pos_ = 0;
};

class Parser {
 public:
  bool Parse(std::string_view text, std::string* error) {
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++line_number_;
      if (!ParseLine(line)) {
        *error = fmt::format("line {}: {}", line_number_, error_);
        return false;
      }
      start = end + 1;
    }
    return true;
  }

  std::vector<MetricFamily> TakeFamilies() { return std::move(families_); }

 private:
  struct FamilyState {
    bool has_help = false;
    bool has_type = false;
  };

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  bool ParseLine(std::string_view line) {
    LineCursor cursor(line);
    cursor.SkipBlanks();
    if (cursor.AtEnd()) return true;
    if (seen_eof_) return Fail("unexpected content after \"# EOF\"");
    if (cursor.Peek() == '#') {
      cursor.Advance();
      return ParseComment(cursor);
    }
    return ParseSample(cursor);
  }

  // "# HELP name text", "# TYPE name type", "# EOF", or any other comment.
  bool ParseComment(LineCursor& cursor) {
    cursor.SkipBlanks();
    std::string_view keyword = cursor.Token();
    cursor.SkipBlanks();
    if (keyword == "EOF" && cursor.AtEnd()) {
      seen_eof_ = true;
      return true;
    }
    if ((keyword != "HELP" && keyword != "TYPE") || cursor.AtEnd()) return true;  // a comment
    std::string_view name = cursor.Token();
    if (!IsMetricName(name)) {
      return Fail(fmt::format("invalid metric name {} in {} line", Quote(name), keyword));
    }
    std::size_t index = FamilyIndex(name);
    FamilyState& state = states_[index];
    MetricFamily& family = families_[index];
    cursor.SkipBlanks();
    if (keyword == "HELP") {
      if (state.has_help) return Fail(fmt::format("second HELP line for {}", name));
      state.has_help = true;
      family.help = UnescapeHelp(cursor.Rest());
      return true;
    }
    std::string_view type_name = cursor.Token();
    cursor.SkipBlanks();
    if (!cursor.AtEnd()) {
      return Fail(fmt::format("unexpected text {} after the type of {}", Quote(cursor.Rest()), name));
    }
    std::optional<MetricType> type = ParseType(type_name);
    if (!type) return Fail(fmt::format("unknown metric type {} for {}", Quote(type_name), name));
    if (state.has_type) return Fail(fmt::format("second TYPE line for {}", name));
    if (!family.samples.empty()) return Fail(fmt::format("TYPE line for {} after its samples", name));
    state.has_type = true;
    family.type = *type;
    return true;
  }

  // "name{label="value",...} value [timestamp]".
  bool ParseSample(LineCursor& cursor) {
    Sample sample;
    sample.name = cursor.Name(IsMetricNameChar);
    if (sample.name.empty()) return Fail(fmt::format("expected a metric name, got {}", Quote(cursor.Rest())));
    bool blank = cursor.SkipBlanks();
    if (cursor.Peek() == '{') {
      cursor.Advance();
      if (!ParseLabels(cursor, sample)) return false;
      blank = cursor.SkipBlanks();
    }
    if (cursor.AtEnd()) return Fail(fmt::format("sample {} has no value", sample.name));
    if (!blank) {
      return Fail(fmt::format("unexpected {} after sample name {}", Quote(cursor.Rest()), sample.name));
    }
    std::string_view value = cursor.Token();
    if (!ParseValue(value, &sample.value)) {
      return Fail(fmt::format("invalid value {} for sample {}", Quote(value), sample.name));
    }
    cursor.SkipBlanks();
    if (!cursor.AtEnd()) {
      std::string_view timestamp = cursor.Token();
      std::int64_t ms = 0;
      if (!ParseTimestamp(timestamp, &ms)) {
        return Fail(fmt::format("invalid timestamp {} for sample {}", Quote(timestamp), sample.name));
      }
      sample.timestamp_ms = ms;
      cursor.SkipBlanks();
      if (!cursor.AtEnd()) {
        return Fail(fmt::format("unexpected text {} after sample {}", Quote(cursor.Rest()), sample.name));
      }
    }
    std::sort(sample.labels.begin(), sample.labels.end());
    auto duplicate = std::adjacent_find(sample.labels.begin(), sample.labels.end(),
                                        [](const auto& a, const auto& b) { return a.first == b.first; });
    if (duplicate != sample.labels.end()) {
      return Fail(fmt::format("duplicate label {} in sample {}", duplicate->first, sample.name));
    }
    return AddSample(std::move(sample));
  }

  // Reads labels up to and including the closing '}'.
  bool ParseLabels(LineCursor& cursor, Sample& sample) {
    while (true) {
      cursor.SkipBlanks();
      if (cursor.Peek() == '}') break;
      std::string_view name = cursor.Name(IsLabelNameChar);
      if (name.empty()) {
        return Fail(fmt::format("expected a label name in sample {}, got {}", sample.name,
                                Quote(cursor.Rest())));
      }
      cursor.SkipBlanks();
      if (cursor.Peek() != '=') {
        return Fail(fmt::format("expected '=' after label {} in sample {}", name, sample.name));
      }
      cursor.Advance();
      cursor.SkipBlanks();
      if (cursor.Peek() != '"') {
        return Fail(fmt::format("expected '\"' to open the value of label {} in sample {}", name,
                                sample.name));
      }
      cursor.Advance();
      std::string value;
      if (!ReadLabelValue(cursor, name, &value)) return false;
      sample.labels.emplace_back(name, std::move(value));
      cursor.SkipBlanks();
      if (cursor.Peek() == ',') {
        cursor.Advance();
        continue;
      }
      if (cursor.Peek() == '}') break;
      return Fail(fmt::format("expected ',' or '}}' after label {} in sample {}", name, sample.name));
    }
    cursor.Advance();  // '}'
    return true;
  }

  // Reads a label value after its opening quote, up to and including the closing one.
  bool ReadLabelValue(LineCursor& cursor, std::string_view label, std::string* value) {
    while (!cursor.AtEnd()) {
      char c = cursor.Peek();
      cursor.Advance();
      if (c == '"') return true;
      if (c != '\\') {
        *value += c;
        continue;
      }
      if (cursor.AtEnd()) break;
      char escaped = cursor.Peek();
      if (escaped == '\\' || escaped == '"') {
        *value += escaped;
      } else if (escaped == 'n') {
        *value += '\n';
      } else {
        return Fail(fmt::format("invalid escape sequence {} in the value of label {}",
                                Quote(std::string{'\\', escaped}), label));
      }
      cursor.Advance();
    }
    return Fail(fmt::format("unterminated value of label {}", label));
  }

  bool AddSample(Sample sample) {
    std::size_t index = FamilyForSample(sample.name);
    MetricFamily& family = families_[index];
    std::string_view suffix = std::string_view(sample.name).substr(family.name.size());
    if (!TypeHasSuffix(family.type, suffix)) {
      // Only a histogram has no sample named as its family.
      return Fail(fmt::format("histogram {} has no sample named {} (want {}_bucket, _sum or _count)",
                              family.name, sample.name, family.name));
    }
    if (family.type == MetricType::kHistogram && suffix == "_bucket" && !HasNumericLabel(sample, "le")) {
      return Fail(fmt::format("histogram bucket {} needs a numeric \"le\" label", sample.name));
    }
    if (family.type == MetricType::kSummary && suffix.empty() &&
        !HasNumericLabel(sample, "quantile")) {
      return Fail(fmt::format("summary sample {} needs a numeric \"quantile\" label", sample.name));
    }
    family.samples.push_back(std::move(sample));
    return true;
  }

  static bool HasNumericLabel(const Sample& sample, std::string_view label) {
    std::optional<std::string_view> value = sample.Label(label);
    double ignored = 0;
    return value && ParseValue(*value, &ignored);
  }

  // The family a sample belongs to: a typed family whose samples carry this suffix first
  // (histogram "rpc_seconds" for "rpc_seconds_count"), then the family of the same name,
  // else a new untyped family.
  std::size_t FamilyForSample(std::string_view name) {
    for (std::string_view suffix : {"_bucket", "_sum", "_count", "_total", "_created"}) {
      if (!EndsWith(name, suffix)) continue;
      auto it = index_.find(std::string(name.substr(0, name.size() - suffix.size())));
      if (it != index_.end() && TypeHasSuffix(families_[it->second].type, suffix)) return it->second;
    }
    return FamilyIndex(name);
  }

  // The family named `name`, created (untyped) if new.
  std::size_t FamilyIndex(std::string_view name) {
    auto [it, inserted] = index_.try_emplace(std::string(name), families_.size());
    if (inserted) {
      families_.emplace_back().name = name;
      states_.emplace_back();
    }
    return it->second;
  }

  static bool IsMetricName(std::string_view name) {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
      if (!IsMetricNameChar(name[i], i == 0)) return false;
    }
    return true;
  }

  static std::optional<MetricType> ParseType(std::string_view name) {
    if (name == "counter") return MetricType::kCounter;
    if (name == "gauge") return MetricType::kGauge;
    if (name == "histogram") return MetricType::kHistogram;
    if (name == "summary") return MetricType::kSummary;
    if (name == "untyped" || name == "unknown") return MetricType::kUntyped;
    return std::nullopt;
  }

  // HELP text escapes "\\" and "\n"; any other backslash is kept as written.
  static std::string UnescapeHelp(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '\\' || text[i + 1] == 'n')) {
        out += text[i + 1] == 'n' ? '\n' : '\\';
        ++i;
      } else {
        out += text[i];
      }
    }
    return out;
  }

  std::vector<MetricFamily> families_;
  std::vector<FamilyState> states_;  // parallel to families_
  std::unordered_map<std::string, std::size_t> index_;
  int line_number_ = 0;
  bool seen_eof_ = false;
  std::string error_;
};

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kSummary: return "summary";
    case MetricType::kUntyped: return "untyped";
  }
  return "untyped";
}

std::optional<std::string_view> Sample::Label(std::string_view label) const {
  for (const auto& [name, value] : labels) {
    if (name == label) return value;
  }
  return std::nullopt;
}

std::optional<std::vector<MetricFamily>> ParsePromText(std::string_view text, std::string* error) {
  Parser parser;
  if (!parser.Parse(text, error)) return std::nullopt;
  return parser.TakeFamilies();
}

}  // namespace handoff::workload
