// TAP streams (src/ingest/tap.h): any line is read or refused with a message, and the
// events keep the promises of fuzz/report_events_check.h.

#include "fuzz/fuzz_target.h"
#include "fuzz/report_events_check.h"
#include "ingest/tap.h"

HANDOFF_FUZZ_TARGET(tap) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  fuzz::ReportEventsCheck check;
  ingest::TapReader reader([&](Event e) { check.OnEvent(e); }, 1);
  const Result<void> read = ingest::ReadLines(reader, input);
  if (!read.ok()) FUZZ_CHECK(read.error().message.starts_with("line "));
  reader.Finish();
  check.Finished();
  return 0;
}
