// The Docker environment: runnables are containers on one bridge network of their own,
// named <env>-<runnable>, with the runnable's name as host name and network alias, the
// environment's directory mounted at the same path in each, ports published on 127.0.0.1.
//
// Nothing outlives the environment, even when the process that made it crashes:
// containers are not children of the test, so a reaper (reaper.h) is told every container,
// the network and the directory, and removes them if the process dies before Close.

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "handoff/t.h"
#include "handoff/workload.h"
#include "workload/docker_client.h"
#include "workload/internal.h"
#include "workload/reaper.h"
#include "workload/service_images.h"

namespace handoff::workload {
namespace {

namespace fs = std::filesystem;

// The label every container and network of an environment carries, with its name.
constexpr std::string_view kEnvLabel = "handoff.env";

Labels EnvLabels(const std::string& env) {
  return {{std::string(kEnvLabel), env}, {"handoff.workload", "1"}};
}

std::string LabelSelector(const std::string& env) { return fmt::format("{}={}", kEnvLabel, env); }

// Removes the containers and networks of environment `env`. Returns the first error.
Status RemoveLeftovers(DockerClient& client, const std::string& env) {
  DockerResult<std::vector<ContainerSummary>> containers =
      client.ListContainers(LabelSelector(env));
  if (!containers.ok()) return Status::Error(containers.error().ToString());
  Status first;
  for (const ContainerSummary& c : *containers) {
    if (DockerStatus st = client.RemoveContainer(c.id); !st.ok() && !st.error().not_found() && first) {
      first = Status::Error(st.error().ToString());
    }
  }
  DockerResult<std::vector<NetworkInfo>> networks = client.ListNetworks(LabelSelector(env));
  if (!networks.ok()) return Status::Error(networks.error().ToString());
  for (const NetworkInfo& n : *networks) {
    if (DockerStatus st = client.RemoveNetwork(n.id); !st.ok() && !st.error().not_found() && first) {
      first = Status::Error(st.error().ToString());
    }
  }
  return first;
}

// What an environment's runnables and its test's cleanup share.
struct DockerState {
  explicit DockerState(DockerClient c) : client(std::move(c)) {}

  DockerClient client;
  std::string name;
  std::string network_id;
  std::string dir;
  std::unique_ptr<Reaper> reaper;

  std::mutex mu;
  std::vector<std::weak_ptr<class DockerRunnable>> started;  // in start order
  bool closed = false;
  TestLogs logs;

  void Close();
};

class DockerRunnable : public Runnable, public std::enable_shared_from_this<DockerRunnable> {
 public:
  DockerRunnable(std::shared_ptr<DockerState> state, const FutureRunnable& future,
                 StartOptions options)
      : state_(std::move(state)),
        name_(future.Name()),
        container_name_(fmt::format("{}-{}", state_->name, future.Name())),
        dir_(future.Dir()),
        ports_(future.Ports()),
        options_(std::move(options)) {}

  ~DockerRunnable() override {
    if (follower_.joinable()) {
      if (follower_.get_id() == std::this_thread::get_id()) {
        follower_.detach();
      } else {
        follower_.join();
      }
    }
  }

  const std::string& Name() const override { return name_; }
  const std::string& Dir() const override { return dir_; }
  std::vector<std::string> PortNames() const override { return workload::PortNames(ports_); }
  const StartOptions& Options() const override { return options_; }
  int InternalPort(std::string_view port) const override { return PortOf(ports_, port); }
  std::string InternalEndpoint(std::string_view port) const override {
    return fmt::format("{}:{}", name_, InternalPort(port));
  }
  std::string Endpoint(std::string_view port) const override {
    std::lock_guard lock(mu_);
    const auto it = host_ports_.find(std::string(port));
    if (id_.empty() || it == host_ports_.end()) return "";
    return fmt::format("127.0.0.1:{}", it->second);
  }
  std::vector<std::string> LastOutput() const override { return output_.Last(); }

