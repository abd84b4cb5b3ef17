#include "http/server.h"

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/server_impl.h"
#include "http/session.h"

namespace handoff::http {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// How long Stop waits for sessions to end before abandoning them.
constexpr std::chrono::seconds kStopGrace{5};

// The answer to a connection refused on accept: written without waiting (a new socket's
// send buffer takes it whole) and closed, so a refusal holds nothing.
void RefuseNow(tcp::socket& socket, LimitReason reason) {
  const Response refusal = ErrorResponse(
      503, "unavailable",
      reason == LimitReason::kPerClientLimit
          ? "too many connections from this client; try again later"
          : "too many connections; try again later");
  const std::string raw = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nServer: handoff\r\nContent-Type: {}\r\n"
      "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nRetry-After: 1\r\n"
      "Connection: close\r\nContent-Length: {}\r\n\r\n{}",
      refusal.content_type, refusal.body.size(), refusal.body);
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(net::buffer(raw), ignored);
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

// Closes a connection refused on accept to an HTTPS port without a word: a plain HTTP
// answer would mean nothing to a TLS client, and a handshake is more than a refusal should
// cost.
void CloseNow(tcp::socket& socket) {
  beast::error_code ignored;
  socket.close(ignored);
}

}  // namespace

bool Server::Impl::Listen(const tcp::endpoint& endpoint, std::string* error) {
  beast::error_code ec;
  const auto fail = [&](const char* what) {
    *error = fmt::format("cannot {} {}:{}: {}", what, endpoint.address().to_string(),
                         endpoint.port(), ec.message());
    beast::error_code ignored;
    acceptor.close(ignored);
    return false;
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open a socket for");
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("set SO_REUSEADDR on");
  acceptor.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  port = acceptor.local_endpoint(ec).port();
  started = true;
  work.emplace(ioc.get_executor());
  Accept();
  const int count = options.threads > 0 ? options.threads : 1;
  for (int i = 0; i < count; ++i) threads.emplace_back([this] { ioc.run(); });
  return true;
}

void Server::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc),
                        beast::bind_front_handler(&Impl::OnAccept, this));
}

void Server::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
  if (!ec) {
    beast::error_code peer_ec;
    const tcp::endpoint peer = socket.remote_endpoint(peer_ec);
    std::string client = peer_ec ? std::string() : peer.address().to_string();
    // Taken before the lock: it may reload the certificate files.
    std::shared_ptr<net::ssl::context> tls =
        options.tls ? options.tls->ForHandshake() : nullptr;
    std::shared_ptr<Connection> session;
    std::shared_ptr<Connection> evicted;
    std::optional<LimitReason> refused;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      const std::uint64_t id = ++next_id;
      const ConnectionLimits::Admission admission = limits.Admit(id, client);
      if (!admission.admitted) {
        refused = admission.reason;
      } else {
        session = NewSession(std::move(socket), *this, id, std::move(client), admission.reserve,
                             std::move(tls));
        sessions.emplace(id, session);
        if (admission.evict != 0) {
          auto it = sessions.find(admission.evict);
          if (it != sessions.end()) evicted = it->second.lock();
        }
      }
    }
    if (refused) {
      if (options.tls) {
        CloseNow(socket);
      } else {
        RefuseNow(socket, *refused);
      }
    }
    if (evicted) evicted->Evict();
    if (session) session->Start();
  }
  // Errors such as EMFILE are per connection: keep accepting.
  Accept();
}

void Server::Impl::Unregister(std::uint64_t id) {
  limits.Release(id);
  std::lock_guard lock(mu);
  sessions.erase(id);
  sessions_changed.notify_all();
}

Server::Server(ServeApi& api, store::Store& store, Options options)
    : impl_(std::make_unique<Impl>(api, store, std::move(options))) {}

Server::~Server() { Stop(); }

bool Server::Start(std::string* error) {
  Impl& s = *impl_;
  if (s.started) {
    *error = "the server was already started";
    return false;
  }
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(s.options.host, ec);
  if (ec) {
    // A host name ("localhost"): resolve it.
    tcp::resolver resolver(s.ioc);
    const auto results =
        resolver.resolve(s.options.host, std::to_string(s.options.port), ec);
    if (ec || results.empty()) {
      *error = fmt::format("cannot resolve {}: {}", s.options.host, ec.message());
      return false;
    }
    return s.Listen(results.begin()->endpoint(), error);
  }
  return s.Listen(tcp::endpoint(address, s.options.port), error);
}

std::uint16_t Server::port() const { return impl_->port; }

std::string Server::Metrics() const { return impl_->metrics.Render(false); }

void Server::Stop() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  std::vector<std::shared_ptr<Connection>> sessions;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
    s.stopping_flag = true;
    for (auto& [ptr, weak] : s.sessions) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
  }
  // The acceptor lives on its strand: close it there, and wait, so that once Stop returns
  // new connections are refused rather than left in the backlog.
  std::promise<void> acceptor_closed;
  net::post(s.acceptor.get_executor(), [&s, &acceptor_closed] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait_for(kStopGrace);
  for (auto& session : sessions) session->CloseForStop();
  sessions.clear();
  {
    std::unique_lock lock(s.mu);
    s.sessions_changed.wait_for(lock, kStopGrace, [&] { return s.sessions.empty(); });
  }
  // Routing and journal reads still queued or running use the api and the store, which
  // the caller destroys after Stop: let them finish (their answers, posted to sessions that
  // are closing, are dropped).
  s.workers.join();
  s.journal_readers.join();
  s.work.reset();
  s.ioc.stop();
  for (std::thread& thread : s.threads) thread.join();
  s.threads.clear();
  beast::error_code ignored;
  s.acceptor.close(ignored);  // no thread is left to race with
}

}  // namespace handoff::http
