#include "workload/service_images.h"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>

namespace handoff::workload {
namespace {

namespace fs = std::filesystem;

// Changing how images are put together changes every tag, so engines rebuild them.
constexpr std::string_view kRecipeVersion = "1";

// Where the image's busybox lives, and the applets the helpers' scripts use (initdb
// runs its children through /bin/sh; probes compare answers in a shell).
constexpr std::string_view kBusyboxHost = "/usr/bin/busybox";
constexpr std::string_view kBusyboxImage = "/bin/busybox";
constexpr std::string_view kApplets[] = {"sh",    "[",   "test", "printf", "echo",  "cat",
                                         "ls",    "rm",  "mv",   "mkdir",  "chmod", "chown",
                                         "sleep", "env", "id",   "ps",     "kill",  "grep"};

// A link in /bin per applet to the image's busybox (a program of the image: see
// EnsureServiceImage).
std::vector<ImageFile> BusyboxLinks() {
  std::vector<ImageFile> files;
  for (std::string_view applet : kApplets) {
    files.push_back(ImageFile::Symlink("/bin/" + std::string(applet), std::string(kBusyboxImage)));
  }
  return files;
}

// Adds the tree under `root` at the same path: directories, links as links, regular files;
// files named *.so go to `image->programs` (their libraries are needed too). `skip` leaves
// out an entry (and what is under it).
bool AddHostTree(const std::string& root, const std::function<bool(const fs::path&)>& skip,
                 ServiceImage* image, std::string* error) {
  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  fs::recursive_directory_iterator it(root, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (skip && skip(it->path())) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) it.disable_recursion_pending();
      continue;
    }
    entries.push_back(*it);
  }
  if (ec) {
    *error = fmt::format("{}: {}", root, ec.message());
    return false;
  }
  // The same tree gives the same recipe, hence the same tag.
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path() < b.path(); });
  image->files.push_back(ImageFile::Directory(root));
  for (const fs::directory_entry& entry : entries) {
    const std::string path = entry.path().string();
    if (entry.is_symlink(ec)) {
      image->files.push_back(ImageFile::Symlink(path, fs::read_symlink(entry.path(), ec).string()));
    } else if (entry.is_directory(ec)) {
      image->files.push_back(ImageFile::Directory(path));
    } else if (entry.is_regular_file(ec)) {
      if (path.ends_with(".so")) {
        image->programs.push_back(path);
      } else {
        image->files.push_back(ImageFile::HostFile(path, path));
      }
    }
  }
  return true;
}

// FNV-1a, 64 bits: enough to tell recipes apart, no cryptography needed.
class Hasher {
 public:
  void Add(std::string_view text) {
    for (const char c : text) {
      hash_ ^= static_cast<unsigned char>(c);
      hash_ *= 0x100000001b3ULL;
    }
    hash_ ^= 0xff;  // a separator, so ("ab","c") and ("a","bc") differ
    hash_ *= 0x100000001b3ULL;
  }
  // Adds a host file's path, size and modification time; false if it cannot be stat'ed.
  bool AddHostFile(const std::string& path, std::string* error) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      *error = fmt::format("{}: {}", path, std::strerror(errno));
      return false;
    }
    Add(fmt::format("{} {} {}.{}", path, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec));
    return true;
  }
  std::string Hex(std::size_t digits) const {
    return fmt::format("{:016x}", hash_).substr(0, digits);
  }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

// The passwd line of a host user, or `fallback` when the host has none, so that files the
// container writes in the shared directory belong to the same user on both sides.
std::string PasswdLine(const std::string& user, const std::string& fallback) {
  char buf[4096];
  passwd pw{};
  passwd* found = nullptr;
  ::getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &found);
  if (found == nullptr) return fallback;
  return fmt::format("{}:x:{}:{}:{}:{}:/bin/sh\n", user, found->pw_uid, found->pw_gid, user,
                     found->pw_dir);
}

