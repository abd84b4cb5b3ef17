#include "worker/leftovers.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_set>

namespace handoff {
namespace {

using Clock = std::chrono::steady_clock;

// Reads a small /proc file whole ("" if it is gone: the process ended meanwhile).
std::string ReadProcFile(const std::string& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// Parses /proc/<pid>/stat: "pid (comm) state ppid pgrp session ... starttime ...". The
// name may hold spaces and parentheses, so the fields start after the last ')'.
std::optional<ProcessInfo> ReadStat(pid_t pid) {
  const std::string stat = ReadProcFile(fmt::format("/proc/{}/stat", pid));
  const std::size_t open = stat.find('(');
  const std::size_t close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  ProcessInfo info;
  info.pid = pid;
  info.name = stat.substr(open + 1, close - open - 1);
  // Fields 3 (state) to 22 (starttime), counted from 1 as in proc(5).
  const char* p = stat.c_str() + close + 1;
  for (int field = 3; field <= 22; ++field) {
    while (*p == ' ') ++p;
    if (*p == '\0') return std::nullopt;
    char* end = nullptr;
    switch (field) {
      case 3:
        info.state = *p;
        break;
      case 4:
        info.ppid = static_cast<pid_t>(std::strtol(p, &end, 10));
        break;
      case 5:
        info.pgid = static_cast<pid_t>(std::strtol(p, &end, 10));
        break;
      case 22:
        info.start_ticks = std::strtoull(p, &end, 10);
        break;
      default:
        break;
    }
    while (*p != ' ' && *p != '\0') ++p;
  }
  return info;
}

// Returns the children of every thread of `pid` ("self" for this process): a child
// belongs to the thread that forked it, so a process's children are spread over them.
std::vector<pid_t> ChildrenOf(const std::string& pid) {
  std::vector<pid_t> out;
  const std::string tasks = "/proc/" + pid + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr) return out;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string list = ReadProcFile(tasks + "/" + entry->d_name + "/children");
    const char* p = list.c_str();
    while (*p != '\0') {
      char* end = nullptr;
      const long child = std::strtol(p, &end, 10);
      if (end == p) break;
      if (child > 0) out.push_back(static_cast<pid_t>(child));
      p = end;
    }
  }
  ::closedir(dir);
  return out;
}

// Sends SIGKILL to `p` unless its pid now names another process (it ended and the pid
// was reused since it was listed): through a pidfd, which cannot be reused.
// (System calls by number: glibc 2.36's <sys/pidfd.h> cannot be included from C++.)
void KillProcess(const ProcessInfo& p) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, p.pid, 0));
  if (pidfd < 0) {
    if (errno == ENOSYS) ::kill(p.pid, SIGKILL);  // a kernel before 5.3
    return;
  }
  const std::optional<ProcessInfo> now = ReadStat(p.pid);
  if (now && now->start_ticks == p.start_ticks) {
    ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  }
  ::close(pidfd);
}

}  // namespace

bool HasChildren() {
  siginfo_t info;
  // WNOWAIT: a zombie stays for whoever waits for it. Fails with ECHILD with no child.
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

std::vector<ProcessInfo> ListDescendants() {
  std::vector<ProcessInfo> out;
  std::unordered_set<pid_t> seen;
  std::vector<pid_t> parents = ChildrenOf("self");
  // Breadth first, so parents come before their children. A process re-parented while
  // this runs may show up under both parents: keep the first.
  for (std::size_t level = 0; !parents.empty(); ++level) {
    std::vector<pid_t> next;
    for (pid_t pid : parents) {
      if (!seen.insert(pid).second) continue;
      std::optional<ProcessInfo> info = ReadStat(pid);
      if (!info) continue;
      out.push_back(*info);
      if (info->state == 'Z') continue;
      for (pid_t child : ChildrenOf(std::to_string(pid))) next.push_back(child);
    }
    parents = std::move(next);
  }
  return out;
}

KillReport KillLeftovers(const LeftoverSelector& select, std::chrono::milliseconds within) {
  KillReport report;
  const pid_t self = ::getpid();
  const Clock::time_point deadline = Clock::now() + within;
  std::unordered_set<pid_t> signalled;
  auto backoff = std::chrono::microseconds(200);
  for (;;) {
    std::vector<ProcessInfo> all = ListDescendants();
    std::unordered_set<pid_t> doomed;
    for (pid_t pid : select(all)) doomed.insert(pid);
    std::erase_if(doomed, [&](pid_t pid) {
      auto it = std::find_if(all.begin(), all.end(), [&](const ProcessInfo& p) { return p.pid == pid; });
      return it == all.end() || it->name == kCleanupProcessName;
    });
    report.survivors.clear();
    for (const ProcessInfo& p : all) {
      if (doomed.count(p.pid) == 0) report.survivors.push_back(p);
    }
    if (doomed.empty()) return report;
    if (Clock::now() >= deadline) {
      report.complete = false;
      for (const ProcessInfo& p : all) {
        if (doomed.count(p.pid) != 0) report.survivors.push_back(p);
      }
      return report;
    }
    bool progress = false;
    for (const ProcessInfo& p : all) {
      if (doomed.count(p.pid) == 0) continue;
      if (p.state != 'Z' && signalled.insert(p.pid).second) {
        KillProcess(p);
        report.killed.push_back(p);
        progress = true;
      }
      // A zombie child of ours: its exit status interests nobody now. (One whose parent
      // is dying becomes ours, as we are a subreaper, and is reaped on a later pass.)
      if (p.state == 'Z' && p.ppid == self && ::waitpid(p.pid, nullptr, WNOHANG) == p.pid) {
        progress = true;
      }
    }
    if (progress) {
      backoff = std::chrono::microseconds(200);
      continue;
    }
    // SIGKILL is sent; the kernel takes a moment to tear the processes down.
    std::this_thread::sleep_for(backoff);
    backoff = std::min<std::chrono::microseconds>(backoff * 2, std::chrono::milliseconds(20));
  }
}

std::string DescribeProcesses(const std::vector<ProcessInfo>& processes) {
  std::string out;
  for (const ProcessInfo& p : processes) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} ({})", p.pid, p.name);
  }
  return out;
}

