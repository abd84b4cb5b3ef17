#pragma once

// Workloads: the services an e2e test needs (a database, the service under test, a
// Prometheus), started by the test, wired to each other, waited on, and always cleaned up.
// Modelled on Go's efficientgo/e2e.
//
//   auto env = handoff::workload::Environment::NewProcess(t);
//   auto web = env->Runnable("web").WithPorts({{"http", 0}}).Future();
//   auto started = web.Init({.executable = "/usr/bin/python3",
//                            .args = {"-m", "http.server", web.InternalPortText("http")},
//                            .readiness = handoff::workload::Probe::Http("http", "/")});
//   if (auto st = handoff::workload::StartAndWaitReady({started}); !st) t.Fatal(st.message());
//   // ... GET http://{started->Endpoint("http")}/
//
// An environment created from a test is closed by the test's cleanup: its runnables are
// killed in reverse start order and its directory removed, whatever the test did.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace handoff {

class T;

namespace workload {

// The outcome of an operation: ok, or a message saying what went wrong.
class Status {
 public:
  Status() = default;
  static Status Error(std::string message) {
    Status s;
    s.message_ = std::move(message);
    s.ok_ = false;
    return s;
  }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const std::string& message() const { return message_; }

 private:
  bool ok_ = true;
  std::string message_;
};

// How often a wait polls: from `initial`, multiplied by `multiplier` up to `max`, until
// `deadline` has passed since the wait began.
struct Backoff {
  std::chrono::milliseconds initial{50};
  std::chrono::milliseconds max{1000};
  double multiplier = 2;
  std::chrono::milliseconds deadline{60'000};
};

// How a runnable tells that it is ready.
class Probe {
 public:
  enum class Kind { kHttp, kTcp, kCommand };

  // An HTTP GET of `path` on the named port answers with a status in [min_status,
  // max_status] and a body containing every one of `body_contains`.
  static Probe Http(std::string port, std::string path = "/", int min_status = 200,
                    int max_status = 299, std::vector<std::string> body_contains = {});
  // A TCP connection to the named port is accepted.
  static Probe Tcp(std::string port);
  // The command, run as Exec would, exits 0.
  static Probe Command(std::vector<std::string> argv);

  Kind kind() const { return kind_; }
  const std::string& port() const { return port_; }
  const std::string& path() const { return path_; }
  int min_status() const { return min_status_; }
  int max_status() const { return max_status_; }
  const std::vector<std::string>& body_contains() const { return body_contains_; }
  const std::vector<std::string>& argv() const { return argv_; }

 private:
  Kind kind_ = Kind::kTcp;
  std::string port_;
  std::string path_ = "/";
  int min_status_ = 200;
  int max_status_ = 299;
  std::vector<std::string> body_contains_;
  std::vector<std::string> argv_;
};

// What a runnable runs and how.
struct StartOptions {
  std::string executable;              // the program (a path, or a name looked up in PATH)
  std::vector<std::string> args;       // its arguments
  std::map<std::string, std::string> env;  // added to (and overriding) the inherited ones
  std::optional<Probe> readiness;      // none: ready once started
  Backoff wait_backoff;                // how WaitReady polls the probe
};

// What Exec returns.
struct ExecResult {
  Status status;  // not ok if the command could not be run at all
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A service of an environment. Methods are safe to call from any thread.
class Runnable {
 public:
  virtual ~Runnable() = default;

  virtual const std::string& Name() const = 0;
  // Its own directory on the host (its working directory).
  virtual const std::string& Dir() const = 0;
  // The port number the service must listen on for the named port.
  virtual int InternalPort(std::string_view port) const = 0;
  // host:port other runnables use to reach the named port.
  virtual std::string InternalEndpoint(std::string_view port) const = 0;
  // host:port the test uses to reach the named port ("" before Start).
  virtual std::string Endpoint(std::string_view port) const = 0;

  virtual Status Start() = 0;
  // Polls the readiness probe until it passes, the runnable exits or the deadline passes.
  virtual Status WaitReady() = 0;
  // Asks it to stop (SIGTERM), then kills it after `timeout`. Idempotent.
  virtual Status Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10)) = 0;
  // Kills it at once (SIGKILL). Idempotent.
  virtual Status Kill() = 0;
  virtual bool IsRunning() const = 0;
  // Runs a command beside it (same directory and environment); `input` is its stdin.
  virtual ExecResult Exec(const std::vector<std::string>& argv,
                          std::optional<std::string> input = std::nullopt) = 0;
};

// A runnable whose name, ports, directory and internal endpoints are known before it is
// defined: wire it into others, then Init it.
class FutureRunnable {
 public:
  const std::string& Name() const { return name_; }
  const std::string& Dir() const { return dir_; }
  // The named ports and the port each listens on.
  const std::map<std::string, int>& Ports() const { return ports_; }
  int InternalPort(std::string_view port) const;
  // InternalPort as text, for command lines.
  std::string InternalPortText(std::string_view port) const;
  std::string InternalEndpoint(std::string_view port) const;
  // Defines what it runs. The result is not started.
  std::shared_ptr<Runnable> Init(StartOptions options);

 private:
  friend class RunnableBuilder;
  FutureRunnable(class Environment* env, std::string name, std::map<std::string, int> ports);
  Environment* env_;
  std::string name_;
  std::string dir_;
  std::map<std::string, int> ports_;  // as resolved by the environment
};

class RunnableBuilder {
 public:
  // Named ports and the port each listens on (0: pick a free one).
  RunnableBuilder& WithPorts(std::map<std::string, int> ports);
  FutureRunnable Future();
  std::shared_ptr<Runnable> Init(StartOptions options) { return Future().Init(std::move(options)); }

 private:
  friend class Environment;
  RunnableBuilder(Environment* env, std::string name) : env_(env), name_(std::move(name)) {}
  Environment* env_;
  std::string name_;
  std::map<std::string, int> ports_;
};

// A set of runnables with a shared directory, closed together.
class Environment {
 public:
  virtual ~Environment() = default;

  // Local processes, for machines without Docker and services installed on the host. From
  // a test: named after it (with a unique suffix) and closed by its cleanup.
  static std::unique_ptr<Environment> NewProcess(T& t);
  // Standalone (closed by Close or the destructor).
  static std::unique_ptr<Environment> NewProcess(std::string name);

  const std::string& Name() const { return name_; }
  // A directory every runnable can use.
  const std::string& SharedDir() const { return shared_dir_; }

  RunnableBuilder Runnable(std::string name) { return RunnableBuilder(this, std::move(name)); }

  // Kills the runnables in reverse start order and removes the directory. Idempotent.
  virtual void Close() = 0;

 protected:
  Environment(std::string name, std::string shared_dir)
      : name_(std::move(name)), shared_dir_(std::move(shared_dir)) {}
  friend class FutureRunnable;
  friend class RunnableBuilder;
  // The ports a runnable gets for the requested ones; its directory.
  virtual std::map<std::string, int> ResolvePorts(const std::string& runnable,
                                                  const std::map<std::string, int>& wanted) = 0;
  virtual std::string RunnableDir(const std::string& runnable) = 0;
  virtual std::string InternalHost(const std::string& runnable) const = 0;
  virtual std::shared_ptr<workload::Runnable> Define(const FutureRunnable& future,
                                                     StartOptions options) = 0;

 private:
  std::string name_;
  std::string shared_dir_;
};

// Starts every runnable at once and waits until all are ready. The first failure names
// the runnable and says why (a probe's last answer).
Status StartAndWaitReady(const std::vector<std::shared_ptr<Runnable>>& runnables);

}  // namespace workload
}  // namespace handoff
