// The reaper: a process that outlives a crashed test and removes what its environment
// left. It is forked when the environment is made, in a session of its own (Ctrl-C and a
// worker's process-group kill do not reach it), and learns what the environment makes over
// a pipe. When the pipe ends without the "done" line a clean Close writes, the process
// that made the environment died: the reaper removes the containers and the network it was
// told about (through the Engine API), then the directory, and exits.

#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>

#include "workload/docker_client.h"

namespace handoff::workload {

class Reaper {
 public:
  // Forks the reaper; `engine` is the Docker engine to remove containers and the network
  // from (none for a process environment). On failure the environment works without crash
  // protection.
  explicit Reaper(const std::optional<DockerEndpoint>& engine);
  ~Reaper();
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

  // Tells the reaper about a container ('c'), one removed ('r'), the network ('n') or the
  // directory ('D').
  void Tell(char what, const std::string& id);

  // Everything was removed: lets the reaper go, and waits for it.
  void Done();

 private:
  std::mutex mu_;
  int fd_ = -1;
  pid_t pid_ = -1;
};

}  // namespace handoff::workload
