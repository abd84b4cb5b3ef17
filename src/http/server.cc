#include "http/server.h"

#include <fmt/format.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/connection_limits.h"
#include "http/event_fanout.h"
#include "http/router.h"
#include "metrics/registry.h"

namespace handoff::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Events per journal page of a stream: a client that reads nothing holds one page in the
// server (about 30 KB), which bounds what a thousand stalled streams cost.
constexpr int kJournalPage = 128;
// The kernel send buffer of an event stream's socket (Linux doubles it): what a stream keeps
// in the kernel for a client that does not read, beside ServerOptions::sse_max_lag_bytes.
constexpr int kStreamSendBuffer = 128 * 1024;
// Threads reading journal pages for event streams (beside ServerOptions::workers).
constexpr std::size_t kJournalReaders = 2;
// How long, and how much, to read and discard after an error response that closes the
// connection, so the client reads our answer instead of a reset.
constexpr std::chrono::milliseconds kDrainTime{1000};
constexpr std::size_t kDrainBytes = 16u << 20;
// How long Stop waits for sessions to end before abandoning them.
constexpr std::chrono::seconds kStopGrace{5};

// A response body made of an owned string and a shared one (the cached tests of a run),
// written without copying either.
struct SharedBody {
  struct value_type {
    std::string head;
    std::shared_ptr<const std::string> tail;
  };

  static std::uint64_t size(const value_type& body) {
    return body.head.size() + (body.tail ? body.tail->size() : 0);
  }

  class writer {
   public:
    using const_buffers_type = std::array<net::const_buffer, 2>;

    template <bool isRequest, class Fields>
    writer(const bhttp::header<isRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      if (done_) return boost::none;
      done_ = true;
      const_buffers_type buffers = {
          net::const_buffer(body_.head.data(), body_.head.size()),
          body_.tail ? net::const_buffer(body_.tail->data(), body_.tail->size())
                     : net::const_buffer()};
      return std::make_pair(buffers, false);
    }

   private:
    const value_type& body_;
    bool done_ = false;
  };
};

bool IsQuietError(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted ||
         ec == beast::error::timeout || ec == net::error::connection_reset ||
         ec == net::error::eof || ec == net::error::broken_pipe ||
         ec == bhttp::error::partial_message;
}

// Refuses a request whose framing is ambiguous before its body is read, as nginx does: a
// Transfer-Encoding other than "chunked" alone (Beast would read such a body by its
// Content-Length, and the bytes after it would run as a second request: smuggling) is 501;
// both Transfer-Encoding and Content-Length, or an HTTP/1.1 request without exactly one
// Host, is 400. Either way the connection is then closed.
std::optional<Response> RefuseFraming(const bhttp::request_header<>& header) {
  std::vector<std::string> codings;
  for (const auto& field : header) {
    if (field.name() != bhttp::field::transfer_encoding) continue;
    std::string_view value = field.value();
    while (!value.empty()) {
      const std::size_t comma = value.find(',');
      std::string_view coding = value.substr(0, comma);
      while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t')) {
        coding.remove_prefix(1);
      }
      while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t')) {
        coding.remove_suffix(1);
      }
      codings.emplace_back(coding);
      value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    }
  }
  if (!codings.empty()) {
    if (codings.size() > 1 || !beast::iequals(codings.front(), "chunked")) {
      return ErrorResponse(
          501, "not_implemented",
          fmt::format("unsupported Transfer-Encoding \"{}\": only chunked is accepted",
                      std::string(header[bhttp::field::transfer_encoding])));
    }
    if (header.find(bhttp::field::content_length) != header.end()) {
      return ErrorResponse(400, "bad_request",
                           "a request may not have both Transfer-Encoding and Content-Length");
    }
  }
  if (header.version() >= 11) {
    const auto hosts = header.count(bhttp::field::host);
    if (hosts != 1) {
      return ErrorResponse(400, "bad_request",
                           hosts == 0 ? "an HTTP/1.1 request must have a Host header"
                                      : "a request may have only one Host header");
    }
  }
  return std::nullopt;
}

class Session;

// Returns true if `target` asks for a probe: answered at once on the I/O thread (they read
// nothing slow), and the only paths the probe reserve answers.
bool IsProbeTarget(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

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

}  // namespace

