#pragma once

// The processes below this one, as /proc shows them, and how the leftovers of a test are
// killed. The worker and its guardian (worker/guardian.h) are child subreapers
// (PR_SET_CHILD_SUBREAPER): a process whose parent dies is re-parented to the nearest of
// them, not to init, so whatever a test started, however it detached (double fork,
// setsid, a process group of its own), stays below them where these functions find it.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runner/sweeper.h"

namespace handoff {

// One process below this one.
struct ProcessInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgid = 0;
  char state = '?';  // as in /proc/<pid>/stat: 'Z' for a zombie
  // Clock ticks after boot it started at: with the pid, names one process for good.
  std::uint64_t start_ticks = 0;
  std::string name;  // its comm: the executable's name, at most 15 bytes
};

// Returns true if this process has a child, running or a zombie. One system call: the
// common case (a test that started nothing) costs no more.
bool HasChildren();

// Returns every process below this one (children of each of its threads, theirs, and so
// on), each parent before its children.
std::vector<ProcessInfo> ListDescendants();

// Picks, from every process below this one, those to kill.
using LeftoverSelector = std::function<std::vector<pid_t>(const std::vector<ProcessInfo>&)>;

// What KillLeftovers did.
struct KillReport {
  std::vector<ProcessInfo> killed;    // running when selected; zombies are only reaped
  std::vector<ProcessInfo> survivors;  // below this process when it returned, not selected
  bool complete = true;               // false: some selected process outlived `within`
};

// Sends SIGKILL to every process `select` picks (never one named kCleanupProcessName),
// reaps those that are (or become, once their parents died) children of this process,
// and repeats until `select` picks nothing, which also catches processes forked while it
// ran. Gives up after `within` (a process stuck in the kernel).
KillReport KillLeftovers(const LeftoverSelector& select, std::chrono::milliseconds within);

// Returns "1234 (sleep), 1240 (sh)".
std::string DescribeProcesses(const std::vector<ProcessInfo>& processes);

// The worker's sweeper: kills what each test leaves running; what suite setup started
// lives until SweepSuite.
//
// A process belongs to the suite if it was running after setup or after the last sweep,
// or descends from such a process, or shares the process group of one (a suite's
// service forking a helper). Everything else running at the end of a test was started
// during it, and is killed. Sweeps write a line naming what they killed to stderr, which
// is the ending test's output.
class LeftoverSweeper : public ProcessSweeper {
 public:
  // ProcessSweeper
  void AdoptRunning() override;
  void SweepTest() override;

  // The suite has ended (teardown ran): kills every process below this one.
  void SweepSuite();

 private:
  void Adopt(const std::vector<ProcessInfo>& processes);
  std::set<std::pair<pid_t, std::uint64_t>> suite_;  // (pid, start_ticks)
};

}  // namespace handoff
