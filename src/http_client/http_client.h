#pragma once

// A small synchronous HTTP/1.1 client (Boost.Beast) for the `remote` command and our
// black-box tests: plain requests over one kept-alive connection, and Server-Sent Event
// streams read as they arrive, over TCP or TLS (the server's certificate verified, and its
// name; a client certificate for mTLS). Errors (connection refused, timeouts, a certificate
// that does not verify) are values.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace handoff::http {

// The parts of "http[s]://host[:port][/base]".
struct Url {
  std::string host;
  std::uint16_t port = 80;  // 443 for https:// without a port
  std::string base;         // path prefix without a trailing '/', "" for none
  bool https = false;
};

// Parses an http:// or https:// URL. Returns nullopt and sets *error for anything else.
std::optional<Url> ParseUrl(std::string_view url, std::string* error);

// What a client trusts and presents over TLS (PEM files).
struct ClientTlsOptions {
  std::string ca_file;    // CAs that may sign the server's certificate; empty: the system's
  std::string cert_file;  // a client certificate (mTLS), with key_file; empty: none
  std::string key_file;
};

// A loaded TLS client configuration, shared by the clients that use it.
class ClientTls;

// Loads `options`; an error names the file and what is wrong with it.
Result<std::shared_ptr<const ClientTls>> LoadClientTls(const ClientTlsOptions& options);

// The answer to Client::Request.
struct ClientResult {
  std::string error;  // empty when a response arrived (whatever its status)
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Returns true if and only if a response arrived.
  bool ok() const { return error.empty(); }
  // Returns the value of header `name` (any case), or "".
  std::string Header(std::string_view name) const;
};

// The end of Client::StreamEvents.
struct StreamResult {
  std::string error;  // empty when the server ended the stream or the callback stopped it
  int status = 0;     // of the response; not 200 means `body` has the error document
  std::string body;
  std::int64_t last_event_id = 0;  // id of the last event received, for resuming

  bool ok() const { return error.empty(); }
};

// A client of one server. Not thread-safe: use one per thread.
class Client {
 public:
  // Called for each event of a stream; returns false to stop reading.
  using EventCallback =
      std::function<bool(std::int64_t id, const std::string& type, const std::string& data)>;

  // A client of host:port; it connects on the first request, over TLS with `tls` when it
  // is set (verifying that the server's certificate is for `host`).
  Client(std::string host, std::uint16_t port, std::shared_ptr<const ClientTls> tls = nullptr);
  ~Client();

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and reads its response, reusing the open connection when the
  // server kept it alive. `timeout` bounds the whole exchange.
  ClientResult Request(std::string_view method, std::string_view target,
                       std::string_view body = {},
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // GETs an event stream on a connection of its own and calls `on_event` for each event
  // until the server ends the stream or `on_event` returns false. `last_event_id` > 0 is
  // sent as Last-Event-ID; `timeout` bounds each wait for more data.
  StreamResult StreamEvents(std::string_view target, std::int64_t last_event_id,
                            const EventCallback& on_event,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Bounds the body of a response Request reads (256 MiB unless set): a larger one comes
  // back as its status and headers with an empty body, and its connection is closed.
  void SetMaxResponseBody(std::uint64_t bytes);

  // Sends header `name: value` with every later request and stream (Authorization).
  void AddDefaultHeader(std::string name, std::string value);

  // How many connections this client has opened (tests check keep-alive with it).
  int connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace handoff::http
