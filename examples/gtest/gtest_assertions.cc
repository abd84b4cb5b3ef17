// GoogleTest and GoogleMock assertions inside handoff tests: include <handoff/gtest.h>,
// link handoff::gtest, and EXPECT_*, ASSERT_*, EXPECT_THAT and EXPECT_CALL report into
// the running test. main() comes from handoff::handoff_main; no GoogleTest main is needed.
//
//   gtest_assertions run -v       run every test and print their logs

// [docs:gtest-include]
#include <handoff/gtest.h>
#include <handoff/handoff.h>
// [docs:end]

#include <map>
#include <string>
#include <vector>

namespace {

// The code under test: a cart that prices its items from a catalog.
class Catalog {
 public:
  virtual ~Catalog() = default;
  // Returns the price of `sku` in cents.
  virtual int Price(const std::string& sku) = 0;
};

class Cart {
 public:
  explicit Cart(Catalog& catalog) : catalog_(catalog) {}
  void Add(const std::string& sku) { items_.push_back(sku); }
  const std::vector<std::string>& Items() const { return items_; }
  int Total() const {
    int total = 0;
    for (const std::string& sku : items_) total += catalog_.Price(sku);
    return total;
  }
  std::string Receipt() const { return "total: " + std::to_string(Total()) + " cents"; }

 private:
  Catalog& catalog_;
  std::vector<std::string> items_;
};

// A catalog with fixed prices, for the tests that do not mock.
class FixedCatalog : public Catalog {
 public:
  int Price(const std::string& sku) override { return prices_.at(sku); }

 private:
  std::map<std::string, int> prices_ = {{"apple", 50}, {"pear", 70}};
};

// [docs:gtest-mock]
class MockCatalog : public Catalog {
 public:
  MOCK_METHOD(int, Price, (const std::string& sku), (override));
};
// [docs:end]

}  // namespace

// [docs:gtest-expect-assert]
HANDOFF_TEST(Cart, Totals) {
  FixedCatalog catalog;
  Cart cart(catalog);
  cart.Add("apple");
  cart.Add("pear");
  ASSERT_EQ(cart.Items().size(), 2u);  // stops the whole test if it fails
  ASSERT_NE(cart.Total(), 0);
  EXPECT_EQ(cart.Total(), 120);  // recorded, and the test goes on
  EXPECT_TRUE(cart.Receipt().starts_with("total:")) << "receipt: " << cart.Receipt();
  t.Logf("receipt: {}", cart.Receipt());
}
// [docs:end]

// [docs:gtest-matchers]
HANDOFF_TEST(Cart, Matchers) {
  using ::testing::Contains;
  using ::testing::ElementsAre;
  using ::testing::HasSubstr;
  using ::testing::Not;

  FixedCatalog catalog;
  Cart cart(catalog);
  cart.Add("apple");
  cart.Add("pear");
  EXPECT_THAT(cart.Items(), ElementsAre("apple", "pear"));
  EXPECT_THAT(cart.Items(), Contains("pear"));
  EXPECT_THAT(cart.Items(), Not(Contains("plum")));
  EXPECT_THAT(cart.Receipt(), HasSubstr("120 cents"));
}
// [docs:end]

// [docs:gtest-expect-call]
HANDOFF_TEST(Cart, AsksTheCatalog) {
  using ::testing::Return;

  MockCatalog catalog;
  // Verified when `catalog` is destroyed at the end of the test: a call that never
  // came, or an unexpected one, fails the test.
  EXPECT_CALL(catalog, Price("apple")).Times(2).WillRepeatedly(Return(50));
  Cart cart(catalog);
  cart.Add("apple");
  cart.Add("apple");
  EXPECT_EQ(cart.Total(), 100);
}
// [docs:end]

// [docs:gtest-helper]
// An ASSERT in a helper stops the test that called it, not only the helper.
void ExpectPricedBelow(Cart& cart, int limit) {
  ASSERT_FALSE(cart.Items().empty()) << "nothing to price";
  EXPECT_LT(cart.Total(), limit);
}

HANDOFF_TEST(Cart, Budget) {
  FixedCatalog catalog;
  Cart cart(catalog);
  cart.Add("pear");
  ExpectPricedBelow(cart, 100);
  t.Log("only reached when the helper's ASSERT passed");
}
// [docs:end]
