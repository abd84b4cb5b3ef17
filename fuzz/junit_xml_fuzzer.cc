// JUnit XML reports (src/ingest/junit_xml.h): any document is read or refused with a message
// naming its line, and the events keep the promises of fuzz/report_events_check.h.

#include "fuzz/fuzz_target.h"
#include "fuzz/report_events_check.h"
#include "ingest/junit_xml.h"

HANDOFF_FUZZ_TARGET(junit_xml) {
  using namespace handoff;
  fuzz::ReportEventsCheck check;
  const Result<void> read =
      ingest::ReadJUnitXml(fuzz::AsText(data, size), 0, [&](Event e) { check.OnEvent(e); });
  if (read.ok()) {
    check.Finished();
  } else {
    FUZZ_CHECK(read.error().message.starts_with("line "));
  }
  return 0;
}
