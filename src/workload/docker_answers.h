#pragma once

// Decoding the Docker Engine's answers: pure functions from the bytes the engine sent to
// what DockerClient returns, apart from the connection code so that they are unit-tested and
// fuzzed (fuzz/docker_answers_fuzzer.cc) on their own. The engine's answers are outside
// input: a missing member or one of another type reads as empty, a body that is not the JSON
// expected decodes to nullopt, and nothing here throws.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "workload/docker_client.h"

namespace handoff::workload {

// The "message" of an engine's error answer, else the answer itself, shortened.
std::string EngineMessage(std::string_view body);

// "1.41" -> {1, 41}; {0, 0} for anything else.
std::pair<int, int> ParseApiVersion(std::string_view version);

// GET /version.
std::optional<EngineVersion> DecodeVersion(std::string_view body);

// The non-empty "Id" of a creation's answer (networks, containers, execs).
std::optional<std::string> DecodeCreatedId(std::string_view body);

// GET /networks.
std::optional<std::vector<NetworkInfo>> DecodeNetworks(std::string_view body);

// GET /containers/{id}/json.
std::optional<ContainerInfo> DecodeContainer(std::string_view body);

// GET /containers/json.
std::optional<std::vector<ContainerSummary>> DecodeContainers(std::string_view body);

// POST /containers/{id}/wait: the exit code, or the engine's error message.
struct WaitAnswer {
  int status_code = 0;
  std::string error;  // empty unless the engine could not wait
};
std::optional<WaitAnswer> DecodeWait(std::string_view body);

// GET /exec/{id}/json: whether the command still runs, and its exit code once it ended.
struct ExecState {
  bool running = false;
  int exit_code = 0;
};
std::optional<ExecState> DecodeExecState(std::string_view body);

// One line of POST /build's answer: {"stream": output}, {"aux": {"ID": image id}} or
// {"error": message}; nullopt for a line that is not JSON (skipped).
struct BuildLine {
  std::string stream;
  std::string image_id;
  std::string error;
};
std::optional<BuildLine> DecodeBuildLine(std::string_view line);

// GET /images/{name}/json.
std::optional<ImageInfo> DecodeImage(std::string_view body);

// GET /images/json.
std::optional<std::vector<ImageSummary>> DecodeImages(std::string_view body);

}  // namespace handoff::workload
