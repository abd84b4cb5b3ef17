#pragma once

// The HTTP/1.1 server of `serve` (Boost.Beast): keep-alive, bounded requests, timeouts, a
// connection limit, and Server-Sent Events for the live stream of a run. What each request
// does is decided by Route (router.h); this file only moves bytes.
//
// Threads: an io_context run by `threads` threads; each connection is a session on its
// own strand, so a request that reads the store (a few ms) never blocks accepting or other
// connections.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/serve_api.h"
#include "http/access.h"
#include "store/store.h"

namespace handoff::http {

// Limits and timeouts of the server; the defaults suit a server on a private network.
struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (see Server::port)
  int threads = 2;
  std::size_t body_limit = 1u << 20;     // larger bodies get 413
  std::size_t header_limit = 16u << 10;  // larger headers get 431
  // Time to receive a whole request once its first byte arrived (reset per request).
  std::chrono::milliseconds read_timeout{30'000};
  // Time to send one response, or one batch of events of a stream.
  std::chrono::milliseconds write_timeout{30'000};
  // Time a kept-alive connection may wait for its next request.
  std::chrono::milliseconds idle_timeout{60'000};
  // Connections beyond this many get 503 and are closed.
  std::size_t max_connections = 1024;
  // Period of the ": keepalive" comment on an event stream with nothing else to send.
  std::chrono::milliseconds sse_keepalive{15'000};
  // Events a stream may fall behind before the client is disconnected (it can resume
  // with Last-Event-ID).
  std::size_t sse_max_backlog = 10'000;
  // Bytes of rendered tests of finished runs kept for GET /api/v1/runs/{id}.
  std::size_t cache_bytes = 64u << 20;
  // Who may send what (authentication, roles, allowed Hosts): access.h. The default admits
  // everyone; its authenticator and log, when set, must outlive the server.
  AccessPolicy access;
};

// The server. Start it once; Stop (or the destructor) ends it.
class Server {
 public:
  using Options = ServerOptions;

  // A server answering with `api` and `store`, which must outlive it.
  Server(ServeApi& api, store::Store& store, Options options);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and starts the threads. Returns false and sets *error if the address
  // cannot be bound.
  bool Start(std::string* error);

  // The port bound by Start (the chosen one when Options::port is 0).
  std::uint16_t port() const;

  // Stops accepting, lets responses being written finish, closes idle connections and
  // ends event streams, then joins the threads. Safe to call more than once.
  void Stop();

  // Shared state of the running server (defined in server.cc).
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace handoff::http
