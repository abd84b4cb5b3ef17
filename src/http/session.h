#pragma once

// One connection of the server (server.h): reads requests, has them routed, writes
// responses, or streams a run's events. The same session runs over plain TCP and over TLS
// (session.cc); the server holds it by this interface.

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "http/server.h"

namespace boost::asio::ssl {
class context;
}

namespace handoff::http {

// A connection as the server sees it: started once, closed early for Stop or for room.
class Connection {
 public:
  virtual ~Connection() = default;

  // Starts the connection: the TLS handshake if any, then reading requests.
  virtual void Start() = 0;

  // Ends the connection for Server::Stop: idle connections and streams close now; a request
  // being routed or a response being written finishes first.
  virtual void CloseForStop() = 0;

  // Closes the connection if it still waits for a request header (or its TLS handshake):
  // the limits chose it to make room for a new one.
  virtual void Evict() = 0;
};

// Returns the session of an accepted `socket` from `client` (its address), numbered `id`,
// on the probe reserve when `reserve`: over TLS with `tls` when it is set, plain HTTP
// otherwise. It unregisters from `server` when it ends.
std::shared_ptr<Connection> NewSession(boost::asio::ip::tcp::socket&& socket,
                                       Server::Impl& server, std::uint64_t id,
                                       std::string client, bool reserve,
                                       std::shared_ptr<boost::asio::ssl::context> tls);

}  // namespace handoff::http