struct Server::Impl {
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
  void OnAccept(beast::error_code ec, tcp::socket socket);
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
    net::post(workers, [this, work = std::forward<Work>(work)]() mutable {
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
    net::post(journal_readers, [] { ::malloc_trim(0); });
#endif
  }

  // Runs `work` (reading a page of a journal) on the journal readers. Not bounded here: a
  // stream has at most one page read at a time, and streams are bounded by connections.
  template <typename Work>
  void SubmitJournalRead(Work&& work) {
    net::post(journal_readers, std::forward<Work>(work));
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
  metrics::Counter* busy;

  std::mutex mu;
  std::condition_variable sessions_changed;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::uint64_t next_id = 0;
  bool stopping = false;
  std::atomic<bool> stopping_flag{false};
  std::atomic<std::size_t> queued{0};
  std::atomic<std::size_t> streams{0};  // event streams open

  net::io_context ioc;
  // Keeps the threads running while no operation is pending (between a session's last
  // handler and Stop's posted closes).
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor{net::make_strand(ioc)};
  std::vector<std::thread> threads;
  // Requests and event streams' journal pages have their own threads: a thousand
  // followers catching up never queue ahead of an API request.
  net::thread_pool workers;
  net::thread_pool journal_readers;
  std::uint16_t port = 0;
  bool started = false;
  bool stopped = false;
};

namespace {

// What an event stream's subscription shares with its session: the fanout calls back on an
// engine thread and may outlive the session.
struct StreamLag {
  std::atomic<std::size_t> bytes{0};  // live bytes received and not yet written
  std::atomic<bool> dropped{false};
};

// A part of an immutable buffer queued for an event stream; `accounted` is what it counts
// in StreamLag (the whole batch for live events, 0 for the journal and keepalives).
struct Chunk {
  std::shared_ptr<const std::string> data;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t accounted = 0;
};

// One connection: reads requests, has them routed, writes responses; or, for an event
// stream, writes events until the run finishes or the client goes away.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server::Impl& server, std::uint64_t id, std::string client,
          bool reserve)
      : stream_(std::move(socket)),
        server_(server),
        id_(id),
        client_(std::move(client)),
        reserve_(reserve),
        keepalive_timer_(stream_.get_executor()) {}

  ~Session() { server_.Unregister(id_); }

  // Starts reading requests.
  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
  }

