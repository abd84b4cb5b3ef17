// The worker wire format (src/event/wire.h): a worker's pipe is untrusted input. The input
// is read as an event payload, as a plan payload and as a byte stream of frames; whatever
// decodes must encode back to bytes that decode to the same encoding, an attachment's name and
// test make safe path components (event/attachment.h), and a hold's attributes read back as
// they are written (event/hold.h).

#include <string>

#include "event/attachment.h"
#include "event/hold.h"
#include "event/wire.h"
#include "fuzz/fuzz_target.h"

namespace handoff::fuzz {
namespace {

// Returns the payload of the one frame in `framed`.
std::string_view Payload(const std::string& framed) {
  FUZZ_CHECK(framed.size() >= 4);
  return std::string_view(framed).substr(4);
}

}  // namespace
}  // namespace handoff::fuzz

HANDOFF_FUZZ_TARGET(wire) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);

  if (const std::optional<Event> event = wire::DecodeEvent(input)) {
    std::string framed;
    wire::AppendEvent(framed, *event);
    const std::optional<Event> again = wire::DecodeEvent(fuzz::Payload(framed));
    FUZZ_CHECK(again.has_value());
    std::string reframed;
    wire::AppendEvent(reframed, *again);
    FUZZ_CHECK(reframed == framed);
    if (event->kind == EventKind::kHeld) {
      // A held test's world, as the supervisor and the store read it from the attributes:
      // what it reads is written back the same, and read again the same.
      const Hold hold = GetHold(*event);
      Event rewritten;
      rewritten.kind = EventKind::kHeld;
      PutHold(hold, rewritten);
      FUZZ_CHECK(GetHold(rewritten) == hold);
    }
    if (event->kind == EventKind::kAttachment) {
      // What the supervisor checks of an attachment before a file or the store sees it: a
      // name it accepts is one path component, and so is every part of its file's path.
      if (CheckAttachmentName(event->key).empty()) {
        FUZZ_CHECK(event->key.find('/') == std::string::npos && event->key != "..");
      }
      (void)CheckMediaType(event->file);
      const std::string part = PathComponent(event->test);
      FUZZ_CHECK(part.find('/') == std::string::npos && part != "." && part != "..");
    }
  }

  if (const std::optional<wire::WorkerPlan> plan = wire::DecodePlan(input)) {
    const std::string framed = wire::EncodePlan(*plan);
    const std::optional<wire::WorkerPlan> again = wire::DecodePlan(fuzz::Payload(framed));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(wire::EncodePlan(*again) == framed);
  }

  // The stream in pieces of 1, 2, 3... bytes, as reads from a pipe return them.
  wire::FrameReader reader;
  std::size_t offset = 0;
  for (std::size_t piece = 1; offset < input.size(); ++piece) {
    reader.Feed(input.substr(offset, piece));
    offset += std::min(piece, input.size() - offset);
    while (const std::optional<std::string_view> payload = reader.Next()) {
      FUZZ_CHECK(payload->size() <= wire::kMaxFrameBytes);
      (void)wire::DecodeEvent(*payload);
    }
    if (reader.corrupt()) break;
  }
  FUZZ_CHECK(reader.pending() <= input.size());
  return 0;
}
