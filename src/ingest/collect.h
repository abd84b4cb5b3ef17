#pragma once

// A whole report read before anything is stored (POST /api/v1/suites/{suite}/ingest): every
// event of every file, checked, with what the run is made of (its top-level tests, its
// start and end, whether the suite failed outside its tests). A report that is malformed or
// cut short is an Error naming the file and line, and nothing of it is kept.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "event/event.h"
#include "ingest/report_format.h"

namespace handoff::ingest {

// One report of a run: a file of a CI job, in a known format. `name` tells the report apart
// in errors when there are several ("" for a single one).
struct ReportInput {
  std::string name;
  ReportFormat format = ReportFormat::kGoTestJson;
  std::string_view text;
};

// The events of one run, as its reports told them.
struct CollectedRun {
  // In order, report after report; `suite` empty, attempts as the reports say.
  std::vector<Event> events;
  // The top-level tests, in the order they first appear.
  std::vector<std::string> tests;
  // The earliest and latest times the reports give (now when they give none).
  std::int64_t started_at_ns = 0;
  std::int64_t finished_at_ns = 0;
  // The suite failed outside its tests (a go package that did not build, a TAP "Bail out!").
  bool suite_failed = false;
};

// Reads `reports` whole into one run's events. kInvalid, naming the report (when there are
// several) and the line: a line a reader refuses ("line 3: not JSON: ..."), a stream cut
// short (a go package without its result, TAP without its plan or with a test announced and
// never ended, XML that does not close), a test in two reports, or reports with no test at
// all. `now_ns` stands for the times a report does not give.
Result<CollectedRun> CollectReports(const std::vector<ReportInput>& reports, std::int64_t now_ns);

}  // namespace handoff::ingest
