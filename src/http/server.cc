#include "http/server.h"

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
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
#include <vector>

#include "http/router.h"

namespace handoff::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr int kJournalPage = 500;
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

// The lines of one Server-Sent Event. `data` is one JSON line; a newline in it would end
// the field, so each line becomes its own data field.
void AppendSseEvent(std::string& out, const store::RunEvent& event) {
  fmt::format_to(std::back_inserter(out), "id: {}\nevent: {}\n", event.seq, event.type);
  std::string_view data = event.data;
  while (true) {
    const std::size_t newline = data.find('\n');
    out += "data: ";
    out.append(data.substr(0, newline));
    out += '\n';
    if (newline == std::string_view::npos) break;
    data.remove_prefix(newline + 1);
  }
  out += '\n';
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

}  // namespace

struct Server::Impl {
  Impl(ServeApi& api_in, store::Store& store_in, Options options_in)
      : api(api_in), store(store_in), options(std::move(options_in)), cache(options.cache_bytes) {}

  bool Listen(const tcp::endpoint& endpoint, std::string* error);
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Unregister(Session* session);

  ServeApi& api;
  store::Store& store;
  const Options options;
  RunTestsCache cache;

  // Declared before the io_context: sessions destroyed with its handlers unregister here.
  std::mutex mu;
  std::condition_variable sessions_changed;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  bool stopping = false;
  std::atomic<bool> stopping_flag{false};

  net::io_context ioc;
  // Keeps the threads running while no operation is pending (between a session's last
  // handler and Stop's posted closes).
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor{net::make_strand(ioc)};
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  bool started = false;
  bool stopped = false;
};

namespace {

// What an event stream's subscription callback shares with its session: the callback runs
// on an engine thread and may outlive the session.
struct LiveBacklog {
  std::atomic<std::size_t> posted{0};  // events posted to the strand, not yet handled
};

// One connection: reads requests, routes them, writes responses; or, for an event stream,
// writes events until the run finishes or the client goes away.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server::Impl& server)
      : stream_(std::move(socket)), server_(server), keepalive_timer_(stream_.get_executor()) {}

  ~Session() { server_.Unregister(this); }

