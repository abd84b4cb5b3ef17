#include "store/store.h"

#include <array>
#include <string_view>

#include "report/results.h"

namespace handoff::store {
namespace {

constexpr std::array<const char*, 6> kRunStatusNames = {"queued", "running", "passed",
                                                         "failed", "cancelled", "error"};
constexpr std::array<const char*, 6> kTestStatusNames = {"pending", "running", "passed",
                                                          "failed", "skipped", "cancelled"};
constexpr std::array<const char*, 5> kTriggerNames = {"api", "schedule", "ui", "retry", "cli"};

template <typename Enum, std::size_t N>
bool ParseName(const std::array<const char*, N>& names, std::string_view name, Enum* out) {
  for (std::size_t i = 0; i < N; ++i) {
    if (name == names[i]) {
      *out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string ShownText(const OutputLine& line) {
  switch (line.kind) {
    case LineKind::kOutput:
      return line.text;
    case LineKind::kLog:
    case LineKind::kFailure:
    case LineKind::kSkip:
      return Located(line.text, line.file, line.line);
    default:
      return {};
  }
}

const char* RunStatusName(RunStatus status) {
  return kRunStatusNames[static_cast<std::size_t>(status)];
}
const char* TestStatusName(TestStatus status) {
  return kTestStatusNames[static_cast<std::size_t>(status)];
}
const char* TriggerName(Trigger trigger) {
  return kTriggerNames[static_cast<std::size_t>(trigger)];
}
bool ParseRunStatus(std::string_view name, RunStatus* out) {
  return ParseName(kRunStatusNames, name, out);
}
bool ParseTestStatus(std::string_view name, TestStatus* out) {
  return ParseName(kTestStatusNames, name, out);
}
bool ParseTrigger(std::string_view name, Trigger* out) {
  return ParseName(kTriggerNames, name, out);
}

bool IsFinished(RunStatus status) {
  return status != RunStatus::kQueued && status != RunStatus::kRunning;
}

}  // namespace handoff::store
