#include <handoff/handoff.h>

HANDOFF_TEST(Consumer, Works) { t.Logf("consumed {}", "handoff"); }

HANDOFF_TEST(Consumer, Subtest) {
  t.Run("inner", [](handoff::T& t) { t.Log("inner ran"); });
}
