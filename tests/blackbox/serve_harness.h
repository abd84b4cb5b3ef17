#pragma once

// What the black-box tests of `serve` share: the server process they start and talk to over
// HTTP, and JSON helpers whose missing fields read as empty (so a failed expectation says
// what it saw).

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "blackbox/process.h"
#include "http_client/http_client.h"
#include "support/postgres_cluster.h"

extern char** environ;

namespace handoff::testing {

namespace harness_json = boost::json;

inline namespace serve_harness {

using namespace std::chrono_literals;

// --- JSON helpers: missing fields read as empty, so a failed expectation says what it saw ---

inline boost::json::value Parse(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return boost::json::value();
  return v;
}

inline const boost::json::value* Field(const boost::json::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  return v.as_object().if_contains(key);
}

inline std::string Str(const boost::json::value& v, std::string_view key) {
  const boost::json::value* f = Field(v, key);
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
}

inline std::int64_t Int(const boost::json::value& v, std::string_view key) {
  const boost::json::value* f = Field(v, key);
  if (f == nullptr) return -1;
  if (f->is_int64()) return f->as_int64();
  if (f->is_uint64()) return static_cast<std::int64_t>(f->as_uint64());
  if (f->is_string()) return std::atoll(std::string(f->as_string()).c_str());
  return -1;
}

inline bool Bool(const boost::json::value& v, std::string_view key) {
  const boost::json::value* f = Field(v, key);
  return f != nullptr && f->is_bool() && f->as_bool();
}

inline bool IsNull(const boost::json::value& v, std::string_view key) {
  const boost::json::value* f = Field(v, key);
  return f == nullptr || f->is_null();
}

inline const boost::json::array& Arr(const boost::json::value& v, std::string_view key) {
  static const boost::json::array kEmpty;
  const boost::json::value* f = Field(v, key);
  return f != nullptr && f->is_array() ? f->as_array() : kEmpty;
}

// The tests of a run (its JSON) as name -> status.
inline std::map<std::string, std::string> TestStatuses(const boost::json::value& run) {
  std::map<std::string, std::string> out;
  for (const boost::json::value& t : Arr(run, "tests")) out[Str(t, "name")] = Str(t, "status");
  return out;
}

// The test `name` of a run (its JSON), or nullptr.
inline const boost::json::value* FindTest(const boost::json::value& run, const std::string& name) {
  for (const boost::json::value& t : Arr(run, "tests")) {
    if (Str(t, "name") == name) return &t;
  }
  return nullptr;
}

// Makes a token of `role` named `name` in `auth_file` with `binary token`; returns it.
inline std::string MakeToken(const std::string& binary, const std::string& name,
                             const std::string& role, const std::string& auth_file) {
  const ProcessResult made =
      RunProcess({binary, "token", "--name", name, "--role", role, "--auth-file", auth_file});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  std::string token = made.out;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  return token;
}

// --- The server process --------------------------------------------------------------------

class Server {
 public:
  Server(std::vector<std::string> argv, std::map<std::string, std::string> env,
         std::string out_path, std::string err_path)
      : argv_(std::move(argv)),
        env_(std::move(env)),
        out_path_(std::move(out_path)),
        err_path_(std::move(err_path)) {}

  ~Server() {
    if (pid_ > 0 && !exited_) {
      ::kill(-pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }

  // Starts the process and waits (at most 15s) for the line telling its port.
  bool Start(std::string* error) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      std::string key = kv.substr(0, kv.find('='));
      // The tests say which HANDOFF_* and SERVE_FIXTURE_* variables the server sees.
      if (key.rfind("HANDOFF_", 0) == 0 || key.rfind("SERVE_FIXTURE_", 0) == 0) continue;
      if (env_.count(key) == 0) env_strings.push_back(kv);
    }
    for (const auto& [k, v] : env_) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    for (std::string& s : argv_) args.push_back(s.data());
    args.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    const int rc = ::posix_spawn(&pid_, args[0], &actions, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      *error = "cannot start the fixture";
      pid_ = -1;
      return false;
    }
    static const std::regex kServing(R"(serving \d+ suites on (https?)://\S+:(\d+) )");
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      const std::string out = ReadFile(out_path_);
      if (std::regex_search(out, m, kServing)) {
        scheme_ = m[1];
        port_ = static_cast<std::uint16_t>(std::stoi(m[2]));
        return true;
      }
      if (auto code = WaitExit(0ms)) {
        *error = fmt::format("the server exited ({}) before serving:\n{}{}", *code, out, Err());
        return false;
      }
      ::usleep(5'000);
    }
    *error = "the server did not print its port within 15s:\n" + Err();
    return false;
  }

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return fmt::format("{}://127.0.0.1:{}", scheme_, port_); }
  std::string Err() const { return ReadFile(err_path_); }
  std::string Out() const { return ReadFile(out_path_); }

  void Signal(int sig) { ::kill(pid_, sig); }

  // Waits at most `timeout` for the process to end; returns its exit code (-signal when
  // killed), or nullopt if it is still running.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout) {
    if (exited_) return exit_code_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        return exit_code_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      ::usleep(5'000);
    }
  }

