#pragma once

// A synchronous client of the Docker Engine API (https://docs.docker.com/engine/api/), the
// layer under the workload API: HTTP/1.1 over the engine's Unix socket, or TCP when
// DOCKER_HOST says tcp://. It has only the operations the workload API needs.
//
// Errors are values: every call returns a DockerResult holding either its answer or a
// DockerError with the HTTP status (0 when no answer came) and the engine's own message.
// Each call opens its own connection, so one client may be used from several threads.
// Answers are bounded: whole bodies to 64 MiB, streamed lines and frames to 1 MiB and 16 MiB.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace handoff::workload {

// Why a call to the engine failed.
struct DockerError {
  // HTTP status; 0 when no answer arrived (connection, timeout) or when the engine reported
  // the error inside a successful answer (a failed build step, a malformed stream).
  int status = 0;
  std::string message;    // the engine's "message", or what went wrong reaching it
  std::string operation;  // what was being done: "create container \"web-1\""

  // Returns true if and only if the engine answered 404.
  bool not_found() const { return status == 404; }
  // Returns "docker: <operation>: <message> (HTTP <status>)" for people to read.
  std::string ToString() const;
};

// Either a value or a DockerError: the project's one result type (base/result.h).
template <typename T>
using DockerResult = Result<T, DockerError>;

// Success, or a DockerError.
using DockerStatus = Result<void, DockerError>;

// Where the engine listens.
struct DockerEndpoint {
  std::string unix_path;  // set for unix://PATH
  std::string host;       // set for tcp://HOST:PORT
  std::uint16_t port = 0;

  // Returns the endpoint as DOCKER_HOST would spell it.
  std::string ToString() const;
};

// The engine's socket when DOCKER_HOST is not set.
inline constexpr std::string_view kDefaultDockerHost = "unix:///var/run/docker.sock";

// Parses a DOCKER_HOST value ("unix:///path", "tcp://host:port"; "" means the default).
// Returns nullopt and sets *error for anything else (ssh://, npipe://, a bad port).
std::optional<DockerEndpoint> ParseDockerHost(std::string_view docker_host, std::string* error);

// Splits the engine's multiplexed stdout/stderr stream (a container without a TTY) into its
// frames: an 8-byte header (stream 0 stdin, 1 stdout, 2 stderr; 3 zero bytes; big-endian
// payload size) then the payload. Bytes may arrive in any pieces.
class StreamDemuxer {
 public:
  enum class Stream : std::uint8_t { kStdout = 1, kStderr = 2 };
  using OnPayload = std::function<void(Stream, std::string_view)>;

  explicit StreamDemuxer(OnPayload on_payload) : on_payload_(std::move(on_payload)) {}

  // Feeds the next bytes. Returns false, and stays failed, on a malformed header or a frame
  // over 16 MiB.
  bool Feed(std::string_view bytes);

 private:
  OnPayload on_payload_;
  std::string header_;
  std::uint32_t remaining_ = 0;  // payload bytes left in the current frame
  Stream stream_ = Stream::kStdout;
  bool failed_ = false;
};

using Labels = std::map<std::string, std::string>;

// GET /version, in part.
struct EngineVersion {
  std::string version;          // "20.10.24+dfsg1"
  std::string api_version;      // the newest the engine speaks: "1.41"
  std::string min_api_version;  // the oldest: "1.12"
  std::string os;               // "linux"
  std::string arch;             // "amd64"
};

// A user-defined bridge network.
struct NetworkInfo {
  std::string id;
  std::string name;
  Labels labels;
};

// What POST /containers/create needs. Empty fields keep the image's defaults.
struct ContainerSpec {
  std::string name;  // unique among the engine's containers
  std::string image;
  // Replaces the image's entrypoint when set (an empty list clears it).
  std::optional<std::vector<std::string>> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string user;
  std::string hostname;  // also the container's alias on `network`
  std::string network;   // name or id of a network to join
  // Exposed and published: "8080" (tcp), "53/udp". Publishing needs a bridge network: on
  // an engine started with --bridge=none, only a user-defined `network` has one.
  std::vector<std::string> ports;
  std::vector<std::string> binds;  // "host_path:container_path[:ro]"
  std::int64_t memory_bytes = 0;   // 0: no limit
  std::int64_t nano_cpus = 0;      // 1e9 per CPU; 0: no limit
  Labels labels;
  std::string working_dir;
};

