#pragma once

// A local HTTP receiver for the notification tests (issue 16): it stands in for Slack,
// PagerDuty, GitHub and webhook endpoints, which cannot be reached from here. It records every
// request it gets and answers as scripted: a status with headers and a body (429 with
// Retry-After, 5xx, 410, a redirect), or nothing at all (a receiver that hangs).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace handoff::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Returns the value of header `name` (any case), or "".
  std::string Header(std::string_view name) const;
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body = "ok";
  bool hang = false;  // read the request, never answer
};

class Receiver {
 public:
  // Listens on 127.0.0.1 on a free port.
  Receiver();
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // "http://127.0.0.1:PORT".
  std::string url() const;
  // Answers the next requests with `replies`, in order, then with the default.
  void Script(std::vector<Reply> replies);
  // The answer once the script is used up (200 "ok" unless set).
  void SetDefault(Reply reply);
  // Every request received so far, in order.
  std::vector<ReceivedRequest> Requests() const;
  // Waits until at least `n` requests arrived; false after `timeout`.
  bool WaitFor(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  void AcceptLoop();
  void Serve(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable arrived_;
  std::vector<ReceivedRequest> requests_;
  std::deque<Reply> script_;
  Reply default_;
  bool stopping_ = false;
  std::vector<int> open_fds_;
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

}  // namespace handoff::testing
