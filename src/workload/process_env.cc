// The process environment: runnables are local programs, each in its own directory and
// process group, with its output forwarded to the test's and kept in <dir>/output.log.
//
// No orphan survives its test, even a crashed one: every child is forked by one thread the
// environment keeps alive until Close, with PR_SET_PDEATHSIG(SIGKILL), so it dies with that
// thread (and with the test's process, whatever kills it); Close kills each process group.

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "handoff/t.h"
#include "handoff/workload.h"
#include "workload/internal.h"
#include "workload/reaper.h"

extern char** environ;

namespace handoff::workload {
namespace {

namespace fs = std::filesystem;


// argv/envp as the child needs them, built before fork (the child may only call
// async-signal-safe functions).
struct ExecImage {
  std::vector<std::string> strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string dir;
  uid_t uid = static_cast<uid_t>(-1);  // switched to in the child when set
  gid_t gid = static_cast<gid_t>(-1);

  ExecImage(const std::string& executable, const std::vector<std::string>& args,
            const std::map<std::string, std::string>& env, std::string workdir)
      : dir(std::move(workdir)) {
    std::map<std::string, std::string> merged;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view kv(*e);
      const std::size_t eq = kv.find('=');
      if (eq != std::string_view::npos) merged[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
    }
    merged["PWD"] = dir;
    for (const auto& [k, v] : env) merged[k] = v;
    strings.push_back(executable);
    strings.insert(strings.end(), args.begin(), args.end());
    const std::size_t argc = strings.size();
    for (const auto& [k, v] : merged) strings.push_back(k + "=" + v);
    for (std::size_t i = 0; i < strings.size(); ++i) {
      (i < argc ? argv : envp).push_back(strings[i].data());
    }
    argv.push_back(nullptr);
    envp.push_back(nullptr);
  }
};

// Resolves StartOptions::user ("name", "uid" or "uid:gid") for a process. Sets *uid and
// *gid (left -1 when the user is empty or the test's own), or returns an error.
Status ResolveUser(const std::string& user, uid_t* uid, gid_t* gid) {
  if (user.empty()) return {};
  const std::size_t colon = user.find(':');
  const std::string who = user.substr(0, colon);
  uid_t want_uid;
  gid_t want_gid;
  char buf[4096];
  passwd pw{};
  passwd* found = nullptr;
  const bool numeric = !who.empty() && who.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    want_uid = static_cast<uid_t>(std::stoul(who));
    ::getpwuid_r(want_uid, &pw, buf, sizeof buf, &found);
    want_gid = found != nullptr ? found->pw_gid : want_uid;
  } else {
    ::getpwnam_r(who.c_str(), &pw, buf, sizeof buf, &found);
    if (found == nullptr) return Status::Error(fmt::format("user \"{}\" does not exist", who));
    want_uid = found->pw_uid;
    want_gid = found->pw_gid;
  }
  if (colon != std::string::npos) {
    const std::string g = user.substr(colon + 1);
    if (g.empty() || g.find_first_not_of("0123456789") != std::string::npos) {
      group gr{};
      group* gfound = nullptr;
      ::getgrnam_r(g.c_str(), &gr, buf, sizeof buf, &gfound);
      if (gfound == nullptr) return Status::Error(fmt::format("group \"{}\" does not exist", g));
      want_gid = gfound->gr_gid;
    } else {
      want_gid = static_cast<gid_t>(std::stoul(g));
    }
  }
  if (want_uid == ::geteuid() && want_gid == ::getegid()) return {};
  if (::geteuid() != 0) {
    return Status::Error(fmt::format("cannot run as user \"{}\": the test does not run as root",
                                     user));
  }
  *uid = want_uid;
  *gid = want_gid;
  return {};
}

// The pipes of a child: stdin (optional), stdout, stderr (or both into `out`).
struct ChildPipes {
  int in = -1;   // parent's write end
  int out = -1;  // parent's read end
  int err = -1;  // parent's read end, -1 when merged into out
};

}  // namespace

