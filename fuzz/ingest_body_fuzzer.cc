// The body of POST /suites/{suite}/ingest (src/ingest/multipart.h, report_format.h,
// collect.h): the input's first line is the request's Content-Type, the rest its body. Any
// body is split, its format decided and its reports read, or refused with a message; a
// multipart part lies inside the body; the events of the reports read keep the promises of
// fuzz/report_events_check.h, and the run they make starts before it ends.

#include <vector>

#include "fuzz/fuzz_target.h"
#include "fuzz/report_events_check.h"
#include "ingest/collect.h"
#include "ingest/multipart.h"
#include "ingest/report_format.h"

HANDOFF_FUZZ_TARGET(ingest_body) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  const std::size_t nl = input.find('\n');
  const std::string_view type = input.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);

  std::vector<ingest::ReportInput> reports;
  if (ingest::IsMultipartMixed(type)) {
    Result<std::vector<ingest::BodyPart>> parts = ingest::SplitMultipart(type, body);
    if (!parts.ok()) {
      FUZZ_CHECK(parts.error().message.starts_with("multipart body: "));
      return 0;
    }
    FUZZ_CHECK(!parts->empty() && parts->size() <= ingest::kMaxParts);
    for (const ingest::BodyPart& part : *parts) {
      FUZZ_CHECK(part.body.data() >= body.data() &&
                 part.body.data() + part.body.size() <= body.data() + body.size());
      Result<ingest::ReportFormat> format = ingest::DecideReportFormat(part.content_type, part.body);
      if (!format.ok()) return 0;
      reports.push_back({part.file_name, *format, part.body});
    }
  } else {
    Result<ingest::ReportFormat> format = ingest::DecideReportFormat(type, body);
    if (!format.ok()) {
      FUZZ_CHECK(format.error().code == ErrorCode::kUnsupported);
      return 0;
    }
    reports.push_back({"", *format, body});
  }
  Result<ingest::CollectedRun> run = ingest::CollectReports(reports, 1'000'000'000);
  if (!run.ok()) {
    FUZZ_CHECK(run.error().code == ErrorCode::kInvalid && !run.error().message.empty());
    return 0;
  }
  FUZZ_CHECK(!run->tests.empty() || run->suite_failed);
  FUZZ_CHECK(run->started_at_ns <= run->finished_at_ns);
  fuzz::ReportEventsCheck check;
  for (const Event& e : run->events) check.OnEvent(e);
  check.Finished();
  return 0;
}
