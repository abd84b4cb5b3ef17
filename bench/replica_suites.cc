// 60 suites of one slow test each (a second of sleep) and one that runs until stopped, for
// bench/replica_bench.py: replicas' throughput, and their fail-over.

#include <chrono>

#include "handoff/handoff.h"

namespace {

void Sleep(handoff::T& t) {
  using namespace std::chrono_literals;
  if (!t.Context().SleepFor(1s)) t.Log("asked to stop");
}

}  // namespace

#define SLOW_SUITE(N) \
  HANDOFF_TEST(Slow##N, Sleeps) { Sleep(t); }
#define TEN_SLOW_SUITES(D) \
  SLOW_SUITE(D##0)         \
  SLOW_SUITE(D##1)         \
  SLOW_SUITE(D##2)         \
  SLOW_SUITE(D##3)         \
  SLOW_SUITE(D##4)         \
  SLOW_SUITE(D##5)         \
  SLOW_SUITE(D##6)         \
  SLOW_SUITE(D##7)         \
  SLOW_SUITE(D##8)         \
  SLOW_SUITE(D##9)
TEN_SLOW_SUITES(1)
TEN_SLOW_SUITES(2)
TEN_SLOW_SUITES(3)
TEN_SLOW_SUITES(4)
TEN_SLOW_SUITES(5)
TEN_SLOW_SUITES(6)

// Runs until stopped (two minutes at most): the run a killed replica leaves behind.
HANDOFF_TEST(Long, Sleeps) {
  using namespace std::chrono_literals;
  if (!t.Context().SleepFor(120s)) t.Log("asked to stop");
}
