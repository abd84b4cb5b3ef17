#include "worker/guardian.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "worker/leftovers.h"
#include "worker/worker.h"

extern char** environ;

namespace handoff {
namespace {

// In the environment of a worker the guardian started as a new process: the guardian's pid.
constexpr char kGuardianEnv[] = "HANDOFF_WORKER_GUARDIAN";

// How long the guardian keeps killing before it gives up on a process stuck in the kernel.
constexpr std::chrono::seconds kKillWithin{10};

constexpr int kHandled[] = {SIGCHLD, SIGTERM, kKillWorkerSignal, kDumpStacksSignal,
                            kReleaseHoldSignal};

bool g_split = false;  // SplitGuardian ran in this process
// The supervisor's pid, from the worker's command line (0: not given). The supervisor may be
// PID 1 (a container without an init), so an orphan is told apart by pid, not by a parent of 1.
pid_t g_supervisor = 0;
int g_wake = -1;  // write end of the guardian's self-pipe
volatile sig_atomic_t g_kill = 0;
volatile sig_atomic_t g_term = 0;
volatile sig_atomic_t g_dump = 0;
volatile sig_atomic_t g_release = 0;

void OnSignal(int sig) {
  const int saved = errno;
  if (sig == kKillWorkerSignal) g_kill = 1;
  if (sig == SIGTERM) g_term = 1;
  if (sig == kDumpStacksSignal) g_dump = 1;
  if (sig == kReleaseHoldSignal) g_release = 1;
  const char byte = 0;
  (void)!::write(g_wake, &byte, 1);
  errno = saved;
}

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kHandled) sigaddset(&set, sig);
  return set;
}

int ThreadCount() {
  int count = 0;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    ::closedir(dir);
  }
  return count;
}

// The worker's side, in the guardian's child: killed with the guardian, in a process
// group of its own, and a subreaper so that what its tests start stays below it.
void BecomeWorker(pid_t guardian) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != guardian) ::_exit(2);  // the guardian died before prctl
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

// Starts the worker as a new process of this binary (fds 0-5 are inherited as they are).
pid_t SpawnWorker(pid_t guardian, const sigset_t& mask) {
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.push_back(std::string(kGuardianEnv) + "=" + std::to_string(guardian));
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  char* argv[] = {exe, const_cast<char*>(kWorkerArg), nullptr};

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  const sigset_t handled = HandledSignals();
  posix_spawnattr_setsigdefault(&attr, &handled);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/proc/self/exe", nullptr, &attr, argv, envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  return pid;
}

// Ends the guardian the way the worker ended: the same exit code, or the same signal.
[[noreturn]] void ExitLike(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    // The worker dumped its core if it was to; not a second one of the guardian.
    ::prctl(PR_SET_DUMPABLE, 0);
    ::signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    ::raise(sig);
  }
  ::_exit(WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 2);
}

[[noreturn]] void Guard(pid_t worker) {
  // Hold none of the supervisor's pipes: their end means the worker and its processes
  // are gone, not the guardian.
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd : {0, 1, 2}) ::dup2(devnull, fd);
  for (int fd : {kPlanFd, kEventFd, kCaptureFd, devnull}) ::close(fd);

  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    // Cannot wait for signals: kill the worker rather than leave it unguarded.
    wake[0] = wake[1] = -1;
    g_kill = 1;
  }
  g_wake = wake[1];
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : kHandled) ::sigaction(sig, &action, nullptr);
  const sigset_t handled = HandledSignals();
  ::pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);

  int status = 0;
  bool ended = false;
  for (;;) {
    // The worker, and once it died, the processes re-parented to us.
    for (;;) {
      int st = 0;
      const pid_t pid = ::waitpid(-1, &st, WNOHANG);
      if (pid <= 0) break;
      if (pid == worker) {
        status = st;
        ended = true;
      }
    }
    if (ended || g_kill) break;
    if (g_term) {
      g_term = 0;
      ::kill(worker, SIGTERM);
    }
    if (g_dump) {
      g_dump = 0;
      ::kill(worker, kDumpStacksSignal);
    }
    if (g_release) {
      g_release = 0;
      ::kill(worker, kReleaseHoldSignal);
    }
    pollfd p{wake[0], POLLIN, 0};
    if (::poll(&p, 1, -1) > 0) {
      char buf[64];
      while (::read(wake[0], buf, sizeof buf) > 0) {
      }
    }
  }
  // Everything below us goes, the worker too if it still runs (then it ends killed).
  KillLeftovers(
      [](const std::vector<ProcessInfo>& all) {
        std::vector<pid_t> doomed;
        for (const ProcessInfo& p : all) doomed.push_back(p.pid);
        return doomed;
      },
      kKillWithin);
  if (!ended) status = SIGKILL;  // the wait status of a process killed by SIGKILL
  ExitLike(status);
}

}  // namespace

void SplitGuardian() {
  if (g_split) return;
  g_split = true;
  if (const char* guardian = std::getenv(kGuardianEnv)) {
    const pid_t pid = static_cast<pid_t>(std::atol(guardian));
    ::unsetenv(kGuardianEnv);
    BecomeWorker(pid);
    return;
  }
  const pid_t self = ::getpid();
  // Blocked until the guardian's handlers are in place (the worker restores the mask).
  const sigset_t handled = HandledSignals();
  sigset_t mask;
  ::pthread_sigmask(SIG_BLOCK, &handled, &mask);
  // The supervisor's death is a request to kill everything.
  ::prctl(PR_SET_PDEATHSIG, kKillWorkerSignal);
  // The supervisor died before prctl: this process was reparented.
  if (g_supervisor > 0 ? ::getppid() != g_supervisor : ::getppid() == 1) ::_exit(2);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  pid_t worker = -1;
  if (ThreadCount() == 1) {
    worker = ::fork();
    if (worker == 0) {
      BecomeWorker(self);
      ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
      return;
    }
  } else {
    // Another thread may hold a lock a forked child would inherit taken: start afresh.
    worker = SpawnWorker(self, mask);
  }
  if (worker < 0) {
    std::fprintf(stderr, "handoff worker: cannot start the worker: %s\n", std::strerror(errno));
    ::_exit(2);
  }
  Guard(worker);
}

// A worker splits before the binary's static initializers register its tests: the guardian
// then never builds them, and the fork copies a small process instead of one holding every
// test (on 10,000 tests, copying them and the copy-on-write faults that followed cost about
// a tenth of the run's CPU). glibc passes argc and argv to the initializers of
// .init_array; priority 101 runs before the unprioritised ones, where tests register.
namespace {
__attribute__((constructor(101))) void SplitGuardianAtStart(int argc, char** argv, char**) {
  if (argc >= 2 && std::strcmp(argv[1], kWorkerArg) == 0) {
    if (argc >= 3) g_supervisor = static_cast<pid_t>(std::atol(argv[2]));
    SplitGuardian();
  }
}
}  // namespace

}  // namespace handoff
