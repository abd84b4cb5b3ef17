#pragma once

// The supervisor runs one suite to its end: it starts a worker process for the suite's
// planned tests, forwards the worker's events, turns a crash or a hang into a failed test
// (with the cause and the last output) and starts a fresh worker for the tests left.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "event/event.h"
#include "event/wire.h"
#include "handoff/suite.h"

namespace handoff {

// What to run of one suite, and how.
struct SuiteJob {
  const Suite* suite = nullptr;
  // The whole suite's plan: its selected tests, attempts, timeouts and patterns. Each
  // worker gets a copy with the tests still to run.
  wire::WorkerPlan plan;
  // How long a test asked to stop (timeout, cancellation) may take before it is killed.
  std::chrono::milliseconds grace{5000};
  // False runs in this process (--isolation=none): no capture, no kill.
  bool isolated = true;
  // Hold on failure (plan.hold_on_failure): set to true to release the held test; the
  // supervisor sets it back to false once it has passed the release on. Optional.
  std::atomic<bool>* release = nullptr;
};

// Runs `job`, emitting kSuiteStarted through kSuiteFinished to `sink`, and returns the
// suite's status. When `cancel` becomes true the running test is asked to stop, killed
// after the grace period, and no further test starts.
Status RunSuite(const SuiteJob& job, EventSink& sink, const std::atomic<bool>& cancel);

// Kills every running worker and what its tests started (through their guardians).
// Async-signal-safe: for a second ^C, just before the process ends.
void KillAllWorkers();

// Returns a description of a wait() status: "killed by signal 11 (SIGSEGV: Segmentation
// fault)" or "exited with status 3".
std::string DescribeExit(int wait_status);

}  // namespace handoff
