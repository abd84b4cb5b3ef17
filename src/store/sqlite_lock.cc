// Store ownership for SQLite: the lock file (see ownership.h).

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string_view>
#include <thread>

#include "event/event.h"
#include "store/run_json.h"
#include "store/sqlite_files.h"
#include "store/sqlite_lock.h"

namespace handoff::store {
namespace {

// A server that just took the lock writes its details right after; a second server that
// reads an empty file waits this long for them.
constexpr auto kHolderWriteWait = std::chrono::seconds(1);

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

std::string Rfc3339(std::int64_t ns) {
  std::string quoted;
  AppendTimeJson(quoted, ns);
  return quoted.size() >= 2 ? quoted.substr(1, quoted.size() - 2) : quoted;
}

// The value of `key=` in the lock file's text, or "".
std::string Field(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == '=') {
      return std::string(line.substr(key.size() + 1));
    }
  }
  return {};
}

std::string ReadAll(int fd) {
  std::string text;
  char buffer[1024];
  for (off_t offset = 0; text.size() < 4096;) {
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    offset += n;
  }
  return text;
}

// The error for a lock held by another process, naming it from the lock file `fd` (which
// that process may be writing right now).
Error HeldBy(int fd, const std::string& path, const std::string& lock_path) {
  std::string text = ReadAll(fd);
  const auto deadline = std::chrono::steady_clock::now() + kHolderWriteWait;
  while (Field(text, "pid").empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    text = ReadAll(fd);
  }
  const std::string pid = Field(text, "pid");
  return Error{ErrorCode::kConflict, fmt::format(
      "database \"{}\" is in use by another handoff server: pid {} on host {} since {} "
      "(lock file {}). One server per SQLite database: stop that server, or use another "
      "--db",
      path, pid.empty() ? "unknown" : pid, Field(text, "host").empty() ? "unknown" : Field(text, "host"),
      Field(text, "since").empty() ? "unknown" : Field(text, "since"), lock_path)};
}

class NoOwnership : public StoreOwnership {
 public:
  std::string Description() const override { return "in-memory store: nothing to lock"; }
};

class LockFile : public StoreOwnership {
 public:
  LockFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~LockFile() override {
    // Emptied, not removed: unlinking a lock file lets a server that opened the old file
    // and one that creates a new one both "hold" the lock. The kernel releases the lock
    // when the descriptor closes.
    [[maybe_unused]] const int ignored = ::ftruncate(fd_, 0);
    ::close(fd_);
  }
  std::string Description() const override { return "lock file " + path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<StoreOwnership>> AcquireSqliteOwnership(const std::string& path) {
  if (path.empty() || path == ":memory:") return std::make_unique<NoOwnership>();
  const std::string lock_path = path + ".lock";
  // Close-on-exec: a worker that inherited the descriptor would keep the lock alive after
  // the server died.
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot open database \"{}\": {}", path,
                             DescribeOpenError(lock_path, err))};
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) {
      ::close(fd);
      return Error{ErrorCode::kUnavailable,
                   fmt::format("cannot lock database \"{}\" with {}: {}", path, lock_path,
                               DescribeOpenError(lock_path, err))};
    }
    // Held by another process: name it. It may be writing its details right now.
    Error held = HeldBy(fd, path, lock_path);
    ::close(fd);
    return held;
  }
  const std::string details = fmt::format("pid={}\nhost={}\nsince={}\n", ::getpid(), HostName(),
                                          Rfc3339(NowNs()));
  // Written over the old details, then cut to length: on a full disk the old file's block
  // is reused. The lock itself is the flock; if the details cannot be written, a second
  // server is still refused, only without the holder's name.
  if (::pwrite(fd, details.data(), details.size(), 0) == static_cast<ssize_t>(details.size())) {
    [[maybe_unused]] const int ignored = ::ftruncate(fd, static_cast<off_t>(details.size()));
  }
  return std::make_unique<LockFile>(fd, lock_path);
}

Result<void> CheckSqliteOwnership(const std::string& path) {
  if (path.empty() || path == ":memory:") return {};
  const std::string lock_path = path + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};  // no server ever held it (or it cannot be read: opening says why)
  // The server opens it to write its details (a root-owned lock file, left by a server run
  // as root, stops a server run as anyone else).
  if (::access(lock_path.c_str(), R_OK | W_OK) != 0) {
    const int err = errno;
    ::close(fd);
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot open database \"{}\": {}", path,
                             DescribeOpenError(lock_path, err))};
  }
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    Error held = HeldBy(fd, path, lock_path);
    ::close(fd);
    return held;
  }
  ::close(fd);  // releases the shared lock
  return {};
}

}  // namespace handoff::store
