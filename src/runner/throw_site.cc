#include "runner/throw_site.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <typeinfo>

#include "handoff/internal/hooks.h"
#include "runner/runner.h"
#include "runner/throw_record.h"
#include "stack/stack_capture.h"
#include "stack/symbolizer.h"

namespace handoff::internal {
namespace {

// Frames kept of a throw: enough to reach the test from the deepest library call, few
// enough that a test that throws and catches a lot pays little.
constexpr int kThrowFrames = 24;

struct ThrowSite {
  int count = 0;
  const void* object = nullptr;
  const std::type_info* type = nullptr;
  std::uintptr_t frames[kThrowFrames];
};
thread_local ThrowSite last_throw;

}  // namespace

std::string ThrowSiteOfCurrentException(const void* object) {
  ThrowSite& site = last_throw;
  if (site.count == 0 || kThrowHookLinked == 0) return {};
  const std::type_info* current = abi::__cxa_current_exception_type();
  const bool same = object != nullptr ? object == site.object
                                      : current != nullptr && site.type != nullptr && *current == *site.type;
  if (!same) return {};
  std::string text = stack::FormatOwnFrames(site.frames, site.count);
  site.count = 0;
  return text;
}

void ForgetThrowSite() { last_throw.count = 0; }

void RecordThrow(const void* object, const void* type, const void* thrower) {
  if (CurrentTest() == nullptr || *static_cast<const std::type_info*>(type) == typeid(TestAbort)) return;
  ThrowSite& site = last_throw;
  // Our own frames (CaptureStack, this function, the wrapper) are skipped up to the one the
  // wrapper returns to; without it (an unwinder that did not see it), the usual three.
  constexpr int kOwn = 3;
  constexpr int kMaxOwn = 8;
  std::uintptr_t frames[kThrowFrames + kMaxOwn];
  const int count = stack::CaptureStack(nullptr, frames, kThrowFrames + kMaxOwn);
  int first = count > kOwn ? kOwn : count;
  for (int i = 0; i < count && i < kMaxOwn; ++i) {
    if (frames[i] == reinterpret_cast<std::uintptr_t>(thrower)) {
      first = i;
      break;
    }
  }
  site.count = std::min(count - first, kThrowFrames);
  for (int i = 0; i < site.count; ++i) site.frames[i] = frames[i + first];
  site.object = object;
  site.type = static_cast<const std::type_info*>(type);
}

}  // namespace handoff::internal
