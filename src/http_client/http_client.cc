#include "http_client/http_client.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <sys/stat.h>

namespace handoff::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::uint64_t kMaxResponseBody = 256u << 20;

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == bhttp::error::partial_message || ec == net::ssl::error::stream_truncated;
}

// The last error OpenSSL queued, as its reason string, and the queue emptied.
std::string OpenSslError() {
  unsigned long code = 0;
  unsigned long last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(last);
  return reason != nullptr ? reason : "unknown error";
}

// Never asks for a passphrase on the terminal: an encrypted key is an error.
int NoPassphrase(char*, int, int, void*) { return 0; }

// Says what a TLS error means for the user: which side refused what, and what to give.
std::string DescribeTlsError(const beast::error_code& ec) {
  if (ec.category() != net::error::get_ssl_category()) return ec.message();
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_WRONG_VERSION_NUMBER:
      return fmt::format("{} (is the server serving plain http://?)", ec.message());
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      return fmt::format(
          "{}: the server refused the connection's client certificate (missing, expired, or "
          "not signed by the CA it trusts: --cert and --key)",
          ec.message());
    default:
      return ec.message();
  }
}

// One connection to the server: plain TCP, or TLS over it.
struct Connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;

  // The TCP stream under it: its deadline and its socket.
  beast::tcp_stream& Tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Calls `f` with the stream requests go over.
  template <typename F>
  void With(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(*plain);
    }
  }
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

// One Server-Sent Events block ("id: 1\nevent: run\ndata: {...}") parsed into its fields.
struct SseEvent {
  std::int64_t id = 0;
  bool has_id = false;
  std::string type;
  std::string data;
  bool has_data = false;
};

SseEvent ParseSseBlock(std::string_view block) {
  SseEvent event;
  while (!block.empty()) {
    const std::size_t newline = block.find('\n');
    std::string_view line = block.substr(0, newline);
    block = newline == std::string_view::npos ? std::string_view() : block.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == ':') continue;  // comments: keepalives
    const std::size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "id") {
      std::int64_t id = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
      if (ec == std::errc() && end == value.data() + value.size()) {
        event.id = id;
        event.has_id = true;
      }
    } else if (field == "event") {
      event.type = std::string(value);
    } else if (field == "data") {
      if (event.has_data) event.data += '\n';
      event.data.append(value);
      event.has_data = true;
    }
  }
  return event;
}

}  // namespace

std::optional<Url> ParseUrl(std::string_view url, std::string* error) {
  Url out;
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
    out.https = true;
    out.port = 443;
  } else {
    *error = fmt::format("{}: not an http:// or https:// URL", url);
    return std::nullopt;
  }
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view base = rest.substr(slash);
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    out.base = std::string(base);
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {  // [::1]:8080
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = fmt::format("{}: unterminated [ in the host", url);
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        *error = fmt::format("{}: unexpected characters after the host", url);
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    *error = fmt::format("{}: no host", url);
    return std::nullopt;
  }
  out.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      *error = fmt::format("{}: bad port \"{}\"", url, port);
      return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

std::string ClientResult::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

class ClientTls {
 public:
  explicit ClientTls(net::ssl::context context) : context_(std::move(context)) {}

  // The context connections are made with (Asio wants it mutable; it is not changed).
  net::ssl::context& context() const { return context_; }

 private:
  mutable net::ssl::context context_;
};