// ---------------------------------------------------------------------------------------
// The process environment

namespace {

// Forks children on one long-lived thread (see the top of the file).
class Spawner {
 public:
  Spawner() : thread_([this] { Loop(); }) {}
  ~Spawner() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Starts `image` with the given pipes (`merge_err`: stderr into stdout) in a new process
  // group. Returns the pid, or -1 with *error set.
  pid_t Spawn(const ExecImage& image, bool with_stdin, bool merge_err, ChildPipes* pipes,
              std::string* error) {
    std::packaged_task<pid_t()> task(
        [&] { return SpawnHere(image, with_stdin, merge_err, pipes, error); });
    std::future<pid_t> result = task.get_future();
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_all();
    return result.get();
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return done_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      std::packaged_task<pid_t()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  static pid_t SpawnHere(const ExecImage& image, bool with_stdin, bool merge_err,
                         ChildPipes* pipes, std::string* error) {
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    // The report pipe tells the parent whether exec failed (it closes on success).
    int report[2] = {-1, -1};
    auto close_all = [&] {
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1], report[0], report[1]}) {
        if (fd >= 0) ::close(fd);
      }
    };
    if ((with_stdin && ::pipe2(in, O_CLOEXEC) != 0) || ::pipe2(out, O_CLOEXEC) != 0 ||
        (!merge_err && ::pipe2(err, O_CLOEXEC) != 0) || ::pipe2(report, O_CLOEXEC) != 0) {
      *error = fmt::format("pipe: {}", std::strerror(errno));
      close_all();
      return -1;
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      *error = fmt::format("fork: {}", std::strerror(errno));
      close_all();
      return -1;
    }
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
      const int devnull = with_stdin ? -1 : ::open("/dev/null", O_RDONLY);
      ::dup2(with_stdin ? in[0] : devnull, 0);
      ::dup2(out[1], 1);
      ::dup2(merge_err ? out[1] : err[1], 2);
      if (image.uid != static_cast<uid_t>(-1) &&
          (::setgroups(1, &image.gid) != 0 || ::setgid(image.gid) != 0 ||
           ::setuid(image.uid) != 0)) {
        const int e = errno;
        (void)!::write(report[1], &e, sizeof e);
        ::_exit(127);
      }
      if (::chdir(image.dir.c_str()) != 0) {
        const int e = errno;
        (void)!::write(report[1], &e, sizeof e);
        ::_exit(127);
      }
      ::execvpe(image.argv[0], image.argv.data(), image.envp.data());
      const int e = errno;
      (void)!::write(report[1], &e, sizeof e);
      ::_exit(127);
    }
    ::close(report[1]);
    report[1] = -1;
    int child_errno = 0;
    const ssize_t n = ::read(report[0], &child_errno, sizeof child_errno);
    if (n == sizeof child_errno) {
      *error = fmt::format("cannot run {} in {}: {}", image.strings[0], image.dir,
                           std::strerror(child_errno));
      ::waitpid(pid, nullptr, 0);
      close_all();
      return -1;
    }
    pipes->in = with_stdin ? in[1] : -1;
    pipes->out = out[0];
    pipes->err = merge_err ? -1 : err[0];
    in[1] = out[0] = err[0] = -1;
    close_all();
    return pid;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<pid_t()>> tasks_;
  bool done_ = false;
  std::thread thread_;
};

class ProcessEnvironment;

class ProcessRunnable : public Runnable, public std::enable_shared_from_this<ProcessRunnable> {
 public:
  ProcessRunnable(std::shared_ptr<Spawner> spawner, const FutureRunnable& future,
                  std::map<std::string, int> ports, StartOptions options,
                  std::function<void(std::shared_ptr<ProcessRunnable>)> on_start)
      : spawner_(std::move(spawner)),
        name_(future.Name()),
        dir_(future.Dir()),
        ports_(std::move(ports)),
        options_(std::move(options)),
        on_start_(std::move(on_start)) {}

