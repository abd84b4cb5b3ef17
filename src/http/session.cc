#include "http/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "http/server_impl.h"

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
// How long, and how much, to read and discard after an error response that closes the
// connection, so the client reads our answer instead of a reset.
constexpr std::chrono::milliseconds kDrainTime{1000};
constexpr std::size_t kDrainBytes = 16u << 20;
// How long a TLS session waits for the client's close_notify once it sent its own.
constexpr std::chrono::milliseconds kTlsShutdownTime{1000};

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

// Returns true if `target` asks for a probe: answered at once on the I/O thread (they read
// nothing slow), and the only paths the probe reserve answers.
bool IsProbeTarget(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

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

// Whether a session's stream is TLS.
template <typename Stream>
constexpr bool kIsTls = !std::is_same_v<Stream, beast::tcp_stream>;

// One connection: reads requests, has them routed, writes responses; or, for an event
// stream, writes events until the run finishes or the client goes away. `Stream` is
// beast::tcp_stream (plain HTTP) or beast::ssl_stream over one (HTTPS): the two differ only
// in the handshake (Handshake), the end of the connection (Shutdown) and in what a request
// learns of its connection; deadlines and raw socket work go to the TCP stream below (Tcp).
template <typename Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  // A session of `server` on `stream_args` (a socket; and a TLS context for HTTPS), which
  // keeps `context` (that TLS context) alive as long as the stream.
  template <typename... StreamArgs>
  Session(std::shared_ptr<void> context, Server::Impl& server, std::uint64_t id,
          std::string client, bool reserve, StreamArgs&&... stream_args)
      : context_(std::move(context)),
        stream_(std::forward<StreamArgs>(stream_args)...),
        server_(server),
        id_(id),
        client_(std::move(client)),
        reserve_(reserve),
        accepted_at_(std::chrono::steady_clock::now()),
        keepalive_timer_(stream_.get_executor()) {}

  ~Session() override { server_.Unregister(id_); }

  // Connection
  void Start() override {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kIsTls<Stream>) {
        self->Handshake();
      } else {
        self->DoRead();
      }
    });
  }

  void CloseForStop() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->state_ != State::kWriting && self->state_ != State::kRouting) self->Close();
    });
  }

  void Evict() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->state_ == State::kReading && self->awaiting_header_) self->Close();
    });
  }

 private:
  // kShuttingDown: a TLS session sends its close_notify; nothing else may be written.
  enum class State { kReading, kRouting, kWriting, kStreaming, kShuttingDown, kClosed };

  // The TCP stream under the session's stream: its deadlines and its socket.
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  // The TLS handshake, within the header deadline of the first request (counted from the
  // accept): a client that does not complete it, speaks plain HTTP, or (mTLS) presents no
  // valid certificate is closed without an answer.
  void Handshake() {
    state_ = State::kReading;
    awaiting_header_ = true;
    Tcp().expires_at(accepted_at_ + server_.options.header_timeout);
    stream_.async_handshake(
        net::ssl::stream_base::server,
        beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec) {
      const bool ssl_error = ec.category() == net::error::get_ssl_category();
      auto [failure, detail] = ClassifyHandshakeFailure(
          stream_.native_handle(), ssl_error ? static_cast<unsigned long>(ec.value()) : 0,
          ec == beast::error::timeout, ec.message());
      server_.handshakes.Hit(failure, client_, detail);
      return Close();
    }
    if (server_.options.tls->requires_client_certificates()) {
      client_cert_name_ = PeerCertificateName(stream_.native_handle());
      // A verified certificate that names nobody cannot be told apart from any other:
      // refused like an unverified one, rather than let in as an anonymous caller.
      if (client_cert_name_.empty()) {
        server_.handshakes.Hit(HandshakeFailure::kClientCertificateRefused, client_,
                               "the client's certificate has no usable name (no CN or DNS "
                               "name, or a control character in it)");
        return Close();
      }
    }
    DoRead();
  }

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
    Tcp().expires_after(server_.options.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(4096),
        [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
          if (ec) return self->Close();
          self->buffer_.commit(n);
          self->ReadHeader();
        });
  }

  void ReadHeader() {
    // The first request's header is due header_timeout after the accept (a TLS handshake
    // spends from the same time); a kept-alive connection's from its request's first byte.
    if (requests_ == 0) {
      Tcp().expires_at(accepted_at_ + server_.options.header_timeout);
    } else {
      Tcp().expires_after(server_.options.header_timeout);
    }
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnReadHeader, this->shared_from_this()));
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
    Tcp().expires_after(server_.options.read_timeout);
    const auto expect = parser_->get()[bhttp::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = this->shared_from_this()](beast::error_code write_ec, std::size_t) {
                         if (write_ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, this->shared_from_this()));
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
    req.secure = kIsTls<Stream>;
    req.client_cert_name = client_cert_name_;
    ++requests_;
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
        [self = this->shared_from_this(), req = std::move(req), keep_alive] {
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
    Tcp().expires_after(server_.options.write_timeout);
    bhttp::async_write(stream_, *res,
                       [self = this->shared_from_this(), res, keep_alive, drain](
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
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    drain_deadline_ = std::chrono::steady_clock::now() + kDrainTime;
    ContinueDrain();
  }

  void ContinueDrain() {
    if (drained_ > kDrainBytes || server_.stopping_flag.load()) return Close();
    const auto left = drain_deadline_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return Close();
    Tcp().expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(left));
    drain_buffer_.resize(16 * 1024);
    Tcp().async_read_some(net::buffer(drain_buffer_),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->Close();
                              self->drained_ += n;
                              self->ContinueDrain();
                            });
  }

  // Ends the connection after its last response: FIN, or over TLS a close_notify first,
  // so that a client reading to the end of the connection (an event stream) knows the end
  // is real and not a truncation.
  void Shutdown() {
    if constexpr (kIsTls<Stream>) {
      if (state_ == State::kClosed || state_ == State::kShuttingDown) return;
      state_ = State::kShuttingDown;
      Tcp().expires_after(kTlsShutdownTime);
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->Close(); });
    } else {
      beast::error_code ignored;
      Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
      Close();
    }
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    keepalive_timer_.cancel();
    subscription_.reset();
    queue_.clear();  // (in_flight_ stays until its write's handler: the write reads it)
    if (std::exchange(stream_open_, false)) server_.StreamEnded();
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().close();
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
    Tcp().socket().set_option(net::socket_base::send_buffer_size(kStreamSendBuffer), ignored);
    run_id_ = stream.run_id;
    last_sent_ = stream.after_seq;
    run_finished_at_start_ = stream.run_finished;
    // Subscribe first, then read the journal: an event committed in between arrives
    // through both and is skipped by seq.
    lag_ = std::make_shared<StreamLag>();
    std::weak_ptr<Session> weak = this->weak_from_this();
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
        [self = this->shared_from_this(), run_id = run_id_, after = last_sent_] {
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
    Tcp().expires_after(server_.options.write_timeout);
    net::async_write(stream_, buffers,
                     beast::bind_front_handler(&Session::OnStreamWrite, this->shared_from_this()));
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
    keepalive_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
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
    Tcp().socket().async_read_some(
        net::buffer(watch_buffer_),
        net::bind_executor(stream_.get_executor(),
                           [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                             if (self->state_ != State::kStreaming) return;
                             if (ec) return self->Close();
                             self->WatchForClose();
                           }));
  }

  std::shared_ptr<void> context_;  // before stream_: outlives it
  Stream stream_;
  Server::Impl& server_;
  const std::uint64_t id_;
  const std::string client_;  // the peer's address
  const bool reserve_;        // on the probe reserve
  const std::chrono::steady_clock::time_point accepted_at_;
  std::string client_cert_name_;  // of a verified client certificate (mTLS)
  std::uint64_t requests_ = 0;    // requests read so far
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

using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace

std::shared_ptr<Connection> NewSession(tcp::socket&& socket, Server::Impl& server,
                                       std::uint64_t id, std::string client, bool reserve,
                                       std::shared_ptr<net::ssl::context> tls) {
  if (tls) {
    // The session holds the context it was made with: a reload replaces the server's, not
    // the one this connection's TLS state came from.
    net::ssl::context& context = *tls;
    return std::make_shared<TlsSession>(std::move(tls), server, id, std::move(client), reserve,
                                        std::move(socket), context);
  }
  return std::make_shared<PlainSession>(nullptr, server, id, std::move(client), reserve,
                                        std::move(socket));
}

}  // namespace handoff::http
