// go test -json streams (src/ingest/go_test_json.h): any line is read or refused with a
// message, and the events keep the promises of fuzz/report_events_check.h.

#include "fuzz/fuzz_target.h"
#include "fuzz/report_events_check.h"
#include "ingest/go_test_json.h"

HANDOFF_FUZZ_TARGET(go_test_json) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  fuzz::ReportEventsCheck check;
  const bool qualify = ingest::CountGoPackages(input) > 1;
  ingest::GoTestJsonReader reader([&](Event e) { check.OnEvent(e); }, 1, qualify);
  const Result<void> read = ingest::ReadLines(reader, input);
  if (!read.ok()) FUZZ_CHECK(read.error().message.starts_with("line "));
  reader.Finish();
  check.Finished();
  return 0;
}
