#include "blackbox/receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace handoff::testing {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 410: return "Gone";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

std::string ReceivedRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

Receiver::Receiver() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("receiver: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

Receiver::~Receiver() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  arrived_.notify_all();
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  for (std::thread& t : connections_) t.join();
  ::close(listen_fd_);
}

std::string Receiver::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void Receiver::Script(std::vector<Reply> replies) {
  std::lock_guard lock(mu_);
  script_.assign(replies.begin(), replies.end());
}

void Receiver::SetDefault(Reply reply) {
  std::lock_guard lock(mu_);
  default_ = std::move(reply);
}

std::vector<ReceivedRequest> Receiver::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

bool Receiver::WaitFor(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void Receiver::AcceptLoop() {
  while (true) {
    pollfd p{listen_fd_, POLLIN, 0};
    ::poll(&p, 1, 100);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if ((p.revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    open_fds_.push_back(fd);
    connections_.emplace_back([this, fd] {
      Serve(fd);
      std::lock_guard closing(mu_);
      open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
      ::close(fd);
    });
  }
}

void Receiver::Serve(int fd) {
  std::string buffer;
  char chunk[8192];
  const auto read_more = [&]() {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  };
  while (true) {
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more()) return;
    }
    ReceivedRequest request;
    const std::string head = buffer.substr(0, head_end);
    std::size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const std::size_t sp1 = request_line.find(' ');
    const std::size_t sp2 = request_line.find(' ', sp1 + 1);
    request.method = request_line.substr(0, sp1);
    request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t length = 0;
    while (line_end != std::string::npos && line_end < head.size()) {
      const std::size_t next = head.find("\r\n", line_end + 2);
      const std::string line = head.substr(line_end + 2, next == std::string::npos
                                                             ? std::string::npos
                                                             : next - line_end - 2);
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        request.headers.emplace_back(line.substr(0, colon), value);
        if (EqualsIgnoreCase(line.substr(0, colon), "Content-Length")) {
          length = static_cast<std::size_t>(std::stoull(value));
        }
      }
      line_end = next;
    }
    buffer.erase(0, head_end + 4);
    while (buffer.size() < length) {
      if (!read_more()) return;
    }
    request.body = buffer.substr(0, length);
    buffer.erase(0, length);
    Reply reply;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
      if (!script_.empty()) {
        reply = script_.front();
        script_.pop_front();
      } else {
        reply = default_;
      }
    }
    arrived_.notify_all();
    if (reply.hang) {
      // Keep the connection open, unanswered, until the receiver stops.
      while (read_more()) {
      }
      return;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + Reason(reply.status) +
                      "\r\nContent-Length: " + std::to_string(reply.body.size()) + "\r\n";
    for (const auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
    out += "\r\n" + reply.body;
    std::size_t sent = 0;
    while (sent < out.size()) {
      const ssize_t n = ::write(fd, out.data() + sent, out.size() - sent);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }
}

}  // namespace handoff::testing
