#pragma once

// What the workload API's parts share inside the library: names, probes and the Docker
// environment's engine for the helpers that build images.

#include <cstdio>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handoff/workload.h"

namespace handoff::internal {
class TestState;
}  // namespace handoff::internal

namespace handoff::workload {

class DockerClient;

// Records a runnable that started (a local process `pid`, or a container), for a held test
// to show while it runs (runner/live_runnables.h). Thread-safe.
void NoteStarted(const std::shared_ptr<Runnable>& runnable, int pid, std::string container_id);

// The readiness loop of both environments: probes with `probe_once` (which records its
// last answer) on options.wait_backoff until it passes, its deadline passes, or `gone`
// returns an error (the runnable stopped, or never started). `wait(delay)` sleeps for the
// delay, or less when the runnable stops. Without a readiness probe, only `gone` is asked.
Status WaitUntilReady(const std::string& name, const StartOptions& options,
                      const std::function<Status()>& gone,
                      const std::function<bool(std::string* last)>& probe_once,
                      const std::function<void(std::chrono::milliseconds)>& wait);

// A runnable's output, line by line, as both environments keep it: each line goes to
// stderr as "name: line" (the running test's output captures it), to the runnable's
// output.log, and into the last lines kept for LastOutput() and failure messages.
class OutputLines {
 public:
  static constexpr std::size_t kKept = 20;

  explicit OutputLines(std::string name) : name_(std::move(name)) {}

  // Opens <dir>/output.log for appending (output is still forwarded if it cannot be).
  void Open(const std::string& dir);
  // Closes output.log.
  void Close();
  // Forwards and keeps one line (without its '\n'). Called by one thread at a time.
  void Add(std::string_view line);
  // The last kKept lines, oldest first. Thread-safe.
  std::vector<std::string> Last() const;

 private:
  const std::string name_;
  std::FILE* log_ = nullptr;
  mutable std::mutex mu_;
  std::deque<std::string> last_;
};

// The most of a runnable's output.log a failed test attaches: its last bytes.
inline constexpr std::size_t kLogTailBytes = 1u << 20;

// The logs a failed test keeps (issue 19): an environment made from a test (NewProcess(t),
// NewDocker(t)) notes each runnable it starts, and its Close, before it removes their
// directories (when the test's code drops the environment, or at its cleanup), attaches the
// tail (kLogTailBytes) of each one's output.log as "runnable-<name>.log" if the test failed,
// a first line saying what was cut. The runnables' own objects may be gone by then.
struct TestLogs {
  internal::TestState* test = nullptr;  // null: a standalone environment
  std::vector<std::pair<std::string, std::string>> runnables;  // name, directory

  // Attaches the logs if there is a test and it failed.
  void AttachIfFailed() const;
};

// A name safe in paths, host names and container names: lower-case letters, digits and
// '-', at most `max` characters, never empty.
std::string Sanitize(std::string_view text, std::size_t max = 40);

// Returns "<name>-<pid>-<n>": a name no other environment made through here, in this
// process or another running at the same time, has.
std::string UniqueEnvironmentName(std::string_view name);

// The name of an environment made from test `t`: UniqueEnvironmentName of
// "<suite>-<test>", each sanitized (the suite cut to 24 characters, the test to 40).
std::string TestEnvironmentName(T& t);

// Reads `fd` to its end (retrying reads a signal interrupts), calling on_line with each
// line, without its '\n'. Returns what followed the last '\n' ("" if nothing).
std::string ReadLines(int fd, const std::function<void(std::string_view)>& on_line);

// Returns a TCP port free on every address a moment ago, outside the range the kernel
// gives outgoing connections when it can (0 if none could be had).
int FreePort();

// Returns true if a TCP connection to host:port is accepted within `timeout`; else sets
// *why.
bool TcpConnects(const std::string& host, int port, std::chrono::milliseconds timeout,
                 std::string* why);

// One HTTP or HTTPS readiness probe of host:port (probe.kind() is kHttp or kHttps).
// Returns true if it passed; else sets *last to what it got.
bool ProbeHttpOnce(const Probe& probe, const std::string& host, int port, std::string* last);

// One command probe: runs probe.argv() with runnable.Exec. Returns true if it exited 0;
// else sets *last to its exit code and output (or why it could not run).
bool ProbeCommandOnce(Runnable& runnable, const Probe& probe, std::string* last);

// The names of `ports`, and the port of one name (0 if it has none): what both
// environments' runnables answer for PortNames and InternalPort.
std::vector<std::string> PortNames(const std::map<std::string, int>& ports);
int PortOf(const std::map<std::string, int>& ports, std::string_view name);

// One GET of http://host:port/path; returns the body, or sets *error (a failed connection,
// a status other than 200).
std::optional<std::string> HttpGet(const std::string& host, int port, const std::string& path,
                                   std::string* error);

// The engine of a Docker environment, or nullptr for another environment. The client
// lives as long as the environment.
DockerClient* DockerEngineOf(Environment& env);

}  // namespace handoff::workload
