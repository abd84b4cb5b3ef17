// The smallest handoff program: a few tests in one suite, and a table of subtests.
// It links with handoff::handoff_main, which provides main().
//
//   hello run            run every test
//   hello list           show what would run
//   hello run --run 'Add/.*negative'

#include <handoff/handoff.h>

#include <string>
#include <vector>

namespace {

int Add(int a, int b) { return a + b; }

}  // namespace

HANDOFF_TEST(Hello, Greets) {
  std::string greeting = "hello, " + std::string("world");
  t.Logf("greeting is {:?}", greeting);
  if (greeting != "hello, world") t.Errorf("got {:?}, want {:?}", greeting, "hello, world");
}

HANDOFF_TEST(Hello, Add) {
  struct Case {
    std::string name;
    int a, b, want;
  };
  const std::vector<Case> cases = {
      {"zeros", 0, 0, 0},
      {"positive", 2, 3, 5},
      {"negative", -2, -3, -5},
  };
  for (const Case& c : cases) {
    t.Run(c.name, [&](handoff::T& t) {
      if (int got = Add(c.a, c.b); got != c.want) {
        t.Errorf("Add({}, {}) = {}, want {}", c.a, c.b, got, c.want);
      }
    });
  }
}

HANDOFF_TEST(Hello, CleansUp) {
  auto dir = t.TempDir();  // removed when the test ends
  t.Cleanup([&t] { t.Log("cleanup runs after the test body"); });
  t.Logf("working in {}", dir.string());
}