Result<std::shared_ptr<const ClientTls>> LoadClientTls(const ClientTlsOptions& options) {
  ERR_clear_error();
  net::ssl::context context(net::ssl::context::tls_client);
  SSL_CTX* ctx = context.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_default_passwd_cb(ctx, &NoPassphrase);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const auto fail = [](std::string_view what, const std::string& file, std::string_view kind) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      return Error{ErrorCode::kInvalid,
                   fmt::format("{} {}: cannot read it: {}", what, file, std::strerror(errno))};
    }
    return Error{ErrorCode::kInvalid,
                 fmt::format("{} {}: not {} ({})", what, file, kind, OpenSslError())};
  };
  if (options.ca_file.empty()) {
    SSL_CTX_set_default_verify_paths(ctx);
  } else if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    return fail("CA file", options.ca_file, "a PEM certificate");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return Error{ErrorCode::kInvalid,
                 "a client certificate needs its key, and a key its certificate: give both"};
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      return fail("client certificate", options.cert_file, "a usable PEM certificate");
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      if (ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH) {
        return Error{ErrorCode::kInvalid,
                     fmt::format("client key {}: does not match the certificate {} ({})",
                                 options.key_file, options.cert_file, OpenSslError())};
      }
      return fail("client key", options.key_file, "a usable unencrypted PEM private key");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return Error{ErrorCode::kInvalid,
                   fmt::format("client key {}: does not match the certificate {} ({})",
                               options.key_file, options.cert_file, OpenSslError())};
    }
  }
  ERR_clear_error();
  return std::shared_ptr<const ClientTls>(std::make_shared<ClientTls>(std::move(context)));
}

struct Client::Impl {
  std::string host;
  std::uint16_t port;
  std::shared_ptr<const ClientTls> tls;  // null: plain HTTP
  net::io_context ioc;
  std::optional<Connection> stream;  // the kept-alive connection, if open
  beast::flat_buffer buffer;
  int connections_opened = 0;
  std::vector<std::pair<std::string, std::string>> default_headers;  // on every request
  std::uint64_t max_body = kMaxResponseBody;  // of a response Request reads

  // Runs the io_context until the asynchronous operation started by `start` completes;
  // the stream's expiry turns a stuck operation into beast::error::timeout.
  template <typename Start>
  beast::error_code Run(Start&& start) {
    beast::error_code result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  // Opens a new connection into `out` (and does the TLS handshake); returns an error
  // message or "".
  std::string Connect(std::optional<Connection>& out, std::chrono::milliseconds timeout) {
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return fmt::format("cannot resolve {}: {}", host, ec.message());
    beast::tcp_stream tcp_stream(ioc);
    tcp_stream.expires_after(timeout);
    ec = Run([&](auto handler) {
      tcp_stream.async_connect(endpoints,
                               [handler](beast::error_code e, const tcp::endpoint&) mutable {
                                 handler(e);
                               });
    });
    if (ec) {
      if (ec == net::error::connection_refused) {
        return fmt::format("cannot connect to {}:{}: connection refused (is the server running?)",
                           host, port);
      }
      return fmt::format("cannot connect to {}:{}: {}", host, port, ec.message());
    }
    out.emplace();
    if (!tls) {
      out->plain.emplace(std::move(tcp_stream));
      ++connections_opened;
      return "";
    }
    auto& stream = out->tls.emplace(std::move(tcp_stream), tls->context());
    SSL* ssl = stream.native_handle();
    // The certificate must be for the name or address the user gave (curl's default).
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    beast::error_code not_address;
    net::ip::make_address(host, not_address);
    if (not_address) {
      SSL_set_tlsext_host_name(ssl, host.c_str());
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    }
    ec = Run([&](auto handler) {
      stream.async_handshake(net::ssl::stream_base::client,
                             [handler](beast::error_code e) mutable { handler(e); });
    });
    if (ec) {
      const long verify = SSL_get_verify_result(ssl);
      out.reset();
      if (ec == beast::error::timeout) {
        return fmt::format("TLS handshake with {}:{}: no answer within {} ms", host, port,
                           timeout.count());
      }
      if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        return fmt::format(
            "TLS handshake with {}:{}: certificate verify failed: {} (the server's "
            "certificate is not for \"{}\"; use the name it was issued for)",
            host, port, X509_verify_cert_error_string(verify), host);
      }
      if (verify != X509_V_OK) {
        return fmt::format(
            "TLS handshake with {}:{}: certificate verify failed: {} (trust the CA that "
            "signed the server's certificate: use --cacert FILE)",
            host, port, X509_verify_cert_error_string(verify));
      }
      return fmt::format("TLS handshake with {}:{}: {}", host, port, DescribeTlsError(ec));
    }
    ++connections_opened;
    return "";
  }

