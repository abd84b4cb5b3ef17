#pragma once

// The guardian: the process a supervisor starts for a worker. It starts the worker proper
// as its child and stays between the two, a child subreaper (PR_SET_CHILD_SUBREAPER) with
// nothing else to do, so that no process a test started outlives the worker:
//
// - when the worker ends (its plan done, a crash, exit()), the guardian kills every
//   process left below it, including daemons that left the worker's process group and
//   session and were re-parented to the guardian when the worker died;
// - on kKillWorkerSignal (the supervisor's timeout or cancel) it kills the worker and
//   everything below it;
// - when the process that started it dies (run or serve, even by SIGKILL), the kernel
//   sends it kKillWorkerSignal (PR_SET_PDEATHSIG) and it does the same;
// - SIGTERM is passed on to the worker (stop the running test through its context), and
//   so is kReleaseHoldSignal (a held test goes on).
//
// Then it exits with the worker's own wait status (the same exit code or signal), so the
// supervisor reports the worker's end as it always did. Only the workload API's reapers
// (kCleanupProcessName) are left to finish their cleanup.
//
// The worker runs in a process group of its own: a test that signals its process group
// (kill(0, sig), a shell's `kill 0`) does not reach the guardian.

namespace handoff {

// Turns this freshly started worker process into guardian and worker. Returns in the
// worker (a child subreaper itself, killed if the guardian dies); the guardian exits
// from inside. A worker process calls it before the binary's own static initializers run
// (an initializer of priority 101 that sees the worker argument), so the guardian stays a
// small process that never registers the tests; later calls return at once. A process
// with threads already running then (started by a library as it was loaded) is not
// forked: the guardian starts the worker as a new process of this binary instead.
void SplitGuardian();

}  // namespace handoff