  Status Start() override {
    {
      std::lock_guard lock(mu_);
      if (!id_.empty()) return Status::Error(fmt::format("{}: already started", name_));
    }
    if (options_.image.empty()) {
      return Status::Error(fmt::format("{}: no image (StartOptions::image)", name_));
    }
    std::error_code ec;
    fs::create_directories(dir_, ec);
    // Containers may run as any user: let them write their directory.
    ::chmod(dir_.c_str(), 0777);
    DockerClient& client = state_->client;
    ContainerSpec spec;
    spec.name = container_name_;
    spec.image = options_.image;
    if (!options_.executable.empty()) spec.entrypoint = std::vector{options_.executable};
    spec.cmd = options_.args;
    for (const auto& [k, v] : options_.env) spec.env.push_back(k + "=" + v);
    spec.user = options_.user;
    spec.hostname = name_;
    spec.network = state_->network_id;
    for (const auto& [name, port] : ports_) spec.ports.push_back(std::to_string(port));
    spec.binds.push_back(state_->dir + ":" + state_->dir);
    spec.binds.insert(spec.binds.end(), options_.volumes.begin(), options_.volumes.end());
    spec.memory_bytes = options_.memory_bytes;
    spec.nano_cpus = static_cast<std::int64_t>(std::llround(options_.cpus * 1e9));
    spec.labels = EnvLabels(state_->name);
    spec.labels["handoff.runnable"] = name_;
    spec.working_dir = dir_;
    DockerResult<std::string> id = client.CreateContainer(spec);
    if (!id.ok() && id.error().status == 409) {
      // A container of this name is left from an earlier run (of a standalone environment
      // of the same name, or of this runnable): replace it. Not asked first, since every
      // call costs the engine time that concurrent starts compete for.
      if (DockerStatus st = client.RemoveContainer(container_name_);
          !st.ok() && !st.error().not_found()) {
        return Fail(st.error());
      }
      id = client.CreateContainer(spec);
    }
    if (!id.ok()) return Fail(id.error());
    if (state_->reaper) state_->reaper->Tell('c', *id);
    {
      std::lock_guard lock(mu_);
      id_ = *id;
    }
    Register();
    if (DockerStatus st = client.StartContainer(*id); !st.ok()) return Fail(st.error());
    DockerResult<ContainerInfo> info = client.InspectContainer(*id);
    if (!info.ok()) return Fail(info.error());
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, port] : ports_) host_ports_[name] = info->HostPort(port);
      ip_ = info->ip;
      following_ = true;
    }
    follower_ = std::thread([self = shared_from_this(), id = *id] { self->Follow(id); });
    NoteStarted(shared_from_this(), 0, *id);
    return {};
  }

  Status WaitReady() override {
    const std::string id = Id();
    if (id.empty()) return Status::Error(fmt::format("{}: not started", name_));
    return WaitUntilReady(
        name_, options_,
        [&]() -> Status {
          // The container runs as long as its logs are followed: ask the engine why only
          // once they end.
          if (Following()) return {};
          DockerResult<ContainerInfo> info = state_->client.InspectContainer(id);
          if (!info.ok()) return Fail(info.error());
          if (!info->running) return Exited(*info, "before it was ready");
          return {};
        },
        [&](std::string* last) { return ProbeOnce(*options_.readiness, last); },
        [&](std::chrono::milliseconds delay) {
          // Wakes early when the container stops (its logs end).
          std::unique_lock lock(mu_);
          logs_cv_.wait_for(lock, delay, [&] { return !following_; });
        });
  }

  Status Stop(std::chrono::milliseconds timeout) override {
    const std::string id = Id();
    if (id.empty()) return {};
    const auto grace = std::chrono::duration_cast<std::chrono::seconds>(
        timeout + std::chrono::milliseconds(999));
    if (DockerStatus st = state_->client.StopContainer(id, grace);
        !st.ok() && !st.error().not_found()) {
      return Fail(st.error());
    }
    JoinFollower();
    return {};
  }

  Status Kill() override {
    const std::string id = Id();
    if (id.empty()) return {};
    DockerStatus st = state_->client.KillContainer(id);
    // 409: it is not running, which is what was wanted.
    if (!st.ok() && st.error().status != 409 && !st.error().not_found()) return Fail(st.error());
    if (st.ok()) {
      DockerResult<int> waited = state_->client.WaitContainer(id, std::chrono::seconds(30));
      if (!waited.ok() && !waited.error().not_found()) return Fail(waited.error());
    }
    JoinFollower();
    return {};
  }

  bool IsRunning() const override {
    const std::string id = Id();
    if (id.empty()) return false;
    DockerResult<ContainerInfo> info = state_->client.InspectContainer(id);
    return info.ok() && info->running;
  }

  ExecResult Exec(const std::vector<std::string>& argv,
                  std::optional<std::string> input) override {
    ExecResult result;
    const std::string id = Id();
    if (argv.empty()) {
      result.status = Status::Error("exec: empty command");
      return result;
    }
    if (id.empty()) {
      result.status = Status::Error(fmt::format("{}: exec: not started", name_));
      return result;
    }
    ExecSpec spec;
    spec.cmd = argv;
    for (const auto& [k, v] : options_.env) spec.env.push_back(k + "=" + v);
    spec.user = options_.user;
    spec.working_dir = dir_;
    spec.stdin_data = std::move(input);
    DockerResult<DockerExecResult> r = state_->client.Exec(id, spec, std::chrono::minutes(10));
    if (!r.ok()) {
      result.status = Status::Error(fmt::format("{}: exec: {}", name_, r.error().ToString()));
      return result;
    }
    result.exit_code = r->exit_code;
    result.out = std::move(r.value().stdout_data);
    result.err = std::move(r.value().stderr_data);
    return result;
  }

  bool Following() const {
    std::lock_guard lock(mu_);
    return following_;
  }

  // The container's id, "" before Start.
  std::string Id() const {
    std::lock_guard lock(mu_);
    return id_;
  }

  // Removes the container (after the environment killed it).
  void Remove() {
    const std::string id = Id();
    if (id.empty()) return;
    JoinFollower();
    DockerStatus st = state_->client.RemoveContainer(id);
    if ((st.ok() || st.error().not_found()) && state_->reaper) state_->reaper->Tell('r', id);
  }

 private:
  Status Fail(const DockerError& error) const {
    return Status::Error(fmt::format("{}: {}", name_, error.ToString()));
  }

  Status Exited(const ContainerInfo& info, std::string_view when) const {
    std::string why = fmt::format("exit code {}", info.exit_code);
    if (info.oom_killed) why += ", killed for lack of memory";
    if (!info.error.empty()) why += ": " + info.error;
    std::string out;
    for (const std::string& line : LastOutput()) out += "  " + line + "\n";
    return Status::Error(fmt::format("{}: exited ({}) {}; last output:\n{}", name_, why, when,
                                     out.empty() ? "  (none)\n" : out));
  }

  void Register() {
    std::lock_guard lock(state_->mu);
    state_->started.push_back(weak_from_this());
    state_->logs.runnables.emplace_back(name_, dir_);
  }

  void JoinFollower() {
    if (follower_.joinable() && follower_.get_id() != std::this_thread::get_id()) {
      std::lock_guard join_lock(join_mu_);
      if (follower_.joinable()) follower_.join();
    }
  }

  // Forwards the container's output line by line (to stderr, which the test's output
  // captures, and to output.log) until it stops.
  void Follow(const std::string& id) {
    output_.Open(dir_);
    (void)state_->client.FollowLogs(
        id,
        [&](DockerClient::Stream, std::string_view line) {
          output_.Add(line);
          return true;
        },
        std::chrono::hours(24 * 365));
    output_.Close();
    {
      std::lock_guard lock(mu_);
      following_ = false;
    }
    logs_cv_.notify_all();
  }

  bool ProbeOnce(const Probe& probe, std::string* last) {
    switch (probe.kind()) {
      case Probe::Kind::kTcp:
        return ProbeTcp(probe, last);
      case Probe::Kind::kHttp:
      case Probe::Kind::kHttps: {
        int host_port;
        {
          std::lock_guard lock(mu_);
          const auto it = host_ports_.find(probe.port());
          host_port = it == host_ports_.end() ? 0 : it->second;
        }
        if (host_port == 0) {
          *last = fmt::format("no published port \"{}\"", probe.port());
          return false;
        }
        return ProbeHttpOnce(probe, "127.0.0.1", host_port, last);
      }
      case Probe::Kind::kCommand:
        return ProbeCommandOnce(*this, probe, last);
    }
    return false;
  }

  // The engine's proxy accepts connections on a published port before the service
  // listens, so a TCP probe connects to the container itself when the host can reach it
  // (a local engine); otherwise it connects to the published port and requires that the
  // proxy does not hang up at once.
  bool ProbeTcp(const Probe& probe, std::string* last) {
    std::string ip;
    int host_port = 0;
    {
      std::lock_guard lock(mu_);
      ip = ip_;
      const auto it = host_ports_.find(probe.port());
      host_port = it == host_ports_.end() ? 0 : it->second;
    }
    const int port = InternalPort(probe.port());
    if (!ip.empty() && !state_->client.endpoint().unix_path.empty()) {
      return TcpConnects(ip, port, std::chrono::seconds(1), last);
    }
    if (!TcpConnects("127.0.0.1", host_port, std::chrono::seconds(1), last)) return false;
    return true;
  }

  std::shared_ptr<DockerState> state_;
  const std::string name_;
  const std::string container_name_;
  const std::string dir_;
  const std::map<std::string, int> ports_;
  const StartOptions options_;

  mutable std::mutex mu_;
  std::condition_variable logs_cv_;
  std::string id_;
  std::string ip_;
  std::map<std::string, int> host_ports_;
  bool following_ = false;
  OutputLines output_{name_};
  std::mutex join_mu_;
  std::thread follower_;
};