  bhttp::request<bhttp::string_body> MakeRequest(
      std::string_view method, std::string_view target, std::string_view body,
      const std::vector<std::pair<std::string, std::string>>& headers) const {
    bhttp::request<bhttp::string_body> req;
    req.version(11);
    const bhttp::verb verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown) {
      req.method_string(method);
    } else {
      req.method(verb);
    }
    req.target(target);
    const std::uint16_t default_port = tls ? 443 : 80;
    req.set(bhttp::field::host, port == default_port ? host : fmt::format("{}:{}", host, port));
    req.set(bhttp::field::user_agent, "handoff");
    bool has_content_type = false;
    for (const auto& [name, value] : default_headers) req.insert(name, value);
    for (const auto& [name, value] : headers) {
      if (EqualsIgnoreCase(name, "Content-Type")) has_content_type = true;
      req.insert(name, value);
    }
    if (!body.empty() && !has_content_type) req.set(bhttp::field::content_type, "application/json");
    req.body() = std::string(body);
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }
};

Client::Client(std::string host, std::uint16_t port, std::shared_ptr<const ClientTls> tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->tls = std::move(tls);
}

Client::~Client() = default;

int Client::connections_opened() const { return impl_->connections_opened; }

void Client::SetMaxResponseBody(std::uint64_t bytes) { impl_->max_body = bytes; }

void Client::AddDefaultHeader(std::string name, std::string value) {
  impl_->default_headers.emplace_back(std::move(name), std::move(value));
}

ClientResult Client::Request(std::string_view method, std::string_view target,
                             std::string_view body,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  ClientResult result;
  const bhttp::request<bhttp::string_body> req = s.MakeRequest(method, target, body, headers);
  // A kept-alive connection the server has since closed fails at once: then retry once on
  // a new connection (the server had not seen the request).
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = s.stream.has_value();
    if (!reused) {
      s.buffer.clear();
      if (std::string error = s.Connect(s.stream, timeout); !error.empty()) {
        result.error = std::move(error);
        return result;
      }
    }
    s.stream->Tcp().expires_after(timeout);
    beast::error_code ec = s.Run([&](auto handler) {
      s.stream->With([&](auto& st) {
        bhttp::async_write(st, req,
                         [handler](beast::error_code e, std::size_t) mutable { handler(e); });
      });
    });
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(s.max_body);
    if (!ec) {
      ec = s.Run([&](auto handler) {
        s.stream->With([&](auto& st) {
          bhttp::async_read(st, s.buffer, parser,
                          [handler](beast::error_code e, std::size_t) mutable { handler(e); });
        });
      });
    }
    if (ec == bhttp::error::body_limit && parser.is_header_done()) {
      // A body larger than the caller takes: its status and headers, no body, and the
      // connection closed (the rest of the body is never read).
      result.status = static_cast<int>(parser.get().result_int());
      for (const auto& field : parser.get()) {
        result.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      s.stream.reset();
      s.buffer.clear();
      return result;
    }
    if (ec) {
      s.stream.reset();
      s.buffer.clear();
      if (reused && attempt == 0 && IsStaleConnectionError(ec)) continue;
      result.error = ec == beast::error::timeout
                         ? fmt::format("{} {}: no answer within {} ms", method, target,
                                       timeout.count())
                         : fmt::format("{} {}: {}", method, target, DescribeTlsError(ec));
      return result;
    }
    bhttp::response<bhttp::string_body> res = parser.release();
    result.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      result.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    result.body = std::move(res.body());
    if (!res.keep_alive()) {
      beast::error_code ignored;
      s.stream->Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
      s.stream.reset();
      s.buffer.clear();
    }
    return result;
  }
  return result;
}

