#include "shop_service.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <condition_variable>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace shop {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds on what a connection may send, so a bad client cannot hold the service.
constexpr std::size_t kMaxHeaderBytes = 16 << 10;
constexpr std::size_t kMaxBodyBytes = 64 << 10;
constexpr auto kReadTimeout = std::chrono::seconds(5);

struct Request {
  std::string method;
  std::string path;  // without the query string
  std::string body;
};

struct Response {
  int status = 200;
  std::string body;  // JSON, or empty
};

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

Response Error(int status, std::string_view message) {
  return Response{status, "{\"error\":" + JsonQuote(message) + "}"};
}

std::string ErrnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Waits until `fd` is ready for `events` or `deadline` passes. Returns false on timeout.
bool WaitFd(int fd, short events, Clock::time_point deadline) {
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the next read/write report the error
  }
}

bool WriteAll(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFd(fd, POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Returns the Content-Length header of `head` (the request or status line and headers),
// 0 if there is none, or -1 if it is malformed.
long ContentLength(std::string_view head) {
  std::size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    std::string_view line = head.substr(pos, head.find("\r\n", pos) - pos);
    constexpr std::string_view kName = "content-length:";
    if (line.size() < kName.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < kName.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(line[i])) != kName[i]) match = false;
    }
    if (!match) continue;
    std::string value(line.substr(kName.size()));
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 10);
    return n >= 0 && end != value.c_str() ? n : -1;
  }
  return 0;
}

}  // namespace

struct ShopService::Impl {
  struct Product {
    std::string sku, name;
    int price_cents;
    int stock;
  };
  struct Order {
    std::string id, sku;
    int quantity;
    int total_cents;
    Clock::time_point created;
  };
  struct Connection {
    int fd;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  explicit Impl(ServiceOptions o) : options(o) {
    products = {
        {"tea", "Green tea, 100 g", 450, 10},
        {"coffee", "Espresso beans, 250 g", 1290, 5},
        {"mug", "Enamel mug", 800, 1},
    };
  }

