#include "runner/live_runnables.h"

#include <atomic>

namespace handoff::internal {
namespace {
std::atomic<LiveRunnablesSource> g_source{nullptr};
}  // namespace

void SetLiveRunnablesSource(LiveRunnablesSource source) { g_source.store(source); }

std::vector<HeldRunnable> LiveRunnables() {
  const LiveRunnablesSource source = g_source.load();
  return source != nullptr ? source() : std::vector<HeldRunnable>{};
}

}  // namespace handoff::internal
