// See reaper.h.

#include "workload/reaper.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "runner/sweeper.h"
#include "workload/internal.h"

namespace handoff::workload {
namespace {

// The reaper runs in a child forked from a process that may have other threads, so it
// keeps to system calls and the allocator (which glibc makes safe after fork), and never
// returns into the parent's code.

// Sends one request to the engine and reads the answer to its end; returns the status code
// (0 when no answer came).
int ReaperRequest(const DockerEndpoint& engine, const std::string& method,
                  const std::string& target) {
  int fd = -1;
  if (!engine.unix_path.empty()) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, engine.unix_path.c_str(), sizeof addr.sun_path - 1);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      fd = -1;
    }
  } else {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(engine.port);
    if (fd >= 0 && (::inet_pton(AF_INET, engine.host.c_str(), &addr.sin_addr) != 1 ||
                    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)) {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd < 0) return 0;
  const std::string request =
      method + " " + target + " HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n";
  std::string_view rest = request;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n <= 0) break;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  std::string answer;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    if (answer.size() < 64) answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  // "HTTP/1.1 204 No Content"
  return answer.size() > 12 ? std::atoi(answer.c_str() + 9) : 0;
}

[[noreturn]] void ReaperMain(int pipe_fd, const std::optional<DockerEndpoint>& engine) {
  std::set<std::string> containers;
  std::string network;
  std::string dir;
  bool done = false;
  // A line is one write of under PIPE_BUF bytes, so none arrives cut: what follows the last
  // '\n' is nothing.
  (void)ReadLines(pipe_fd, [&](std::string_view line) {
    const std::string value(line.size() > 2 ? line.substr(2) : std::string_view());
    if (value.empty()) {
      if (line == "d") done = true;
      return;
    }
    if (line[0] == 'c') containers.insert(value);
    if (line[0] == 'r') containers.erase(value);
    if (line[0] == 'n') network = value;
    if (line[0] == 'D') dir = value;
  });
  if (!done) {
    if (engine) {
      for (const std::string& id : containers) {
        ReaperRequest(*engine, "DELETE", "/containers/" + id + "?force=1&v=1");
      }
      if (!network.empty()) ReaperRequest(*engine, "DELETE", "/networks/" + network);
    }
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
  ::_exit(0);
}

}  // namespace

Reaper::Reaper(const std::optional<DockerEndpoint>& engine) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (pid == 0) {
    ::setsid();
    // Named so that the worker's sweeps of leftover processes let it finish its cleanup.
    ::prctl(PR_SET_NAME, kCleanupProcessName);
    // Hold nothing of the parent's: a pipe to the supervisor kept open here would make
    // it wait for the reaper.
    const int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::dup2(fds[0], 3);
    ::close_range(4, ~0U, 0);
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ReaperMain(3, engine);
  }
  ::close(fds[0]);
  fd_ = fds[1];
  pid_ = pid;
}

Reaper::~Reaper() { Done(); }

void Reaper::Tell(char what, const std::string& id) {
  std::lock_guard lock(mu_);
  if (fd_ < 0) return;
  const std::string line = std::string(1, what) + " " + id + "\n";
  (void)!::write(fd_, line.data(), line.size());
}

void Reaper::Done() {
  std::lock_guard lock(mu_);
  if (fd_ < 0) return;
  (void)!::write(fd_, "d\n", 2);
  ::close(fd_);
  fd_ = -1;
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace handoff::workload