  std::string Start() {
    listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) return ErrnoText("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // any free port
    socklen_t len = sizeof addr;
    if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd, 64) != 0 ||
        ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::string error = ErrnoText("listen on 127.0.0.1");
      ::close(listen_fd);
      listen_fd = -1;
      return error;
    }
    port = ntohs(addr.sin_port);
    started = Clock::now();
    acceptor = std::thread([this] { AcceptLoop(); });
    return {};
  }

  void Stop() {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      stopping = true;
    }
    wake.notify_all();
    if (acceptor.joinable()) acceptor.join();
    if (listen_fd >= 0) ::close(listen_fd);
    listen_fd = -1;
    std::lock_guard lock(connections_mu);
    for (Connection& c : connections) ::shutdown(c.fd, SHUT_RDWR);
    for (Connection& c : connections) {
      c.thread.join();
      ::close(c.fd);
    }
    connections.clear();
  }

  void AcceptLoop() {
    while (true) {
      {
        std::lock_guard lock(mu);
        if (stopping) return;
      }
      pollfd p{listen_fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(connections_mu);
      // Reap finished connections so a long run does not accumulate threads.
      for (auto it = connections.begin(); it != connections.end();) {
        if (it->done.load()) {
          it->thread.join();
          ::close(it->fd);
          it = connections.erase(it);
        } else {
          ++it;
        }
      }
      Connection& c = connections.emplace_back();
      c.fd = fd;
      c.thread = std::thread([this, &c] {
        Serve(c.fd);
        // The socket is closed by whoever joins this thread, so its number cannot be
        // reused while Stop() may still shut it down.
        ::shutdown(c.fd, SHUT_RDWR);
        c.done.store(true);
      });
    }
  }

  void Serve(int fd) {
    const auto deadline = Clock::now() + kReadTimeout;
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    std::string data;
    std::size_t header_end = std::string::npos;
    long body_length = 0;
    char buf[4096];
    while (true) {
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          body_length = ContentLength(std::string_view(data).substr(0, header_end + 2));
          if (body_length < 0) return Send(fd, Error(400, "bad Content-Length"));
          if (static_cast<std::size_t>(body_length) > kMaxBodyBytes) {
            return Send(fd, Error(413, "body too large"));
          }
        } else if (data.size() > kMaxHeaderBytes) {
          return Send(fd, Error(400, "headers too large"));
        }
      }
      if (header_end != std::string::npos &&
          data.size() >= header_end + 4 + static_cast<std::size_t>(body_length)) {
        break;
      }
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        data.append(buf, static_cast<std::size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!WaitFd(fd, POLLIN, deadline)) return;  // too slow: drop it
      } else {
        return;  // closed or failed before a whole request arrived
      }
    }
    Request request;
    const std::string_view line = std::string_view(data).substr(0, data.find("\r\n"));
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.find(' ', sp1 == std::string_view::npos ? 0 : sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
      return Send(fd, Error(400, "malformed request line"));
    }
    request.method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    request.path = target.substr(0, target.find('?'));
    request.body = data.substr(header_end + 4, static_cast<std::size_t>(body_length));
    Send(fd, Route(request));
  }

  void Send(int fd, const Response& response) {
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      Reason(response.status) + "\r\n";
    if (!response.body.empty()) out += "Content-Type: application/json\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    out += response.body;
    WriteAll(fd, out, Clock::now() + kReadTimeout);
  }

  // Routing: a function of the request and the shop's state.
  Response Route(const Request& r) {
    if (r.path == "/healthz") {
      if (r.method != "GET") return Error(405, "use GET");
      if (Clock::now() - started < options.warm_up) {
        return Response{503, R"({"status":"warming up"})"};
      }
      return Response{200, R"({"status":"ok"})"};
    }
    if (r.path == "/products") {
      if (r.method != "GET") return Error(405, "use GET");
      return ListProducts();
    }
    if (r.path == "/recommendations") {
      if (r.method != "GET") return Error(405, "use GET");
      return Recommendations();
    }
    if (r.path == "/orders") {
      if (r.method != "POST") return Error(405, "use POST");
      return CreateOrder(r.body);
    }
    constexpr std::string_view kOrders = "/orders/";
    if (r.path.starts_with(kOrders)) {
      std::string id = r.path.substr(kOrders.size());
      if (id.ends_with("/refund")) {
        if (r.method != "POST") return Error(405, "use POST");
        return Error(501, "refunds are not implemented");
      }
      if (r.method == "GET") return GetOrder(id);
      if (r.method == "DELETE") return CancelOrder(id);
      return Error(405, "use GET or DELETE");
    }
    return Error(404, "no route for " + r.path);
  }

  Response ListProducts() {
    std::lock_guard lock(mu);
    std::string body = "[";
    for (const Product& p : products) {
      if (body.size() > 1) body += ',';
      // Known issue: prices carry no currency.
      body += "{\"sku\":" + JsonQuote(p.sku) + ",\"name\":" + JsonQuote(p.name) +
              ",\"price_cents\":" + std::to_string(p.price_cents) +
              ",\"stock\":" + std::to_string(p.stock) + "}";
    }
    return Response{200, body + "]"};
  }

  Response Recommendations() {
    std::unique_lock lock(mu);
    if (recommendations_served++ == 0) {
      // The first request waits for a cold cache; later ones are answered at once.
      wake.wait_for(lock, options.cold_cache_delay, [this] { return stopping; });
    }
    return Response{200, R"(["coffee","mug"])"};
  }

  std::string OrderJson(const Order& o) const {
    const bool confirmed = Clock::now() - o.created >= options.confirm_delay;
    return "{\"id\":" + JsonQuote(o.id) + ",\"sku\":" + JsonQuote(o.sku) +
           ",\"quantity\":" + std::to_string(o.quantity) +
           ",\"total_cents\":" + std::to_string(o.total_cents) +
           ",\"status\":" + (confirmed ? "\"confirmed\"" : "\"pending\"") + "}";
  }

  Response CreateOrder(const std::string& body) {
    std::string parse_error;
    std::optional<Json> json = Json::Parse(body, &parse_error);
    if (!json || !json->is_object()) return Error(400, "body is not a JSON object");
    std::optional<std::string> sku = json->GetString("sku");
    std::optional<double> quantity = json->GetNumber("quantity");
    if (!sku || !quantity) return Error(400, "want {\"sku\": string, \"quantity\": number}");
    if (*quantity < 1 || *quantity > 100 || *quantity != static_cast<int>(*quantity)) {
      return Error(400, "quantity must be a whole number from 1 to 100");
    }
    std::lock_guard lock(mu);
    for (Product& p : products) {
      if (p.sku != *sku) continue;
      const int n = static_cast<int>(*quantity);
      if (p.stock < n) {
        return Error(409, "only " + std::to_string(p.stock) + " " + p.sku + " in stock");
      }
      p.stock -= n;
      Order o{"ord-" + std::to_string(next_order++), p.sku, n, n * p.price_cents, Clock::now()};
      orders[o.id] = o;
      return Response{201, OrderJson(o)};
    }
    return Error(404, "no product " + *sku);
  }

  Response GetOrder(const std::string& id) {
    std::lock_guard lock(mu);
    auto it = orders.find(id);
    if (it == orders.end()) return Error(404, "no order " + id);
    return Response{200, OrderJson(it->second)};
  }

  Response CancelOrder(const std::string& id) {
    std::lock_guard lock(mu);
    auto it = orders.find(id);
    if (it == orders.end()) return Error(404, "no order " + id);
    for (Product& p : products) {
      if (p.sku == it->second.sku) p.stock += it->second.quantity;
    }
    orders.erase(it);
    return Response{204, {}};
  }

  const ServiceOptions options;
  int listen_fd = -1;
  int port = 0;
  Clock::time_point started;
  std::thread acceptor;

  std::mutex mu;  // guards the shop's state and `stopping`
  std::condition_variable wake;
  bool stopping = false;
  std::vector<Product> products;
  std::map<std::string, Order> orders;
  int next_order = 1;
  int recommendations_served = 0;

  std::mutex connections_mu;
  std::list<Connection> connections;
};

