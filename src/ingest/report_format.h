#pragma once

// Which of the formats handoff reads (report_events.h) a report is in: named by the sender
// (an HTTP Content-Type, `remote ingest --format`), or told from the report's first bytes
// when the sender did not say (no Content-Type, application/octet-stream, text/plain).

#include <optional>
#include <string_view>

#include "base/result.h"
#include "handoff/external.h"

namespace handoff::ingest {

// The formats handoff reads, as an external suite declares its own (handoff/external.h).
using ReportFormat = ::handoff::ReportFormat;

// Returns the format's name, as an external suite's configuration and `remote ingest
// --format` spell it: "go-test-json", "junit", "tap".
const char* ReportFormatName(ReportFormat format);
// Returns the format named `name` (ReportFormatName's), or nullopt.
std::optional<ReportFormat> ParseReportFormatName(std::string_view name);
// Returns the media type a report of `format` is sent with: application/x-ndjson,
// application/xml, text/x-tap.
const char* ReportMediaType(ReportFormat format);

// Returns the format of `report` told from its first non-blank bytes (after a UTF-8 byte
// order mark): '<' is XML, '{' a go test JSON stream, a line of TAP ("TAP version",
// "1..N", "ok", "not ok", "# Subtest:") TAP; nullopt otherwise.
std::optional<ReportFormat> SniffReportFormat(std::string_view report);

// Returns the format of a report sent with Content-Type `content_type` (parameters such as
// "; charset=utf-8" are ignored): application/json, application/x-ndjson (and the other
// names of JSON lines) a go test stream; application/xml or text/xml JUnit; text/x-tap or
// application/x-tap TAP. A type that says nothing (none, application/octet-stream,
// text/plain, and application/x-www-form-urlencoded, what `curl --data-binary` sends by
// default) is sniffed. kUnsupported: a type of another format, or a report whose format
// cannot be told; the message says which types are read.
Result<ReportFormat> DecideReportFormat(std::string_view content_type, std::string_view report);

}  // namespace handoff::ingest
