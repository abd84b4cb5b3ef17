#include "workload/docker_client.h"

#include "workload/docker_answers.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <thread>

namespace handoff::workload {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using TcpStream = beast::tcp_stream;
using UnixStream = beast::basic_stream<net::local::stream_protocol>;
using Request = bhttp::request<bhttp::string_body>;

// The newest API version whose requests and answers, as used here, this client knows.
constexpr std::string_view kNewestApiVersion = "1.44";
constexpr std::size_t kMaxBody = 64u << 20;
constexpr std::size_t kMaxLine = 1u << 20;
constexpr std::uint32_t kMaxFrame = 16u << 20;
constexpr std::size_t kMaxExecOutput = 16u << 20;

// Runs `ioc` until the operations `start` begins complete; returns the first error.
template <typename Start>
beast::error_code Run(net::io_context& ioc, Start&& start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) {
    if (!result) result = ec;
  });
  ioc.restart();
  ioc.run();
  return result;
}

std::string Describe(const beast::error_code& ec, Clock::duration timeout) {
  if (ec == beast::error::timeout) {
    return fmt::format("timed out after {} ms",
                       std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  }
  return ec.message();
}

// One connection to the engine, over TCP or a Unix socket, with a deadline for everything
// done on it.
class Connection {
 public:
  explicit Connection(Clock::duration timeout)
      : timeout_(timeout), deadline_(Clock::now() + timeout) {}

  // Connects; returns "" or why it could not.
  std::string Open(const DockerEndpoint& endpoint) {
    beast::error_code ec;
    if (!endpoint.unix_path.empty()) {
      unix_.emplace(ioc_);
      unix_->expires_at(deadline_);
      const net::local::stream_protocol::endpoint address(endpoint.unix_path);
      ec = Run(ioc_, [&](auto handler) { unix_->async_connect(address, handler); });
    } else {
      net::ip::tcp::resolver resolver(ioc_);
      const auto addresses = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
      if (ec) return fmt::format("cannot resolve {}: {}", endpoint.host, ec.message());
      tcp_.emplace(ioc_);
      tcp_->expires_at(deadline_);
      ec = Run(ioc_, [&](auto handler) { tcp_->async_connect(addresses, handler); });
    }
    if (ec) {
      return fmt::format("no Docker engine at {}: {}", endpoint.ToString(), Describe(ec, timeout_));
    }
    return "";
  }

  // Calls f(stream) with the open stream, whichever its kind.
  template <typename F>
  auto Visit(F&& f) {
    return tcp_ ? f(*tcp_) : f(*unix_);
  }

  net::io_context& ioc() { return ioc_; }
  Clock::duration timeout() const { return timeout_; }

 private:
  net::io_context ioc_;
  Clock::duration timeout_;
  Clock::time_point deadline_;
  std::optional<TcpStream> tcp_;
  std::optional<UnixStream> unix_;
};

struct Answer {
  int status = 0;
  std::string body;
  std::string api_version;
};

// Sends `req` and reads the answer: a success's body (status below 300) goes to `on_body`
// piece by piece when it is set; anything else is collected into out->body. Returns "" or
// why the exchange failed.
template <typename Stream>
std::string Exchange(Connection& conn, Stream& stream, const Request& req,
                     const std::function<bool(std::string_view)>& on_body, Answer* out) {
  net::io_context& ioc = conn.ioc();
  beast::error_code ec = Run(ioc, [&](auto handler) { bhttp::async_write(stream, req, handler); });
  if (ec) return Describe(ec, conn.timeout());
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // bounded below
  ec = Run(ioc, [&](auto handler) { bhttp::async_read_header(stream, buffer, parser, handler); });
  if (ec) return Describe(ec, conn.timeout());
  out->status = static_cast<int>(parser.get().result_int());
  out->api_version = std::string(parser.get()["Api-Version"]);
  const bool stream_body = out->status < 300 && on_body;
  char chunk[64 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    ec = Run(ioc, [&](auto handler) { bhttp::async_read_some(stream, buffer, parser, handler); });
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) return Describe(ec, conn.timeout());
    const std::string_view piece(chunk, sizeof chunk - parser.get().body().size);
    if (stream_body) {
      if (!on_body(piece)) return "";
    } else {
      if (out->body.size() + piece.size() > kMaxBody) return "answer larger than 64 MiB";
      out->body.append(piece);
    }
  }
  return "";
}

