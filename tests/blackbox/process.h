#pragma once

// Runs a program as a user's shell would and captures what it printed.

#include <chrono>
#include <map>
#include <string>
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

// Returns a fresh empty directory under the system temp directory.
std::string MakeTempDir();

// Returns the contents of a file ("" if missing).
std::string ReadFile(const std::string& path);

}  // namespace handoff::testing
