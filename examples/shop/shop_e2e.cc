// The shop example: end-to-end tests of a real HTTP service that the suites start
// themselves (shop_service.h), written against handoff::T.
//
//   shop_e2e run                          run every suite
//   shop_e2e run --run 'Orders/.*'        only the Orders table
//   shop_e2e run --labels tier=smoke      only suites labelled tier=smoke
//   shop_e2e list --format json           what would run, as JSON
//
// The run passes: one test fails softly (a known issue), one fails on its first attempt
// and passes on the retry (a cold cache), and one skips itself (a missing feature).

#include <fmt/format.h>
#include <handoff/handoff.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shop_service.h"
#include "webhook_hook.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// [docs:fixture]
// A shop service started by a suite's setup. Setup runs in every worker process (and
// again in a fresh worker after a crash), so the service is started there, never in a
// static initializer, and tests read the address from here.
struct ShopFixture {
  std::unique_ptr<shop::ShopService> service;
  std::string address;
};

ShopFixture storefront;  // for the Storefront suite
ShopFixture inventory;   // for the Inventory suite
// [docs:end]

// [docs:eventually]
// Calls `ready` every `every` until it returns true. Gives up after `within`, or as soon
// as the test is asked to stop (its timeout expired or the run was cancelled), so a wait
// never outlives the test. Returns whether `ready` returned true.
bool Eventually(const handoff::Context& ctx, std::chrono::milliseconds within,
                std::chrono::milliseconds every, const std::function<bool()>& ready) {
  const auto give_up = std::min(ctx.Deadline(), Clock::now() + within);
  while (true) {
    if (ready()) return true;
    if (Clock::now() + every > give_up) return false;
    if (!ctx.SleepFor(every)) return false;  // asked to stop
  }
}
// [docs:end]

// [docs:setup]
// Suite setup: starts a shop on a free port and waits until /healthz says it is ready.
// A Fatal here fails the setup, and every test of the suite is reported as skipped.
void StartShop(handoff::T& t, ShopFixture& shop) {
  shop.service = std::make_unique<shop::ShopService>();
  if (std::string error = shop.service->Start(); !error.empty()) {
    t.Fatalf("starting the shop: {}", error);
  }
  shop.address = shop.service->Address();
  t.Logf("shop listening on {}", shop.address);

  const shop::Client client(shop.address, 500ms);
  int polls = 0;
  std::string last;  // the last answer, for the failure message
  const bool healthy = Eventually(t.Context(), 5s, 50ms, [&] {
    ++polls;
    shop::HttpResponse r = client.Get("/healthz");
    last = r.ok() ? fmt::format("{} {}", r.status, r.body) : r.error;
    return r.ok() && r.status == 200;
  });
  if (!healthy) {
    t.Fatalf("shop at {} not healthy after {} polls; last answer: {}", shop.address, polls, last);
  }
  t.Logf("shop healthy after {} polls", polls);
}

// Suite teardown: runs after the suite's tests, even when they failed.
void StopShop(handoff::T& t, ShopFixture& shop) {
  if (shop.service) shop.service->Stop();
  shop.service.reset();
  t.Log("shop stopped");
}
// [docs:end]

// [docs:helpers]
// Parses a response body as JSON or stops the test. Helpers take the T& of the (sub)test
// that calls them and fail through it; the failure's file:line is the helper's line.
shop::Json MustJson(handoff::T& t, const shop::HttpResponse& r) {
  std::string error;
  std::optional<shop::Json> json = r.JsonBody(&error);
  if (!json) t.Fatalf("response is not JSON ({}): {:?}", error, r.body);
  return *json;
}

// Creates an order and cancels it when the (sub)test ends, so every test sees the same
// stock. Returns the order as the service answered it.
shop::Json CreateOrder(handoff::T& t, const shop::Client& client, std::string_view sku,
                       int quantity) {
  shop::HttpResponse r =
      client.Post("/orders", fmt::format(R"({{"sku":"{}","quantity":{}}})", sku, quantity));
  if (!r.ok()) t.Fatal(r.error);
  if (r.status != 201) t.Fatalf("POST /orders {} x{}: status {}, body {}", sku, quantity,
                                r.status, r.body);
  shop::Json order = MustJson(t, r);
  const std::string id = order.GetString("id").value_or("");
  t.Cleanup([&t, client, id] {
    shop::HttpResponse d = client.Delete("/orders/" + id);
    if (!d.ok() || d.status != 204) t.Errorf("cancelling {}: {} {}", id, d.status, d.error);
  });
  return order;
}
// [docs:end]

}  // namespace

// ---------------------------------------------------------------------------------------
// Storefront: registered with the macros. HANDOFF_SUITE sets the suite's options.
// [docs:suite]
HANDOFF_SUITE(Storefront) {
  suite.namespace_name = "shop";
  suite.description = "The shop's public HTTP API: health, catalogue, orders";
  suite.labels = {{"team", "shop"}, {"tier", "smoke"}};
  suite.max_attempts = 3;  // a failing test is retried twice before it counts as failed
  suite.timeout = 10s;     // per test, unless the test or --timeout says otherwise
  suite.secret_params = {"*_TOKEN", "PASSWORD"};  // run params serve shows as [redacted]
  suite.setup = [](handoff::T& t) { StartShop(t, storefront); };
  suite.teardown = [](handoff::T& t) { StopShop(t, storefront); };
}
// [docs:end]