// Sends `req`, which asks the engine to hijack the connection (exec start), then hands
// every byte the engine sends to `on_data` while writing `stdin_data` (if any) and then
// closing our side, until the engine closes its side. An answer other than 101/200 is
// collected into out->body.
template <typename Stream>
std::string Hijack(Connection& conn, Stream& stream, const Request& req,
                   const std::optional<std::string>& stdin_data,
                   const std::function<void(std::string_view)>& on_data, Answer* out) {
  net::io_context& ioc = conn.ioc();
  beast::error_code ec = Run(ioc, [&](auto handler) { bhttp::async_write(stream, req, handler); });
  if (ec) return Describe(ec, conn.timeout());
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::empty_body> header;
  ec = Run(ioc, [&](auto handler) { bhttp::async_read_header(stream, buffer, header, handler); });
  if (ec) return Describe(ec, conn.timeout());
  out->status = static_cast<int>(header.get().result_int());
  if (out->status != 101 && out->status != 200) {
    bhttp::response_parser<bhttp::string_body> parser(std::move(header));
    parser.body_limit(kMaxBody);
    ec = Run(ioc, [&](auto handler) { bhttp::async_read(stream, buffer, parser, handler); });
    if (ec) return Describe(ec, conn.timeout());
    out->body = std::move(parser.get().body());
    return "";
  }
  // Past the header the connection carries the raw stream; some may be buffered already.
  if (buffer.size() > 0) {
    on_data(std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size()));
  }
  // Write and read at once: the command may need its output read before it takes more.
  if (stdin_data) {
    net::async_write(stream, net::buffer(*stdin_data), [&stream](beast::error_code, std::size_t) {
      // A command that exits without reading its input breaks the pipe: not an error.
      beast::error_code ignored;
      stream.socket().shutdown(net::socket_base::shutdown_send, ignored);
    });
  }
  beast::error_code read_error;
  char chunk[64 * 1024];
  std::function<void()> read_more = [&] {
    stream.async_read_some(net::buffer(chunk), [&](beast::error_code e, std::size_t n) {
      if (n > 0) on_data(std::string_view(chunk, n));
      if (e) {
        if (e != net::error::eof) read_error = e;
        return;
      }
      read_more();
    });
  };
  read_more();
  ioc.restart();
  ioc.run();
  return read_error ? Describe(read_error, conn.timeout()) : "";
}

Request MakeRequest(std::string_view method, const std::string& target, std::string body,
                    std::string_view content_type, const DockerEndpoint& endpoint) {
  Request req;
  req.version(11);
  req.method_string(method);
  req.target(target);
  req.set(bhttp::field::host, endpoint.unix_path.empty()
                                  ? fmt::format("{}:{}", endpoint.host, endpoint.port)
                                  : std::string("docker"));
  req.set(bhttp::field::user_agent, "handoff");
  if (!body.empty()) req.set(bhttp::field::content_type, content_type);
  req.body() = std::move(body);
  req.keep_alive(false);
  req.prepare_payload();
  return req;
}

// Percent-encodes `text` for a query value or a path segment (keeping '/' and ':').
std::string Encode(std::string_view text, bool path = false) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (path && (c == '/' || c == ':'))) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

// The filters query parameter that selects objects with `label`.
std::string LabelFilter(const std::string& label) {
  json::object filters;
  filters["label"] = json::array{json::string(label)};
  return "filters=" + Encode(json::serialize(filters));
}

json::array ToJson(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& item : items) out.emplace_back(json::string(item));
  return out;
}
json::object ToJson(const Labels& labels) {
  json::object out;
  for (const auto& [name, value] : labels) out[name] = json::string(value);
  return out;
}

// Normalises a port to the engine's "8080/tcp" form.
std::string PortKey(const std::string& port) {
  return port.find('/') == std::string::npos ? port + "/tcp" : port;
}

DockerError Malformed(const std::string& operation) {
  return DockerError{0, "the engine's answer is not the JSON expected", operation};
}

}  // namespace

std::string DockerError::ToString() const {
  if (status == 0) return fmt::format("docker: {}: {}", operation, message);
  return fmt::format("docker: {}: {} (HTTP {})", operation, message, status);
}

std::string DockerEndpoint::ToString() const {
  if (!unix_path.empty()) return "unix://" + unix_path;
  return host.find(':') == std::string::npos ? fmt::format("tcp://{}:{}", host, port)
                                             : fmt::format("tcp://[{}]:{}", host, port);
}