std::string GroupLine(const std::string& group, const std::string& fallback) {
  char buf[4096];
  struct group gr {};
  struct group* found = nullptr;
  ::getgrnam_r(group.c_str(), &gr, buf, sizeof buf, &found);
  if (found == nullptr) return fallback;
  return fmt::format("{}:x:{}:\n", group, found->gr_gid);
}

// The tags this process has asked an engine for, each with the mutex that serialises its
// build there. StartAndWaitReady starts runnables at once: two of one service must not
// build its image twice.
class TagsInUse {
 public:
  // Returns the mutex of `tag` on `endpoint`, which from now on counts as in use.
  std::shared_ptr<std::mutex> Use(const std::string& endpoint, const std::string& tag) {
    std::lock_guard lock(mu_);
    std::shared_ptr<std::mutex>& slot = builds_[{endpoint, tag}];
    if (!slot) slot = std::make_shared<std::mutex>();
    return slot;
  }

  // Returns the tags of `repository` in use on `endpoint`.
  std::set<std::string> Of(const std::string& endpoint, const std::string& repository) {
    const std::string prefix = repository + ":";
    std::set<std::string> tags;
    std::lock_guard lock(mu_);
    for (const auto& [key, build] : builds_) {
      if (key.first == endpoint && key.second.starts_with(prefix)) tags.insert(key.second);
    }
    return tags;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<std::mutex>> builds_;
};

TagsInUse& ProcessTags() {
  static TagsInUse tags;
  return tags;
}

// Removes what earlier builds of `repository` left on the engine: the images with its
// label whose tags include none of `keep`. It removes their tags of `repository` (an
// image also tagged elsewhere stays under that name), or an untagged one by id. Nothing is
// forced: an image a container uses (409) stays, and so does one gone already (404) or that
// the engine would not remove for another reason, since tidying up must never fail a build.
void PruneOlderImages(DockerClient& client, const std::string& repository,
                      const std::set<std::string>& keep) {
  const DockerResult<std::vector<ImageSummary>> images =
      client.ListImages("handoff.service=" + repository);
  if (!images.ok()) return;
  const std::string prefix = repository + ":";
  for (const ImageSummary& image : *images) {
    if (std::ranges::any_of(image.tags, [&](const auto& tag) { return keep.contains(tag); })) {
      continue;
    }
    if (image.tags.empty()) (void)client.RemoveImage(image.id, /*force=*/false);
    for (const std::string& tag : image.tags) {
      if (tag.starts_with(prefix)) (void)client.RemoveImage(tag, /*force=*/false);
    }
  }
}

}  // namespace

ServiceImage PrometheusImage(const std::string& executable) {
  ServiceImage image;
  image.repository = "handoff/prometheus";
  image.executable = executable;
  return image;
}

std::optional<ServiceImage> PostgresImage(const std::string& bin_dir, std::string* error) {
  const fs::path bin = fs::path(bin_dir).lexically_normal();
  // Debian's layout: /usr/lib/postgresql/<version>/{bin,lib}, /usr/share/postgresql/<version>.
  const fs::path home = bin.parent_path();
  const std::string version = home.filename().string();
  ServiceImage image;
  image.repository = "handoff/postgres";
  image.executable = (bin / "postgres").string();
  for (const char* program : {"initdb", "pg_isready", "psql", "pg_dump"}) {
    image.programs.push_back((bin / program).string());
  }
  image.programs.push_back(std::string(kBusyboxHost));
  // The JIT drags in all of LLVM; the helper runs postgres with jit=off.
  const auto skip_jit = [](const fs::path& path) {
    const std::string name = path.filename().string();
    return name == "bitcode" || name.starts_with("llvmjit");
  };
  if (!AddHostTree((home / "lib").string(), skip_jit, &image, error) ||
      !AddHostTree("/usr/share/postgresql/" + version, nullptr, &image, error) ||
      !AddHostTree("/usr/share/zoneinfo", nullptr, &image, error)) {
    return std::nullopt;
  }
  const std::vector<ImageFile> links = BusyboxLinks();
  image.files.insert(image.files.end(), links.begin(), links.end());
  image.files.push_back(ImageFile::Directory("/tmp", 01777));
  image.files.push_back(ImageFile::Content(
      "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n" +
                         PasswdLine("postgres", "postgres:x:101:104:postgres:/tmp:/bin/sh\n") +
                         "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"));
  image.files.push_back(ImageFile::Content(
      "/etc/group",
      "root:x:0:\n" + GroupLine("postgres", "postgres:x:104:\n") + "nogroup:x:65534:\n"));
  image.env = {"PATH=" + bin.string() + ":/usr/sbin:/usr/bin:/sbin:/bin", "TZ=UTC"};
  return image;
}

