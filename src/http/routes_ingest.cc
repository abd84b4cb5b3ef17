// Ingest: POST /api/v1/suites/{suite}/ingest stores a report produced elsewhere (a CI job's
// go test -json stream, JUnit XML or TAP) as a finished run of the suite. The body is the
// report, its format taken from Content-Type or told from its content; several reports of
// one run come as a multipart/mixed body. The whole body is read and checked before the
// engine stores anything (docs/serve.md, "Ingest reports from CI").

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingest/collect.h"
#include "ingest/multipart.h"
#include "ingest/report_format.h"
#include "http/routes.h"

namespace handoff::http {
namespace {

// The longest value of a query parameter (a reference, an environment, a name).
constexpr std::size_t kMaxQueryValue = 1024;

Response UnsupportedMediaType(std::string_view message) {
  return ErrorResponse(415, "unsupported_media_type", message);
}

// Reads the query parameters into `request`; returns the 400 to send instead if one is
// unknown, repeated or too long.
std::optional<Response> ReadQuery(const QueryParams& query, IngestRequest& request) {
  std::vector<std::string_view> seen;
  for (const auto& [name, value] : query) {
    std::string* field = name == "reference"      ? &request.reference
                         : name == "environment"  ? &request.environment
                         : name == "initiated_by" ? &request.initiated_by
                                                  : nullptr;
    if (field == nullptr) {
      return BadRequest(fmt::format("unknown query parameter {:?}: ingest takes reference, "
                                    "environment and initiated_by",
                                    name));
    }
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return BadRequest(fmt::format("query parameter {} is given twice", name));
    }
    seen.push_back(name);
    if (value.size() > kMaxQueryValue) {
      return BadRequest(fmt::format("query parameter {} is longer than {} bytes", name,
                                    kMaxQueryValue));
    }
    *field = value;
  }
  return std::nullopt;
}

}  // namespace

Response IngestReport(const RouteContext& ctx) {
  IngestRequest request;
  request.suite = ctx.params.Get("suite");
  if (std::optional<Response> bad = ReadQuery(ctx.query, request)) return std::move(*bad);

  const std::string_view type = ctx.req.Header("Content-Type");
  const std::string_view body = ctx.req.body;
  std::vector<ingest::ReportInput> reports;
  if (ingest::IsMultipartMixed(type)) {
    Result<std::vector<ingest::BodyPart>> parts = ingest::SplitMultipart(type, body);
    if (!parts.ok()) return BadRequest(parts.error().message);
    for (std::size_t i = 0; i < parts->size(); ++i) {
      const ingest::BodyPart& part = (*parts)[i];
      std::string name = part.file_name.empty() ? fmt::format("part {}", i + 1) : part.file_name;
      Result<ingest::ReportFormat> format = ingest::DecideReportFormat(part.content_type, part.body);
      if (!format.ok()) return UnsupportedMediaType(name + ": " + format.error().message);
      reports.push_back(ingest::ReportInput{std::move(name), *format, part.body});
    }
  } else {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      return BadRequest("the body is empty: send the report itself (go test -json, JUnit XML "
                        "or TAP)");
    }
    Result<ingest::ReportFormat> format = ingest::DecideReportFormat(type, body);
    if (!format.ok()) return UnsupportedMediaType(format.error().message);
    reports.push_back(ingest::ReportInput{"", *format, body});
  }

  Result<ingest::CollectedRun> collected = ingest::CollectReports(reports, NowNs());
  if (!collected.ok()) return BadRequest(collected.error().message);
  request.events = std::move(collected->events);
  request.tests = std::move(collected->tests);
  request.started_at_ns = collected->started_at_ns;
  request.finished_at_ns = collected->finished_at_ns;
  request.suite_failed = collected->suite_failed;
  // Authenticated, the sender is who the server identified; what it says is kept beside.
  if (ctx.who != nullptr) {
    request.on_behalf_of = std::move(request.initiated_by);
    request.initiated_by = ctx.who->name;
  }
  const Result<store::Run> run = ctx.api.Ingest(request);
  if (!run.ok()) return FromError(run.error());
  Response r = RunResponse(201, *run, ctx.store, ctx.cache);
  r.headers.emplace_back("Location", fmt::format("{}/runs/{}", kApiPrefix, run->id));
  return r;
}

}  // namespace handoff::http
