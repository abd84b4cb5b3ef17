#pragma once

// The processes a test leaves running: the runner says when a test or the suite's setup
// ends, a sweeper (the worker's, src/worker/leftovers.h) kills what is left over.

namespace handoff {

// The name (comm, as prctl(PR_SET_NAME) sets it) of a process that must outlive the test
// that started it to clean up after it: the workload API's reaper (src/workload/reaper.h)
// removes an environment's containers and directory when its test crashed. Sweeps leave
// such a process alone; it ends by itself once the process that made it is gone.
inline constexpr char kCleanupProcessName[] = "handoff-reaper";

// Kills the processes a test started and left running. Called by the test's thread.
class ProcessSweeper {
 public:
  virtual ~ProcessSweeper() = default;
  // Suite setup has ended (its cleanups run): the processes running now belong to the
  // suite and live until it ends.
  virtual void AdoptRunning() = 0;
  // A test's attempt has ended and its cleanups ran (under --parallel: every test of the
  // batch that ran together): kills every process started since the last call that does
  // not belong to the suite, grandchildren and detached daemons included.
  virtual void SweepTest() = 0;
};

}  // namespace handoff
