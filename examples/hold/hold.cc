// A test that fails with a service running, to show hold on failure (docs/serve.md, "Hold a
// failing test"; docs/command-line.md): run with --hold-on-failure, or triggered on a server
// with hold_on_failure, the failed test waits before its cleanups, its service still
// answers at its endpoint and its temporary directory is still there, until it is released.
//
//   hold run --hold-on-failure --max-hold 10m

#include <handoff/handoff.h>
#include <handoff/workload.h>

#include <fstream>

namespace wl = handoff::workload;

HANDOFF_SUITE(Checkout) {
  suite.namespace_name = "shop";
  suite.description = "Prices the checkout reads from the price service";
}

// [docs:hold]
HANDOFF_TEST(Checkout, PriceList) {
  auto env = wl::Environment::NewProcess(t);
  wl::FutureRunnable future = env->Runnable("prices").WithPorts({{"http", 0}}).Future();
  // The price service: python3's http.server, serving the files of its directory.
  auto prices = future.Init({.executable = "python3",
                             .args = {"-m", "http.server", "--bind", "127.0.0.1",
                                      future.InternalPortText("http")},
                             .readiness = wl::Probe::Http("http", "/")});
  if (auto st = wl::StartAndWaitReady({prices}); !st) t.Fatal(st.message());
  std::ofstream(prices->Dir() + "/prices.txt") << "coffee USD 3.10\n";

  // What the test expected, kept for whoever looks at the held test.
  std::ofstream(t.TempDir() / "expected.txt") << "coffee EUR 2.90\n";
  t.Fatalf("http://{}/prices.txt: coffee is not priced in EUR", prices->Endpoint("http"));
}
// [docs:end]
