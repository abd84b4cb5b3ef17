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
// Environment::NewDocker(t) gives the same interface with Docker containers (an image per
// runnable, one network per environment). An environment created from a test is closed by
// the test's cleanup: its runnables are killed in reverse start order, its containers,
// network and directory removed, whatever the test did (even when it crashes).

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace handoff {

class T;

namespace workload {

// Declared first so that the names below mean workload::Environment, not the
// features' handoff::Environment.
class Environment;

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
  enum class Kind { kHttp, kHttps, kTcp, kCommand };

  // An HTTP GET of `path` on the named port answers with a status in [min_status,
  // max_status] and a body containing every one of `body_contains`.
  static Probe Http(std::string port, std::string path = "/", int min_status = 200,
                    int max_status = 299, std::vector<std::string> body_contains = {});
  // As Http, over TLS; the certificate is not verified (test services use self-signed ones).
  static Probe Https(std::string port, std::string path = "/", int min_status = 200,
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

// What a runnable runs and how. Fields marked (Docker) are ignored by the process
// environment.
struct StartOptions {
  std::string image;  // (Docker) the image to run; required there
  // The program: a path, or a name looked up in PATH. In Docker it replaces the image's
  // entrypoint; empty keeps the image's.
  std::string executable;
  std::vector<std::string> args;           // its arguments (Docker: the command)
  std::map<std::string, std::string> env;  // added to (and overriding) the inherited ones
  // Adds TRACEPARENT (T::TraceParent of the test that defines it, when Init is called) to
  // `env`, so a service instrumented with OpenTelemetry puts its spans in the test's trace.
  bool trace_context = false;
  // The user it runs as: a name or "uid[:gid]". Processes: only when the test runs as root
  // (its directory is then given to that user); empty: the test's user.
  std::string user;
  std::vector<std::string> volumes;  // (Docker) "host_path:container_path[:ro]"
  std::int64_t memory_bytes = 0;     // (Docker) memory limit; 0: none
  double cpus = 0;                   // (Docker) CPU limit, in CPUs; 0: none
  std::optional<Probe> readiness;    // none: ready once started
  Backoff wait_backoff;              // how WaitReady polls the probe
  // The named port serving Prometheus metrics, which SumMetrics and WaitSumMetrics scrape,
  // and their path.
  std::string metrics_port;
  std::string metrics_path = "/metrics";
};

// What Exec returns.
struct ExecResult {
  Status status;  // not ok if the command could not be run at all
  int exit_code = -1;
  std::string out;
  std::string err;
};

// ---------------------------------------------------------------------------------------
// Metrics: what WaitSumMetrics waits for.

// Selects series by one label, as a PromQL matcher does: `=`, `!=`, `=~`, `!~`. A series
// without the label has it empty, and regexes are fully anchored.
struct LabelMatcher {
  enum class Op { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

  std::string name;
  Op op = Op::kEqual;
  std::string value;
};

// What the metric sums must satisfy. The single-value forms compare the total of every
// named metric; the "AmongTwo" forms need exactly two names and compare the first with the
// second.
struct MetricExpectation {
  enum class Kind {
    kEquals,
    kGreater,
    kGreaterOrEqual,
    kLess,
    kBetween,
    kEqualsAmongTwo,
    kGreaterAmongTwo,
    kLessAmongTwo,
  };

  Kind kind = Kind::kEquals;
  double low = 0;   // the value compared with, or Between's lower bound
  double high = 0;  // Between's upper bound

  // Returns true if the expectation compares two metrics rather than a total.
  bool ComparesTwo() const;

  // Returns true if `values` (the sums of the metrics found, in order) satisfy it. Equality
  // allows a relative difference of 1e-9; NaN satisfies nothing; a two-metric form with
  // other than two values is not satisfied.
  bool Holds(const std::vector<double>& values) const;

  // Describes the expectation: "> 50", "between 1 and 5", or with `names` for the
  // two-metric forms: "hits > misses".
  std::string Describe(const std::vector<std::string>& names) const;
};

// The sum equals `value` (within a relative 1e-9).
MetricExpectation Equals(double value);
// The sum is greater than `value`.
MetricExpectation Greater(double value);
// The sum is greater than or equal to `value`.
MetricExpectation GreaterOrEqual(double value);
// The sum is less than `value`.
MetricExpectation Less(double value);
// The sum is in [low, high].
MetricExpectation Between(double low, double high);
// The first metric equals the second (within a relative 1e-9).
MetricExpectation EqualsAmongTwo();
// The first metric is greater than the second.
MetricExpectation GreaterAmongTwo();
// The first metric is less than the second.
MetricExpectation LessAmongTwo();

// The pauses between scrapes: `initial`, then multiplied by `multiplier` up to `max`.
struct MetricWaitBackoff {
  std::chrono::milliseconds initial{300};
  std::chrono::milliseconds max{600};
  double multiplier = 2;
};

struct MetricWaitOptions {
  // Only series these select count.
  std::vector<LabelMatcher> matchers;
  // Histograms and summaries count observations (`_count`) instead of summing them (`_sum`).
  bool count_instead_of_sum = false;
  // A metric that does not exist yet is waited for instead of failing the wait.
  bool wait_missing = false;
  // A metric that does not exist is left out of the comparison (it wins over wait_missing).
  bool skip_missing = false;
  MetricWaitBackoff backoff;
  // How long to keep scraping; at least one scrape happens.
  std::chrono::milliseconds deadline{std::chrono::seconds(30)};
};

// ---------------------------------------------------------------------------------------

// A service of an environment. Methods are safe to call from any thread.
class Runnable {
 public:
  virtual ~Runnable() = default;

  virtual const std::string& Name() const = 0;
  // Its own directory on the host (its working directory), inside the environment's
  // shared directory; Docker mounts it at the same path.
  virtual const std::string& Dir() const = 0;
  // The names of its ports.
  virtual std::vector<std::string> PortNames() const = 0;
  // What it runs.
  virtual const StartOptions& Options() const = 0;
  // The port number the service must listen on for the named port.
  virtual int InternalPort(std::string_view port) const = 0;
  // host:port other runnables use to reach the named port.
  virtual std::string InternalEndpoint(std::string_view port) const = 0;
  // host:port the test uses to reach the named port ("" before Start).
  virtual std::string Endpoint(std::string_view port) const = 0;
  // The last lines it wrote (at most 20), oldest first.
  virtual std::vector<std::string> LastOutput() const = 0;

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

  // Scrapes Options().metrics_port once and stores in *sums the sum of each named metric
  // over the series `options.matchers` select (a histogram's or summary's _sum, or _count).
  // A missing metric fails, unless skip_missing (then it is left out).
  Status SumMetrics(const std::vector<std::string>& names, std::vector<double>* sums,
                    const MetricWaitOptions& options = {});
  // Scrapes until the sums of `names` satisfy `expectation`, or fails saying what it saw
  // last. See MetricWaitOptions for missing metrics, backoff and deadline.
  Status WaitSumMetrics(const MetricExpectation& expectation,
                        const std::vector<std::string>& names,
                        const MetricWaitOptions& options = {});
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
  // Standalone (closed by Close or the destructor), named `name` and a unique suffix.
  // Returns nullptr, with *error set, when its directory cannot be made.
  static std::unique_ptr<Environment> NewProcess(std::string name, Status* error = nullptr);

  // Docker containers on one network of their own, through the engine DOCKER_HOST names
  // (default unix:///var/run/docker.sock). From a test: named after it with a unique
  // suffix, closed by its cleanup; no engine fails the test (see DockerAvailable).
  static std::unique_ptr<Environment> NewDocker(T& t);
  // Standalone, named exactly `name`: containers and a network left by an earlier
  // environment of that name (a crashed program) are removed first. Returns nullptr, with
  // *error set, when the engine cannot be reached.
  static std::unique_ptr<Environment> NewDocker(std::string name, Status* error = nullptr);
  // Returns ok when a Docker engine answers, else why not.
  static Status DockerAvailable();

  enum class Kind { kProcess, kDocker };
  virtual Kind kind() const = 0;

  const std::string& Name() const { return name_; }
  // A directory every runnable can use.
  const std::string& SharedDir() const { return shared_dir_; }

  RunnableBuilder Runnable(std::string name) { return RunnableBuilder(this, std::move(name)); }

  // The runnables started so far and not closed, in start order.
  virtual std::vector<std::shared_ptr<workload::Runnable>> Started() const = 0;

  // Kills the runnables in reverse start order and removes them (Docker: with the network)
  // and the directory. Idempotent.
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

// Interactive use: keep an environment up for a person to explore.
struct InteractiveOptions {
  // Where the endpoints and instructions are printed (default std::cout).
  std::ostream* out = nullptr;
  // The port of the URL that ends the wait (on 127.0.0.1); 0 picks a free one.
  int port = 0;
  // Also end after this long; 0: no limit.
  std::chrono::milliseconds timeout{0};
};

// Prints every started runnable's endpoints (from the host and from other runnables) and
// waits until Ctrl-C (SIGINT), SIGTERM, a GET of the printed URL, or the timeout, and sets
// *ended_by (if given) to "interrupted", "url" or "timeout". Fails only if the URL cannot
// be served. The environment is left as it is: close it afterwards.
Status RunInteractive(Environment& env, const InteractiveOptions& options = {},
                      std::string* ended_by = nullptr);

}  // namespace workload
}  // namespace handoff