std::optional<DockerEndpoint> ParseDockerHost(std::string_view docker_host, std::string* error) {
  if (docker_host.empty()) docker_host = kDefaultDockerHost;
  DockerEndpoint out;
  if (docker_host.starts_with("unix://")) {
    out.unix_path = std::string(docker_host.substr(7));
    if (out.unix_path.empty()) {
      *error = fmt::format("DOCKER_HOST={}: no socket path", docker_host);
      return std::nullopt;
    }
    return out;
  }
  if (!docker_host.starts_with("tcp://")) {
    *error = fmt::format("DOCKER_HOST={}: only unix:// and tcp:// are supported", docker_host);
    return std::nullopt;
  }
  std::string_view authority = docker_host.substr(6);
  while (authority.ends_with('/')) authority.remove_suffix(1);
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {  // [::1]:2375
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos ||
        (close + 1 < authority.size() && authority[close + 1] != ':')) {
      *error = fmt::format("DOCKER_HOST={}: bad IPv6 address", docker_host);
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) port = authority.substr(close + 2);
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  unsigned value = 2375;  // the engine's plain-TCP port
  if (!port.empty()) {
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      *error = fmt::format("DOCKER_HOST={}: bad port \"{}\"", docker_host, port);
      return std::nullopt;
    }
  }
  if (host.empty()) {
    *error = fmt::format("DOCKER_HOST={}: no host", docker_host);
    return std::nullopt;
  }
  out.host = std::string(host);
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

bool StreamDemuxer::Feed(std::string_view bytes) {
  constexpr std::size_t kHeader = 8;
  while (!failed_ && !bytes.empty()) {
    if (remaining_ == 0) {  // between frames: reading a header
      const std::size_t take = std::min(bytes.size(), kHeader - header_.size());
      header_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (header_.size() < kHeader) break;
      const auto byte = [this](int i) { return static_cast<unsigned char>(header_[i]); };
      // 0 stdin (echoed), 1 stdout, 2 stderr, 3 the engine's own error text.
      if (byte(0) > 3 || byte(1) != 0 || byte(2) != 0 || byte(3) != 0) {
        failed_ = true;
        break;
      }
      stream_ = byte(0) >= 2 ? Stream::kStderr : Stream::kStdout;
      remaining_ = std::uint32_t{byte(4)} << 24 | std::uint32_t{byte(5)} << 16 |
                   std::uint32_t{byte(6)} << 8 | std::uint32_t{byte(7)};
      header_.clear();
      if (remaining_ > kMaxFrame) failed_ = true;
      continue;
    }
    const std::size_t take = std::min<std::size_t>(bytes.size(), remaining_);
    on_payload_(stream_, bytes.substr(0, take));
    remaining_ -= static_cast<std::uint32_t>(take);
    bytes.remove_prefix(take);
  }
  return !failed_;
}

std::uint16_t ContainerInfo::HostPort(int container_port) const {
  const auto it = host_ports.find(fmt::format("{}/tcp", container_port));
  return it == host_ports.end() ? 0 : it->second;
}

DockerClient::DockerClient(DockerEndpoint endpoint, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout) {}

DockerClient::DockerClient(DockerClient&& other) noexcept
    : endpoint_(std::move(other.endpoint_)),
      timeout_(other.timeout_),
      api_version_(std::move(other.api_version_)) {}

std::optional<DockerClient> DockerClient::FromEnvironment(std::string* error) {
  const char* docker_host = std::getenv("DOCKER_HOST");
  std::optional<DockerEndpoint> endpoint = ParseDockerHost(docker_host ? docker_host : "", error);
  if (!endpoint) return std::nullopt;
  return DockerClient(std::move(*endpoint));
}

DockerResult<DockerClient::Response> DockerClient::Send(
    std::string_view method, const std::string& target, const std::string& operation,
    std::string body, std::string_view content_type,
    std::optional<std::chrono::milliseconds> timeout, const BodyCallback& on_body) {
  Connection conn(timeout.value_or(timeout_));
  if (std::string error = conn.Open(endpoint_); !error.empty()) {
    return DockerError{0, std::move(error), operation};
  }
  const Request req = MakeRequest(method, target, std::move(body), content_type, endpoint_);
  Answer answer;
  std::string error =
      conn.Visit([&](auto& stream) { return Exchange(conn, stream, req, on_body, &answer); });
  if (!error.empty()) return DockerError{0, std::move(error), operation};
  if (answer.status >= 400) {
    return DockerError{answer.status, EngineMessage(answer.body), operation};
  }
  return Response{answer.status, std::move(answer.body), std::move(answer.api_version)};
}

