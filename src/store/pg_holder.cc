// Who holds a lease on a PostgreSQL store (see pg_holder.h).

#include "store/pg_holder.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <fstream>
#include <random>
#include <vector>

namespace handoff::store {
namespace {

// What tells this process' pids apart from every other's: the kernel's boot (its boot id)
// and the pid namespace (a container has its own). Empty if either cannot be read.
std::string PidSpace() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  if (!std::getline(boot, boot_id) || boot_id.empty()) return {};
  char ns[128] = {};
  const ssize_t n = ::readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
  if (n <= 0) return {};
  return boot_id + "/" + std::string(ns, static_cast<std::size_t>(n));
}

}  // namespace

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

// A holder is "host|pid|pid space|random tag".
std::string MakeHolder(const std::string& host) {
  std::random_device random;
  return fmt::format("{}|{}|{}|{:08x}{:08x}", host, ::getpid(), PidSpace(), random(), random());
}

bool HolderIsGone(std::string_view holder) {
  std::vector<std::string_view> parts;
  for (std::size_t begin = 0;;) {
    const std::size_t end = holder.find('|', begin);
    parts.push_back(holder.substr(begin, end - begin));
    if (end == std::string_view::npos) break;
    begin = end + 1;
  }
  const std::string space = PidSpace();
  if (parts.size() != 4 || space.empty() || parts[0] != HostName() || parts[2] != space) {
    return false;
  }
  pid_t pid = 0;
  const auto [end, error] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), pid);
  if (error != std::errc() || end != parts[1].data() + parts[1].size() || pid <= 0) return false;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace handoff::store
