// The __cxa_throw wrapper of runner/throw_site.h, alone in its file: it includes nothing that
// declares __cxa_throw (see runner/throw_record.h).

#include <dlfcn.h>

#include <cstdlib>

#include "runner/throw_record.h"

namespace handoff::internal {
const int kThrowHookLinked = 1;
}  // namespace handoff::internal

// Wraps the C++ runtime's own: calls to __cxa_throw from this binary and from libstdc++ come
// here first (the executable's definition interposes), keep the stack, then throw. The type
// is a std::type_info*, spelled void* as GCC declares it.
extern "C" [[noreturn]] void __cxa_throw(void* object, void* type, void (*destroy)(void*)) {
  using CxaThrow = void (*)(void*, void*, void (*)(void*));
  static const CxaThrow real = reinterpret_cast<CxaThrow>(::dlsym(RTLD_NEXT, "__cxa_throw"));
  if (real == nullptr) std::abort();
  handoff::internal::RecordThrow(object, type, __builtin_return_address(0));
  real(object, type, destroy);
  __builtin_unreachable();
}