StreamResult Client::StreamEvents(std::string_view target, std::int64_t last_event_id,
                                  const EventCallback& on_event,
                                  std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  StreamResult result;
  result.last_event_id = last_event_id;
  std::optional<Connection> stream;
  if (std::string error = s.Connect(stream, timeout); !error.empty()) {
    result.error = std::move(error);
    return result;
  }
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Accept", "text/event-stream"}, {"Cache-Control", "no-cache"}};
  if (last_event_id > 0) headers.emplace_back("Last-Event-ID", std::to_string(last_event_id));
  const bhttp::request<bhttp::string_body> req = s.MakeRequest("GET", target, {}, headers);
  beast::flat_buffer buffer;
  stream->Tcp().expires_after(timeout);
  beast::error_code ec = s.Run([&](auto handler) {
    stream->With([&](auto& st) {
      bhttp::async_write(st, req,
                       [handler](beast::error_code e, std::size_t) mutable { handler(e); });
    });
  });
  bhttp::response_parser<bhttp::empty_body> header_parser;
  if (!ec) {
    ec = s.Run([&](auto handler) {
      stream->With([&](auto& st) {
        bhttp::async_read_header(st, buffer, header_parser,
                               [handler](beast::error_code e, std::size_t) mutable { handler(e); });
      });
    });
  }
  if (ec) {
    result.error = fmt::format("GET {}: {}", target, DescribeTlsError(ec));
    return result;
  }
  result.status = static_cast<int>(header_parser.get().result_int());
  if (result.status != 200) {
    // An error document: read it whole.
    bhttp::response_parser<bhttp::string_body> parser(std::move(header_parser));
    parser.body_limit(kMaxResponseBody);
    ec = s.Run([&](auto handler) {
      stream->With([&](auto& st) {
        bhttp::async_read(st, buffer, parser,
                        [handler](beast::error_code e, std::size_t) mutable { handler(e); });
      });
    });
    if (ec) result.error = fmt::format("GET {}: {}", target, DescribeTlsError(ec));
    result.body = parser.get().body();
    return result;
  }

  bhttp::response_parser<bhttp::buffer_body> parser(std::move(header_parser));
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  std::string pending;
  char chunk[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    stream->Tcp().expires_after(timeout);
    ec = s.Run([&](auto handler) {
      // read_some: hand over each event as it arrives, not when the chunk is full.
      stream->With([&](auto& st) {
        bhttp::async_read_some(st, buffer, parser,
                             [handler](beast::error_code e, std::size_t) mutable { handler(e); });
      });
    });
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      if (ec == beast::error::timeout) {
        result.error = fmt::format("GET {}: no data within {} ms", target, timeout.count());
      } else if (ec != bhttp::error::end_of_stream) {
        result.error = fmt::format("GET {}: {}", target, DescribeTlsError(ec));
      }
      return result;
    }
    pending.append(chunk, sizeof chunk - parser.get().body().size);
    // Events end with a blank line; normalise CRLF so both separators are found.
    while (true) {
      const std::size_t lf = pending.find("\n\n");
      const std::size_t crlf = pending.find("\r\n\r\n");
      if (lf == std::string::npos && crlf == std::string::npos) break;
      const std::size_t at = std::min(lf, crlf);
      const std::size_t separator = at == crlf ? 4 : 2;
      const SseEvent event = ParseSseBlock(std::string_view(pending).substr(0, at));
      pending.erase(0, at + separator);
      if (event.has_id) result.last_event_id = event.id;
      if (!event.has_data && event.type.empty()) continue;
      if (!on_event(event.id, event.type.empty() ? "message" : event.type, event.data)) {
        beast::error_code ignored;
        stream->Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
        return result;
      }
    }
  }
  return result;
}

}  // namespace handoff::http
