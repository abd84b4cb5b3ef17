#pragma once

// Hold on failure (issue 21): what a held test leaves open for an engineer to look at, as
// its kHeld event carries it, and how a hold ended, as its kReleased event says. The layout
// of the attributes lives here only: the runner writes it, the supervisor, reporters and the
// store read it back with GetHold.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/event.h"

namespace handoff {

// A service of the held test's world (the workload API's runnables), running while it is
// held.
struct HeldRunnable {
  std::string name;
  std::string dir;           // its working directory
  std::string container_id;  // Docker: its container ("" for a local process)
  int pid = 0;               // a local process: its pid (0 for a container)
  // Its ports: name, then host:port the test reaches it at.
  std::vector<std::pair<std::string, std::string>> endpoints;
  bool operator==(const HeldRunnable&) const = default;
};

// What a hold keeps open.
struct Hold {
  int pid = 0;  // the process that runs the test: gdb -p attaches to it
  // The directories t.TempDir() made for the test (and the tests it is a subtest of).
  std::vector<std::string> temp_dirs;
  std::vector<HeldRunnable> runnables;
  // How long the hold lasts unless released: it ends at the kHeld event's time plus this.
  std::int64_t max_hold_ns = 0;
  bool operator==(const Hold&) const = default;
};

// How a hold ended: released (by hand: the API, the UI, remote release, kill -URG), its max
// hold passed, the run was cancelled (or the server shut down), or the worker that held it
// ended without saying (killed from outside, crashed).
enum class HoldEnd : std::uint8_t { kReleased, kTimedOut, kCancelled, kWorkerGone };

// Returns "released", "timed_out", "cancelled" or "worker_gone".
const char* HoldEndName(HoldEnd end);
// The inverse of HoldEndName; false when the name is unknown.
bool ParseHoldEnd(std::string_view name, HoldEnd* out);

// Writes `hold` into a kHeld event (its attributes and elapsed_ns).
void PutHold(const Hold& hold, Event& e);
// Reads the hold a kHeld event carries; fields it lacks are left empty.
Hold GetHold(const Event& e);

}  // namespace handoff