HANDOFF_TEST(Storefront, Healthz) {
  shop::Client client(storefront.address);
  shop::HttpResponse r = client.Get("/healthz");
  if (!r.ok()) t.Fatal(r.error);
  if (r.status != 200) t.Errorf("GET /healthz: status {}, want 200", r.status);
  if (auto status = MustJson(t, r).GetString("status"); status != "ok") {
    t.Errorf("GET /healthz: status field {:?}, want \"ok\"", status.value_or("<missing>"));
  }
}

// [docs:values]
HANDOFF_TEST(Storefront, Products) {
  shop::Client client(storefront.address);
  shop::HttpResponse r = client.Get("/products");
  if (!r.ok()) t.Fatal(r.error);
  if (r.status != 200) t.Fatalf("GET /products: status {}, want 200", r.status);
  shop::Json products = MustJson(t, r);
  t.SetValue("product_count", products.items().size());
  if (products.items().size() != 3) t.Errorf("got {} products, want 3", products.items().size());
  for (const shop::Json& p : products.items()) {
    const std::string sku = p.GetString("sku").value_or("");
    if (sku.empty()) t.Errorf("product without a sku: {}", r.body);
    if (p.GetNumber("price_cents").value_or(0) <= 0) t.Errorf("{}: price must be positive", sku);
  }
}
// [docs:end]

// [docs:table]
HANDOFF_TEST(Storefront, Orders) {
  struct Case {
    std::string name;  // the subtest's name: spaces become '_', as in Go
    std::string body;
    int want_status;
  };
  const std::vector<Case> cases = {
      {"one tea", R"({"sku":"tea","quantity":1})", 201},
      {"two coffees", R"({"sku":"coffee","quantity":2})", 201},
      {"zero quantity", R"({"sku":"tea","quantity":0})", 400},
      {"unknown sku", R"({"sku":"cake","quantity":1})", 404},
      {"more than in stock", R"({"sku":"mug","quantity":2})", 409},
      {"not json", "two teas please", 400},
  };
  const shop::Client client(storefront.address);
  for (const Case& c : cases) {
    t.Run(c.name, [&](handoff::T& t) {
      shop::HttpResponse r = client.Post("/orders", c.body);
      if (!r.ok()) t.Fatal(r.error);  // stops this subtest only
      if (r.status != c.want_status) {
        t.Errorf("POST /orders {}: status {}, want {}; body {}", c.body, r.status,
                 c.want_status, r.body);
      }
      if (r.status == 201) {
        // Put the stock back when the subtest ends, so the cases do not depend on order.
        const std::string id = MustJson(t, r).GetString("id").value_or("");
        t.Cleanup([client, id] { client.Delete("/orders/" + id); });
      }
    });
  }
}
// [docs:end]

