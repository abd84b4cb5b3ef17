#include "workload/image_builder.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "workload/tar.h"

extern char** environ;

namespace handoff::workload {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr std::size_t kMaxCommandOutput = 1u << 20;

struct CommandOutput {
  int exit_code = 0;   // 128 + signal when killed
  std::string output;  // stdout and stderr, to their first MiB
};

// Runs `argv` (found in PATH) and returns what it printed, or nullopt and sets *error when
// it cannot start.
std::optional<CommandOutput> RunCommand(const std::vector<std::string>& argv, std::string* error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = fmt::format("pipe: {}", std::strerror(errno));
    return std::nullopt;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    *error = fmt::format("cannot run {}: {}", argv[0], std::strerror(rc));
    return std::nullopt;
  }
  CommandOutput result;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const std::size_t room = kMaxCommandOutput - std::min(result.output.size(), kMaxCommandOutput);
    result.output.append(buffer, std::min(static_cast<std::size_t>(n), room));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// Reads a host file (following links) with its permission bits.
bool ReadHostFile(const std::string& path, std::string* content, std::uint32_t* mode,
                  std::string* error) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    *error = fmt::format("{}: {}", path, std::strerror(errno));
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = fmt::format("{}: not a regular file", path);
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream data;
  data << in.rdbuf();
  if (!in) {
    *error = fmt::format("{}: cannot read it", path);
    return false;
  }
  *content = std::move(data).str();
  *mode = st.st_mode & 07777;
  return true;
}

// A build context of the image's files under rootfs/ (copied to / by the Dockerfile), each
// with its parent directories.
class RootfsContext {
 public:
  bool Add(const ImageFile& file, std::string* error) {
    if (!file.path.starts_with('/')) {
      *error = fmt::format("{}: a path in an image must be absolute", file.path);
      return false;
    }
    std::string path = "rootfs" + fs::path(file.path).lexically_normal().string();
    while (path.ends_with('/')) path.pop_back();
    for (std::size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      if (dirs_.insert(path.substr(0, slash)).second) tar_.AddDirectory(path.substr(0, slash));
    }
    switch (file.kind) {
      case ImageFile::Kind::kContent:
        tar_.AddFile(path, file.data, file.mode);
        break;
      case ImageFile::Kind::kHostFile: {
        std::string content;
        std::uint32_t mode = 0;
        if (!ReadHostFile(file.data, &content, &mode, error)) return false;
        // Readable (and, if executable at all, runnable) by every user of the image, which
        // may not be root; never setuid, setgid or writable but by its owner, root.
        tar_.AddFile(path, content, (mode & 0111) != 0 ? 0755 : 0644);
        break;
      }
      case ImageFile::Kind::kDirectory:
        dirs_.insert(path);
        tar_.AddDirectory(path, file.mode);
        break;
      case ImageFile::Kind::kSymlink:
        tar_.AddSymlink(path, file.data);
        break;
    }
    return true;
  }

  std::string Finish(std::string_view dockerfile) {
    tar_.AddFile("Dockerfile", dockerfile);
    return tar_.Finish();
  }

 private:
  TarWriter tar_;
  std::set<std::string> dirs_;
};

std::string JsonArray(const std::vector<std::string>& items) {
  boost::json::array array;
  for (const std::string& item : items) array.emplace_back(boost::json::string(item));
  return boost::json::serialize(array);
}

}  // namespace

ImageFile ImageFile::Content(std::string path, std::string content, std::uint32_t mode) {
  return ImageFile{std::move(path), Kind::kContent, std::move(content), mode};
}
ImageFile ImageFile::HostFile(std::string path, std::string host_path) {
  return ImageFile{std::move(path), Kind::kHostFile, std::move(host_path), 0};
}
ImageFile ImageFile::Directory(std::string path, std::uint32_t mode) {
  return ImageFile{std::move(path), Kind::kDirectory, "", mode};
}
ImageFile ImageFile::Symlink(std::string path, std::string target) {
  return ImageFile{std::move(path), Kind::kSymlink, std::move(target), 0777};
}

std::optional<std::vector<std::string>> ParseLddOutput(std::string_view output,
                                                       std::string* error) {
  // Lines are "libc.so.6 => /lib/.../libc.so.6 (0x...)", "/lib64/ld-linux-x86-64.so.2
  // (0x...)", "linux-vdso.so.1 (0x...)" (in the kernel: nothing to copy), or one line
  // saying the executable is static.
  std::vector<std::string> libraries;
  while (!output.empty()) {
    const std::size_t newline = output.find('\n');
    std::string_view line = output.substr(0, newline);
    output.remove_prefix(newline == std::string_view::npos ? output.size() : newline + 1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) {
      line.remove_prefix(1);
    }
    if (line.find("not a dynamic executable") != std::string_view::npos ||
        line.find("statically linked") != std::string_view::npos) {
      return std::vector<std::string>();
    }
    const std::size_t arrow = line.find(" => ");
    const std::string_view target = arrow == std::string_view::npos ? line : line.substr(arrow + 4);
    if (target.starts_with("not found")) {
      *error = fmt::format("a shared library is missing: {}", line);
      return std::nullopt;
    }
    if (!target.starts_with('/')) continue;
    std::string path(target.substr(0, target.find(" (")));
    if (std::find(libraries.begin(), libraries.end(), path) == libraries.end()) {
      libraries.push_back(std::move(path));
    }
  }
  return libraries;
}

