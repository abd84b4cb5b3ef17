// An LD_PRELOAD shim for bench/run_bench.sh: when a process of the benchmarked command ends,
// it appends one line to the file named by $HANDOFF_BENCH_RSS_LOG:
//
//   <pid> <ppid> <VmHWM kB> <argv[0]> [argv[1]]
//
// VmHWM is the process's own peak resident set size, read from /proc/self/status. The
// environment (and so the shim) is inherited by handoff's worker, which posix_spawn
// re-executes from the same binary, so one run yields a line for the supervisor and one
// for each worker. GNU time cannot tell them apart: the ru_maxrss that wait4() returns
// is the maximum over the process and the children it reaped, never their sum.
//
// A process ends either through exit() (the shim's destructor runs) or through _exit(),
// which handoff's worker calls to skip static destructors; the shim interposes _exit.
// Processes killed by a signal are not recorded.

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool g_recorded = false;

// Copies the value of "<key>:" in /proc/self/status (without the unit) into `out`.
void ReadStatusField(const char* status, const char* key, char* out, std::size_t size) {
  std::snprintf(out, size, "?");
  const char* at = std::strstr(status, key);
  if (at == nullptr) return;
  at += std::strlen(key);
  while (*at == ' ' || *at == '\t') ++at;
  std::size_t n = 0;
  while (at[n] >= '0' && at[n] <= '9' && n + 1 < size) ++n;
  std::memcpy(out, at, n);
  out[n] = '\0';
}

// Reads a whole small /proc file into `buffer` (NUL-terminated); returns its length.
std::size_t ReadProcFile(const char* path, char* buffer, std::size_t size) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::size_t used = 0;
  while (used + 1 < size) {
    ssize_t n = ::read(fd, buffer + used, size - 1 - used);
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  buffer[used] = '\0';
  return used;
}

void Record() {
  if (g_recorded) return;
  g_recorded = true;
  const char* log = std::getenv("HANDOFF_BENCH_RSS_LOG");
  if (log == nullptr || *log == '\0') return;

  char status[8192];
  ReadProcFile("/proc/self/status", status, sizeof status);
  char hwm[32];
  ReadStatusField(status, "VmHWM:", hwm, sizeof hwm);

  // argv[0] and argv[1], separated by NULs in /proc/self/cmdline.
  char cmdline[4096];
  std::size_t length = ReadProcFile("/proc/self/cmdline", cmdline, sizeof cmdline);
  const char* argv0 = cmdline;
  const char* argv1 = "";
  std::size_t first = std::strlen(cmdline);
  if (first + 1 < length) argv1 = cmdline + first + 1;

  char line[1024];
  int n = std::snprintf(line, sizeof line, "%d %d %s %s %s\n", static_cast<int>(::getpid()),
                        static_cast<int>(::getppid()), hwm, argv0, argv1);
  if (n <= 0) return;
  int fd = ::open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  // One write of less than PIPE_BUF bytes with O_APPEND: lines of processes never mix.
  [[maybe_unused]] ssize_t written =
      ::write(fd, line, static_cast<std::size_t>(std::min(n, static_cast<int>(sizeof line) - 1)));
  ::close(fd);
}

__attribute__((destructor)) void RecordAtExit() { Record(); }

}  // namespace

extern "C" [[noreturn]] void _exit(int status) {
  Record();
  for (;;) ::syscall(SYS_exit_group, status);
}
