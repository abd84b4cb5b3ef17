#include "ingest/collect.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "ingest/go_test_json.h"
#include "ingest/junit_xml.h"
#include "ingest/tap.h"

namespace handoff::ingest {
namespace {

// Returns the number of the last line of `text` (a final '\n' ends it, it opens none).
int LastLine(std::string_view text) {
  int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  if (!text.empty() && text.back() != '\n') ++lines;
  return std::max(lines, 1);
}

Error CutShort(std::string_view text, std::string what) {
  return Error{ErrorCode::kInvalid,
               fmt::format("line {}: the report ends before {}: is it cut short?", LastLine(text),
                           what)};
}

// Reads one report's events into `out`, as its reader made them.
Result<void> ReadReport(const ReportInput& report, bool qualify_go_packages, std::int64_t now_ns,
                        std::vector<Event>& out) {
  const EventCallback emit = [&out](Event e) { out.push_back(std::move(e)); };
  switch (report.format) {
    case ReportFormat::kGoTestJson: {
      GoTestJsonReader reader(emit, 1, qualify_go_packages);
      if (Result<void> read = ReadLines(reader, report.text); !read.ok()) return read;
      if (const std::vector<std::string> open = reader.UnendedPackages(); !open.empty()) {
        return CutShort(report.text, open.front().empty()
                                         ? std::string("the test binary's result")
                                         : fmt::format("the result of package {}", open.front()));
      }
      // Tests still running when their package ended: go test's -timeout panic, a crash.
      reader.Finish("the package ended before the test did");
      return {};
    }
    case ReportFormat::kJUnitXml:
      return ReadJUnitXml(report.text, now_ns, emit);
    case ReportFormat::kTap: {
      TapReader reader(emit, 1);
      if (Result<void> read = ReadLines(reader, report.text); !read.ok()) return read;
      if (const std::vector<std::string> open = reader.OpenTests(); !open.empty()) {
        return CutShort(report.text, fmt::format("test {:?} ended", open.front()));
      }
      if (!reader.has_plan()) return CutShort(report.text, "its plan (1..N)");
      reader.Finish();
      return {};
    }
  }
  return Error{ErrorCode::kInternal, "unknown report format"};
}

}  // namespace

Result<CollectedRun> CollectReports(const std::vector<ReportInput>& reports,
                                    std::int64_t now_ns) {
  // A stream of several packages names its tests <package>.<test>; so do several streams.
  std::string go_streams;
  for (const ReportInput& report : reports) {
    if (report.format == ReportFormat::kGoTestJson) go_streams.append(report.text).append("\n");
  }
  const bool qualify = !go_streams.empty() && CountGoPackages(go_streams) > 1;

  CollectedRun run;
  std::unordered_map<std::string, std::size_t> report_of;  // top-level test -> report
  std::map<std::string, std::int64_t> started;            // test -> its start
  std::int64_t first = 0, last = 0;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const ReportInput& report = reports[i];
    const auto named = [&](const Error& e) {
      if (report.name.empty()) return e;
      return Error{e.code, fmt::format("{}: {}", report.name, e.message)};
    };
    std::vector<Event> events;
    if (Result<void> read = ReadReport(report, qualify, now_ns, events); !read.ok()) {
      return named(read.error());
    }
    for (Event& e : events) {
      if (e.kind == EventKind::kTestStarted) {
        started[e.test] = e.time_ns;
        if (e.test.find('/') == std::string::npos) {
          auto [it, inserted] = report_of.try_emplace(e.test, i);
          if (inserted) {
            run.tests.push_back(e.test);
          } else if (it->second != i) {
            return named(Error{ErrorCode::kInvalid,
                               fmt::format("test {:?} is also in {}: a test may be in one "
                                           "report of a run",
                                           e.test, reports[it->second].name)});
          }
        }
      }
      if (e.test.empty() && e.kind == EventKind::kFailure) run.suite_failed = true;
      std::int64_t end = e.time_ns;
      if (e.kind == EventKind::kTestFinished || e.kind == EventKind::kAttemptFinished) {
        auto it = started.find(e.test);
        if (it != started.end()) end = std::max(end, it->second + e.elapsed_ns);
      }
      if (e.time_ns > 0) first = first == 0 ? e.time_ns : std::min(first, e.time_ns);
      last = std::max(last, end);
      run.events.push_back(std::move(e));
    }
  }
  if (run.tests.empty() && !run.suite_failed) {
    return Error{ErrorCode::kInvalid,
                 reports.size() == 1 ? "the report has no tests"
                                     : "the reports have no tests"};
  }
  run.started_at_ns = first != 0 ? first : now_ns;
  run.finished_at_ns = std::max(run.started_at_ns, last != 0 ? last : now_ns);
  return run;
}

}  // namespace handoff::ingest
