#pragma once

// `image build`: a container image of this very binary, to run `serve` beside the system
// under test (docs/deploy.md):
//   BINARY image build --tag TAG [--label KEY=VALUE]...
//   BINARY image build --context FILE   (the build context as a tar, for other builders)
// Built through the Docker Engine API (DOCKER_HOST applies) from the binary and the shared
// libraries it needs, on an empty base: `serve` as a non-root user on port 1337, SQLite on
// a volume at /data, a health check, SIGTERM to stop. Exit codes: 0 built, 2 bad usage or
// the engine refused.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace handoff {

struct ImageCommand;

// Declares `image` and its subcommand on `app`; returns the state RunImage needs.
ImageCommand* AddImageCommand(CLI::App& app);

// Returns true if the user chose `image`.
bool ImageParsed(const ImageCommand& command);

// Runs the parsed `image` subcommand and returns its exit code.
int RunImage(const ImageCommand& command);

// The image's layout, shared by `image build`, docs/deploy.md's Dockerfile and the tests.
inline constexpr int kImageUid = 65532;   // the user `serve` runs as (distroless' nonroot)
inline constexpr int kImagePort = 1337;
inline constexpr const char* kImageDataDir = "/data";

}  // namespace handoff