DockerResult<DockerClient::Response> DockerClient::Call(
    std::string_view method, const std::string& path, const std::string& operation,
    std::string body, std::string_view content_type,
    std::optional<std::chrono::milliseconds> timeout, const BodyCallback& on_body) {
  DockerResult<std::string> prefix = VersionPrefix();
  if (!prefix.ok()) return DockerError{prefix.error().status, prefix.error().message, operation};
  return Send(method, *prefix + path, operation, std::move(body), content_type, timeout, on_body);
}

DockerResult<std::string> DockerClient::VersionPrefix() {
  {
    std::lock_guard lock(mutex_);
    if (!api_version_.empty()) return "/v" + api_version_;
  }
  DockerResult<std::string> version = Ping();
  if (!version.ok()) return version.error();
  return "/v" + *version;
}

DockerResult<std::string> DockerClient::Ping() {
  DockerResult<Response> r = Send("GET", "/_ping", "ping", {}, {}, std::nullopt, nullptr);
  if (!r.ok()) return r.error();
  const std::pair<int, int> server = ParseApiVersion(r->api_version);
  if (server.first == 0) {
    return DockerError{r->status, "the engine did not say which API version it speaks", "ping"};
  }
  std::string version = server <= ParseApiVersion(kNewestApiVersion)
                            ? r->api_version
                            : std::string(kNewestApiVersion);
  std::lock_guard lock(mutex_);
  api_version_ = version;
  return version;
}

DockerResult<EngineVersion> DockerClient::Version() {
  const std::string operation = "version";
  DockerResult<Response> r = Call("GET", "/version", operation);
  if (!r.ok()) return r.error();
  std::optional<EngineVersion> version = DecodeVersion(r->body);
  if (!version) return Malformed(operation);
  return *std::move(version);
}

DockerResult<std::string> DockerClient::CreateNetwork(const std::string& name,
                                                      const Labels& labels) {
  const std::string operation = fmt::format("create network \"{}\"", name);
  json::object body{{"Name", name},
                    {"Driver", "bridge"},
                    {"Internal", false},
                    {"CheckDuplicate", true},
                    {"Labels", ToJson(labels)}};
  DockerResult<Response> r = Call("POST", "/networks/create", operation, json::serialize(body));
  if (!r.ok()) return r.error();
  std::optional<std::string> id = DecodeCreatedId(r->body);
  if (!id) return Malformed(operation);
  return *std::move(id);
}

DockerStatus DockerClient::RemoveNetwork(const std::string& id_or_name) {
  DockerResult<Response> r = Call("DELETE", "/networks/" + Encode(id_or_name, true),
                                  fmt::format("remove network \"{}\"", id_or_name));
  if (!r.ok()) return r.error();
  return {};
}

DockerStatus DockerClient::RemoveVolume(const std::string& name) {
  DockerResult<Response> r = Call("DELETE", "/volumes/" + Encode(name, true),
                                  fmt::format("remove volume \"{}\"", name));
  if (!r.ok() && r.error().status != 404) return r.error();
  return {};
}

DockerResult<std::vector<NetworkInfo>> DockerClient::ListNetworks(const std::string& label) {
  const std::string operation = fmt::format("list networks with label \"{}\"", label);
  DockerResult<Response> r = Call("GET", "/networks?" + LabelFilter(label), operation);
  if (!r.ok()) return r.error();
  std::optional<std::vector<NetworkInfo>> networks = DecodeNetworks(r->body);
  if (!networks) return Malformed(operation);
  return *std::move(networks);
}

