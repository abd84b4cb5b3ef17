#include <gtest/gtest.h>

#include <string>

#include "store/open_store.h"

namespace handoff::store {
namespace {

// PgUrlTest (pg_store_test.cc) has the forms of PostgreSQL URLs; these are what every
// caller of the factory relies on.
TEST(StoreUrlTest, APasswordIsNeverShownAndIsNoticed) {
  EXPECT_EQ(ShownStoreUrl("postgres://alice:hunter22@db.internal:5432/handoff"),
            "postgres://alice@db.internal:5432/handoff");
  EXPECT_EQ(ShownStoreUrl("postgresql://db/handoff?user=alice&password=hunter22&sslmode=require"),
            "postgresql://db/handoff?user=alice&sslmode=require");
  EXPECT_TRUE(StoreUrlHasPassword("postgres://alice:hunter22@db/handoff"));
  EXPECT_TRUE(StoreUrlHasPassword("postgres://db/h?password=x"));
}

TEST(StoreUrlTest, UrlsWithoutAPasswordAreShownAsTheyAre) {
  for (const std::string url :
       {"postgres://alice@db:5432/handoff?sslmode=require", "postgresql://db/handoff",
        "sqlite:/data/handoff.db", "sqlite:a:b@c.db", "sqlite::memory:"}) {
    EXPECT_EQ(ShownStoreUrl(url), url);
    EXPECT_FALSE(StoreUrlHasPassword(url)) << url;
  }
}

TEST(StoreUrlTest, OfAnUnsupportedUrlOnlyItsSchemeIsShown) {
  EXPECT_EQ(ShownStoreUrl("mysql://root:hunter22@db/handoff"), "mysql://...");
  Result<std::unique_ptr<Store>> opened = OpenStore("mysql://root:hunter22@db/handoff");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(opened.error().message.find("hunter22"), std::string::npos)
      << opened.error().message;
  EXPECT_NE(opened.error().message.find("\"mysql://...\""), std::string::npos)
      << opened.error().message;
}

}  // namespace
}  // namespace handoff::store
