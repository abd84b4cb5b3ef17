#pragma once

// The HTTP/1.1 server of `serve` (Boost.Beast): keep-alive, bounded requests, timeouts, a
// connection limit, and Server-Sent Events for the live stream of a run, over plain TCP or
// TLS. What each request does is decided by Route (router.h); server.cc listens and
// accepts, session.cc carries one connection; neither decides anything about a request.
//
// Threads: an io_context run by `threads` threads moves bytes; each connection is a session
// on its own strand. Routing (which reads the store: milliseconds, seconds for a large run)
// runs on a bounded pool of `workers` threads, and the journal reads of event streams on two
// more; their results are posted back to the session's strand, so a slow read never delays
// accepting, other connections, or the live events of a stream.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/serve_api.h"
#include "engine/server_log.h"
#include "http/access.h"
#include "http/tls_server.h"
#include "store/store.h"

namespace handoff::http {

// Limits and timeouts of the server; the defaults suit a server on a private network.
struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (see Server::port)
  int threads = 2;            // I/O threads: they only move bytes
  // Threads that route requests (store reads) and read journals for event streams, and
  // how many requests may wait for one; beyond that a request gets 503 at once.
  int workers = 4;
  std::size_t max_queued_requests = 256;
  std::size_t body_limit = 1u << 20;     // larger bodies get 413
  std::size_t header_limit = 16u << 10;  // larger headers get 431
  // Time to receive a whole request header, from the connection's accept or from the first
  // byte of a kept-alive connection's next request (nginx's client_header_timeout).
  std::chrono::milliseconds header_timeout{10'000};
  // Time to receive a request's body once its header arrived.
  std::chrono::milliseconds read_timeout{30'000};
  // Time to send one response, or one batch of events of a stream.
  std::chrono::milliseconds write_timeout{30'000};
  // Time a kept-alive connection may wait for its next request.
  std::chrono::milliseconds idle_timeout{60'000};
  // The general pool of connections. When it is full, the connection that has waited
  // longest for a request header is closed to make room; when none waits, the next
  // connections go to the reserve.
  std::size_t max_connections = 1024;
  // Connections one client address may hold (nginx's limit_conn); more are refused.
  std::size_t max_connections_per_client = 64;
  // Connections beyond the pool that answer only /healthz, /readyz and /metrics (others
  // get 503), so that probes work while the pool is busy. Beyond them: 503 and close.
  std::size_t reserved_connections = 8;
  // Period of the ": keepalive" comment on an event stream with nothing else to send.
  std::chrono::milliseconds sse_keepalive{15'000};
  // Bytes of live events a stream may have received and not yet written to its client;
  // beyond that the client is disconnected (it can resume with Last-Event-ID). A client
  // that has written everything takes the next batch whatever its size.
  std::size_t sse_max_lag_bytes = 8u << 20;
  // Bytes of rendered tests of finished runs kept for GET /api/v1/runs/{id}.
  std::size_t cache_bytes = 64u << 20;
  // Where limits that are hit are logged (at most a line per reason every 10 s); may be
  // null.
  ServerLog* log = nullptr;
  // Who may send what (authentication, roles, allowed Hosts): access.h. The default admits
  // everyone; its authenticator and log, when set, must outlive the server.
  AccessPolicy access;
  // HTTPS (tls_server.h): null serves plain HTTP. With it the port speaks only TLS (a plain
  // HTTP request is closed unanswered); the header timeout covers the handshake; requests
  // are `secure`, and with client certificates carry the verified name (client_cert_name).
  std::shared_ptr<ServerTls> tls;
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

  // The Prometheus text of the server's own metrics (connections, limits hit), which
  // GET /metrics appends to the engine's.
  std::string Metrics() const;

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
