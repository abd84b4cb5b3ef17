#include "report/reporters.h"

#include <fmt/format.h>

#include <chrono>

#include "duration/duration.h"
#include "event/hold.h"

namespace handoff {
namespace {

// run --hold-on-failure: a held test is news the person at the terminal must see at once,
// whatever the report on stdout (JSON and JUnit say nothing until the end).
class HoldNotice : public EmptyEventSink {
 public:
  explicit HoldNotice(std::FILE* out) : out_(out) {}

  // EventSink
  void OnEvent(const Event& e) override {
    if (e.kind == EventKind::kReleased) {
      std::fprintf(out_, "handoff: %s.%s: hold ended (%s); its cleanups run now\n",
                   e.suite.c_str(), e.test.c_str(), e.text.c_str());
      std::fflush(out_);
      return;
    }
    if (e.kind != EventKind::kHeld) return;
    std::fputs(FormatHoldNotice(e).c_str(), out_);
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
};

}  // namespace

std::string FormatHoldNotice(const Event& held) {
  const Hold hold = GetHold(held);
  std::string text = fmt::format("handoff: {}.{} failed and is held before its cleanups:\n",
                                 held.suite, held.test);
  text += fmt::format("  process   pid {}: gdb -p {}\n", hold.pid, hold.pid);
  if (hold.temp_dirs.empty()) text += "  temp dir  none (the test made none)\n";
  for (const std::string& dir : hold.temp_dirs) text += fmt::format("  temp dir  {}\n", dir);
  for (const HeldRunnable& r : hold.runnables) {
    const std::string id = !r.container_id.empty() ? "container " + r.container_id.substr(0, 12)
                                                   : fmt::format("pid {}", r.pid);
    for (const auto& [port, endpoint] : r.endpoints) {
      text += fmt::format("  endpoint  {} {} {} ({})\n", r.name, port, endpoint, id);
    }
    if (r.endpoints.empty()) text += fmt::format("  runnable  {} ({})\n", r.name, id);
  }
  text += fmt::format(
      "  release   Ctrl-C (the run stops), kill -URG {}, or wait {} (--max-hold)\n", hold.pid,
      FormatDuration(std::chrono::nanoseconds(hold.max_hold_ns)));
  return text;
}

std::unique_ptr<EventSink> MakeHoldNotice(std::FILE* out) {
  return std::make_unique<HoldNotice>(out);
}

}  // namespace handoff
