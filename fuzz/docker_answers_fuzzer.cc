// The Docker Engine's answers (src/workload/docker_answers.h, the multiplexed output
// stream of docker_client.h): an engine, or whatever listens at DOCKER_HOST, is outside
// input. Every decoder reads the same bytes; none may crash or hit undefined behaviour.

#include <string>

#include "fuzz/fuzz_target.h"
#include "workload/docker_answers.h"
#include "workload/docker_client.h"

HANDOFF_FUZZ_TARGET(docker_answers) {
  using namespace handoff::workload;
  const std::string_view input = handoff::fuzz::AsText(data, size);
  FUZZ_CHECK(!EngineMessage(input).empty());
  (void)ParseApiVersion(input);
  (void)DecodeVersion(input);
  if (const auto id = DecodeCreatedId(input)) FUZZ_CHECK(!id->empty());
  (void)DecodeNetworks(input);
  if (const auto container = DecodeContainer(input)) {
    for (const auto& [port, host_port] : container->host_ports) FUZZ_CHECK(host_port > 0);
    (void)container->HostPort(8080);
  }
  (void)DecodeContainers(input);
  (void)DecodeWait(input);
  (void)DecodeExecState(input);
  (void)DecodeBuildLine(input);
  (void)DecodeImage(input);
  (void)DecodeImages(input);
  std::string error;
  (void)ParseDockerHost(input, &error);

  // The output stream of a container without a TTY, in pieces of 1, 2, 3... bytes.
  std::size_t payload_bytes = 0;
  StreamDemuxer demuxer([&](StreamDemuxer::Stream stream, std::string_view payload) {
    FUZZ_CHECK(stream == StreamDemuxer::Stream::kStdout ||
               stream == StreamDemuxer::Stream::kStderr);
    payload_bytes += payload.size();
  });
  std::size_t offset = 0;
  for (std::size_t piece = 1; offset < input.size(); ++piece) {
    if (!demuxer.Feed(input.substr(offset, piece))) break;
    offset += std::min(piece, input.size() - offset);
  }
  FUZZ_CHECK(payload_bytes <= input.size());
  return 0;
}
