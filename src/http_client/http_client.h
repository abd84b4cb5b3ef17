#pragma once

// A small synchronous HTTP/1.1 client (Boost.Beast) for the `remote` command and our
// black-box tests: plain requests over one kept-alive connection, and Server-Sent Event
// streams read as they arrive. Errors (connection refused, timeouts) are values.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace handoff::http {

// The parts of "http://host[:port][/base]".
struct Url {
  std::string host;
  std::uint16_t port = 80;
  std::string base;  // path prefix without a trailing '/', "" for none
};

// Parses an http:// URL (https is not supported). Returns nullopt and sets *error for
// anything else.
std::optional<Url> ParseUrl(std::string_view url, std::string* error);

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

  // A client of host:port; it connects on the first request.
  Client(std::string host, std::uint16_t port);
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

  // Sends header `name: value` with every later request and stream (Authorization).
  void AddDefaultHeader(std::string name, std::string value);

  // How many connections this client has opened (tests check keep-alive with it).
  int connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace handoff::http
