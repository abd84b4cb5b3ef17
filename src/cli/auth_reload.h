#pragma once

// serve's --auth-file, watched: tokens are added and revoked by editing the file, without a
// restart (as cert-manager rotates a certificate), and a file that does not parse changes
// nothing.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "auth/auth.h"
#include "engine/server_log.h"

namespace handoff {

// Reloads an auth file into an Authenticator when the file changes; checks every `interval`
// on a thread of its own until destroyed.
class AuthFileReloader {
 public:
  // Watches `path`, whose entries `auth` holds now; `auth` and `log` must outlive it.
  AuthFileReloader(std::string path, const auth::Authenticator& auth, ServerLog& log,
                   std::chrono::milliseconds interval);
  ~AuthFileReloader();

  AuthFileReloader(const AuthFileReloader&) = delete;
  AuthFileReloader& operator=(const AuthFileReloader&) = delete;

 private:
  // What tells a changed file: its inode, size and modification time.
  struct Stamp {
    bool exists = false;
    unsigned long long inode = 0;
    long long size = 0;
    long long mtime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };

  static Stamp StampOf(const std::string& path);
  void Loop();
  void Reload();

  const std::string path_;
  const auth::Authenticator& auth_;
  ServerLog& log_;
  const std::chrono::milliseconds interval_;
  Stamp stamp_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace handoff
