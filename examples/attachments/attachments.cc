// Attachments: files a test keeps with its result (docs/writing-tests.md, "Attachments").
// CheckoutPage fails on purpose and keeps what a person needs to see why: the page it got,
// the response body, and the log of the service it started, attached for it because it
// failed.
//
//   attachments run --report-junit reports/junit.xml

#include <handoff/handoff.h>
#include <handoff/workload.h>

#include <string>

namespace wl = handoff::workload;

HANDOFF_SUITE(Shop) {}

HANDOFF_TEST(Shop, CheckoutPage) {
  auto env = wl::Environment::NewProcess(t);
  auto api = env->Runnable("api").Init(
      {.executable = "sh",
       .args = {"-c", "echo 'listening on :8080'; echo 'GET /checkout 500: no such cart'; "
                      "exec sleep 300"},
       .readiness = wl::Probe::Command({"grep", "-q", "GET /checkout", "output.log"})});
  if (auto st = wl::StartAndWaitReady({api}); !st) t.Fatal(st.message());

  const std::string body = R"({"error":"no such cart"})";  // what GET /checkout answered
  t.Attach("response.json", body, "application/json");
  t.Attach("page.txt", "Checkout\n  Your cart is empty\n");
  t.Errorf("GET /checkout: want 200, got 500: {}", body);
}
