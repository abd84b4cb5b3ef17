#pragma once

// Where an exception that escapes a test was thrown. Every `throw` on a thread that runs a test
// keeps its stack (a few return addresses, through a wrapper of the C++ runtime's
// __cxa_throw), so that "unexpected exception" can say where it came from; on any other thread,
// and for the runner's own unwinding (FailNow, SkipNow), a throw costs one thread-local read.

#include <string>

namespace handoff::internal {

// Returns the symbolized stack where the exception being handled was thrown, as frame lines
// ("  #0 Function at file.cc:12"), if it is the last one thrown on this thread while a test
// ran on it: `object` is the exception object (dynamic_cast<const void*>(&ex)), or nullptr
// when unknown (catch (...)), and then its type decides. Empty otherwise (rethrown from
// another thread by std::rethrow_exception or a future, say).
std::string ThrowSiteOfCurrentException(const void* object);

// Forgets the last throw on this thread (a test starts). Costs nothing.
void ForgetThrowSite();

}  // namespace handoff::internal