std::optional<std::vector<std::string>> SharedLibraries(const std::string& executable,
                                                        std::string* error) {
  const std::optional<CommandOutput> ldd = RunCommand({"ldd", executable}, error);
  if (!ldd) return std::nullopt;
  std::optional<std::vector<std::string>> libraries = ParseLddOutput(ldd->output, error);
  if (libraries && libraries->empty() && ldd->exit_code != 0 &&
      ldd->output.find("not a dynamic executable") == std::string::npos) {
    *error = fmt::format("ldd {} exited with {}: {}", executable, ldd->exit_code, ldd->output);
    return std::nullopt;
  }
  if (!libraries) *error = fmt::format("{}: {}", executable, *error);
  return libraries;
}

std::optional<std::string> ExecutableImageContext(const std::string& executable_path,
                                                  const std::vector<ImageFile>& extra_files,
                                                  const ExecutableImageOptions& options,
                                                  std::string* error) {
  const std::string executable = fs::absolute(executable_path).lexically_normal().string();
  std::optional<std::vector<std::string>> libraries = SharedLibraries(executable, error);
  if (!libraries) return std::nullopt;
  for (const std::string& opened : options.libraries) {
    const std::optional<std::vector<std::string>> needed = SharedLibraries(opened, error);
    if (!needed) return std::nullopt;
    for (const std::string& library : *needed) {
      if (std::find(libraries->begin(), libraries->end(), library) == libraries->end()) {
        libraries->push_back(library);
      }
    }
    if (std::find(libraries->begin(), libraries->end(), opened) == libraries->end()) {
      libraries->push_back(opened);
    }
  }
  const std::string in_image =
      options.executable_in_image.empty() ? executable : options.executable_in_image;
  std::vector<ImageFile> files = {ImageFile::HostFile(in_image, executable)};
  for (const std::string& library : *libraries)
    files.push_back(ImageFile::HostFile(library, library));
  files.insert(files.end(), extra_files.begin(), extra_files.end());
  RootfsContext context;
  for (const ImageFile& file : files) {
    if (!context.Add(file, error)) return std::nullopt;
  }

  std::string dockerfile = fmt::format("FROM scratch\nCOPY rootfs/ /\nENV PATH={}\n", kPath);
  for (const std::string& variable : options.env) {
    const std::size_t equals = variable.find('=');
    if (equals == 0 || equals == std::string::npos) {
      *error = fmt::format("env \"{}\": not KEY=value", variable);
      return std::nullopt;
    }
    dockerfile +=
        fmt::format("ENV {}={}\n", variable.substr(0, equals),
                    boost::json::serialize(boost::json::string(variable.substr(equals + 1))));
  }
  for (const std::string& instruction : options.instructions) {
    if (instruction.empty() || instruction.find('\n') != std::string::npos) {
      *error = fmt::format("instruction \"{}\": not one Dockerfile line", instruction);
      return std::nullopt;
    }
    dockerfile += instruction + "\n";
  }
  if (!options.working_dir.empty()) dockerfile += fmt::format("WORKDIR {}\n", options.working_dir);
  const std::vector<std::string> entrypoint = options.entrypoint.value_or(std::vector{in_image});
  if (!entrypoint.empty()) dockerfile += fmt::format("ENTRYPOINT {}\n", JsonArray(entrypoint));
  if (!options.cmd.empty()) dockerfile += fmt::format("CMD {}\n", JsonArray(options.cmd));
  return context.Finish(dockerfile);
}

DockerResult<std::string> BuildImageFromExecutable(DockerClient& client,
                                                   const std::string& image_name,
                                                   const std::string& executable_path,
                                                   const std::vector<ImageFile>& extra_files,
                                                   const ExecutableImageOptions& options) {
  const std::string operation = fmt::format("build image \"{}\"", image_name);
  std::string error;
  std::optional<std::string> context =
      ExecutableImageContext(executable_path, extra_files, options, &error);
  if (!context) return DockerError{0, error, operation};
  return client.BuildImage(image_name, *context, options.labels, options.on_output);
}

