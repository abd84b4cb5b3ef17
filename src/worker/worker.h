#pragma once

// Worker mode: the handoff binary re-executed by a supervisor to run one suite plan
// away from the parent. File descriptors: 3 the plan (a readable file), 4 the event pipe
// (write), 5 the read end of the pipe that fds 1 and 2 write to (captured output).
//
// The process the supervisor starts is the worker's guardian (worker/guardian.h): it
// starts the worker proper, kills what is left of it when it ends, and exits with its
// status. The supervisor signals the guardian, never the worker.

#include <csignal>

#include "runner/registry.h"

namespace handoff {

// The argv[1] that selects worker mode; hidden from help.
inline constexpr const char* kWorkerArg = "__handoff_worker";
inline constexpr int kPlanFd = 3;
inline constexpr int kEventFd = 4;
inline constexpr int kCaptureFd = 5;

// Sent to a guardian: kill the worker and every process below it now, then exit. (SIGTERM
// asks the running test to stop through its context.)
inline constexpr int kKillWorkerSignal = SIGUSR1;

// Sent to a guardian, which passes it on to the worker: send the stacks of every thread (a
// kStacks event), the supervisor is about to kill the worker at a test's timeout. The worker
// also uses it between its own threads to collect them (worker/stack_dump.h).
inline constexpr int kDumpStacksSignal = SIGUSR2;

// Sent to a guardian, which passes it on to the worker, or to a worker (or a `run
// --isolation=none` process) by hand: the test held on its failure (hold on failure, issue
// 21) goes on with its cleanups. SIGURG: ignored by default, so one that arrives when
// nothing is held, or at a process that does not hold, does no harm.
inline constexpr int kReleaseHoldSignal = SIGURG;

// Runs the plan read from kPlanFd against `catalog`, writing events to kEventFd. Returns
// the process exit code (0 when the plan ran to its end, 2 for a bad plan).
int WorkerMain(const Catalog& catalog);

}  // namespace handoff
