#pragma once

// Runs a program as a user's shell would and captures what it printed.

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::testing {

struct ProcessResult {
  int exit_code = -1;  // -signal if killed by a signal
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

// Runs `argv` with the current environment plus `env`, waiting at most `timeout` (then the
// process group is killed and exit_code is -9).
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::seconds timeout = std::chrono::seconds(120));

// A program started in the background, in a process group of its own, whose output is
// read while it runs. The destructor kills the group if it was not waited for.
class BackgroundProcess {
 public:
  // Starts `argv` as RunProcess does; throws std::runtime_error if it cannot be started.
  BackgroundProcess(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // Reads its output until stdout contains `text` (true), or until `timeout` passes or
  // both outputs end (false).
  bool WaitForOutput(std::string_view text, std::chrono::milliseconds timeout);
  // Its process id (it leads a process group of its own), -1 once waited for.
  int pid() const { return pid_; }
  // What it printed so far.
  const std::string& out() const { return result_.out; }
  const std::string& err() const { return result_.err; }
  // Reads the rest of its output and waits until it exits; after `timeout` its process
  // group is killed and exit_code is -9.
  ProcessResult Wait(std::chrono::seconds timeout);

 private:
  // Waits for output until `until` and appends what came; false when there is no more
  // to wait for (both outputs ended, or `until` passed).
  bool ReadSome(std::chrono::steady_clock::time_point until);

  int pid_ = -1;
  int fds_[2] = {-1, -1};  // stdout, stderr
  std::chrono::steady_clock::time_point start_;
  ProcessResult result_;
};

// Returns a fresh empty directory under the system temp directory. The directories are
// removed when the test program exits, unless HANDOFF_KEEP_TEST_DIRS is set.
std::string MakeTempDir();

// Returns the contents of a file ("" if missing).
std::string ReadFile(const std::string& path);

// Splits text into lines (without their '\n').
std::vector<std::string> Lines(const std::string& text);

// Returns the 1-based number of the first line of `file` containing `needle` (-1 if none),
// so tests find a fixture's failure lines by a marker rather than by number.
int LineOf(const std::string& file, const std::string& needle);

// Polls `done` every few milliseconds until it holds or `within` has passed; returns
// whether it held (a deadline poll, never a sleep standing in for synchronisation).
bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds within);

}  // namespace handoff::testing
