// The raw stacks a crashed or hung worker sends its supervisor (src/stack/raw_stacks.h) cross
// a process boundary: whatever parses stays within its bounds and can be formatted, and any
// text framed by wire::EncodeStacks decodes back to itself.

#include <string>
#include <vector>

#include "event/wire.h"
#include "fuzz/fuzz_target.h"
#include "stack/raw_stacks.h"
#include "stack/symbolizer.h"

HANDOFF_FUZZ_TARGET(raw_stacks) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);

  if (std::optional<stack::RawStacks> raw = stack::ParseRawStacks(input)) {
    FUZZ_CHECK(raw->threads.size() <= static_cast<std::size_t>(stack::kMaxThreads));
    for (const stack::RawThread& thread : raw->threads) {
      FUZZ_CHECK(thread.frames.size() <= static_cast<std::size_t>(stack::kMaxFrames));
      FUZZ_CHECK(thread.answered || thread.frames.empty());
    }
    // Without mappings nothing is read from disk: every frame is an address.
    raw->maps.clear();
    const std::string text = stack::FormatStacks(*raw);
    FUZZ_CHECK(!raw->crash || raw->threads.empty() || !text.empty());
  }

  std::vector<char> frame(input.size() + 128);
  const std::size_t n = wire::EncodeStacks(frame.data(), frame.size(), 7, input);
  FUZZ_CHECK(n > 4);
  const std::optional<Event> event =
      wire::DecodeEvent(std::string_view(frame.data() + 4, n - 4));
  FUZZ_CHECK(event.has_value());
  FUZZ_CHECK(event->kind == EventKind::kStacks);
  FUZZ_CHECK(event->text == input);
  FUZZ_CHECK(wire::EncodeStacks(frame.data(), 10, 7, input) == 0);
  return 0;
}