ShopService::ShopService(ServiceOptions options) : impl_(std::make_unique<Impl>(options)) {}

ShopService::~ShopService() { Stop(); }

std::string ShopService::Start() { return impl_->Start(); }

void ShopService::Stop() { impl_->Stop(); }

std::string ShopService::Address() const {
  return "127.0.0.1:" + std::to_string(impl_->port);
}

HttpResponse Client::Do(std::string_view method, std::string_view path,
                        std::string_view body) const {
  HttpResponse out;
  const std::string what = std::string(method) + " " + std::string(path);
  const auto deadline = Clock::now() + timeout_;
  const auto timed_out = [&] {
    out.error = what + ": timed out after " + std::to_string(timeout_.count()) + "ms";
    return out;
  };

  const std::size_t colon = address_.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos ||
      ::inet_pton(AF_INET, address_.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    out.error = what + ": bad address \"" + address_ + "\" (want IPv4:port)";
    return out;
  }
  addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(address_.c_str() + colon + 1)));

  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    out.error = what + ": " + ErrnoText("socket");
    return out;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      out.error = what + ": " + ErrnoText("connect");
      return out;
    }
    if (!WaitFd(fd, POLLOUT, deadline)) return timed_out();
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      out.error = what + ": connect: " + std::strerror(err);
      return out;
    }
  }

  std::string request = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\n" +
                        "Host: " + address_ + "\r\nConnection: close\r\n";
  if (!body.empty()) request += "Content-Type: application/json\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  request += body;
  if (!WriteAll(fd, request, deadline)) {
    if (Clock::now() >= deadline) return timed_out();
    out.error = what + ": " + ErrnoText("send");
    return out;
  }

  // The service closes the connection after its response: read to the end.
  std::string data;
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      data.append(buf, static_cast<std::size_t>(n));
      if (data.size() > kMaxHeaderBytes + kMaxBodyBytes) {
        out.error = what + ": response too large";
        return out;
      }
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!WaitFd(fd, POLLIN, deadline)) return timed_out();
    } else {
      out.error = what + ": " + ErrnoText("recv");
      return out;
    }
  }

  const std::size_t header_end = data.find("\r\n\r\n");
  if (!data.starts_with("HTTP/1.") || header_end == std::string::npos || data.size() < 12) {
    out.error = what + ": malformed response";
    return out;
  }
  out.status = std::atoi(data.c_str() + 9);
  const long length = ContentLength(std::string_view(data).substr(0, header_end + 2));
  out.body = data.substr(header_end + 4);
  if (length < 0 || out.body.size() < static_cast<std::size_t>(length)) {
    out.error = what + ": truncated response";
  }
  return out;
}

}  // namespace shop
