#include "cli/image_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "dynlib/lazy_library.h"
#include "handoff/workload_images.h"

namespace handoff {

struct ImageCommand {
  CLI::App* image = nullptr;
  CLI::App* build = nullptr;
  std::string tag;
  std::vector<std::string> labels;
  std::string context;  // write the build context here instead of building
};

namespace {

namespace fs = std::filesystem;

constexpr int kExitUsage = 2;

int Fail(const std::string& message) {
  std::fprintf(stderr, "handoff: image build: %s\n", message.c_str());
  return kExitUsage;
}

std::string SelfPath() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : self.string();
}

// The host's files an image needs beyond the binary and its libraries, where they exist:
// CA certificates (notifications over HTTPS) and the time zone database (schedules with
// a time zone).
void AddHostTree(const fs::path& root, std::vector<workload::ImageFile>& files) {
  std::error_code ec;
  if (!fs::exists(root, ec)) return;
  if (!fs::is_directory(root, ec)) {
    files.push_back(workload::ImageFile::HostFile(root.string(), root.string()));
    return;
  }
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::path& path = it->path();
    if (it->is_symlink(ec)) {
      files.push_back(workload::ImageFile::Symlink(path.string(), fs::read_symlink(path, ec)));
    } else if (it->is_regular_file(ec)) {
      files.push_back(workload::ImageFile::HostFile(path.string(), path.string()));
    }
  }
}

}  // namespace

ImageCommand* AddImageCommand(CLI::App& app) {
  static ImageCommand command;
  ImageCommand& c = command;
  c.image = app.add_subcommand("image", "Build a container image of this binary to serve it");
  c.image->require_subcommand(1, 1);
  c.build = c.image->add_subcommand(
      "build",
      "Build an image of this binary through the Docker Engine API (DOCKER_HOST applies): "
      "serve as a non-root user on port 1337, SQLite on a volume at /data");
  c.build->add_option("--tag,-t", c.tag, "The image's name and tag, e.g. registry/e2e:1.4");
  c.build->add_option("--label", c.labels, "A label KEY=VALUE on the image (repeatable)");
  c.build->add_option("--context", c.context,
                      "Write the build context (its Dockerfile and rootfs/) to this tar file "
                      "instead of building, for another builder: docker build -t TAG - < FILE");
  return &c;
}

bool ImageParsed(const ImageCommand& command) { return command.image->parsed(); }

int RunImage(const ImageCommand& c) {
  if (c.tag.empty() == c.context.empty()) {
    return Fail("give --tag TAG to build the image, or --context FILE to write its build "
                "context");
  }
  const std::string self = SelfPath();
  if (self.empty()) return Fail("cannot find this binary (/proc/self/exe)");
  const std::string name = fs::path(self).filename().string();
  const std::string exe = "/usr/local/bin/" + name;
  const std::string data = kImageDataDir;

  workload::ExecutableImageOptions options;
  options.executable_in_image = exe;
  options.entrypoint = std::vector<std::string>{exe};
  options.cmd = {"serve"};
  // What the binary opens when first needed (PostgreSQL, TLS, stack symbols): ldd does not
  // list it, and the image's server needs it.
  // libdw is the one the binary does without (crash stacks then show bare addresses).
  for (dynlib::LazyLibrary* library : dynlib::LazyLibraries()) {
    std::string path = library->Path();
    if (path.empty() && library == &dynlib::Libdw()) {
      std::fprintf(stderr, "handoff: warning: %s: crash stacks in the image will show addresses only\n",
                   library->Load().c_str());
      continue;
    }
    if (path.empty()) {
      return Fail(fmt::format("the image needs {}: {}", library->soname(), library->Load()));
    }
    options.libraries.push_back(std::move(path));
  }
  // serve's flags as variables, so that `docker run IMAGE` serves and a flag still wins.
  options.env = {"HANDOFF_HOST=0.0.0.0", fmt::format("HANDOFF_PORT={}", kImagePort),
                 fmt::format("HANDOFF_DB=sqlite:{}/handoff.db", data)};
  options.working_dir = data;
  options.instructions = {
      fmt::format("USER {0}:{0}", kImageUid),
      fmt::format("EXPOSE {}", kImagePort),
      fmt::format("VOLUME [\"{}\"]", data),
      // serve drains on SIGTERM (--shutdown-timeout), as `docker stop` and Kubernetes send.
      "STOPSIGNAL SIGTERM",
      fmt::format("HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 "
                  "CMD [\"{}\", \"remote\", \"health\"]",
                  exe),
  };
  options.labels = {{"org.opencontainers.image.title", name},
                    {"org.opencontainers.image.description",
                     "handoff end-to-end tests: " + name + " serve"}};
  for (const std::string& label : c.labels) {
    const std::size_t equals = label.find('=');
    if (equals == 0 || equals == std::string::npos) {
      return Fail(fmt::format("--label \"{}\": want KEY=VALUE", label));
    }
    options.labels[label.substr(0, equals)] = label.substr(equals + 1);
  }
  options.on_output = [](std::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  };

  std::vector<workload::ImageFile> files = {
      workload::ImageFile::Content(
          "/etc/passwd", fmt::format("root:x:0:0:root:/root:/sbin/nologin\n"
                                     "handoff:x:{0}:{0}:handoff:{1}:/sbin/nologin\n",
                                     kImageUid, data)),
      workload::ImageFile::Content("/etc/group",
                                   fmt::format("root:x:0:\nhandoff:x:{0}:\n", kImageUid)),
      // Tests' temporary directories.
      workload::ImageFile::Directory("/tmp", 01777),
      // Writable by whichever user runs the image (`docker run --user`, OpenShift's random
      // uids), as /tmp is; a named volume starts as a copy of it, and Kubernetes gives a
      // volume the pod's fsGroup.
      workload::ImageFile::Directory(data, 01777),
  };
  AddHostTree("/etc/ssl/certs/ca-certificates.crt", files);
  AddHostTree("/usr/share/zoneinfo", files);

  if (!c.context.empty()) {
    const workload::Status written =
        workload::WriteExecutableImageContext(c.context, self, files, options);
    if (!written.ok()) return Fail(written.message());
    std::printf("wrote the build context of %s to %s: docker build -t TAG - < %s\n",
                name.c_str(), c.context.c_str(), c.context.c_str());
    return 0;
  }
  std::string id;
  const workload::Status built = workload::BuildImageFromExecutable(c.tag, self, files, options, &id);
  if (!built.ok()) return Fail(built.message());
  std::printf("built %s (%s): %s serve on port %d as uid %d, data in %s\n", c.tag.c_str(),
              id.c_str(), exe.c_str(), kImagePort, kImageUid, data.c_str());
  return 0;
}

}  // namespace handoff
