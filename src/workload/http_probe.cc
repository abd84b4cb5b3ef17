// HTTP and HTTPS readiness probes and metric scrapes. Plain HTTP goes through our client;
// HTTPS through Beast over OpenSSL, without verifying the certificate (test services
// present self-signed ones), kept to this translation unit.

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "handoff/internal/hooks.h"
#include "handoff/t.h"
#include "http_client/http_client.h"
#include "workload/internal.h"

namespace handoff::workload {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

constexpr std::chrono::seconds kProbeTimeout{5};

struct Answer {
  std::string error;  // empty when a response arrived
  int status = 0;
  std::string body;
};

// The traceparent of the test running on this thread ("" if none): a probe or scrape made
// for a test joins its trace, so the service's own spans of it show under the test.
std::string CurrentTraceParent() {
  T* t = internal::CurrentTest();
  return t != nullptr ? t->TraceParent() : std::string();
}

Answer GetTls(const std::string& host, int port, const std::string& path) {
  Answer answer;
  try {
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_none);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    // SNI, for servers that choose a certificate by name.
    SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
    asio::ip::tcp::resolver resolver(io);
    beast::get_lowest_layer(stream).expires_after(kProbeTimeout);
    beast::get_lowest_layer(stream).connect(resolver.resolve(host, std::to_string(port)));
    stream.handshake(asio::ssl::stream_base::client);
    bhttp::request<bhttp::empty_body> req(bhttp::verb::get, path, 11);
    req.set(bhttp::field::host, fmt::format("{}:{}", host, port));
    req.set(bhttp::field::user_agent, "handoff-probe");
    if (std::string traceparent = CurrentTraceParent(); !traceparent.empty()) {
      req.set("traceparent", traceparent);
    }
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1 << 20);
    bhttp::read(stream, buffer, parser);
    answer.status = static_cast<int>(parser.get().result_int());
    answer.body = std::move(parser.get().body());
    beast::error_code ignored;
    stream.shutdown(ignored);
  } catch (const std::exception& e) {
    answer.error = e.what();
  }
  return answer;
}

Answer Get(bool tls, const std::string& host, int port, const std::string& path) {
  if (tls) return GetTls(host, port, path);
  Answer answer;
  http::Client client(host, static_cast<std::uint16_t>(port));
  std::vector<std::pair<std::string, std::string>> headers;
  if (std::string traceparent = CurrentTraceParent(); !traceparent.empty()) {
    headers.emplace_back("traceparent", std::move(traceparent));
  }
  http::ClientResult r = client.Request("GET", path, {}, headers, kProbeTimeout);
  answer.error = std::move(r.error);
  answer.status = r.status;
  answer.body = std::move(r.body);
  return answer;
}

}  // namespace

bool ProbeHttpOnce(const Probe& probe, const std::string& host, int port, std::string* last) {
  const bool tls = probe.kind() == Probe::Kind::kHttps;
  const std::string what = fmt::format("GET {}://{}:{}{}", tls ? "https" : "http", host, port,
                                       probe.path());
  const Answer r = Get(tls, host, port, probe.path());
  if (!r.error.empty()) {
    *last = fmt::format("{}: {}", what, r.error);
    return false;
  }
  if (r.status < probe.min_status() || r.status > probe.max_status()) {
    *last = fmt::format("{}: status {} (want {}-{}): {}", what, r.status, probe.min_status(),
                        probe.max_status(), r.body.substr(0, 200));
    return false;
  }
  for (const std::string& want : probe.body_contains()) {
    if (r.body.find(want) == std::string::npos) {
      *last = fmt::format("{}: body lacks \"{}\": {}", what, want, r.body.substr(0, 200));
      return false;
    }
  }
  return true;
}

std::optional<std::string> HttpGet(const std::string& host, int port, const std::string& path,
                                   std::string* error) {
  Answer r = Get(false, host, port, path);
  if (!r.error.empty()) {
    *error = std::move(r.error);
    return std::nullopt;
  }
  if (r.status != 200) {
    *error = fmt::format("HTTP {}: {}", r.status, r.body.substr(0, 200));
    return std::nullopt;
  }
  return std::move(r.body);
}

}  // namespace handoff::workload