// GET /containers/{id}/json, in part.
struct ContainerInfo {
  std::string id;
  std::string name;  // without the engine's leading '/'
  std::string image;
  std::string status;  // "created", "running", "exited"...
  bool running = false;
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;  // why the engine could not start it, if it said
  std::string health;  // its image's health check: "starting", "healthy", "unhealthy"; "" without
  // Published ports: container port ("8080/tcp") -> host port on 127.0.0.1.
  std::map<std::string, std::uint16_t> host_ports;
  std::string ip;  // the address on its first network ("" when it has none)
  Labels labels;

  // Returns the host port published for TCP `container_port`, or 0.
  std::uint16_t HostPort(int container_port) const;
};

// GET /containers/json, one entry.
struct ContainerSummary {
  std::string id;
  std::string name;
  std::string image;
  std::string state;  // "running", "exited"...
  Labels labels;
};

// A command to run in a running container.
struct ExecSpec {
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string user;
  std::string working_dir;
  std::optional<std::string> stdin_data;  // written, then stdin is closed
};

// How an exec ended. Each output is kept to its first 16 MiB.
struct DockerExecResult {
  int exit_code = 0;
  std::string stdout_data;
  std::string stderr_data;
};

// GET /images/{name}/json, in part.
struct ImageInfo {
  std::string id;
  std::vector<std::string> tags;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  Labels labels;
  std::int64_t size = 0;
  std::string user;
  std::string working_dir;
  std::string stop_signal;
  std::vector<std::string> env;            // "KEY=value"
  std::vector<std::string> exposed_ports;  // "1337/tcp"
  std::vector<std::string> volumes;        // "/data"
  std::vector<std::string> healthcheck;    // its Test: ["CMD", "/bin/x", ...]
};

// GET /images/json, one entry.
struct ImageSummary {
  std::string id;
  std::vector<std::string> tags;  // "repo:tag"; none for an untagged image
  Labels labels;
  std::int64_t size = 0;
};

// A client of one engine.
class DockerClient {
 public:
  using Stream = StreamDemuxer::Stream;
  // Called for each line of a container's output (without its '\n'); false stops.
  using LineCallback = std::function<bool(Stream stream, std::string_view line)>;

