#include <gtest/gtest.h>

#include <string>

#include "store/open_store.h"

namespace handoff::store {
namespace {

TEST(StoreUrlTest, APasswordInTheUserinfoIsNeverShown) {
  EXPECT_EQ(ShownStoreUrl("postgres://alice:hunter22@db.internal:5432/handoff"),
            "postgres://alice:[redacted]@db.internal:5432/handoff");
  EXPECT_EQ(ShownStoreUrl("postgresql://alice:p%40ss@db/handoff?sslmode=require"),
            "postgresql://alice:[redacted]@db/handoff?sslmode=require");
  // An '@' the user did not escape belongs to the password: the userinfo ends at the last.
  EXPECT_EQ(ShownStoreUrl("postgres://alice:a@b@db/handoff"),
            "postgres://alice:[redacted]@db/handoff");
  EXPECT_TRUE(StoreUrlHasPassword("postgres://alice:hunter22@db/handoff"));
}

TEST(StoreUrlTest, APasswordQueryParameterIsNeverShown) {
  EXPECT_EQ(ShownStoreUrl("postgres://db/handoff?user=alice&password=hunter22&sslmode=verify-full"),
            "postgres://db/handoff?user=alice&password=[redacted]&sslmode=verify-full");
  EXPECT_EQ(ShownStoreUrl("postgres://bob:one@db/h?password=two"),
            "postgres://bob:[redacted]@db/h?password=[redacted]");
  EXPECT_TRUE(StoreUrlHasPassword("postgres://db/h?password=x"));
}

TEST(StoreUrlTest, UrlsWithoutAPasswordAreShownAsTheyAre) {
  for (const std::string url :
       {"postgres://alice@db:5432/handoff?sslmode=require", "postgres:///handoff",
        "postgresql://db/handoff?passwordless=1", "postgres://alice:@db/h",
        "sqlite:/data/handoff.db", "sqlite:a:b@c.db", "sqlite::memory:"}) {
    EXPECT_EQ(ShownStoreUrl(url), url);
    EXPECT_FALSE(StoreUrlHasPassword(url)) << url;
  }
}

TEST(StoreUrlTest, AnUnsupportedUrlIsRefusedWithoutItsPassword) {
  Result<std::unique_ptr<Store>> opened = OpenStore("mysql://root:hunter22@db/handoff");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().message.find("hunter22"), std::string::npos)
      << opened.error().message;
}

}  // namespace
}  // namespace handoff::store
