#include "runner/throw_site.h"

#include <cxxabi.h>
#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <typeinfo>

#include "handoff/internal/hooks.h"
#include "runner/runner.h"
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

// As the compiler declares it: the type is a std::type_info*.
using CxaThrow = void (*)(void*, void*, void (*)(void*));

}  // namespace

std::string ThrowSiteOfCurrentException(const void* object) {
  ThrowSite& site = last_throw;
  if (site.count == 0) return {};
  const std::type_info* current = abi::__cxa_current_exception_type();
  const bool same = object != nullptr ? object == site.object
                                      : current != nullptr && site.type != nullptr && *current == *site.type;
  if (!same) return {};
  std::string text = stack::FormatOwnFrames(site.frames, site.count);
  site.count = 0;
  return text;
}

void ForgetThrowSite() { last_throw.count = 0; }

}  // namespace handoff::internal

// Wraps the C++ runtime's own: calls to __cxa_throw from this binary and from libstdc++ come
// here first (the executable's definition interposes), keep the stack, then throw.
extern "C" [[noreturn]] void __cxa_throw(void* object, void* type, void (*destroy)(void*)) {
  using handoff::internal::CxaThrow;
  static const CxaThrow real = reinterpret_cast<CxaThrow>(::dlsym(RTLD_NEXT, "__cxa_throw"));
  if (real == nullptr) std::abort();
  if (handoff::internal::CurrentTest() != nullptr && *static_cast<const std::type_info*>(type) != typeid(handoff::internal::TestAbort)) {
    auto& site = handoff::internal::last_throw;
    // Past CaptureStack and this wrapper: the first frame is the code that threw.
    constexpr int kOwn = 2;
    std::uintptr_t frames[handoff::internal::kThrowFrames + kOwn];
    const int count = handoff::stack::CaptureStack(nullptr, frames, handoff::internal::kThrowFrames + kOwn);
    site.count = count > kOwn ? count - kOwn : 0;
    for (int i = 0; i < site.count; ++i) site.frames[i] = frames[i + kOwn];
    site.object = object;
    site.type = static_cast<const std::type_info*>(type);
  }
  real(object, type, destroy);
  __builtin_unreachable();
}