// [docs:lifecycle]
HANDOFF_TEST(Storefront, OrderLifecycle) {
  t.SetTimeout(5s);  // this test's own budget, counted from now; t.Context() follows it
  const shop::Client client(storefront.address);

  handoff::Span create = t.StartSpan("create order");
  create.SetAttribute("sku", "coffee");
  shop::Json order = CreateOrder(t, client, "coffee", 2);  // cancelled by a t.Cleanup
  create.End();

  const std::string id = order.GetString("id").value_or("");
  t.SetValue("order_id", id);
  if (auto total = order.GetNumber("total_cents"); total != 2 * 1290) {
    t.Errorf("total_cents = {}, want {}", total.value_or(-1), 2 * 1290);
  }

  // Orders are confirmed asynchronously: poll, bounded by 3s and by the test's context.
  handoff::Span wait = t.StartSpan("wait for confirmation");
  const auto start = Clock::now();
  std::string status;
  const bool confirmed = Eventually(t.Context(), 3s, 25ms, [&] {
    shop::HttpResponse r = client.Get("/orders/" + id);
    if (r.ok() && r.status == 200) status = MustJson(t, r).GetString("status").value_or("");
    return status == "confirmed";
  });
  wait.SetAttribute("final_status", status);
  wait.End();
  if (!confirmed) t.Fatalf("order {} is still {:?} after 3s", id, status);
  t.SetValue("confirm_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                               Clock::now() - start).count());
}
// [docs:end]

// [docs:soft]
HANDOFF_TEST(Storefront, ProductsHaveCurrency) {
  // Known issue SHOP-17: prices carry no currency. The failure is reported (SOFT FAIL in
  // the text report) but does not fail the suite or the exit code until it is fixed.
  t.SoftFailure();
  shop::HttpResponse r = shop::Client(storefront.address).Get("/products");
  if (!r.ok()) t.Fatal(r.error);
  const shop::Json products = MustJson(t, r);
  for (const shop::Json& p : products.items()) {
    if (p.Find("currency") == nullptr) {
      t.Errorf("product {} has no currency (known issue SHOP-17)", p.GetString("sku").value_or("?"));
    }
  }
}
// [docs:end]

// [docs:flaky]
HANDOFF_TEST(Storefront, Recommendations) {
  // The first request after the shop starts waits for a cold cache (1.5s) and exceeds
  // this test's 500ms budget; the suite's max_attempts = 3 runs the test again, and the
  // retry is answered from the warm cache. The report marks the test FLAKY.
  t.Logf("attempt {}", t.Attempt());
  const shop::Client client = shop::Client(storefront.address).WithTimeout(500ms);
  const auto start = Clock::now();
  shop::HttpResponse r = client.Get("/recommendations");
  t.SetValue("latency_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                               Clock::now() - start).count());
  if (!r.ok()) t.Fatal(r.error);
  if (r.status != 200) t.Fatalf("GET /recommendations: status {}", r.status);
  if (MustJson(t, r).items().empty()) t.Error("no recommendations");
}
// [docs:end]

// [docs:skip]
HANDOFF_TEST(Storefront, Refunds) {
  const shop::Client client(storefront.address);
  shop::Json order = CreateOrder(t, client, "tea", 1);
  const std::string id = order.GetString("id").value_or("");
  shop::HttpResponse r = client.Post("/orders/" + id + "/refund", "{}");
  if (!r.ok()) t.Fatal(r.error);
  if (r.status == 501) t.Skip("refunds are not implemented by this shop version (501)");
  if (r.status != 200) t.Errorf("POST /orders/{}/refund: status {}, want 200", id, r.status);
}
// [docs:end]

// ---------------------------------------------------------------------------------------
// Inventory: the same kind of suite built as a value and registered with
// handoff::Register, as a library of shared suites would do.

namespace {

// Returns the stock of `sku` as GET /products reports it.
int StockOf(handoff::T& t, const shop::Client& client, std::string_view sku) {
  shop::HttpResponse r = client.Get("/products");
  if (!r.ok()) t.Fatal(r.error);
  const shop::Json products = MustJson(t, r);
  for (const shop::Json& p : products.items()) {
    if (p.GetString("sku") == sku) return static_cast<int>(p.GetNumber("stock").value_or(-1));
  }
  t.Fatalf("no product {:?}", sku);
}

// [docs:sequential]
void StockFollowsOrders(handoff::T& t) {
  const shop::Client client(inventory.address);
  const int before = StockOf(t, client, "tea");
  t.Run("order reserves stock", [&](handoff::T& t) {
    CreateOrder(t, client, "tea", 3);  // cancelled when this subtest ends
    if (int now = StockOf(t, client, "tea"); now != before - 3) {
      t.Errorf("stock after ordering 3: {}, want {}", now, before - 3);
    }
  });
  t.Run("cancel returns stock", [&](handoff::T& t) {
    if (int now = StockOf(t, client, "tea"); now != before) {
      t.Errorf("stock after the order was cancelled: {}, want {}", now, before);
    }
  });
}
// [docs:end]

void CannotOversell(handoff::T& t) {
  const shop::Client client(inventory.address);
  const int mugs = StockOf(t, client, "mug");
  CreateOrder(t, client, "mug", mugs);
  shop::HttpResponse r = client.Post("/orders", R"({"sku":"mug","quantity":1})");
  if (!r.ok()) t.Fatal(r.error);
  if (r.status != 409) t.Errorf("ordering a mug when none are left: status {}, want 409", r.status);
}

// [docs:register]
handoff::Suite MakeInventorySuite() {
  return handoff::Suite{
      .name = "Inventory",
      .namespace_name = "shop",
      .description = "Stock bookkeeping across orders and cancellations",
      .labels = {{"team", "shop"}, {"tier", "regression"}},
      .timeout = 10s,
      .setup = [](handoff::T& t) { StartShop(t, inventory); },
      .teardown = [](handoff::T& t) { StopShop(t, inventory); },
      .tests = {{.name = "StockFollowsOrders", .fn = StockFollowsOrders},
                {.name = "CannotOversell", .fn = CannotOversell}},
  };
}

const bool kInventoryRegistered = handoff::Register(MakeInventorySuite());
// [docs:end]

}  // namespace

// [docs:main]
int main(int argc, char** argv) {
  std::vector<handoff::Option> options = {
      // `serve` runs the inventory checks every five minutes.
      handoff::Schedule{.name = "inventory-every-5m", .suite = "Inventory", .spec = "*/5 * * * *"},
  };
  // SHOP_WEBHOOK=host:port/path posts a summary of every finished run there.
  if (const char* webhook = std::getenv("SHOP_WEBHOOK")) {
    options.push_back(handoff::WithHook(std::make_shared<shop::WebhookHook>(webhook)));
  }
  return handoff::Main(argc, argv, options);
}
// [docs:end]