DockerResult<std::string> DockerClient::CreateContainer(const ContainerSpec& spec) {
  const std::string operation = fmt::format("create container \"{}\"", spec.name);
  json::object body{{"Image", spec.image}, {"Labels", ToJson(spec.labels)}};
  if (spec.entrypoint) body["Entrypoint"] = ToJson(*spec.entrypoint);
  if (!spec.cmd.empty()) body["Cmd"] = ToJson(spec.cmd);
  if (!spec.env.empty()) body["Env"] = ToJson(spec.env);
  if (!spec.user.empty()) body["User"] = spec.user;
  if (!spec.hostname.empty()) body["Hostname"] = spec.hostname;
  if (!spec.working_dir.empty()) body["WorkingDir"] = spec.working_dir;
  json::object host_config;
  if (!spec.ports.empty()) {
    json::object exposed;
    json::object bindings;
    for (const std::string& port : spec.ports) {
      exposed[PortKey(port)] = json::object();
      // An empty HostPort lets the engine choose a free one.
      bindings[PortKey(port)] =
          json::array{json::object{{"HostIp", "127.0.0.1"}, {"HostPort", ""}}};
    }
    body["ExposedPorts"] = std::move(exposed);
    host_config["PortBindings"] = std::move(bindings);
  }
  if (!spec.binds.empty()) host_config["Binds"] = ToJson(spec.binds);
  if (spec.memory_bytes > 0) host_config["Memory"] = spec.memory_bytes;
  if (spec.nano_cpus > 0) host_config["NanoCpus"] = spec.nano_cpus;
  if (!spec.network.empty()) {
    host_config["NetworkMode"] = spec.network;
    json::object endpoint;
    if (!spec.hostname.empty()) endpoint["Aliases"] = json::array{json::string(spec.hostname)};
    body["NetworkingConfig"] =
        json::object{{"EndpointsConfig", json::object{{spec.network, endpoint}}}};
  }
  body["HostConfig"] = std::move(host_config);
  std::string path = "/containers/create";
  if (!spec.name.empty()) path += "?name=" + Encode(spec.name);
  DockerResult<Response> r = Call("POST", path, operation, json::serialize(body));
  if (!r.ok()) return r.error();
  std::optional<std::string> id = DecodeCreatedId(r->body);
  if (!id) return Malformed(operation);
  return *std::move(id);
}

DockerStatus DockerClient::StartContainer(const std::string& id) {
  DockerResult<Response> r = Call("POST", "/containers/" + Encode(id) + "/start",
                                  fmt::format("start container \"{}\"", id));
  if (!r.ok()) return r.error();
  return {};  // 204, or 304 when it was running already
}

DockerStatus DockerClient::StopContainer(const std::string& id, std::chrono::seconds grace) {
  DockerResult<Response> r =
      Call("POST", fmt::format("/containers/{}/stop?t={}", Encode(id), grace.count()),
           fmt::format("stop container \"{}\"", id), {}, "application/json", timeout_ + grace);
  if (!r.ok()) return r.error();
  return {};  // 204, or 304 when it was stopped already
}

DockerStatus DockerClient::KillContainer(const std::string& id, const std::string& signal) {
  DockerResult<Response> r =
      Call("POST", fmt::format("/containers/{}/kill?signal={}", Encode(id), Encode(signal)),
           fmt::format("kill container \"{}\" with {}", id, signal));
  if (!r.ok()) return r.error();
  return {};
}

DockerStatus DockerClient::RemoveContainer(const std::string& id) {
  DockerResult<Response> r = Call("DELETE", fmt::format("/containers/{}?force=1&v=1", Encode(id)),
                                  fmt::format("remove container \"{}\"", id));
  if (!r.ok()) return r.error();
  return {};
}

DockerResult<ContainerInfo> DockerClient::InspectContainer(const std::string& id) {
  const std::string operation = fmt::format("inspect container \"{}\"", id);
  DockerResult<Response> r = Call("GET", "/containers/" + Encode(id) + "/json", operation);
  if (!r.ok()) return r.error();
  std::optional<ContainerInfo> info = DecodeContainer(r->body);
  if (!info) return Malformed(operation);
  return *std::move(info);
}

DockerResult<std::vector<ContainerSummary>> DockerClient::ListContainers(const std::string& label) {
  const std::string operation = fmt::format("list containers with label \"{}\"", label);
  DockerResult<Response> r = Call("GET", "/containers/json?all=1&" + LabelFilter(label), operation);
  if (!r.ok()) return r.error();
  std::optional<std::vector<ContainerSummary>> containers = DecodeContainers(r->body);
  if (!containers) return Malformed(operation);
  return *std::move(containers);
}

