#include "notify/notification.h"

#include <charconv>

namespace handoff::notify {

const char* EventName(Event event) {
  switch (event) {
    case Event::kRunStarted: return "run.started";
    case Event::kRunFinished: return "run.finished";
    case Event::kTestFailed: return "test.failed";
  }
  return "run.finished";
}

bool ParseEvent(std::string_view name, Event* out) {
  for (Event e : {Event::kRunStarted, Event::kRunFinished, Event::kTestFailed}) {
    if (name == EventName(e)) {
      *out = e;
      return true;
    }
  }
  return false;
}

const char* ChangeName(Change change) {
  switch (change) {
    case Change::kNone: return "";
    case Change::kFirst: return "first";
    case Change::kBroke: return "broke";
    case Change::kRecovered: return "recovered";
    case Change::kStillFailing: return "still_failing";
    case Change::kStillPassing: return "still_passing";
  }
  return "";
}

bool ParseChange(std::string_view name, Change* out) {
  for (Change c : {Change::kNone, Change::kFirst, Change::kBroke, Change::kRecovered,
                   Change::kStillFailing, Change::kStillPassing}) {
    if (name == ChangeName(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

void SplitLocation(std::string_view located, std::string* file, int* line, std::string* message) {
  file->clear();
  *line = 0;
  // "file.cc:12: message": a file without spaces, a colon, digits, ": ".
  const std::size_t colon = located.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      located.substr(0, colon).find(' ') == std::string_view::npos) {
    const std::size_t digits_end = located.find(": ", colon + 1);
    if (digits_end != std::string_view::npos && digits_end > colon + 1) {
      int n = 0;
      const char* begin = located.data() + colon + 1;
      const char* end = located.data() + digits_end;
      auto [ptr, ec] = std::from_chars(begin, end, n);
      if (ec == std::errc() && ptr == end && n > 0) {
        *file = std::string(located.substr(0, colon));
        *line = n;
        *message = std::string(located.substr(digits_end + 2));
        return;
      }
    }
  }
  *message = std::string(located);
}

}  // namespace handoff::notify
