// Fixtures that cannot leak: each function that starts something returns it together
// with its teardown, and handoff::Use registers that teardown on t.Cleanup before the
// next step can fail. It links with handoff::handoff_main, which provides main().
//
//   patterns_fixtures run -v     run the tests and show the fixtures' logs

#include <handoff/fixture.h>
#include <handoff/handoff.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

// A TCP echo server on a free port of 127.0.0.1, serving from a thread of its own: it
// reads each connection until the client stops writing, sends it all back and closes it.
class EchoServer {
 public:
  // Starts listening; throws std::runtime_error if the system refuses.
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      const std::string error = std::strerror(errno);
      if (fd_ >= 0) ::close(fd_);
      throw std::runtime_error("echo server: " + error);
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoServer() { Stop(); }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  int port() const { return port_; }

  // Stops accepting, waits for the serving thread and closes the socket; later calls do
  // nothing.
  void Stop() {
    if (!thread_.joinable()) return;
    ::shutdown(fd_, SHUT_RDWR);  // wakes the thread's accept()
    thread_.join();
    ::close(fd_);
  }

 private:
  void Serve() {
    for (;;) {
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      std::string data;
      char buf[4096];
      for (ssize_t n; (n = ::read(conn, buf, sizeof buf)) > 0;) data.append(buf, n);
      for (std::size_t sent = 0; sent < data.size();) {
        const ssize_t n = ::write(conn, data.data() + sent, data.size() - sent);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      ::close(conn);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// [docs:fixture-resource]
// Starts an echo server and returns its port with the teardown that stops it. The
// teardown owns the server, so the server lives until the teardown has run.
handoff::Resource<int> StartEchoServer() {
  auto server = std::make_shared<EchoServer>();
  return {server->port(), [server] { server->Stop(); }};
}

// Connects to 127.0.0.1:port. Returns the socket with its teardown, in Go's
// (value, cleanup) shape; fails the test if the connection is refused.
std::pair<int, std::function<void()>> Dial(handoff::T& t, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) t.Fatalf("socket: {}", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);  // not handed out yet, so still ours to close
    t.Fatalf("connecting to port {}: {}", port, error);
  }
  return {fd, [fd] { ::close(fd); }};
}
// [docs:end]

// [docs:fixture-compose]
// A fixture made of steps: a fresh echo server, and a connection to it. Use registers
// each step's teardown as soon as the step succeeded, so when a later step fails (Dial
// calls t.Fatal), the server started before it is still stopped.
int EchoConnection(handoff::T& t) {
  const int port = handoff::Use(t, StartEchoServer());
  return handoff::Use(t, Dial(t, port));
}
// [docs:end]

// Sends `message` on `conn`, tells the server it was all, and returns its answer.
std::string RoundTrip(handoff::T& t, int conn, const std::string& message) {
  for (std::size_t sent = 0; sent < message.size();) {
    const ssize_t n = ::write(conn, message.data() + sent, message.size() - sent);
    if (n <= 0) t.Fatalf("write: {}", std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(conn, SHUT_WR);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::read(conn, buf, sizeof buf)) > 0;) answer.append(buf, n);
  return answer;
}

}  // namespace

// [docs:fixture-use]
HANDOFF_TEST(Fixtures, Echoes) {
  const int conn = EchoConnection(t);  // server and connection end with the test
  if (std::string got = RoundTrip(t, conn, "hello"); got != "hello") {
    t.Errorf("echo of \"hello\" = {:?}", got);
  }
}
// [docs:end]

// A table-driven test: one server for every case, a connection of its own for each, closed
// when its subtest ends.
HANDOFF_TEST(Fixtures, EchoesEveryMessage) {
  const int port = handoff::Use(t, StartEchoServer());
  struct Case {
    std::string name;  // the subtest's name: spaces become '_'
    std::string message;
  };
  const std::vector<Case> cases = {
      {"one word", "hello"},
      {"several lines", "GET / HTTP/1.0\r\nHost: example\r\n\r\n"},
      {"binary", std::string("\0\x01\xff", 3)},
      {"larger than a read", std::string(10'000, 'x')},
  };
  for (const Case& c : cases) {
    t.Run(c.name, [&](handoff::T& t) {
      const int conn = handoff::Use(t, Dial(t, port));
      if (std::string got = RoundTrip(t, conn, c.message); got != c.message) {
        t.Errorf("echo of {} bytes: got {} bytes", c.message.size(), got.size());
      }
    });
  }
}
