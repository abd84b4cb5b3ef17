#include "cli/auth_reload.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <utility>

namespace handoff {

AuthFileReloader::AuthFileReloader(std::string path, const auth::Authenticator& auth,
                                   ServerLog& log, std::chrono::milliseconds interval)
    : path_(std::move(path)),
      auth_(auth),
      log_(log),
      interval_(interval),
      stamp_(StampOf(path_)),
      thread_([this] { Loop(); }) {}

AuthFileReloader::~AuthFileReloader() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

AuthFileReloader::Stamp AuthFileReloader::StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Stamp{};
  return Stamp{true, static_cast<unsigned long long>(st.st_ino),
               static_cast<long long>(st.st_size),
               static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

void AuthFileReloader::Loop() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    Reload();
    lock.lock();
  }
}

void AuthFileReloader::Reload() {
  const Stamp now = StampOf(path_);
  if (now == stamp_) return;
  stamp_ = now;
  const auto keep = [&](const std::string& why) {
    log_.Error("auth file not reloaded; the tokens it gave before stay",
               {{"file", path_}, {"error", why}});
  };
  std::ifstream in(path_);
  if (!now.exists || !in) return keep("cannot read it");
  std::ostringstream text;
  text << in.rdbuf();
  Result<std::vector<auth::AuthEntry>> entries = auth::ParseAuthFile(text.str());
  if (!entries.ok()) return keep(entries.error().message);
  // An empty file is more likely one being written than every entry revoked at once.
  if (entries->empty()) return keep("no entry in it");
  Result<std::size_t> tokens = auth_.Replace(std::move(entries).value());
  if (!tokens.ok()) return keep(tokens.error().message);
  log_.Info("auth file reloaded", {{"file", path_}, {"tokens", fmt::format("{}", *tokens)}});
}

}  // namespace handoff
