#pragma once

// The one call from the __cxa_throw wrapper (runner/throw_hook.cc) into runner/throw_site.cc.
// No standard header here: the wrapper's file must not see <cxxabi.h>'s declaration of
// __cxa_throw, which GCC and clang spell differently.

namespace handoff::internal {

// Keeps the stack of a throw of `object` of type `type` (a std::type_info*) if a test runs on
// this thread and it is not the runner's own unwinding. `thrower` is the wrapper's return
// address: the stack kept starts at the frame of the code that threw, however many frames
// of ours (inlined or not, by each compiler) lie above it.
void RecordThrow(const void* object, const void* type, const void* thrower);

// Defined beside the wrapper and read by ThrowSiteOfCurrentException, so that linking the
// runner always links the wrapper: a sanitizer's runtime defines __cxa_throw itself (weakly),
// and an archive member is not pulled in to replace a definition the link already has.
extern const int kThrowHookLinked;

}  // namespace handoff::internal
