#include <chrono>
#include <cstdlib>
#include <string>

#include <handoff/handoff.h>

// Labels of every test of the suite: `ctest -L team=payments` runs them.
HANDOFF_SUITE(Consumer) { suite.labels = {{"team", "payments"}}; }

HANDOFF_TEST(Consumer, Works) { t.Logf("consumed {}", "handoff"); }

HANDOFF_TEST(Consumer, Subtest) {
  t.Run("inner", [](handoff::T& t) { t.Log("inner ran"); });
}

HANDOFF_TEST(Consumer, Skips) { t.Skip("needs a card terminal"); }

// Fails only with CONSUMER_FAIL set: CTest must then report exactly this test failed.
HANDOFF_TEST(Consumer, FailsOnRequest) {
  if (std::getenv("CONSUMER_FAIL") != nullptr) t.Error("failing: CONSUMER_FAIL is set");
}

namespace {

// Registered with handoff::Register: names that need quoting in a regex, a test with
// labels and a timeout of its own, and a test that lists its subtests.
handoff::Suite MakeCheckoutSuite() {
  handoff::Suite suite;
  suite.name = "Checkout.v2";
  suite.labels = {{"team", "shop"}};

  handoff::Test card{"Card+3DS (EU)", [](handoff::T& t) { t.Log("paid"); }};
  card.labels = {{"tier", "critical"}};
  card.timeout = std::chrono::seconds(30);
  suite.tests.push_back(card);

  handoff::Test currencies{"Currencies", [](handoff::T& t) {
    for (const std::string currency : {"EUR", "USD", "JPY"}) {
      t.Run(currency, [currency](handoff::T& t) {
        if (currency == "JPY") t.Skip("no cents to round");
      });
    }
  }};
  currencies.subtests = {"EUR", "USD", "JPY"};
  suite.tests.push_back(currencies);
  return suite;
}

[[maybe_unused]] const bool kCheckoutRegistered = handoff::Register(MakeCheckoutSuite());

}  // namespace
