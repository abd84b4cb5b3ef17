// Features of the shop service (examples/shop/shop_service.h), written in the model of
// Kubernetes' e2e-framework: an Environment starts the shop once, and each Feature
// sets up what it needs, assesses it step by step and tears it down, passing values
// along in the Context.
//
//   shop_features run -v                     # every feature
//   shop_features run --feature Orders       # one feature
//   shop_features run --assess stock         # matching assessments only
//   shop_features run --labels area=catalog  # features by label
//   shop_features run --dry-run              # what would run, running nothing
//   shop_features run --parallel             # the features at once

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <string>

#include <handoff/handoff.h>

#include "../shop/shop_service.h"

namespace {

using namespace std::chrono_literals;
using handoff::Context;
using handoff::T;

// [docs:feature-keys]
// Typed keys for what the steps pass along. Define each once: keys compare by identity.
inline const handoff::ContextKey<std::string> kShopAddress{"shop address"};
inline const handoff::ContextKey<std::string> kOrderId{"order id"};
inline const handoff::ContextKey<int> kStockBefore{"stock before"};
// [docs:end]

// The shop the environment starts; Finish stops it.
std::shared_ptr<shop::ShopService> the_shop;

shop::Json MustJson(T& t, const shop::HttpResponse& r) {
  if (!r.ok()) t.Fatal(r.error);
  std::string error;
  std::optional<shop::Json> json = r.JsonBody(&error);
  if (!json) t.Fatalf("response is not JSON ({}): {}", error, r.body);
  return *json;
}

// Returns the stock of `sku` as the shop reports it.
int StockOf(T& t, const shop::Client& client, const std::string& sku) {
  const shop::Json products = MustJson(t, client.Get("/products"));
  for (const shop::Json& p : products.items()) {
    if (p.GetString("sku") == sku) return static_cast<int>(p.GetNumber("stock").value_or(-1));
  }
  t.Fatalf("no product {}", sku);
}

// [docs:environment]
handoff::Environment ShopEnvironment() {
  handoff::Environment env("ShopFeatures");
  env.options().labels = {{"team", "shop"}};
  env.Setup([](Context ctx, T& t) {
       // Once, before any feature: start the shop and wait until it is healthy.
       the_shop = std::make_shared<shop::ShopService>(shop::ServiceOptions{.warm_up = 0ms});
       if (std::string error = the_shop->Start(); !error.empty()) t.Fatal(error);
       return ctx.WithValue(kShopAddress, the_shop->Address());
     })
      .BeforeEachFeature([](Context ctx, T& t, const handoff::FeatureInfo& feature) {
        t.Logf("feature {} on {}", feature.name, *ctx.Value(kShopAddress));
      })
      .Finish([](Context, T& t) {
        // Once, at the end, even after failures.
        if (the_shop) the_shop->Stop();
        t.Log("shop stopped");
      });
  return env;
}
// [docs:end]

// [docs:feature]
handoff::Feature OrdersFeature() {
  return handoff::Feature("Orders")
      .Label("area", "orders")
      .Setup([](Context ctx, T& t) {
        shop::Client client(*ctx.Value(kShopAddress));
        const int before = StockOf(t, client, "tea");
        shop::HttpResponse r = client.Post("/orders", R"({"sku":"tea","quantity":2})");
        if (r.status != 201) t.Fatalf("POST /orders: status {}, body {}", r.status, r.body);
        const std::string id = MustJson(t, r).GetString("id").value_or("");
        return ctx.WithValue(kOrderId, id).WithValue(kStockBefore, before);
      })
      .Assess("the order can be read back",
              [](Context ctx, T& t) {
                shop::Client client(*ctx.Value(kShopAddress));
                shop::HttpResponse r = client.Get("/orders/" + *ctx.Value(kOrderId));
                if (r.status != 200) t.Errorf("GET /orders/{}: status {}", *ctx.Value(kOrderId), r.status);
              })
      .Assess("the stock went down",
              [](Context ctx, T& t) {
                shop::Client client(*ctx.Value(kShopAddress));
                const int now = StockOf(t, client, "tea");
                if (now != *ctx.Value(kStockBefore) - 2) {
                  t.Errorf("stock of tea is {}, want {}", now, *ctx.Value(kStockBefore) - 2);
                }
              })
      .Teardown([](Context ctx, T& t) {
        // Runs even if a step failed (not under --fail-fast): if the setup failed, there
        // is no order in the context, and nothing to cancel.
        const std::string* id = ctx.Value(kOrderId);
        if (id == nullptr) return;
        shop::Client client(*ctx.Value(kShopAddress));
        shop::HttpResponse r = client.Delete("/orders/" + *id);
        if (r.status != 204) t.Errorf("cancelling order {}: status {}", *id, r.status);
      });
}
// [docs:end]

// [docs:feature-table]
// A features table: one feature whose rows are its assessments.
handoff::Feature CatalogFeature() {
  auto products = [](Context ctx, T& t) {
    return MustJson(t, shop::Client(*ctx.Value(kShopAddress)).Get("/products"));
  };
  return handoff::FeatureTable{
      {"lists three products",
       [products](Context ctx, T& t) {
         const std::size_t n = products(ctx, t).items().size();
         if (n != 3) t.Errorf("{} products, want 3", n);
       }},
      {"prices are positive",
       [products](Context ctx, T& t) {
         const shop::Json all = products(ctx, t);
         for (const shop::Json& p : all.items()) {
           if (p.GetNumber("price_cents").value_or(0) <= 0) t.Errorf("{} has no price", *p.GetString("sku"));
         }
       }},
  }
      .Build("Catalog")
      .Label("area", "catalog");
}
// [docs:end]

// [docs:register-environment]
const bool kRegistered = handoff::Register(ShopEnvironment().Test(OrdersFeature(), CatalogFeature()));
// [docs:end]

}  // namespace