// --- LeftoverSweeper ------------------------------------------------------------------

namespace {

constexpr std::chrono::seconds kKillWithin{10};

void Note(const char* what, const KillReport& report) {
  if (!report.killed.empty()) {
    std::fprintf(stderr, "[handoff: killed %zu process%s %s: %s]\n", report.killed.size(),
                 report.killed.size() == 1 ? "" : "es", what,
                 DescribeProcesses(report.killed).c_str());
  }
  if (!report.complete) {
    std::fprintf(stderr, "[handoff: processes still running %lld s after SIGKILL: %s]\n",
                 static_cast<long long>(kKillWithin.count()),
                 DescribeProcesses(report.survivors).c_str());
  }
  std::fflush(stderr);
}

}  // namespace

void LeftoverSweeper::Adopt(const std::vector<ProcessInfo>& processes) {
  suite_.clear();
  for (const ProcessInfo& p : processes) suite_.emplace(p.pid, p.start_ticks);
}

void LeftoverSweeper::AdoptRunning() {
  if (!HasChildren()) {
    suite_.clear();
    return;
  }
  Adopt(ListDescendants());
}

void LeftoverSweeper::SweepTest() {
  // Below a subreaper, no child means no descendant at all: the common case ends here.
  if (!HasChildren()) {
    suite_.clear();
    return;
  }
  const pid_t own_group = ::getpgrp();
  const KillReport report = KillLeftovers(
      [&](const std::vector<ProcessInfo>& all) {
        std::unordered_set<pid_t> suite;
        std::unordered_set<pid_t> suite_groups;
        // Parents come first, so one pass settles descent; a second one adds the members
        // of the suite's process groups (and their children).
        for (int pass = 0; pass < 2; ++pass) {
          for (const ProcessInfo& p : all) {
            if (suite_.count({p.pid, p.start_ticks}) != 0 || suite.count(p.ppid) != 0 ||
                (p.pgid != own_group && suite_groups.count(p.pgid) != 0)) {
              suite.insert(p.pid);
            }
          }
          for (const ProcessInfo& p : all) {
            if (suite.count(p.pid) != 0 && p.pgid != own_group) suite_groups.insert(p.pgid);
          }
        }
        std::vector<pid_t> doomed;
        for (const ProcessInfo& p : all) {
          if (suite.count(p.pid) == 0) doomed.push_back(p.pid);
        }
        return doomed;
      },
      kKillWithin);
  // What is left belongs to the suite; from now on, anything new is the next test's.
  Adopt(report.survivors);
  Note("the test left running", report);
}

void LeftoverSweeper::SweepSuite() {
  if (!HasChildren()) return;
  const KillReport report = KillLeftovers(
      [](const std::vector<ProcessInfo>& all) {
        std::vector<pid_t> doomed;
        for (const ProcessInfo& p : all) doomed.push_back(p.pid);
        return doomed;
      },
      kKillWithin);
  suite_.clear();
  Note("left running at the end of the suite", report);
}

}  // namespace handoff