  // Ends the session for Server::Stop: idle connections and streams close now; a request
  // being routed or a response being written finishes first (DoRead then sees the server
  // stopping).
  void CloseForStop() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ != State::kWriting && self->state_ != State::kRouting) self->Close();
    });
  }

  // Closes the connection if it still waits for a request header: the limits chose it to
  // make room for a new one.
  void Evict() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kReading && self->awaiting_header_) self->Close();
    });
  }

 private:
  enum class State { kReading, kRouting, kWriting, kStreaming, kClosed };

  void DoRead() {
    if (server_.stopping_flag.load()) return Close();
    state_ = State::kReading;
    awaiting_header_ = true;
    parser_.emplace();
    parser_->body_limit(server_.options.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
    if (first_request_ || buffer_.size() > 0) {
      first_request_ = false;
      return ReadHeader();
    }
    // A kept-alive connection: waiting for its next request is idle time, and may be cut
    // short for room; the header deadline starts with the request's first byte.
    server_.limits.AwaitingHeader(id_);
    stream_.expires_after(server_.options.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          if (ec) return self->Close();
          self->buffer_.commit(n);
          self->ReadHeader();
        });
  }

  void ReadHeader() {
    stream_.expires_after(server_.options.header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnReadHeader, shared_from_this()));
  }

  void OnReadHeader(beast::error_code ec, std::size_t) {
    awaiting_header_ = false;
    server_.limits.HeaderReceived(id_);
    if (ec == beast::error::timeout) {
      server_.reporter.Hit(LimitReason::kHeaderTimeout, client_);
      return Close();
    }
    if (ec) return OnReadError(ec);
    if (std::optional<Response> refusal = RefuseFraming(parser_->get())) {
      return WriteResponse(std::move(*refusal), false, /*drain=*/true);
    }
    stream_.expires_after(server_.options.read_timeout);
    const auto expect = parser_->get()[bhttp::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                         if (write_ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      return WriteResponse(
          ErrorResponse(413, "payload_too_large",
                        fmt::format("the request body is larger than {} bytes",
                                    server_.options.body_limit)),
          false, /*drain=*/true);
    }
    if (ec == bhttp::error::header_limit) {
      return WriteResponse(ErrorResponse(431, "header_too_large",
                                         fmt::format("the request header is larger than {} bytes",
                                                     server_.options.header_limit)),
                           false, /*drain=*/true);
    }
    // The client went away, timed out or closed between requests: nothing to answer.
    // Socket errors likewise; what is left is HTTP that does not parse.
    if (IsQuietError(ec) ||
        ec.category() != bhttp::make_error_code(bhttp::error::bad_target).category()) {
      return Close();
    }
    WriteResponse(ErrorResponse(400, "bad_request",
                                fmt::format("malformed HTTP request: {}", ec.message())),
                  false, /*drain=*/true);
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    bhttp::request<bhttp::string_body> message = parser_->release();
    Request req;
    req.method = std::string(message.method_string());
    req.target = std::string(message.target());
    for (const auto& field : message) {
      req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    req.body = std::move(message.body());
    req.peer_address = client_;
    // A connection on the probe reserve answers one request and closes, to free its slot.
    const bool keep_alive = message.keep_alive() && !reserve_;
    const bool probe = IsProbeTarget(req.target);
    if (reserve_ && !probe) {
      server_.reporter.Hit(LimitReason::kProbesOnly, client_);
      return WriteResponse(
          ErrorResponse(503, "unavailable",
                        "the server is at its connection limit; only /healthz, /readyz and "
                        "/metrics are answered now, try again later"),
          false);
    }
    if (probe) return OnRouted(server_.RouteRequest(req), keep_alive);
    state_ = State::kRouting;
    const bool queued = server_.Submit(
        [self = shared_from_this(), req = std::move(req), keep_alive] {
          Response response = self->server_.RouteRequest(req);
          net::post(self->stream_.get_executor(),
                    [self, response = std::move(response), keep_alive]() mutable {
                      self->OnRouted(std::move(response), keep_alive);
                    });
        });
    if (!queued) {
      WriteResponse(ErrorResponse(503, "unavailable",
                                  "the server has too many requests in progress; try again "
                                  "later"),
                    false);
    }
  }

  void OnRouted(Response response, bool keep_alive) {
    if (state_ == State::kClosed) return;
    if (response.stream) return StartStream(*response.stream);
    WriteResponse(std::move(response), keep_alive);
  }

  void WriteResponse(Response response, bool keep_alive, bool drain = false) {
    state_ = State::kWriting;
    if (server_.stopping_flag.load()) keep_alive = false;
    auto res = std::make_shared<bhttp::response<SharedBody>>();
    res->version(11);
    res->result(static_cast<unsigned>(response.status));
    res->set(bhttp::field::server, "handoff");
    if (!response.content_type.empty()) {
      res->set(bhttp::field::content_type, response.content_type);
    }
    for (auto& [name, value] : response.headers) res->insert(name, value);
    // Browsers must not guess a type (a JSON error must never run as a script), and no
    // cache keeps an API answer: runs change, and their params are nobody else's.
    res->set("X-Content-Type-Options", "nosniff");
    if (response.content_type.starts_with("application/json") &&
        res->find(bhttp::field::cache_control) == res->end()) {
      res->set(bhttp::field::cache_control, "no-store");
    }
    res->body().head = std::move(response.body);
    res->body().tail = std::move(response.shared_body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    stream_.expires_after(server_.options.write_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res, keep_alive, drain](
                           beast::error_code ec, std::size_t) {
                         if (ec) return self->Close();
                         if (!keep_alive) return drain ? self->Drain() : self->Shutdown();
                         self->DoRead();
                       });
  }

  // Sends FIN, then reads and discards what the client still sends (the rest of a body we
  // refused), so that closing does not reset the connection before it read our answer.
  void Drain() {
    state_ = State::kReading;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    drain_deadline_ = std::chrono::steady_clock::now() + kDrainTime;
    ContinueDrain();
  }

  void ContinueDrain() {
    if (drained_ > kDrainBytes || server_.stopping_flag.load()) return Close();
    const auto left = drain_deadline_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return Close();
    stream_.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(left));
    drain_buffer_.resize(16 * 1024);
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->Close();
                              self->drained_ += n;
                              self->ContinueDrain();
                            });
  }

  void Shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    Close();
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    keepalive_timer_.cancel();
    subscription_.reset();
    queue_.clear();  // (in_flight_ stays until its write's handler: the write reads it)
    if (std::exchange(stream_open_, false)) server_.StreamEnded();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  // --- Event streams --------------------------------------------------------------------
  //
  // The journal is read a page at a time on the journal readers, each page written before
  // the next is read (the client paces it), until a page ends it with no live event gone
  // by in the meantime. Live batches are shared with every other follower
  // of the run (EventFanout); what a client has been handed and not yet taken is bounded
  // in bytes (StreamLag), and a client beyond the bound is disconnected: it resumes with
  // Last-Event-ID.

  void StartStream(const EventStream& stream) {
    state_ = State::kStreaming;
    stream_open_ = true;
    server_.StreamStarted();
    // A fixed send buffer: Linux would grow it to 4 MB for a client that does not read,
    // kernel memory per stalled stream that no lag bound sees.
    beast::error_code ignored;
    stream_.socket().set_option(net::socket_base::send_buffer_size(kStreamSendBuffer), ignored);
    run_id_ = stream.run_id;
    last_sent_ = stream.after_seq;
    run_finished_at_start_ = stream.run_finished;
    // Subscribe first, then read the journal: an event committed in between arrives
    // through both and is skipped by seq.
    lag_ = std::make_shared<StreamLag>();
    std::weak_ptr<Session> weak = weak_from_this();
    auto executor = stream_.get_executor();
    const std::size_t max_lag = server_.options.sse_max_lag_bytes;
    subscription_ = server_.fanout.Subscribe(
        run_id_, [weak, executor, lag = lag_,
                  max_lag](const std::shared_ptr<const SseBatch>& batch) {
          // An engine thread: never block, just hand the shared batch to the strand.
          if (lag->dropped.load()) return;
          // A client with nothing unwritten takes any batch, however large: only one that
          // has not taken what it was sent before falls behind.
          const std::size_t n = batch->text.size();
          const std::size_t before = lag->bytes.fetch_add(n);
          if (before > 0 && before + n > max_lag) {
            lag->dropped = true;
            net::post(executor, [weak] {
              if (auto self = weak.lock()) self->DropBehind();
            });
            return;
          }
          net::post(executor, [weak, batch] {
            if (auto self = weak.lock()) self->OnLive(batch);
          });
        });
    static const auto kHeaders = std::make_shared<const std::string>(
        "HTTP/1.1 200 OK\r\n"
        "Server: handoff\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "X-Accel-Buffering: no\r\n"
        "Connection: close\r\n"
        "\r\n");
    Queue(Chunk{kHeaders, 0, kHeaders->size(), 0});
    // The headers go out with the first page.
    ReadJournalPage();
    StartKeepalive();
    WatchForClose();
  }

  void ReadJournalPage() {
    journal_reading_ = true;
    server_.SubmitJournalRead(
        [self = shared_from_this(), run_id = run_id_, after = last_sent_] {
          std::shared_ptr<const SseBatch> page;
          std::size_t count = 0;
          try {
            const std::vector<store::RunEvent> events =
                self->server_.store.GetEvents(run_id, after, kJournalPage);
            count = events.size();
            page = RenderSseBatch(events);
          } catch (const std::exception&) {
            // The store failed: end the stream; the client resumes from what it has.
          }
          net::post(self->stream_.get_executor(), [self, page, count] {
            self->OnJournalPage(page, count);
          });
        });
  }

  void OnJournalPage(const std::shared_ptr<const SseBatch>& page, std::size_t count) {
    journal_reading_ = false;
    if (state_ != State::kStreaming) return;
    if (!page) return Close();
    Append(page, 0);
    // The journal's end, unless live events went by while it was read: they are committed,
    // so the next page has them.
    if (finish_after_write_ ||
        (count < static_cast<std::size_t>(kJournalPage) && missed_seq_ <= last_sent_)) {
      live_ = true;
      if (run_finished_at_start_) finish_after_write_ = true;
    } else if (!writing_ && queue_.empty()) {
      return ReadJournalPage();  // nothing to write first: OnStreamWrite will not ask
    }
    Flush();
  }

  void OnLive(const std::shared_ptr<const SseBatch>& batch) {
    const std::size_t n = batch->text.size();
    if (state_ != State::kStreaming || finish_after_write_ || !live_) {
      // While the journal is read, live events are not kept (a client catching up on a
      // long journal would hold them all): it is read on until it has them.
      if (state_ == State::kStreaming && !live_ && !batch->seqs.empty()) {
        missed_seq_ = std::max(missed_seq_, batch->seqs.back());
      }
      lag_->bytes -= n;
      return;
    }
    Append(batch, n);
    Flush();
  }

  // Queues what `batch` holds after the last event sent; `accounted` is released once it is
  // written (or now, if nothing of it is left to send).
  void Append(const std::shared_ptr<const SseBatch>& batch, std::size_t accounted) {
    const SseBatch::Slice slice =
        finish_after_write_ ? SseBatch::Slice{} : batch->After(last_sent_);
    if (slice.empty()) {
      lag_->bytes -= accounted;
      return;
    }
    Queue(Chunk{std::shared_ptr<const std::string>(batch, &batch->text), slice.begin,
                slice.end, accounted});
    last_sent_ = slice.last_seq;
    if (slice.finishes) finish_after_write_ = true;
  }

  void Queue(Chunk chunk) { queue_.push_back(std::move(chunk)); }

  void Flush() {
    if (state_ != State::kStreaming || writing_) return;
    if (queue_.empty()) {
      if (finish_after_write_ && !journal_reading_) Shutdown();
      return;
    }
    writing_ = true;
    in_flight_.assign(std::make_move_iterator(queue_.begin()),
                      std::make_move_iterator(queue_.end()));
    queue_.clear();
    std::vector<net::const_buffer> buffers;
    buffers.reserve(in_flight_.size());
    for (const Chunk& c : in_flight_) buffers.emplace_back(c.data->data() + c.begin, c.end - c.begin);
    stream_.expires_after(server_.options.write_timeout);
    net::async_write(stream_, buffers,
                     beast::bind_front_handler(&Session::OnStreamWrite, shared_from_this()));
  }

  void OnStreamWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    std::size_t written = 0;
    for (const Chunk& c : in_flight_) written += c.accounted;
    in_flight_.clear();
    lag_->bytes -= written;
    if (ec || state_ != State::kStreaming) return Close();
    if (!live_ && !journal_reading_) ReadJournalPage();
    Flush();
  }

  // The client holds more than sse_max_lag_bytes of live events it has not taken.
  void DropBehind() {
    if (state_ != State::kStreaming) return;
    server_.reporter.Hit(LimitReason::kStreamLag, client_);
    Close();
  }

  void StartKeepalive() {
    keepalive_timer_.expires_after(server_.options.sse_keepalive);
    keepalive_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->state_ != State::kStreaming) return;
      if (!self->writing_ && self->queue_.empty()) {
        static const auto kKeepalive = std::make_shared<const std::string>(": keepalive\n\n");
        self->Queue(Chunk{kKeepalive, 0, kKeepalive->size(), 0});
        self->Flush();
      }
      self->StartKeepalive();
    });
  }

  // An event stream never reads, so a read that completes means the client closed (or
  // sent something it should not): either way the stream ends, and without waiting for
  // the next event or keepalive to notice.
  void WatchForClose() {
    watch_buffer_.resize(512);
    stream_.socket().async_read_some(
        net::buffer(watch_buffer_),
        net::bind_executor(stream_.get_executor(),
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             if (self->state_ != State::kStreaming) return;
                             if (ec) return self->Close();
                             self->WatchForClose();
                           }));
  }

  beast::tcp_stream stream_;
  Server::Impl& server_;
  const std::uint64_t id_;
  const std::string client_;  // the peer's address
  const bool reserve_;        // on the probe reserve
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  State state_ = State::kReading;
  bool first_request_ = true;
  bool awaiting_header_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::size_t drained_ = 0;
  std::vector<char> drain_buffer_;

  // Event stream state; touched only on the strand.
  net::steady_timer keepalive_timer_;
  std::shared_ptr<void> subscription_;
  std::shared_ptr<StreamLag> lag_;
  std::int64_t run_id_ = 0;
  std::int64_t last_sent_ = 0;
  bool run_finished_at_start_ = false;
  bool live_ = false;               // the journal has been read to its end
  bool journal_reading_ = false;    // a page is being read on the pool
  bool finish_after_write_ = false;  // the run's last event is queued
  bool writing_ = false;
  bool stream_open_ = false;        // counted in Server::Impl::streams
  std::deque<Chunk> queue_;         // to write next
  std::vector<Chunk> in_flight_;    // being written
  std::int64_t missed_seq_ = 0;     // the last live event that went by while reading the journal
  std::vector<char> watch_buffer_;
};

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
    std::shared_ptr<Session> session;
    std::shared_ptr<Session> evicted;
    std::optional<LimitReason> refused;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      const std::uint64_t id = ++next_id;
      const ConnectionLimits::Admission admission = limits.Admit(id, client);
      if (!admission.admitted) {
        refused = admission.reason;
      } else {
        session = std::make_shared<Session>(std::move(socket), *this, id, std::move(client),
                                            admission.reserve);
        sessions.emplace(id, session);
        if (admission.evict != 0) {
          auto it = sessions.find(admission.evict);
          if (it != sessions.end()) evicted = it->second.lock();
        }
      }
    }
    if (refused) RefuseNow(socket, *refused);
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
  std::vector<std::shared_ptr<Session>> sessions;
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
