#include "support/postgres_cluster.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string_view>
#include <thread>

#include "workload/internal.h"  // FreePort

extern char** environ;

namespace handoff::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kNoPostgres =
    "no PostgreSQL here: install Debian's postgresql or set HANDOFF_TEST_POSTGRES_URL";

// The account the cluster's programs run as when this process is root.
struct Account {
  uid_t uid = 0;
  gid_t gid = 0;
};

// `url` with the password of its user info replaced by "***", for messages.
std::string Redacted(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const std::size_t start = scheme + 3;
  const std::size_t end = std::min(url.find_first_of("/?", start), url.size());
  const std::size_t at = url.rfind('@', end);
  if (at == std::string::npos || at < start) return url;
  const std::size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

// The parts of a postgres:// URL around its database name.
struct UrlParts {
  std::string base;      // "postgres://user@host:port"
  std::string database;  // "" when the URL names none
  std::string query;     // "?sslmode=disable", or ""
};

std::optional<UrlParts> SplitUrl(const std::string& url) {
  if (!url.starts_with("postgres://") && !url.starts_with("postgresql://")) return std::nullopt;
  const std::size_t start = url.find("://") + 3;
  const std::size_t query = std::min(url.find('?', start), url.size());
  const std::size_t slash = url.find('/', start);
  UrlParts parts;
  parts.query = url.substr(query);
  if (slash == std::string::npos || slash > query) {
    parts.base = url.substr(0, query);
  } else {
    parts.base = url.substr(0, slash);
    parts.database = url.substr(slash + 1, query - slash - 1);
  }
  return parts;
}

// The URL of database `name` on the server of `url`, with its other parameters.
std::string WithDatabase(const std::string& url, const std::string& name) {
  const UrlParts parts = *SplitUrl(url);
  return parts.base + "/" + name + parts.query;
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The last `count` lines of the file at `path` (what a failed initdb or pg_ctl said).
std::string LastLines(const fs::path& path, std::size_t count = 15) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const std::size_t from = lines.size() > count ? lines.size() - count : 0;
  std::string text;
  for (std::size_t i = from; i < lines.size(); ++i) text += "\n  " + lines[i];
  return text.empty() ? " (" + path.string() + " is empty)" : text;
}

bool Executable(const fs::path& path) { return ::access(path.c_str(), X_OK) == 0; }

// The directory holding initdb and pg_ctl: the first of PATH's that has both, else the
// highest version of /usr/lib/postgresql/*/bin (Debian's packages do not put them on PATH).
std::optional<fs::path> FindPostgresBin() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    if (Executable(fs::path(dir) / "initdb") && Executable(fs::path(dir) / "pg_ctl")) return dir;
  }
  std::optional<fs::path> best;
  int best_version = -1;
  std::error_code ignored;
  for (const fs::directory_entry& entry :
       fs::directory_iterator("/usr/lib/postgresql", ignored)) {
    const std::string version = entry.path().filename().string();
    if (version.empty() || !std::all_of(version.begin(), version.end(), ::isdigit)) continue;
    const fs::path bin = entry.path() / "bin";
    if (!Executable(bin / "initdb") || !Executable(bin / "pg_ctl")) continue;
    if (const int v = std::atoi(version.c_str()); v > best_version) {
      best_version = v;
      best = bin;
    }
  }
  return best;
}

// How a child starts: prepared before fork, since the child may only make system calls.
struct Spawn {
  std::vector<std::string> argv;       // argv[0] is a path
  std::optional<Account> account;      // run as this user, when set
  std::string cwd = "/";
  std::string output = "/dev/null";    // stdout and stderr are appended to this file
  int stdin_fd = -1;                   // -1: /dev/null
  // In a session of its own (out of reach of the terminal's Ctrl-C) and not this process's
  // child: nothing that ends or counts this process's children (LeftoversTest) sees it.
  bool detached = false;
};

