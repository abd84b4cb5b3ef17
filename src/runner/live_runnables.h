#pragma once

// The services running now, for a hold (event/hold.h) to show where they are. The runner
// is below the workload API: the workload API registers its list here when it starts its
// first runnable, and the runner asks it when a test is held.

#include <vector>

#include "event/hold.h"

namespace handoff::internal {

// Returns the runnables running now, in start order.
using LiveRunnablesSource = std::vector<HeldRunnable> (*)();

// Sets the one source of the running runnables. Thread-safe; setting it again replaces it.
void SetLiveRunnablesSource(LiveRunnablesSource source);

// Returns the runnables running now (none when no source is set).
std::vector<HeldRunnable> LiveRunnables();

}  // namespace handoff::internal
