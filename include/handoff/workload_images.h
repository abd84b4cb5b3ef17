#pragma once

// Docker images from this host's files, for machines that cannot pull from a registry: an
// executable with the shared libraries it needs (as `ldd` lists them), a busybox whose
// applets are links in /bin, or a directory with a Dockerfile. Every image is built
// `FROM scratch` through the Engine API of the engine DOCKER_HOST names (default
// /var/run/docker.sock); no docker CLI is needed.
//
//   // An image of our own service, its config beside it:
//   std::string id;
//   auto st = handoff::workload::BuildImageFromExecutable(
//       "shop:test", "/usr/local/bin/shop",
//       {handoff::workload::ImageFile::Content("/etc/shop.yml", config)}, {}, &id);
//   // ... then StartOptions{.image = "shop:test", ...} in a Docker environment.
//
// Host paths are kept: the executable, its libraries and HostFile copies sit at the same
// paths in the image as on the host, so command lines work unchanged in both environments.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/workload.h"

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
  std::map<std::string, std::string> labels;
  std::function<void(std::string_view)> on_output;  // the build's output lines
  // Where the executable goes in the image; empty: at its host path (so command lines
  // work unchanged in both environments).
  std::string executable_in_image;
  // Further Dockerfile instructions, after the files are copied and ENV, before WORKDIR:
  // "USER 65532:65532", "EXPOSE 1337", "VOLUME /data", "HEALTHCHECK CMD [...]".
  std::vector<std::string> instructions;
  // Shared libraries the executable opens itself (dlopen), which ldd does not list: each is
  // put in the image at its host path, with the libraries it needs. A handoff binary opens
  // libpq, libssl, libcrypto and libdw that way: its own `image build` adds them, an image
  // of one built here must name them.
  std::vector<std::string> libraries;
};

// Builds image `image` ("repo:tag") holding `executable` and every shared library it needs
// at their host paths, plus `extra_files`, with the executable as its entrypoint unless
// `options` says otherwise. Sets *id (if given) to the image's id. ldd may load the
// executable: use it on trusted files only.
Status BuildImageFromExecutable(const std::string& image, const std::string& executable,
                                const std::vector<ImageFile>& extra_files = {},
                                const ExecutableImageOptions& options = {},
                                std::string* id = nullptr);

// Writes the build context BuildImageFromExecutable would send (a tar of its Dockerfile and
// of the files under rootfs/) to `tar_path`, for another builder: `docker build -t TAG - <
// FILE`, buildah, kaniko.
Status WriteExecutableImageContext(const std::string& tar_path, const std::string& executable,
                                   const std::vector<ImageFile>& extra_files = {},
                                   const ExecutableImageOptions& options = {});

// Builds image `image` from a static busybox (Debian's busybox-static): /bin/busybox, a
// link to it in /bin for every applet (sh, wget, httpd, nc...), /tmp, and an /etc/passwd
// with root and nobody. The command is `sh`.
Status BuildBusyboxImage(const std::string& image, const std::string& busybox = "/bin/busybox",
                         std::string* id = nullptr);

// Builds image `image` from the files under `dir` with `dockerfile` as its Dockerfile
// (empty: the Dockerfile in `dir`).
Status BuildImageFromDirectory(const std::string& image, const std::string& dir,
                               const std::string& dockerfile = "", std::string* id = nullptr);

}  // namespace handoff::workload
