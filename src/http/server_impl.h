#pragma once

// The shared state of a running Server (server.h), for the server's own files: server.cc
// (listening, accepting, stopping) and session.cc (one connection). Includes Asio: not for
// other parts of the server.

#include <boost/asio.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "http/connection_limits.h"
#include "http/event_fanout.h"
#include "http/router.h"
#include "http/server.h"
#include "http/session.h"
#include "http/tls_server.h"
#include "metrics/registry.h"

namespace handoff::http {

// Threads reading journal pages for event streams (beside ServerOptions::workers).
inline constexpr std::size_t kJournalReaders = 2;

struct Server::Impl {
  using tcp = boost::asio::ip::tcp;

  Impl(ServeApi& api_in, store::Store& store_in, Options options_in)
      : api(api_in),
        store(store_in),
        options(std::move(options_in)),
        cache(options.cache_bytes),
        reporter(metrics, options.log),
        limits({options.max_connections, options.max_connections_per_client,
                options.reserved_connections},
               reporter),
        fanout(api_in),
        handshakes(metrics, options.log),
        busy(&metrics
                  .AddCounter("handoff_http_requests_rejected_total",
                              "Requests answered 503 at once because the routing pool's queue "
                              "was full.",
                              {})
                  .With({})),
        workers(static_cast<std::size_t>(options.workers > 0 ? options.workers : 1)),
        journal_readers(kJournalReaders) {}

  bool Listen(const tcp::endpoint& endpoint, std::string* error);
  void Accept();
  void OnAccept(boost::system::error_code ec, tcp::socket socket);
  void Unregister(std::uint64_t id);

  // The one place requests are routed (on a worker thread, or inline for probes); the
  // server's own metrics join the engine's on /metrics.
  Response RouteRequest(const Request& req) {
    Response response = Route(req, api, store, &cache, &options.access);
    if (response.status == 200 && req.method == "GET" &&
        std::string_view(req.target).substr(0, req.target.find('?')) == "/metrics") {
      response.body += metrics.Render(false);
    }
    return response;
  }

  // Runs `work` (routing a request) on the worker pool unless its queue is full; returns
  // whether it was queued.
  template <typename Work>
  bool Submit(Work&& work) {
    if (queued.load() >= options.max_queued_requests) {
      busy->Inc();
      return false;
    }
    ++queued;
    boost::asio::post(workers, [this, work = std::forward<Work>(work)]() mutable {
      --queued;
      work();
    });
    return true;
  }

  // Counts an event stream that starts or ends. When the last one ends, the memory malloc
  // keeps from them (a thousand streams' queues, the batches they shared) goes back to the
  // system: glibc keeps freed memory in its per-thread arenas otherwise, and a server that
  // once had a thousand followers would keep their peak for good.
  void StreamStarted() { ++streams; }
  void StreamEnded() {
    if (--streams != 0) return;
#if defined(__GLIBC__)
    boost::asio::post(journal_readers, [] { ::malloc_trim(0); });
#endif
  }

  // Runs `work` (reading a page of a journal) on the journal readers. Not bounded here: a
  // stream has at most one page read at a time, and streams are bounded by connections.
  template <typename Work>
  void SubmitJournalRead(Work&& work) {
    boost::asio::post(journal_readers, std::forward<Work>(work));
  }

  ServeApi& api;
  store::Store& store;
  const Options options;
  RunTestsCache cache;
  // Declared before the io_context and the pool: sessions destroyed with their handlers
  // unregister here and release their subscriptions.
  metrics::Registry metrics;
  LimitReporter reporter;
  ConnectionLimits limits;
  EventFanout fanout;
  HandshakeReporter handshakes;  // failed TLS handshakes (with ServerOptions::tls)
  metrics::Counter* busy;

  std::mutex mu;
  std::condition_variable sessions_changed;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> sessions;
  std::uint64_t next_id = 0;
  bool stopping = false;
  std::atomic<bool> stopping_flag{false};
  std::atomic<std::size_t> queued{0};
  std::atomic<std::size_t> streams{0};  // event streams open

  boost::asio::io_context ioc;
  // Keeps the threads running while no operation is pending (between a session's last
  // handler and Stop's posted closes).
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{boost::asio::make_strand(ioc)};
  std::vector<std::thread> threads;
  // Requests and event streams' journal pages have their own threads: a thousand
  // followers catching up never queue ahead of an API request.
  boost::asio::thread_pool workers;
  boost::asio::thread_pool journal_readers;
  std::uint16_t port = 0;
  bool started = false;
  bool stopped = false;
};

}  // namespace handoff::http