  // A client of the engine at `endpoint`; no connection is made yet.
  explicit DockerClient(DockerEndpoint endpoint,
                        std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Returns a client of the engine DOCKER_HOST names (default /var/run/docker.sock), or
  // nullopt and sets *error when DOCKER_HOST cannot be understood.
  static std::optional<DockerClient> FromEnvironment(std::string* error);

  DockerClient(DockerClient&& other) noexcept;

  const DockerEndpoint& endpoint() const { return endpoint_; }

  // Checks that the engine answers and chooses the API version to speak: the engine's, up
  // to the newest this client knows (1.44). Returns that version. Other calls ping first
  // when no version was chosen yet.
  DockerResult<std::string> Ping();
  // Returns the engine's version.
  DockerResult<EngineVersion> Version();

  // Creates a bridge network (not internal) and returns its id.
  DockerResult<std::string> CreateNetwork(const std::string& name, const Labels& labels);
  DockerStatus RemoveNetwork(const std::string& id_or_name);
  // Removes a named volume (a container's "name:/path" bind creates one); removing one
  // that does not exist succeeds.
  DockerStatus RemoveVolume(const std::string& name);
  // Returns the networks that have label "key=value" (or just "key").
  DockerResult<std::vector<NetworkInfo>> ListNetworks(const std::string& label);

  // Creates a container and returns its id. Its ports are published on 127.0.0.1 at
  // ports the engine chooses (see InspectContainer).
  DockerResult<std::string> CreateContainer(const ContainerSpec& spec);
  // Starts a container; starting a running one succeeds.
  DockerStatus StartContainer(const std::string& id);
  // Sends SIGTERM, then SIGKILL after `grace`; stopping a stopped one succeeds.
  DockerStatus StopContainer(const std::string& id, std::chrono::seconds grace);
  // Sends `signal` ("SIGKILL", "SIGHUP", "9"...) to a running container.
  DockerStatus KillContainer(const std::string& id, const std::string& signal = "SIGKILL");
  // Removes a container, killing it first when it runs, with its anonymous volumes.
  DockerStatus RemoveContainer(const std::string& id);
  DockerResult<ContainerInfo> InspectContainer(const std::string& id);
  // Returns the containers, in any state, that have label "key=value" (or just "key").
  DockerResult<std::vector<ContainerSummary>> ListContainers(const std::string& label);
  // Waits until a container is not running, at most `timeout`, and returns its exit code.
  DockerResult<int> WaitContainer(const std::string& id, std::chrono::milliseconds timeout);

  // Calls `on_line` for each line a container has written and writes, until it stops
  // (then the call succeeds), `on_line` returns false (also a success) or `timeout` ends.
  // A line longer than 1 MiB is handed over in pieces. Docker 20.10 may end a follow of a
  // container that exits before a last line without '\n' reaches it.
  DockerStatus FollowLogs(const std::string& id, const LineCallback& on_line,
                          std::chrono::milliseconds timeout);

  // Runs a command in a running container, waits at most `timeout` for it to end and
  // returns its exit code and output.
  DockerResult<DockerExecResult> Exec(const std::string& id, const ExecSpec& spec,
                                std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Builds image `name` ("repo:tag") from a tar archive holding a Dockerfile at its root,
  // and returns the image id. `on_output`, if set, gets the build's output lines. A failed
  // step fails the call with the engine's message.
  DockerResult<std::string> BuildImage(
      const std::string& name, std::string context_tar, const Labels& labels = {},
      const std::function<void(std::string_view)>& on_output = nullptr,
      std::chrono::milliseconds timeout = std::chrono::minutes(10));
  DockerResult<ImageInfo> InspectImage(const std::string& name);
  // Returns the images, tagged or not, that have label "key=value" (or just "key").
  DockerResult<std::vector<ImageSummary>> ListImages(const std::string& label);
  // Removes an image (untagging it when it has other tags). With `force`, even if
  // containers use it; without, the engine refuses with 409 while one does.
  DockerStatus RemoveImage(const std::string& name, bool force = true);

 private:
  struct Response {
    int status = 0;
    std::string body;         // empty when streamed to on_body
    std::string api_version;  // the Api-Version header
  };
  using BodyCallback = std::function<bool(std::string_view)>;

  // The API version to put in front of paths ("/v1.41"), pinging first if needed.
  DockerResult<std::string> VersionPrefix();
  // Sends a request to `path` under the API version and reads the answer; see Send.
  DockerResult<Response> Call(std::string_view method, const std::string& path,
                              const std::string& operation, std::string body = {},
                              std::string_view content_type = "application/json",
                              std::optional<std::chrono::milliseconds> timeout = std::nullopt,
                              const BodyCallback& on_body = nullptr);
  // Sends a request on a new connection and reads the answer: a status of 400 or more is
  // an error; a success's body goes to `on_body` as it arrives (until it returns false)
  // when that is set, else into Response::body. `timeout` (default: the client's) bounds
  // the whole exchange.
  DockerResult<Response> Send(std::string_view method, const std::string& target,
                              const std::string& operation, std::string body,
                              std::string_view content_type,
                              std::optional<std::chrono::milliseconds> timeout,
                              const BodyCallback& on_body);

  DockerEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;         // guards api_version_
  std::string api_version_;  // "" until Ping
};

}  // namespace handoff::workload