DockerResult<int> DockerClient::WaitContainer(const std::string& id,
                                              std::chrono::milliseconds timeout) {
  const std::string operation = fmt::format("wait for container \"{}\"", id);
  DockerResult<Response> r =
      Call("POST", "/containers/" + Encode(id) + "/wait?condition=not-running", operation, {},
           "application/json", timeout);
  if (!r.ok()) return r.error();
  std::optional<WaitAnswer> answer = DecodeWait(r->body);
  if (!answer) return Malformed(operation);
  if (!answer->error.empty()) return DockerError{0, std::move(answer->error), operation};
  return answer->status_code;
}

DockerStatus DockerClient::FollowLogs(const std::string& id, const LineCallback& on_line,
                                      std::chrono::milliseconds timeout) {
  const std::string operation = fmt::format("follow the logs of container \"{}\"", id);
  bool stopped = false;
  std::string pending[2];  // the unfinished line of stdout and of stderr
  const auto emit = [&](Stream stream, std::string& line) {
    stopped = !on_line(stream, line);
    line.clear();
  };
  StreamDemuxer demuxer([&](Stream stream, std::string_view payload) {
    std::string& line = pending[stream == Stream::kStderr ? 1 : 0];
    while (!payload.empty() && !stopped) {
      const std::size_t newline = payload.find('\n');
      const std::size_t take = std::min({newline, payload.size(), kMaxLine - line.size()});
      line.append(payload.substr(0, take));
      payload.remove_prefix(take);
      if (!payload.empty() && payload.front() == '\n') {
        payload.remove_prefix(1);
        emit(stream, line);
      } else if (line.size() == kMaxLine) {
        emit(stream, line);
      }
    }
  });
  bool malformed = false;
  DockerResult<Response> r =
      Call("GET", "/containers/" + Encode(id) + "/logs?follow=1&stdout=1&stderr=1", operation, {},
           "application/json", timeout, [&](std::string_view bytes) {
             malformed = !demuxer.Feed(bytes);
             return !malformed && !stopped;
           });
  if (!r.ok()) return r.error();
  if (malformed) return DockerError{0, "malformed log stream", operation};
  if (!stopped && !pending[0].empty()) emit(Stream::kStdout, pending[0]);
  if (!stopped && !pending[1].empty()) emit(Stream::kStderr, pending[1]);
  return {};
}

