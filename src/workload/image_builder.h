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

#include "workload/docker_client.h"

namespace handoff::workload {

// A file, directory or symlink to put into an image.
struct ImageFile {
  enum class Kind : std::uint8_t { kContent, kHostFile, kDirectory, kSymlink };

  std::string path;  // absolute, in the image: "/etc/prometheus/prometheus.yml"
  Kind kind = Kind::kContent;
  std::string data;  // the content, the host path or the link's target
  std::uint32_t mode = 0644;

  // A regular file holding `content`.
  static ImageFile Content(std::string path, std::string content, std::uint32_t mode = 0644);
  // A copy of the host's file at `host_path` (followed if a link), with its mode.
  static ImageFile HostFile(std::string path, std::string host_path);
  // An empty directory.
  static ImageFile Directory(std::string path, std::uint32_t mode = 0755);
  // A symbolic link to `target`.
  static ImageFile Symlink(std::string path, std::string target);
};

// How an image built from an executable runs.
struct ExecutableImageOptions {
  // The ENTRYPOINT: nullopt for the executable itself, an empty list for none.
  std::optional<std::vector<std::string>> entrypoint;
  std::vector<std::string> cmd;  // the CMD, if any
  std::vector<std::string> env;  // "KEY=value"; PATH is set to the usual directories
  std::string working_dir;
  Labels labels;
  std::function<void(std::string_view)> on_output;  // the build's output lines
};

// Parses what `ldd` printed. Returns the absolute paths of the libraries and of the dynamic
// loader (none for a static executable), or nullopt and sets *error when a library is
// missing ("libfoo.so => not found").
std::optional<std::vector<std::string>> ParseLddOutput(std::string_view output, std::string* error);

// Runs `ldd executable` and returns ParseLddOutput of it. ldd may load the executable: use
// it on trusted files only.
std::optional<std::vector<std::string>> SharedLibraries(const std::string& executable,
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
