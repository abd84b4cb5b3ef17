// Interactive use of an environment (like efficientgo/e2e's e2einteractive): print where
// everything is, then wait for the person to be done: Ctrl-C, SIGTERM, or a GET of a URL.

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "handoff/workload.h"

namespace handoff::workload {
namespace {

// The write end of the pipe the signal handler wakes the wait with.
std::atomic<int> wake_fd{-1};

void OnSignal(int) {
  const int fd = wake_fd.load();
  if (fd >= 0) (void)!::write(fd, "s", 1);
}

// Closes a descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Status RunInteractive(Environment& env, const InteractiveOptions& options, std::string* ended_by) {
  std::ostream& out = options.out != nullptr ? *options.out : std::cout;
  Fd listener{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (listener.fd < 0) return Status::Error(fmt::format("socket: {}", std::strerror(errno)));
  const int one = 1;
  ::setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(options.port));
  socklen_t len = sizeof addr;
  if (::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.fd, 8) != 0 ||
      ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Status::Error(
        fmt::format("cannot listen on 127.0.0.1:{}: {}", options.port, std::strerror(errno)));
  }
  const int port = ntohs(addr.sin_port);

  std::string text = fmt::format("Environment {} ({}) is up.\n", env.Name(),
                                 env.kind() == Environment::Kind::kDocker ? "Docker" : "processes");
  for (const auto& r : env.Started()) {
    text += fmt::format("  {}{}\n", r->Name(), r->IsRunning() ? "" : " (not running)");
    for (const std::string& p : r->PortNames()) {
      const std::string endpoint = r->Endpoint(p);
      text += fmt::format("    {:<12} {:<22} from other runnables: {}\n", p,
                          endpoint.empty() ? "-" : endpoint, r->InternalEndpoint(p));
    }
    text += fmt::format("    {:<12} {}\n", "directory", r->Dir());
  }
  text += fmt::format("Shared directory: {}\n", env.SharedDir());
  text += fmt::format("Press Ctrl-C, or open http://127.0.0.1:{}/ to stop waiting.\n", port);
  out << text << std::flush;

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::Error(fmt::format("pipe: {}", std::strerror(errno)));
  }
  Fd wake_read{pipe_fds[0]}, wake_write{pipe_fds[1]};
  wake_fd = wake_write.fd;
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {}, old_term {};
  ::sigaction(SIGINT, &action, &old_int);
  ::sigaction(SIGTERM, &action, &old_term);

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  std::string why;
  while (why.empty()) {
    int wait_ms = -1;
    if (options.timeout.count() > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        why = "timeout";
        break;
      }
      wait_ms = static_cast<int>(left.count());
    }
    pollfd fds[2] = {{listener.fd, POLLIN, 0}, {wake_read.fd, POLLIN, 0}};
    if (::poll(fds, 2, wait_ms) < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) why = "interrupted";
    if (fds[0].revents != 0) {
      Fd conn{::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC)};
      if (conn.fd < 0) continue;
      // Read the request line (what a browser or curl sends first), then answer.
      char buf[1024];
      pollfd c{conn.fd, POLLIN, 0};
      if (::poll(&c, 1, 1000) > 0) (void)!::read(conn.fd, buf, sizeof buf);
      const std::string body = fmt::format("Stopped waiting on environment {}.\n", env.Name());
      const std::string answer = fmt::format(
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
          "Connection: close\r\n\r\n{}",
          body.size(), body);
      (void)!::write(conn.fd, answer.data(), answer.size());
      why = "url";
    }
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  wake_fd = -1;
  if (ended_by != nullptr) *ended_by = why;
  return {};
}

}  // namespace handoff::workload
