#include "event/hold.h"

#include <charconv>

namespace handoff {
namespace {

// Attribute keys. A runnable starts at kRunnable; its fields and ports follow it, each port
// a kPort then its kEndpoint.
constexpr std::string_view kPid = "pid";
constexpr std::string_view kTempDir = "temp_dir";
constexpr std::string_view kRunnable = "runnable";
constexpr std::string_view kDir = "dir";
constexpr std::string_view kContainer = "container";
constexpr std::string_view kProcess = "process";
constexpr std::string_view kPort = "port";
constexpr std::string_view kEndpoint = "endpoint";

// A pid as a worker wrote it: 0 unless it is a positive number (it is shown, for gdb -p).
int ToPid(std::string_view text) {
  int value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value > 0 ? value : 0;
}

}  // namespace

const char* HoldEndName(HoldEnd end) {
  switch (end) {
    case HoldEnd::kReleased: return "released";
    case HoldEnd::kTimedOut: return "timed_out";
    case HoldEnd::kCancelled: return "cancelled";
    case HoldEnd::kWorkerGone: return "worker_gone";
  }
  return "released";
}

bool ParseHoldEnd(std::string_view name, HoldEnd* out) {
  for (HoldEnd end :
       {HoldEnd::kReleased, HoldEnd::kTimedOut, HoldEnd::kCancelled, HoldEnd::kWorkerGone}) {
    if (name == HoldEndName(end)) {
      *out = end;
      return true;
    }
  }
  return false;
}

void PutHold(const Hold& hold, Event& e) {
  e.elapsed_ns = hold.max_hold_ns;
  auto& a = e.attributes;
  a.emplace_back(kPid, std::to_string(hold.pid));
  for (const std::string& dir : hold.temp_dirs) a.emplace_back(kTempDir, dir);
  for (const HeldRunnable& r : hold.runnables) {
    a.emplace_back(kRunnable, r.name);
    a.emplace_back(kDir, r.dir);
    if (!r.container_id.empty()) a.emplace_back(kContainer, r.container_id);
    if (r.pid > 0) a.emplace_back(kProcess, std::to_string(r.pid));
    for (const auto& [port, endpoint] : r.endpoints) {
      a.emplace_back(kPort, port);
      a.emplace_back(kEndpoint, endpoint);
    }
  }
}

Hold GetHold(const Event& e) {
  Hold hold;
  hold.max_hold_ns = e.elapsed_ns;
  HeldRunnable* runnable = nullptr;
  for (const auto& [key, value] : e.attributes) {
    if (key == kPid) {
      hold.pid = ToPid(value);
    } else if (key == kTempDir) {
      hold.temp_dirs.push_back(value);
    } else if (key == kRunnable) {
      runnable = &hold.runnables.emplace_back();
      runnable->name = value;
    } else if (runnable == nullptr) {
      continue;  // a runnable's field before any runnable: not ours to guess
    } else if (key == kDir) {
      runnable->dir = value;
    } else if (key == kContainer) {
      runnable->container_id = value;
    } else if (key == kProcess) {
      runnable->pid = ToPid(value);
    } else if (key == kPort) {
      runnable->endpoints.emplace_back(value, "");
    } else if (key == kEndpoint && !runnable->endpoints.empty()) {
      runnable->endpoints.back().second = value;
    }
  }
  return hold;
}

}  // namespace handoff