// Containers run as root by default, and what they write in the shared directory, a test
// not run as root may not delete (a directory of root's, mode 0755, and what is in it).
// Removes the directory's entries from a container of the engine, run as root with the
// directory mounted: one made from the host's rm (its image is built once, like a service
// image). Best effort: Close has nobody to report to.
void RemoveAsRoot(DockerState& state) {
  DockerClient& client = state.client;
  std::vector<std::string> argv = {"-rf"};
  std::error_code ec;
  for (fs::directory_iterator it(state.dir, ec), end; !ec && it != end; it.increment(ec)) {
    argv.push_back(it->path().string());
  }
  if (argv.size() == 1) return;
  ServiceImage rm;
  rm.repository = "handoff/rm";
  rm.executable = "/bin/rm";
  const DockerResult<std::string> image = EnsureServiceImage(client, rm);
  if (!image.ok()) return;
  ContainerSpec spec;
  spec.name = state.name + "-rm";
  spec.image = *image;
  spec.cmd = std::move(argv);
  spec.user = "0";
  spec.network = "none";
  spec.binds.push_back(state.dir + ":" + state.dir);
  spec.labels = EnvLabels(state.name);
  DockerResult<std::string> id = client.CreateContainer(spec);
  if (!id.ok()) return;
  if (state.reaper) state.reaper->Tell('c', *id);
  if (client.StartContainer(*id).ok()) (void)client.WaitContainer(*id, std::chrono::minutes(1));
  if (client.RemoveContainer(*id).ok() && state.reaper) state.reaper->Tell('r', *id);
}