DockerResult<DockerExecResult> DockerClient::Exec(const std::string& id, const ExecSpec& spec,
                                            std::chrono::milliseconds timeout) {
  const std::string operation = spec.cmd.empty()
                                    ? fmt::format("exec in container \"{}\"", id)
                                    : fmt::format("exec {} in container \"{}\"", spec.cmd[0], id);
  const auto deadline = Clock::now() + timeout;
  json::object create{{"AttachStdin", spec.stdin_data.has_value()},
                      {"AttachStdout", true},
                      {"AttachStderr", true},
                      {"Tty", false},
                      {"Cmd", ToJson(spec.cmd)}};
  if (!spec.env.empty()) create["Env"] = ToJson(spec.env);
  if (!spec.user.empty()) create["User"] = spec.user;
  if (!spec.working_dir.empty()) create["WorkingDir"] = spec.working_dir;
  DockerResult<Response> created =
      Call("POST", "/containers/" + Encode(id) + "/exec", operation, json::serialize(create));
  if (!created.ok()) return created.error();
  const std::optional<std::string> created_id = DecodeCreatedId(created->body);
  if (!created_id) return Malformed(operation);
  const std::string& exec_id = *created_id;

  // Start it attached: the engine hijacks the connection for the command's streams.
  DockerResult<std::string> prefix = VersionPrefix();
  if (!prefix.ok()) return prefix.error();
  Connection conn(timeout);
  if (std::string error = conn.Open(endpoint_); !error.empty()) {
    return DockerError{0, std::move(error), operation};
  }
  Request req = MakeRequest("POST", *prefix + "/exec/" + exec_id + "/start",
                            R"({"Detach":false,"Tty":false})", "application/json", endpoint_);
  req.set(bhttp::field::connection, "Upgrade");
  req.set(bhttp::field::upgrade, "tcp");
  DockerExecResult result;
  StreamDemuxer demuxer([&result](Stream stream, std::string_view payload) {
    std::string& out = stream == Stream::kStderr ? result.stderr_data : result.stdout_data;
    out.append(payload.substr(0, kMaxExecOutput - std::min(out.size(), kMaxExecOutput)));
  });
  bool malformed = false;
  Answer answer;
  std::string error = conn.Visit([&](auto& stream) {
    return Hijack(
        conn, stream, req, spec.stdin_data,
        [&](std::string_view bytes) { malformed = malformed || !demuxer.Feed(bytes); }, &answer);
  });
  if (!error.empty()) return DockerError{0, std::move(error), operation};
  if (answer.status >= 400) {
    return DockerError{answer.status, EngineMessage(answer.body), operation};
  }
  if (malformed) return DockerError{0, "malformed output stream", operation};

  // The streams end when the command's output closes; its exit code is recorded just after.
  while (true) {
    DockerResult<Response> inspected = Call("GET", "/exec/" + exec_id + "/json", operation);
    if (!inspected.ok()) return inspected.error();
    const std::optional<ExecState> state = DecodeExecState(inspected->body);
    if (!state) return Malformed(operation);
    if (!state->running) {
      result.exit_code = state->exit_code;
      return result;
    }
    if (Clock::now() >= deadline) {
      return DockerError{0, fmt::format("still running after {} ms", timeout.count()), operation};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

DockerResult<std::string> DockerClient::BuildImage(
    const std::string& name, std::string context_tar, const Labels& labels,
    const std::function<void(std::string_view)>& on_output, std::chrono::milliseconds timeout) {
  const std::string operation = fmt::format("build image \"{}\"", name);
  std::string path = "/build?t=" + Encode(name) + "&rm=1&forcerm=1";
  if (!labels.empty()) path += "&labels=" + Encode(json::serialize(ToJson(labels)));
  // The answer is a stream of JSON objects, one a line: {"stream": output},
  // {"aux": {"ID": image id}}, or {"error": message} when a step failed.
  std::string pending;
  std::string build_error;
  std::string image_id;
  const auto handle_line = [&](std::string_view line) {
    std::optional<BuildLine> decoded = DecodeBuildLine(line);
    if (!decoded) return;
    if (!decoded->error.empty()) build_error = std::move(decoded->error);
    if (!decoded->image_id.empty()) image_id = std::move(decoded->image_id);
    std::string_view output = decoded->stream;
    while (on_output && !output.empty()) {
      const std::size_t newline = output.find('\n');
      if (newline != 0) on_output(output.substr(0, newline));
      output.remove_prefix(newline == std::string_view::npos ? output.size() : newline + 1);
    }
  };
  bool line_too_long = false;
  DockerResult<Response> r =
      Call("POST", path, operation, std::move(context_tar), "application/x-tar", timeout,
           [&](std::string_view bytes) {
             pending.append(bytes);
             for (std::size_t newline; (newline = pending.find('\n')) != std::string::npos;) {
               handle_line(std::string_view(pending).substr(0, newline));
               pending.erase(0, newline + 1);
             }
             line_too_long = pending.size() > kMaxLine;
             return !line_too_long;
           });
  if (!r.ok()) return r.error();
  if (line_too_long) return DockerError{0, "a line of the build's output is over 1 MiB", operation};
  if (!pending.empty()) handle_line(pending);
  if (!build_error.empty()) return DockerError{0, std::move(build_error), operation};
  if (!image_id.empty()) return image_id;
  DockerResult<ImageInfo> image = InspectImage(name);
  if (!image.ok()) return image.error();
  return image->id;
}

DockerResult<ImageInfo> DockerClient::InspectImage(const std::string& name) {
  const std::string operation = fmt::format("inspect image \"{}\"", name);
  DockerResult<Response> r = Call("GET", "/images/" + Encode(name, true) + "/json", operation);
  if (!r.ok()) return r.error();
  std::optional<ImageInfo> image = DecodeImage(r->body);
  if (!image) return Malformed(operation);
  return *std::move(image);
}

DockerResult<std::vector<ImageSummary>> DockerClient::ListImages(const std::string& label) {
  const std::string operation = fmt::format("list images with label \"{}\"", label);
  DockerResult<Response> r = Call("GET", "/images/json?" + LabelFilter(label), operation);
  if (!r.ok()) return r.error();
  std::optional<std::vector<ImageSummary>> images = DecodeImages(r->body);
  if (!images) return Malformed(operation);
  return *std::move(images);
}

DockerStatus DockerClient::RemoveImage(const std::string& name, bool force) {
  const std::string path = "/images/" + Encode(name, true) + (force ? "?force=1" : "");
  DockerResult<Response> r = Call("DELETE", path, fmt::format("remove image \"{}\"", name));
  if (!r.ok()) return r.error();
  return {};
}

}  // namespace handoff::workload
