#include "ingest/report_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>

namespace handoff::ingest {
namespace {

constexpr std::string_view kTypesRead =
    "application/x-ndjson or application/json (go test -json), application/xml or text/xml "
    "(JUnit XML), text/x-tap (TAP)";

constexpr std::array<std::pair<std::string_view, ReportFormat>, 10> kMediaTypes = {{
    {"application/json", ReportFormat::kGoTestJson},
    {"application/x-ndjson", ReportFormat::kGoTestJson},
    {"application/ndjson", ReportFormat::kGoTestJson},
    {"application/jsonl", ReportFormat::kGoTestJson},
    {"application/x-jsonlines", ReportFormat::kGoTestJson},
    {"application/xml", ReportFormat::kJUnitXml},
    {"text/xml", ReportFormat::kJUnitXml},
    {"text/x-tap", ReportFormat::kTap},
    {"application/x-tap", ReportFormat::kTap},
    {"text/tap", ReportFormat::kTap},
}};

// Each format's names: ReportFormatName's and ReportMediaType's.
struct FormatNames {
  ReportFormat format;
  const char* name;
  const char* media_type;
};
constexpr std::array<FormatNames, 3> kFormats = {{
    {ReportFormat::kGoTestJson, "go-test-json", "application/x-ndjson"},
    {ReportFormat::kJUnitXml, "junit", "application/xml"},
    {ReportFormat::kTap, "tap", "text/x-tap"},
}};

const FormatNames& FormatOf(ReportFormat format) {
  return *std::find_if(kFormats.begin(), kFormats.end(),
                       [&](const FormatNames& f) { return f.format == format; });
}

// Types that say nothing of the format: the report is sniffed. curl --data-binary sends
// application/x-www-form-urlencoded unless told otherwise.
constexpr std::array<std::string_view, 4> kGenericTypes = {
    "", "application/octet-stream", "text/plain", "application/x-www-form-urlencoded"};

std::string MediaTypeOf(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && std::isspace(static_cast<unsigned char>(content_type.front()))) {
    content_type.remove_prefix(1);
  }
  while (!content_type.empty() && std::isspace(static_cast<unsigned char>(content_type.back()))) {
    content_type.remove_suffix(1);
  }
  std::string out(content_type);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool IsTapLine(std::string_view line) {
  if (line.starts_with("TAP version ") || line.starts_with("# Subtest:") ||
      line.starts_with("not ok")) {
    return true;
  }
  if (line.starts_with("1..")) {
    return line.size() > 3 && std::isdigit(static_cast<unsigned char>(line[3]));
  }
  // "ok", "ok 1", "ok - name": not a word that merely starts with "ok".
  return line.starts_with("ok") && (line.size() == 2 || line[2] == ' ' || line[2] == '\r');
}

}  // namespace

const char* ReportFormatName(ReportFormat format) { return FormatOf(format).name; }

std::optional<ReportFormat> ParseReportFormatName(std::string_view name) {
  for (const FormatNames& f : kFormats) {
    if (name == f.name) return f.format;
  }
  return std::nullopt;
}

const char* ReportMediaType(ReportFormat format) { return FormatOf(format).media_type; }

std::optional<ReportFormat> SniffReportFormat(std::string_view report) {
  if (report.starts_with("\xEF\xBB\xBF")) report.remove_prefix(3);
  const std::size_t start = report.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return std::nullopt;
  report.remove_prefix(start);
  if (report.front() == '<') return ReportFormat::kJUnitXml;
  if (report.front() == '{') return ReportFormat::kGoTestJson;
  if (IsTapLine(report.substr(0, report.find('\n')))) return ReportFormat::kTap;
  return std::nullopt;
}

Result<ReportFormat> DecideReportFormat(std::string_view content_type, std::string_view report) {
  const std::string type = MediaTypeOf(content_type);
  for (const auto& [name, format] : kMediaTypes) {
    if (type == name) return format;
  }
  if (std::find(kGenericTypes.begin(), kGenericTypes.end(), type) == kGenericTypes.end()) {
    return Error{ErrorCode::kUnsupported,
                 fmt::format("Content-Type {} is not a report format handoff reads: send {}",
                             type, kTypesRead)};
  }
  if (std::optional<ReportFormat> sniffed = SniffReportFormat(report)) return *sniffed;
  return Error{ErrorCode::kUnsupported,
               fmt::format("the report's format cannot be told from its content: it is not XML, "
                           "a go test JSON stream or TAP; say what it is with Content-Type {}",
                           kTypesRead)};
}

}  // namespace handoff::ingest