void DockerState::Close() {
  std::vector<std::weak_ptr<DockerRunnable>> runnables;
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
    if (auto r = it->lock()) (void)r->Kill();
  }
  for (auto it = runnables.rbegin(); it != runnables.rend(); ++it) {
    if (auto r = it->lock()) r->Remove();
  }
  // Runnables already destroyed left their containers behind: remove by label.
  (void)RemoveLeftovers(client, name);
  if (!network_id.empty()) (void)client.RemoveNetwork(network_id);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec && ::geteuid() != 0) {
    RemoveAsRoot(*this);
    fs::remove_all(dir, ec);
  }
  if (reaper) reaper->Done();
}

class DockerEnvironment : public Environment {
 public:
  explicit DockerEnvironment(std::shared_ptr<DockerState> state)
      : Environment(state->name, state->dir), state_(std::move(state)) {}
  ~DockerEnvironment() override { Close(); }

  void Close() override { state_->Close(); }
  Kind kind() const override { return Kind::kDocker; }
  std::vector<std::shared_ptr<workload::Runnable>> Started() const override {
    std::lock_guard lock(state_->mu);
    std::vector<std::shared_ptr<workload::Runnable>> out;
    for (const auto& w : state_->started) {
      if (auto r = w.lock()) out.push_back(r);
    }
    return out;
  }

  DockerClient& client() { return state_->client; }