  // The HTTP client of the test's thread.
  http::Client& client() {
    if (!client_) client_ = std::make_unique<http::Client>("127.0.0.1", port_);
    return *client_;
  }

 private:
  std::vector<std::string> argv_;
  std::map<std::string, std::string> env_;
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string scheme_ = "http";  // as the server printed it
  bool exited_ = false;
  int exit_code_ = 0;
  std::unique_ptr<http::Client> client_;
};

// Starts a server process with `argv` and `env`, its output in `dir`/outN.txt and errN.txt
// (N counts the test's starts), and keeps it in `servers` (stopped with SIGKILL when
// dropped). Returns nullptr, with a failure recorded, if it did not start.
inline Server* StartServer(std::vector<std::unique_ptr<Server>>& servers, int& starts,
                           const std::string& dir, std::vector<std::string> argv,
                           std::map<std::string, std::string> env) {
  const int n = starts++;
  auto server = std::make_unique<Server>(std::move(argv), std::move(env),
                                         fmt::format("{}/out{}.txt", dir, n),
                                         fmt::format("{}/err{}.txt", dir, n));
  std::string error;
  if (!server->Start(&error)) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  servers.push_back(std::move(server));
  return servers.back().get();
}

// Returns the Prometheus text `metrics` without the `replica` label that replicas on a shared
// store add to every series (issue 17): the suites that run on SQLite and on PostgreSQL alike
// look for the same series in both.
inline std::string WithoutReplicaLabel(std::string metrics) {
  static const std::regex kLabel(R"(\{replica="[^"]*"\}|replica="[^"]*",)");
  return std::regex_replace(metrics, kLabel, "");
}

// Returns a port that was free a moment ago.
inline std::uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace serve_harness
// The store the black-box tests of `serve` run on: SQLite in the test's directory, or, with
// HANDOFF_SERVE_TEST_STORE=postgres (ctest's `serve_postgres`, which runs these suites
// again), a fresh database of the test's own on the tests' PostgreSQL server.
inline bool ServeTestsOnPostgres() {
  const char* store = std::getenv("HANDOFF_SERVE_TEST_STORE");
  return store != nullptr && std::string(store) == "postgres";
}

// The database of one test (see ServeTestsOnPostgres): Create() in SetUp, after
// HANDOFF_NEED_POSTGRES() when on PostgreSQL; url() for --db; Drop() after the servers
// have stopped.
class ServeTestDatabase {
 public:
  // Returns false (a failure recorded) if the PostgreSQL database cannot be created.
  bool Create(const std::string& dir) {
    dir_ = dir;
    if (!ServeTestsOnPostgres()) return true;
    auto created = ::handoff::testing::PostgresTestDatabase::Create();
    if (!created.ok()) {
      ADD_FAILURE() << created.error().message;
      return false;
    }
    postgres_ = std::move(created).value();
    return true;
  }
  std::string url() const { return postgres_ ? postgres_->url() : "sqlite:" + dir_ + "/h.db"; }
  void Drop() { postgres_.reset(); }

 private:
  std::string dir_;
  std::unique_ptr<::handoff::testing::PostgresTestDatabase> postgres_;
};

// A black-box test of `serve` with a database of its own (SQLite in a temporary directory,
// or PostgreSQL when ServeTestsOnPostgres) and the servers it started, stopped and removed
// after the test.
class ServeDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    if (ServeTestsOnPostgres()) HANDOFF_NEED_POSTGRES();
    ASSERT_TRUE(db_.Create(dir_));
  }
  void TearDown() override {
    servers_.clear();
    db_.Drop();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  ServeTestDatabase db_;
  std::vector<std::unique_ptr<Server>> servers_;
  int starts_ = 0;
};

}  // namespace handoff::testing
