#pragma once

// The worker's side of stack traces: when a test crashes (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
// SIGABRT, which std::terminate and an escaped exception end in) the crashing thread's stack,
// and when the supervisor is about to kill a hung test (kDumpStacksSignal, passed on by the
// guardian) every thread's stack, go to the supervisor as one kStacks event, written
// async-signal-safely. The supervisor symbolizes them (src/stack/symbolizer.h).

namespace handoff {

// Installs the handlers. `event_fd` is the pipe to the supervisor; `quiesce` is called in the
// handler before writing to it: it must stop the worker's own event and output traffic and
// be async-signal-safe enough for a dying process. Costs nothing until a signal arrives.
void InstallStackHandlers(int event_fd, void (*quiesce)());

}  // namespace handoff
