#pragma once

// The system under test of the shop example: a small in-memory shop behind an HTTP/1.1
// JSON API, and a tiny blocking HTTP client for its tests. Plain POSIX sockets, no
// dependencies beyond the standard library, so the example builds fast.
//
//   GET    /healthz               200 {"status":"ok"}; 503 while warming up
//   GET    /products              200 [{"sku","name","price_cents","stock"}, ...]
//   POST   /orders                {"sku","quantity"} -> 201 order; 400, 404, 409 on errors
//   GET    /orders/{id}           200 order ("pending", then "confirmed"); 404
//   DELETE /orders/{id}           204, puts the stock back; 404
//   POST   /orders/{id}/refund    501: refunds are not implemented
//   GET    /recommendations       200 [sku, ...]; the first request after start is slow
//
// Quirks the example's tests exercise on purpose: /healthz is 503 for a while after
// start, orders are confirmed asynchronously, products carry no currency (a known
// issue), and the first /recommendations request waits for a cold cache.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "json.h"

namespace shop {

// How the service behaves, including its deliberate quirks.
struct ServiceOptions {
  // GET /healthz answers 503 until this long after Start().
  std::chrono::milliseconds warm_up{300};
  // A new order is "pending" for this long, then "confirmed".
  std::chrono::milliseconds confirm_delay{200};
  // The first GET /recommendations after Start() takes this long to answer.
  std::chrono::milliseconds cold_cache_delay{1500};
};

// The shop service. Start() serves in background threads until Stop() or destruction.
class ShopService {
 public:
  explicit ShopService(ServiceOptions options = {});
  ~ShopService();
  ShopService(const ShopService&) = delete;
  ShopService& operator=(const ShopService&) = delete;

  // Listens on 127.0.0.1 on a free port and starts serving. Returns an error message,
  // or an empty string on success.
  std::string Start();

  // Stops accepting, ends open connections and joins every thread. Safe to call twice.
  void Stop();

  // Returns "127.0.0.1:PORT" once started.
  std::string Address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The outcome of one HTTP request.
struct HttpResponse {
  // Empty if a response arrived; otherwise why not (refused, timed out, malformed).
  std::string error;
  int status = 0;
  std::string body;

  // Returns true if a response arrived (whatever its status).
  bool ok() const { return error.empty(); }
  // Parses the body as JSON; on failure returns nullopt and sets *parse_error if given.
  std::optional<Json> JsonBody(std::string* parse_error = nullptr) const {
    return Json::Parse(body, parse_error);
  }
};

// A blocking HTTP/1.1 client for one service: one connection per request, and every
// request (connect, send, receive) bounded by the client's timeout.
class Client {
 public:
  explicit Client(std::string address,
                  std::chrono::milliseconds timeout = std::chrono::seconds(2))
      : address_(std::move(address)), timeout_(timeout) {}

  // Returns a copy of this client whose requests time out after `timeout`.
  Client WithTimeout(std::chrono::milliseconds timeout) const { return Client(address_, timeout); }

  HttpResponse Get(std::string_view path) const { return Do("GET", path, {}); }
  HttpResponse Post(std::string_view path, std::string_view json) const {
    return Do("POST", path, json);
  }
  HttpResponse Delete(std::string_view path) const { return Do("DELETE", path, {}); }

  // Sends one request and waits for the whole response, at most the client's timeout.
  HttpResponse Do(std::string_view method, std::string_view path, std::string_view body) const;

 private:
  std::string address_;
  std::chrono::milliseconds timeout_;
};

}  // namespace shop