ServiceImage RedisImage(const std::string& server, const std::string& cli) {
  ServiceImage image;
  image.repository = "handoff/redis";
  image.executable = server;
  image.programs = {cli, std::string(kBusyboxHost)};
  image.files = BusyboxLinks();
  image.files.push_back(ImageFile::Directory("/tmp", 01777));
  return image;
}

std::optional<std::string> ServiceImageTag(const ServiceImage& image, std::string* error) {
  Hasher hasher;
  hasher.Add(kRecipeVersion);
  hasher.Add(image.repository);
  if (!hasher.AddHostFile(image.executable, error)) return std::nullopt;
  for (const std::string& program : image.programs) {
    if (!hasher.AddHostFile(program, error)) return std::nullopt;
  }
  for (const ImageFile& file : image.files) {
    hasher.Add(fmt::format("{} {} {:o}", static_cast<int>(file.kind), file.path, file.mode));
    if (file.kind == ImageFile::Kind::kHostFile) {
      if (!hasher.AddHostFile(file.data, error)) return std::nullopt;
    } else {
      hasher.Add(file.data);
    }
  }
  for (const std::string& variable : image.env) hasher.Add(variable);
  return fmt::format("{}:{}", image.repository, hasher.Hex(12));
}

DockerResult<std::string> EnsureServiceImage(DockerClient& client, const ServiceImage& image) {
  std::string error;
  const std::optional<std::string> tag = ServiceImageTag(image, &error);
  if (!tag) {
    return DockerError{0, error, fmt::format("build image \"{}\"", image.repository)};
  }
  const std::string operation = fmt::format("build image \"{}\"", *tag);

  const std::string endpoint = client.endpoint().ToString();
  const std::shared_ptr<std::mutex> build = ProcessTags().Use(endpoint, *tag);
  std::lock_guard lock(*build);
  const DockerResult<ImageInfo> found = client.InspectImage(*tag);
  if (found.ok()) return *tag;
  if (!found.error().not_found()) return found.error();

  std::vector<ImageFile> files;
  std::set<std::string> libraries;
  for (const std::string& program : image.programs) {
    files.push_back(ImageFile::HostFile(
        program == kBusyboxHost ? std::string(kBusyboxImage) : program, program));
    const std::optional<std::vector<std::string>> needed = SharedLibraries(program, &error);
    if (!needed) return DockerError{0, error, operation};
    libraries.insert(needed->begin(), needed->end());
  }
  for (const std::string& library : libraries) {
    files.push_back(ImageFile::HostFile(library, library));
  }
  files.insert(files.end(), image.files.begin(), image.files.end());
  ExecutableImageOptions options;
  options.env = image.env;
  options.labels = {{"handoff.service", image.repository}};
  const DockerResult<std::string> built =
      BuildImageFromExecutable(client, *tag, image.executable, files, options);
  if (!built.ok()) return built.error();
  // The host's files changed (a package upgrade): the images of the old ones would stay on
  // the engine forever. Tags this process asked for stay too: a runnable may be about to
  // use one (two recipes of one repository, such as two PostgreSQL versions).
  PruneOlderImages(client, image.repository, ProcessTags().Of(endpoint, image.repository));
  return *tag;
}

}  // namespace handoff::workload
