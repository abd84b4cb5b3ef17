// TAP streams (src/ingest/tap.h): any line is read or refused with a message, and the
// events keep the promises of fuzz/report_events_check.h.

#include "fuzz/fuzz_target.h"
#include "fuzz/report_events_check.h"
#include "ingest/tap.h"

HANDOFF_FUZZ_TARGET(tap) {
  using namespace handoff;
  std::string_view input = fuzz::AsText(data, size);
  fuzz::ReportEventsCheck check;
  ingest::TapReader reader([&](Event e) { check.OnEvent(e); }, 1);
  while (!input.empty()) {
    const std::size_t nl = input.find('\n');
    const Result<void> read = reader.ReadLine(input.substr(0, nl));
    if (!read.ok()) FUZZ_CHECK(!read.error().message.empty());
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
  }
  reader.Finish();
  check.Finished();
  return 0;
}