  ~ProcessRunnable() override {
    Kill();
    // The last owner may be the output reader itself (it holds the runnable while the
    // process runs).
    if (reader_.joinable()) {
      if (reader_.get_id() == std::this_thread::get_id()) {
        reader_.detach();
      } else {
        reader_.join();
      }
    }
  }

  const std::string& Name() const override { return name_; }
  const std::string& Dir() const override { return dir_; }
  std::vector<std::string> PortNames() const override { return workload::PortNames(ports_); }
  const StartOptions& Options() const override { return options_; }
  std::vector<std::string> LastOutput() const override { return output_.Last(); }
  int InternalPort(std::string_view port) const override { return PortOf(ports_, port); }
  std::string InternalEndpoint(std::string_view port) const override {
    return fmt::format("127.0.0.1:{}", InternalPort(port));
  }
  std::string Endpoint(std::string_view port) const override {
    std::lock_guard lock(mu_);
    if (pid_ <= 0) return "";
    return InternalEndpoint(port);
  }

  Status Start() override {
    std::unique_lock lock(mu_);
    if (pid_ > 0) return Status::Error(fmt::format("{}: already started", name_));
    std::error_code ec;
    fs::create_directories(dir_, ec);
    ExecImage image(options_.executable, options_.args, options_.env, dir_);
    if (Status st = ResolveUser(options_.user, &image.uid, &image.gid); !st) {
      return Status::Error(fmt::format("{}: {}", name_, st.message()));
    }
    if (image.uid != static_cast<uid_t>(-1) && ::chown(dir_.c_str(), image.uid, image.gid) != 0) {
      return Status::Error(fmt::format("{}: chown {}: {}", name_, dir_, std::strerror(errno)));
    }
    ChildPipes pipes;
    std::string error;
    const pid_t pid = spawner_->Spawn(image, false, true, &pipes, &error);
    if (pid < 0) return Status::Error(fmt::format("{}: {}", name_, error));
    pid_ = pid;
    exited_ = false;
    exit_status_ = 0;
    lock.unlock();
    reader_ = std::thread([self = shared_from_this(), fd = pipes.out] { self->Follow(fd); });
    NoteStarted(shared_from_this(), pid, "");
    if (on_start_) on_start_(shared_from_this());
    return {};
  }

  Status WaitReady() override {
    return WaitUntilReady(
        name_, options_,
        [&]() -> Status {
          std::lock_guard lock(mu_);
          if (pid_ <= 0) return Status::Error(fmt::format("{}: not started", name_));
          if (exited_) {
            return Status::Error(fmt::format("{}: exited ({}) before it was ready; last output:\n{}",
                                             name_, ExitText(), LastOutputLocked()));
          }
          return {};
        },
        [&](std::string* last) { return ProbeOnce(*options_.readiness, last); },
        [&](std::chrono::milliseconds delay) {
          std::unique_lock lock(mu_);
          exit_cv_.wait_for(lock, delay, [&] { return exited_; });
        });
  }

  Status Stop(std::chrono::milliseconds timeout) override {
    if (!Signal(SIGTERM)) return {};
    {
      std::unique_lock lock(mu_);
      if (exit_cv_.wait_for(lock, timeout, [&] { return exited_; })) return Reap();
    }
    return Kill();
  }

  Status Kill() override {
    if (!Signal(SIGKILL)) return {};
    {
      std::unique_lock lock(mu_);
      exit_cv_.wait(lock, [&] { return exited_; });
    }
    return Reap();
  }

  bool IsRunning() const override {
    std::lock_guard lock(mu_);
    return pid_ > 0 && !exited_;
  }