  // Starts reading requests, or answers 503 when the server has too many connections.
  void Start(bool over_capacity) {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), over_capacity] {
      if (over_capacity) {
        self->WriteResponse(
            ErrorResponse(503, "unavailable", "too many connections; try again later"), false);
      } else {
        self->DoRead();
      }
    });
  }

  // Ends the session for Server::Stop: idle connections and streams close now; a response
  // being written finishes first (DoRead then sees the server stopping).
  void CloseForStop() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ != State::kWriting) self->Close();
    });
  }

 private:
  enum class State { kReading, kWriting, kStreaming, kClosed };

  void DoRead() {
    if (server_.stopping_flag.load()) return Close();
    state_ = State::kReading;
    parser_.emplace();
    parser_->body_limit(server_.options.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
    // Waiting for the next request of a kept-alive connection is idle time; once it
    // starts, the whole request must arrive within read_timeout.
    stream_.expires_after(first_request_ ? server_.options.read_timeout
                                         : server_.options.idle_timeout);
    first_request_ = false;
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnReadHeader, shared_from_this()));
  }

  void OnReadHeader(beast::error_code ec, std::size_t) {
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
    beast::error_code peer_ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(peer_ec);
    if (!peer_ec) req.peer_address = peer.address().to_string();
    const bool keep_alive = message.keep_alive();
    Response response =
        Route(req, server_.api, server_.store, &server_.cache, &server_.options.access);
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
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  // --- Event streams --------------------------------------------------------------------

  void StartStream(const EventStream& stream) {
    state_ = State::kStreaming;
    run_id_ = stream.run_id;
    last_sent_ = stream.after_seq;
    run_finished_at_start_ = stream.run_finished;
    // Subscribe first, then read the journal: an event committed in between arrives
    // through both and is skipped by seq.
    backlog_ = std::make_shared<LiveBacklog>();
    std::weak_ptr<Session> weak = weak_from_this();
    auto executor = stream_.get_executor();
    const std::size_t max_backlog = server_.options.sse_max_backlog;
    subscription_ = server_.api.Subscribe(
        run_id_, [weak, executor, backlog = backlog_,
                  max_backlog](const std::vector<store::RunEvent>& events) {
          // An engine thread: never block, just hand a copy to the session's strand.
          const std::size_t before = backlog->posted.fetch_add(events.size());
          if (before + events.size() > max_backlog) {
            backlog->posted.fetch_sub(events.size());
            net::post(executor, [weak] {
              if (auto self = weak.lock()) self->Close();
            });
            return;
          }
          net::post(executor, [weak, backlog, events] {
            backlog->posted.fetch_sub(events.size());
            if (auto self = weak.lock()) self->OnLive(events);
          });
        });
    pending_ =
        "HTTP/1.1 200 OK\r\n"
        "Server: handoff\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "X-Accel-Buffering: no\r\n"
        "Connection: close\r\n"
        "\r\n";
    // The first page goes out with the headers.
    ReadJournalPage();
    Flush();
    StartKeepalive();
    WatchForClose();
  }

  // Appends the next page of the journal; at its end, switches to the live events.
  void ReadJournalPage() {
    const std::vector<store::RunEvent> events =
        server_.store.GetEvents(run_id_, last_sent_, kJournalPage);
    for (const store::RunEvent& event : events) Append(event);
    if (static_cast<int>(events.size()) >= kJournalPage && !finish_after_write_) return;
    live_ = true;
    if (run_finished_at_start_) finish_after_write_ = true;
    while (!live_queue_.empty() && !finish_after_write_) {
      Append(live_queue_.front());
      live_queue_.pop_front();
    }
    live_queue_.clear();
  }

  void OnLive(const std::vector<store::RunEvent>& events) {
    if (state_ != State::kStreaming || finish_after_write_) return;
    if (!live_) {
      live_queue_.insert(live_queue_.end(), events.begin(), events.end());
      if (live_queue_.size() > server_.options.sse_max_backlog) Close();
      return;
    }
    for (const store::RunEvent& event : events) Append(event);
    Flush();
  }

  void Append(const store::RunEvent& event) {
    if (event.seq <= last_sent_ || finish_after_write_) return;
    AppendSseEvent(pending_, event);
    ++pending_events_;
    last_sent_ = event.seq;
    if (IsRunFinishedEvent(event)) finish_after_write_ = true;
    // The journal is paced by the writes; only live events can pile up.
    if (live_ && pending_events_ > server_.options.sse_max_backlog) Close();
  }

  void Flush() {
    if (state_ != State::kStreaming || writing_ || pending_.empty()) return;
    writing_ = true;
    out_.swap(pending_);
    pending_.clear();
    pending_events_ = 0;
    stream_.expires_after(server_.options.write_timeout);
    net::async_write(stream_, net::buffer(out_),
                     beast::bind_front_handler(&Session::OnStreamWrite, shared_from_this()));
  }

  void OnStreamWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    out_.clear();
    if (ec || state_ != State::kStreaming) return Close();
    if (!live_) ReadJournalPage();
    if (finish_after_write_ && pending_.empty()) return Shutdown();
    Flush();
  }

  void StartKeepalive() {
    keepalive_timer_.expires_after(server_.options.sse_keepalive);
    keepalive_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->state_ != State::kStreaming) return;
      if (!self->writing_ && self->pending_.empty()) {
        self->pending_ = ": keepalive\n\n";
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
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  State state_ = State::kReading;
  bool first_request_ = true;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::size_t drained_ = 0;
  std::vector<char> drain_buffer_;

  // Event stream state; touched only on the strand.
  net::steady_timer keepalive_timer_;
  std::shared_ptr<void> subscription_;
  std::shared_ptr<LiveBacklog> backlog_;
  std::int64_t run_id_ = 0;
  std::int64_t last_sent_ = 0;
  bool run_finished_at_start_ = false;
  bool live_ = false;                     // the journal has been read to its end
  bool finish_after_write_ = false;       // the run's last event is queued
  bool writing_ = false;
  std::string out_;                       // being written
  std::string pending_;                   // to write next
  std::size_t pending_events_ = 0;
  std::deque<store::RunEvent> live_queue_;  // live events received while reading the journal
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
    std::shared_ptr<Session> session;
    bool over_capacity = false;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      over_capacity = sessions.size() >= options.max_connections;
      session = std::make_shared<Session>(std::move(socket), *this);
      sessions.emplace(session.get(), session);
    }
    session->Start(over_capacity);
  }
  // Errors such as EMFILE are per connection: keep accepting.
  Accept();
}

void Server::Impl::Unregister(Session* session) {
  std::lock_guard lock(mu);
  sessions.erase(session);
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
  s.work.reset();
  s.ioc.stop();
  for (std::thread& thread : s.threads) thread.join();
  s.threads.clear();
  beast::error_code ignored;
  s.acceptor.close(ignored);  // no thread is left to race with
}

}  // namespace handoff::http