DockerResult<std::string> BuildBusyboxImage(DockerClient& client, const std::string& image_name,
                                            const std::string& busybox_path, const Labels& labels) {
  const std::string operation = fmt::format("build image \"{}\"", image_name);
  std::string error;
  const std::string busybox = fs::absolute(busybox_path).lexically_normal().string();
  const std::optional<CommandOutput> list = RunCommand({busybox, "--list"}, &error);
  if (!list) return DockerError{0, error, operation};
  if (list->exit_code != 0) {
    return DockerError{0, fmt::format("{} --list: {}", busybox, list->output), operation};
  }
  std::vector<ImageFile> files = {
      ImageFile::Directory("/tmp", 01777),
      ImageFile::Content("/etc/passwd",
                         "root:x:0:0:root:/root:/bin/sh\n"
                         "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
      ImageFile::Content("/etc/group", "root:x:0:\nnogroup:x:65534:\n"),
  };
  std::istringstream applets(list->output);
  for (std::string applet; std::getline(applets, applet);) {
    if (applet.empty() || applet.find('/') != std::string::npos) continue;
    const std::string link = "/bin/" + applet;
    if (link != busybox) files.push_back(ImageFile::Symlink(link, busybox));
  }
  ExecutableImageOptions options;
  options.entrypoint = std::vector<std::string>();
  options.cmd = {"sh"};
  options.labels = labels;
  return BuildImageFromExecutable(client, image_name, busybox, files, options);
}

DockerResult<std::string> BuildImageFromDirectory(DockerClient& client,
                                                  const std::string& image_name,
                                                  const std::string& dir,
                                                  const std::string& dockerfile_text,
                                                  const Labels& labels) {
  const std::string operation = fmt::format("build image \"{}\"", image_name);
  std::error_code ec;
  std::vector<fs::path> paths;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    paths.push_back(it->path().lexically_relative(dir));
  }
  if (ec) return DockerError{0, fmt::format("{}: {}", dir, ec.message()), operation};
  std::sort(paths.begin(), paths.end());  // the same tree gives the same context
  TarWriter tar;
  std::string error;
  for (const fs::path& relative : paths) {
    const std::string name = relative.generic_string();
    if (name == "Dockerfile" && !dockerfile_text.empty()) continue;
    const fs::path full = fs::path(dir) / relative;
    const fs::file_status status = fs::symlink_status(full, ec);
    if (ec) return DockerError{0, fmt::format("{}: {}", full.string(), ec.message()), operation};
    const auto mode = static_cast<std::uint32_t>(status.permissions()) & 07777;
    if (fs::is_symlink(status)) {
      tar.AddSymlink(name, fs::read_symlink(full, ec).string());
    } else if (fs::is_directory(status)) {
      tar.AddDirectory(name, mode);
    } else if (fs::is_regular_file(status)) {
      std::string content;
      std::uint32_t file_mode = 0;
      if (!ReadHostFile(full.string(), &content, &file_mode, &error)) {
        return DockerError{0, error, operation};
      }
      tar.AddFile(name, content, file_mode);
    }  // sockets, fifos and devices have no place in a context
  }
  if (!dockerfile_text.empty()) tar.AddFile("Dockerfile", dockerfile_text);
  return client.BuildImage(image_name, tar.Finish(), labels);
}

// ---------------------------------------------------------------------------------------
// The public API (handoff/workload_images.h): the same builds on DOCKER_HOST's engine.

namespace {

Status Built(DockerResult<std::string> result, std::string* id) {
  if (!result.ok()) return Status::Error(result.error().ToString());
  if (id != nullptr) *id = *result;
  return {};
}

}  // namespace

Status BuildImageFromExecutable(const std::string& image, const std::string& executable,
                                const std::vector<ImageFile>& extra_files,
                                const ExecutableImageOptions& options, std::string* id) {
  std::string error;
  std::optional<DockerClient> client = DockerClient::FromEnvironment(&error);
  if (!client) return Status::Error(error);
  return Built(BuildImageFromExecutable(*client, image, executable, extra_files, options), id);
}

Status WriteExecutableImageContext(const std::string& tar_path, const std::string& executable,
                                   const std::vector<ImageFile>& extra_files,
                                   const ExecutableImageOptions& options) {
  std::string error;
  const std::optional<std::string> context =
      ExecutableImageContext(executable, extra_files, options, &error);
  if (!context) return Status::Error(error);
  std::ofstream out(tar_path, std::ios::binary | std::ios::trunc);
  out.write(context->data(), static_cast<std::streamsize>(context->size()));
  out.close();
  if (!out) return Status::Error(fmt::format("cannot write {}", tar_path));
  return Status();
}

Status BuildBusyboxImage(const std::string& image, const std::string& busybox, std::string* id) {
  std::string error;
  std::optional<DockerClient> client = DockerClient::FromEnvironment(&error);
  if (!client) return Status::Error(error);
  return Built(BuildBusyboxImage(*client, image, busybox), id);
}

Status BuildImageFromDirectory(const std::string& image, const std::string& dir,
                               const std::string& dockerfile, std::string* id) {
  std::string error;
  std::optional<DockerClient> client = DockerClient::FromEnvironment(&error);
  if (!client) return Status::Error(error);
  return Built(BuildImageFromDirectory(*client, image, dir, dockerfile), id);
}

}  // namespace handoff::workload