// Starts `spawn`; returns its pid (0 when detached), or -1 with errno set.
pid_t Start(const Spawn& spawn) {
  std::vector<char*> argv;
  for (const std::string& arg : spawn.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  // The children's messages in English, whatever locale this machine lacks.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with("LC_ALL=")) env_storage.emplace_back(*e);
  }
  env_storage.emplace_back("LC_ALL=C");
  std::vector<char*> envp;
  for (const std::string& e : env_storage) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) return pid;
  if (pid > 0) {
    if (!spawn.detached) return pid;
    int status = 0;  // the go-between, which exits at once
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
  }
  // The child: async-signal-safe calls only, until exec.
  if (spawn.detached) {
    // A go-between forks the real child and exits, which leaves it to init.
    const pid_t child = ::fork();
    if (child != 0) ::_exit(child < 0 ? 126 : 0);
    ::setsid();
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  const int in = spawn.stdin_fd >= 0 ? spawn.stdin_fd : ::open("/dev/null", O_RDONLY);
  if (in < 0 || ::dup2(in, 0) < 0) ::_exit(126);
  if (spawn.account) {
    const gid_t gid = spawn.account->gid;
    if (::setgroups(1, &gid) != 0 || ::setgid(gid) != 0 || ::setuid(spawn.account->uid) != 0) {
      ::_exit(126);
    }
  }
  // Opened as that user, so the files are theirs.
  const int out = ::open(spawn.output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (out < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) ::_exit(126);
  // Nothing else of this process's: a server that kept a test's pipe open would hang it.
  ::close_range(3, ~0u, 0);
  if (::chdir(spawn.cwd.c_str()) != 0) ::_exit(126);
  ::execve(argv[0], argv.data(), envp.data());
  ::_exit(127);
}

// Waits for `pid`; returns its exit code, or -signal.
int Wait(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Runs `spawn` to its end; returns its exit code (126: it could not start as asked).
int Run(const Spawn& spawn) {
  const pid_t pid = Start(spawn);
  return pid < 0 ? -1 : Wait(pid);
}

// The tests' server: HANDOFF_TEST_POSTGRES_URL's, or the throwaway cluster of this process.
class Server {
 public:
  static Server& Get() {
    static Server server;
    return server;
  }

  const std::string& unavailable() const { return unavailable_; }
  const std::string& url() const { return url_; }

 private:
  Server() : owner_(::getpid()) { unavailable_ = Setup(); }

  ~Server() {
    // A forked child that exits normally must not take the cluster with it.
    if (::getpid() != owner_ || reaper_fd_ < 0) return;
    ::close(reaper_fd_);  // the reaper stops the cluster and removes its directory
    // It is not our child to wait for: wait for its work instead, so the process ends clean.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::error_code ignored;
    while (fs::exists(dir_, ignored) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::string Setup() {
    if (const char* given = std::getenv("HANDOFF_TEST_POSTGRES_URL");
        given != nullptr && *given != '\0') {
      return UseGiven(given);
    }
    return StartCluster();
  }

  std::string UseGiven(const std::string& given) {
    const std::optional<UrlParts> parts = SplitUrl(given);
    if (!parts) {
      return fmt::format("HANDOFF_TEST_POSTGRES_URL=\"{}\" is not a postgres:// or "
                         "postgresql:// URL",
                         Redacted(given));
    }
    // The tests create and drop their databases from the one it names (postgres if none).
    url_ = parts->database.empty() ? WithDatabase(given, "postgres") : given;
    if (Result<std::vector<std::string>> answer = PostgresQuery(url_, "SELECT 1"); !answer.ok()) {
      return fmt::format("HANDOFF_TEST_POSTGRES_URL does not answer: {}", answer.error().message);
    }
    return "";
  }

  std::string StartCluster() {
    const std::optional<fs::path> bin = FindPostgresBin();
    if (!bin) {
      return fmt::format("{} (no initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin)",
                         kNoPostgres);
    }
    std::optional<Account> account;
    if (::geteuid() == 0) {
      // initdb and pg_ctl refuse to run as root.
      const passwd* user = ::getpwnam("postgres");
      if (user == nullptr) {
        return fmt::format("{} (running as root, and initdb refuses root: there is no "
                           "postgres user to run it as)",
                           kNoPostgres);
      }
      account = Account{user->pw_uid, user->pw_gid};
    }
    std::string pattern = (fs::temp_directory_path() / "handoff-pg-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return fmt::format("cannot make a directory for PostgreSQL ({}): {}", pattern,
                         std::strerror(errno));
    }
    const fs::path dir = pattern;
    if (account && ::chown(dir.c_str(), account->uid, account->gid) != 0) {
      const std::string why = std::strerror(errno);
      std::error_code ignored;
      fs::remove_all(dir, ignored);
      return fmt::format("cannot give {} to the postgres user: {}", dir.string(), why);
    }
    // From here on the reaper removes the directory, whatever happens to this process.
    if (std::string why = StartReaper(dir, *bin / "pg_ctl", account); !why.empty()) {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
      return why;
    }

    const fs::path data = dir / "data";
    Spawn initdb{.argv = {(*bin / "initdb").string(), "-D", data.string(), "-A", "trust", "-U",
                          "postgres", "-E", "UTF8", "--locale=C", "--no-sync"},
                 .account = account,
                 .cwd = dir.string(),
                 .output = (dir / "initdb.log").string()};
    if (const int code = Run(initdb); code != 0) {
      return fmt::format("initdb ({}) failed with exit code {}:{}", initdb.argv[0], code,
                         LastLines(dir / "initdb.log"));
    }
    {
      // Only this process talks to it, over 127.0.0.1; durability is not the point.
      std::ofstream conf(data / "postgresql.conf", std::ios::app);
      conf << "\n# handoff tests (tests/support/postgres_cluster.cc)\n"
           << "listen_addresses = '127.0.0.1'\n"
           << "unix_socket_directories = '" << dir.string() << "'\n"
           << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
      if (!conf) return fmt::format("cannot write {}", (data / "postgresql.conf").string());
    }
    // A port free a moment ago may be taken by the time the server binds it: try another.
    std::string failure;
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int port = workload::FreePort();
      const fs::path server_log = dir / fmt::format("server-{}.log", port);
      Spawn start{.argv = {(*bin / "pg_ctl").string(), "-D", data.string(), "-l",
                           server_log.string(), "-w", "-t", "60", "-o",
                           fmt::format("-p {}", port), "start"},
                  .account = account,
                  .cwd = dir.string(),
                  .output = (dir / "pg_ctl.log").string()};
      const int code = Run(start);
      if (code == 0) {
        url_ = fmt::format("postgres://postgres@127.0.0.1:{}/postgres", port);
        if (Result<std::vector<std::string>> answer = PostgresQuery(url_, "SELECT 1");
            !answer.ok()) {
          return fmt::format("the PostgreSQL cluster in {} started but does not answer: {}",
                             dir.string(), answer.error().message);
        }
        return "";
      }
      std::ifstream in(server_log);
      const std::string said((std::istreambuf_iterator<char>(in)), {});
      failure = fmt::format("pg_ctl start ({}) failed with exit code {}:{}\nits server log:{}",
                            start.argv[0], code, LastLines(dir / "pg_ctl.log"),
                            LastLines(server_log));
      if (said.find("could not bind") == std::string::npos &&
          said.find("already in use") == std::string::npos) {
        break;
      }
    }
    return failure;
  }

  // Starts the process that waits for this one to end (its pipe's write end closes,
  // however this process exits), then stops the cluster and removes `dir`. It is detached,
  // so neither a Ctrl-C that stops the tests nor a test that kills this process's children
  // stops it first.
  std::string StartReaper(const fs::path& dir, const fs::path& pg_ctl,
                          const std::optional<Account>& account) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      return fmt::format("cannot make the cluster's reaper: pipe: {}", std::strerror(errno));
    }
    Spawn reaper{
        .argv = {"/bin/sh", "-c",
                 "trap '' INT TERM HUP; cat >/dev/null; "
                 "\"$2\" stop -D \"$1/data\" -m immediate -w -t 30 >/dev/null 2>&1; "
                 "rm -rf \"$1\"",
                 "handoff-pg-reaper", dir.string(), pg_ctl.string()},
        .account = account,
        .stdin_fd = fds[0],
        .detached = true};
    const pid_t started = Start(reaper);
    const int start_errno = errno;
    ::close(fds[0]);
    if (started < 0) {
      ::close(fds[1]);
      return fmt::format("cannot make the cluster's reaper: fork: {}", std::strerror(start_errno));
    }
    reaper_fd_ = fds[1];
    dir_ = dir;
    return "";
  }

  const pid_t owner_;
  int reaper_fd_ = -1;  // its write end: closed, the reaper cleans up
  fs::path dir_;        // the cluster's directory, once the reaper looks after it
  std::string url_;
  std::string unavailable_;
};

}  // namespace