  ExecResult Exec(const std::vector<std::string>& argv,
                  std::optional<std::string> input) override {
    ExecResult result;
    if (argv.empty()) {
      result.status = Status::Error("exec: empty command");
      return result;
    }
    std::error_code ec;
    fs::create_directories(dir_, ec);
    ExecImage image(argv[0], {argv.begin() + 1, argv.end()}, options_.env, dir_);
    if (Status st = ResolveUser(options_.user, &image.uid, &image.gid); !st) {
      result.status = Status::Error(fmt::format("{}: exec: {}", name_, st.message()));
      return result;
    }
    ChildPipes pipes;
    std::string error;
    const pid_t pid = spawner_->Spawn(image, input.has_value(), false, &pipes, &error);
    if (pid < 0) {
      result.status = Status::Error(fmt::format("{}: exec: {}", name_, error));
      return result;
    }
    if (pipes.in >= 0) {
      std::string_view rest = *input;
      // A command that exits without reading its input must not kill us.
      ::signal(SIGPIPE, SIG_IGN);
      while (!rest.empty()) {
        const ssize_t n = ::write(pipes.in, rest.data(), rest.size());
        if (n <= 0) break;
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
      ::close(pipes.in);
    }
    pollfd fds[2] = {{pipes.out, POLLIN, 0}, {pipes.err, POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open = 2;
    char buf[8192];
    while (open > 0) {
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          sinks[i]->append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open;
        }
      }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
  }

 private:
  // Sends `sig` to the process group; false if there is nothing running.
  bool Signal(int sig) {
    std::lock_guard lock(mu_);
    if (pid_ <= 0 || exited_) {
      return false;
    }
    ::kill(-pid_, sig);
    return true;
  }

  // Joins the output reader once the process has exited.
  Status Reap() {
    if (reader_.joinable() && reader_.get_id() != std::this_thread::get_id()) reader_.join();
    return {};
  }

  // Forwards the output line by line (to stderr, which the test's output captures, and to
  // output.log), then reaps the process.
  void Follow(int fd) {
    output_.Open(dir_);
    const std::string rest = ReadLines(fd, [&](std::string_view line) { output_.Add(line); });
    if (!rest.empty()) output_.Add(rest);
    ::close(fd);
    output_.Close();
    pid_t pid;
    {
      std::lock_guard lock(mu_);
      pid = pid_;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    {
      std::lock_guard lock(mu_);
      exited_ = true;
      exit_status_ = status;
    }
    exit_cv_.notify_all();
  }

  bool ProbeOnce(const Probe& probe, std::string* last) {
    switch (probe.kind()) {
      case Probe::Kind::kTcp:
        return TcpConnects("127.0.0.1", InternalPort(probe.port()), std::chrono::seconds(1), last);
      case Probe::Kind::kHttp:
      case Probe::Kind::kHttps:
        return ProbeHttpOnce(probe, "127.0.0.1", InternalPort(probe.port()), last);
      case Probe::Kind::kCommand:
        return ProbeCommandOnce(*this, probe, last);
    }
    return false;
  }

  std::string ExitText() const {
    if (WIFEXITED(exit_status_)) return fmt::format("status {}", WEXITSTATUS(exit_status_));
    if (WIFSIGNALED(exit_status_)) return fmt::format("signal {}", WTERMSIG(exit_status_));
    return "unknown";
  }

  std::string LastOutputLocked() const {
    std::string out;
    for (const std::string& line : output_.Last()) out += "  " + line + "\n";
    return out.empty() ? "  (none)\n" : out;
  }

  std::shared_ptr<Spawner> spawner_;
  const std::string name_;
  const std::string dir_;
  const std::map<std::string, int> ports_;
  const StartOptions options_;
  std::function<void(std::shared_ptr<ProcessRunnable>)> on_start_;

  mutable std::mutex mu_;
  std::condition_variable exit_cv_;
  pid_t pid_ = 0;
  bool exited_ = false;
  int exit_status_ = 0;
  OutputLines output_{name_};
  std::thread reader_;
};

// What a process environment's runnables and its test's cleanup share.
struct ProcessState {
  std::mutex mu;
  std::shared_ptr<Spawner> spawner = std::make_shared<Spawner>();
  std::vector<std::weak_ptr<ProcessRunnable>> started;  // in start order
  std::string dir;
  // Removes the directory if the process dies before Close (its children die with it).
  std::unique_ptr<Reaper> reaper;
  bool closed = false;
  TestLogs logs;

  void Close() {
    std::vector<std::weak_ptr<ProcessRunnable>> runnables;
    TestLogs closing;
    {
      std::lock_guard lock(mu);
      if (closed) return;
      closed = true;
      runnables.swap(started);
      closing = std::move(logs);
    }
    closing.AttachIfFailed();
    for (auto it = runnables.rbegin(); it != runnables.rend(); ++it) {
      if (auto r = it->lock()) r->Kill();
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (reaper) reaper->Done();
  }
};

class ProcessEnvironment : public Environment {
 public:
  ProcessEnvironment(std::string name, std::shared_ptr<ProcessState> state)
      : Environment(std::move(name), state->dir), state_(std::move(state)) {}
  ~ProcessEnvironment() override { Close(); }

  void Close() override { state_->Close(); }
  Kind kind() const override { return Kind::kProcess; }
  std::vector<std::shared_ptr<workload::Runnable>> Started() const override {
    std::lock_guard lock(state_->mu);
    std::vector<std::shared_ptr<workload::Runnable>> out;
    for (const auto& w : state_->started) {
      if (auto r = w.lock()) out.push_back(r);
    }
    return out;
  }

 protected:
  std::map<std::string, int> ResolvePorts(const std::string&,
                                          const std::map<std::string, int>& wanted) override {
    std::map<std::string, int> ports;
    for (const auto& [name, port] : wanted) ports[name] = port != 0 ? port : FreePort();
    return ports;
  }
  std::string RunnableDir(const std::string& runnable) override {
    return (fs::path(SharedDir()) / Sanitize(runnable)).string();
  }
  std::string InternalHost(const std::string&) const override { return "127.0.0.1"; }
  std::shared_ptr<workload::Runnable> Define(const FutureRunnable& future,
                                             StartOptions options) override {
    std::weak_ptr<ProcessState> state = state_;
    return std::make_shared<ProcessRunnable>(
        state_->spawner, future, future.Ports(), std::move(options),
        [state](std::shared_ptr<ProcessRunnable> r) {
          if (auto s = state.lock()) {
            std::lock_guard lock(s->mu);
            s->started.push_back(r);
            s->logs.runnables.emplace_back(r->Name(), r->Dir());
          }
        });
  }

 private:
  std::shared_ptr<ProcessState> state_;
};

// Makes environment `full`, a name already unique.
std::unique_ptr<Environment> MakeProcessEnvironment(const std::string& full,
                                                    std::shared_ptr<ProcessState>* state_out) {
  std::string pattern = (fs::temp_directory_path() / ("handoff-" + full + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) return nullptr;
  // Runnables that run as another user (StartOptions::user) must reach their directories.
  ::chmod(pattern.c_str(), 0755);
  auto state = std::make_shared<ProcessState>();
  state->dir = pattern;
  state->reaper = std::make_unique<Reaper>(std::nullopt);
  state->reaper->Tell('D', pattern);
  if (state_out != nullptr) *state_out = state;
  return std::make_unique<ProcessEnvironment>(full, std::move(state));
}

}  // namespace

std::unique_ptr<Environment> Environment::NewProcess(std::string name, Status* error) {
  std::unique_ptr<Environment> env = MakeProcessEnvironment(
      UniqueEnvironmentName(Sanitize(name)), nullptr);
  if (!env && error != nullptr) {
    *error = Status::Error(
        fmt::format("cannot create a directory for the environment: {}", std::strerror(errno)));
  }
  return env;
}

std::unique_ptr<Environment> Environment::NewProcess(T& t) {
  std::shared_ptr<ProcessState> state;
  std::unique_ptr<Environment> env = MakeProcessEnvironment(TestEnvironmentName(t), &state);
  if (!env) t.Fatalf("cannot create a directory for the environment: {}", std::strerror(errno));
  state->logs.test = internal::StateOf(t);  // a failure keeps the runnables' logs
  t.Cleanup([state] { state->Close(); });
  return env;
}

}  // namespace handoff::workload
