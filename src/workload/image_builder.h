#pragma once

// Builds Docker images from files of this host, through the Engine API, for machines that
// cannot pull from a registry: an executable with the shared libraries it needs (as `ldd`
// lists them) on an empty base image, a busybox image whose applets are links in /bin, or a
// directory with a Dockerfile. Every image is built `FROM scratch`.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/workload_images.h"
#include "workload/docker_client.h"

namespace handoff::workload {

// Parses what `ldd` printed. Returns the absolute paths of the libraries and of the dynamic
// loader (none for a static executable), or nullopt and sets *error when a library is
// missing ("libfoo.so => not found").
std::optional<std::vector<std::string>> ParseLddOutput(std::string_view output, std::string* error);

// Runs `ldd executable` and returns ParseLddOutput of it. ldd may load the executable: use
// it on trusted files only.
std::optional<std::vector<std::string>> SharedLibraries(const std::string& executable,
                                                        std::string* error);

// The build context BuildImageFromExecutable sends: a tar of the Dockerfile and the files
// under rootfs/. Sets *error when a library is missing or a file cannot be read.
std::optional<std::string> ExecutableImageContext(const std::string& executable_path,
                                                  const std::vector<ImageFile>& extra_files,
                                                  const ExecutableImageOptions& options,
                                                  std::string* error);

// Builds image `image_name` holding `executable_path` and every shared library it needs at
// their host paths, plus `extra_files`, with the executable as its entrypoint unless
// `options` says otherwise. Returns the image id.
DockerResult<std::string> BuildImageFromExecutable(DockerClient& client,
                                                   const std::string& image_name,
                                                   const std::string& executable_path,
                                                   const std::vector<ImageFile>& extra_files = {},
                                                   const ExecutableImageOptions& options = {});

// Builds image `image_name` from a static busybox (Debian's busybox-static): /bin/busybox
// and a link to it in /bin for every applet it lists (sh, wget, httpd, sleep...), /tmp,
// and an /etc/passwd with root and nobody. No entrypoint; the command is `sh`.
DockerResult<std::string> BuildBusyboxImage(DockerClient& client, const std::string& image_name,
                                            const std::string& busybox_path = "/bin/busybox",
                                            const Labels& labels = {});

// Builds image `image_name` from the files under `dir` and `dockerfile_text` as the
// Dockerfile (empty: the Dockerfile in `dir`). Returns the image id.
DockerResult<std::string> BuildImageFromDirectory(DockerClient& client,
                                                  const std::string& image_name,
                                                  const std::string& dir,
                                                  const std::string& dockerfile_text,
                                                  const Labels& labels = {});

}  // namespace handoff::workload