bool PostgresRequired() {
  const char* value = std::getenv("HANDOFF_REQUIRE_POSTGRES");
  return value != nullptr && std::string_view(value) == "1";
}

const std::string& PostgresUnavailable() { return Server::Get().unavailable(); }

const std::string& PostgresServerUrl() { return Server::Get().url(); }

Result<std::vector<std::string>> PostgresQuery(const std::string& url, const std::string& sql) {
  // The URL is expanded as the database name; a server that does not answer fails in 10 s.
  const char* keys[] = {"dbname", "connect_timeout", nullptr};
  const char* values[] = {url.c_str(), "10", nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot connect to {}: {}", Redacted(url), why)};
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "skipping" and such
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  std::vector<std::string> rows;
  std::string error;
  if (status == PGRES_TUPLES_OK) {
    for (int r = 0; r < PQntuples(result); ++r) {
      std::string row;
      for (int c = 0; c < PQnfields(result); ++c) {
        if (c > 0) row += '|';
        row += PQgetvalue(result, r, c);  // "" for NULL
      }
      rows.push_back(std::move(row));
    }
  } else if (status != PGRES_COMMAND_OK) {
    error = Trimmed(PQresultErrorMessage(result));
    if (error.empty()) error = Trimmed(PQerrorMessage(conn));
  }
  PQclear(result);
  PQfinish(conn);
  if (!error.empty()) {
    return Error{ErrorCode::kUnavailable, fmt::format("{}: {}", sql, error)};
  }
  return rows;
}

Result<std::unique_ptr<PostgresTestDatabase>> PostgresTestDatabase::Create() {
  if (!PostgresUnavailable().empty()) return Error{ErrorCode::kUnavailable, PostgresUnavailable()};
  static std::atomic<int> made{0};
  static const unsigned seed = std::random_device{}();
  std::minstd_rand random(seed + static_cast<unsigned>(made.load()));
  // Unique across the processes that share a server given by HANDOFF_TEST_POSTGRES_URL.
  const std::string name = fmt::format("handoff_test_{}_{}_{:04x}", ::getpid(), ++made,
                                       random() & 0xffffu);
  if (Result<std::vector<std::string>> created =
          PostgresQuery(PostgresServerUrl(), fmt::format("CREATE DATABASE \"{}\"", name));
      !created.ok()) {
    return std::move(created).error();
  }
  return std::unique_ptr<PostgresTestDatabase>(
      new PostgresTestDatabase(name, WithDatabase(PostgresServerUrl(), name)));
}

PostgresTestDatabase::~PostgresTestDatabase() {
  // FORCE ends the connections a failed test left open (PostgreSQL 13 and later).
  Result<std::vector<std::string>> dropped = PostgresQuery(
      PostgresServerUrl(), fmt::format("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name_));
  if (!dropped.ok()) {
    dropped = PostgresQuery(PostgresServerUrl(),
                            fmt::format("DROP DATABASE IF EXISTS \"{}\"", name_));
  }
  if (!dropped.ok()) ADD_FAILURE() << "cannot drop a test's database: " << dropped.error().message;
}

}  // namespace handoff::testing
