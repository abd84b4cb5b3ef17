// The smallest handoff program: a few tests in one suite, and a table of subtests.
// It links with handoff::handoff_main, which provides main().
//
//   hello run                    run every test
//   hello run -v                 ... and print their logs
//   hello list                   show what would run
//   hello run --run 'Add/neg'    only the "negative" case of Add

#include <handoff/handoff.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string Greet(std::string_view name) { return "hello, " + std::string(name); }

int Add(int a, int b) { return a + b; }

}  // namespace

HANDOFF_TEST(Hello, Greets) {
  std::string greeting = Greet("world");
  t.Logf("greeting is {:?}", greeting);
  if (greeting != "hello, world") t.Errorf("Greet(\"world\") = {:?}, want \"hello, world\"", greeting);
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
  std::filesystem::path dir = t.TempDir();  // removed when the test ends
  t.Cleanup([&t] { t.Log("cleanups run after the test body, last registered first"); });
  t.Logf("working in {}", dir.string());
}