 protected:
  std::map<std::string, int> ResolvePorts(const std::string&,
                                          const std::map<std::string, int>& wanted) override {
    // Each container has its own network namespace: a port asked as 0 gets a port that is
    // free on the host, so that a runnable written for either environment works in both.
    std::map<std::string, int> ports;
    for (const auto& [name, port] : wanted) ports[name] = port != 0 ? port : FreePort();
    return ports;
  }
  std::string RunnableDir(const std::string& runnable) override {
    return (fs::path(SharedDir()) / Sanitize(runnable)).string();
  }
  std::string InternalHost(const std::string& runnable) const override { return runnable; }
  std::shared_ptr<workload::Runnable> Define(const FutureRunnable& future,
                                             StartOptions options) override {
    return std::make_shared<DockerRunnable>(state_, future, std::move(options));
  }

 private:
  std::shared_ptr<DockerState> state_;
};

// Returns ok when the engine of `client` answers, else why not, naming the engine once.
Status PingEngine(DockerClient& client) {
  DockerResult<std::string> v = client.Ping();
  if (v.ok()) return {};
  const std::string engine = client.endpoint().ToString();
  // A failed connection already says "no Docker engine at <endpoint>: ...".
  if (v.error().message.find(engine) != std::string::npos) return Status::Error(v.error().message);
  return Status::Error(fmt::format("the Docker engine at {} does not answer: {}", engine,
                                   v.error().ToString()));
}

// Makes environment `name`: removes what an earlier one of that name left, makes the
// directory, the network and the reaper.
std::unique_ptr<DockerEnvironment> MakeDockerEnvironment(const std::string& name,
                                                         std::shared_ptr<DockerState>* state_out,
                                                         Status* error) {
  std::string why;
  std::optional<DockerClient> client = DockerClient::FromEnvironment(&why);
  if (!client) {
    *error = Status::Error(why);
    return nullptr;
  }
  if (Status st = PingEngine(*client); !st) {
    *error = st;
    return nullptr;
  }
  auto state = std::make_shared<DockerState>(std::move(*client));
  state->name = name;
  if (Status st = RemoveLeftovers(state->client, name); !st) {
    *error = Status::Error(fmt::format("removing what environment {} left: {}", name, st.message()));
    return nullptr;
  }
  std::string pattern = (fs::temp_directory_path() / ("handoff-" + name + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    *error = Status::Error(
        fmt::format("cannot create a directory for the environment: {}", std::strerror(errno)));
    return nullptr;
  }
  ::chmod(pattern.c_str(), 0777);
  state->dir = pattern;
  state->reaper = std::make_unique<Reaper>(state->client.endpoint());
  state->reaper->Tell('D', state->dir);
  DockerResult<std::string> network = state->client.CreateNetwork(name, EnvLabels(name));
  if (!network.ok()) {
    *error = Status::Error(network.error().ToString());
    state->Close();
    return nullptr;
  }
  state->network_id = *network;
  state->reaper->Tell('n', *network);
  if (state_out != nullptr) *state_out = state;
  return std::make_unique<DockerEnvironment>(std::move(state));
}

}  // namespace

Status Environment::DockerAvailable() {
  std::string why;
  std::optional<DockerClient> client = DockerClient::FromEnvironment(&why);
  if (!client) return Status::Error(why);
  return PingEngine(*client);
}

std::unique_ptr<Environment> Environment::NewDocker(std::string name, Status* error) {
  Status st;
  std::unique_ptr<Environment> env = MakeDockerEnvironment(Sanitize(name), nullptr, &st);
  if (error != nullptr) *error = st;
  return env;
}

std::unique_ptr<Environment> Environment::NewDocker(T& t) {
  const std::string name = TestEnvironmentName(t);
  std::shared_ptr<DockerState> state;
  Status st;
  std::unique_ptr<Environment> env = MakeDockerEnvironment(name, &state, &st);
  if (!env) t.Fatalf("cannot create Docker environment {}: {}", name, st.message());
  state->logs.test = internal::StateOf(t);  // a failure keeps the runnables' logs
  t.Cleanup([state] { state->Close(); });
  return env;
}

DockerClient* DockerEngineOf(Environment& env) {
  auto* docker = dynamic_cast<DockerEnvironment*>(&env);
  return docker == nullptr ? nullptr : &docker->client();
}

}  // namespace handoff::workload
