#include "base/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace handoff {
namespace {

struct Base {
  virtual ~Base() = default;
  virtual int Id() const { return 1; }
};
struct Derived : Base {
  int Id() const override { return 2; }
};

Result<int> Half(int n) {
  if (n % 2 != 0) return Error{ErrorCode::kInvalid, std::to_string(n) + " is odd"};
  return n / 2;
}

Result<std::unique_ptr<Base>> Make(bool derived) {
  if (derived) return std::make_unique<Derived>();  // converted to the value type
  return std::make_unique<Base>();
}

Result<void> Check(bool fine) {
  if (!fine) return Error{ErrorCode::kUnavailable, "disk full"};
  return {};
}

TEST(ResultTest, HoldsAValueOrAnError) {
  Result<int> half = Half(8);
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half.value(), 4);
  EXPECT_EQ(*half, 4);

  Result<int> odd = Half(3);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().code, ErrorCode::kInvalid);
  EXPECT_EQ(odd.error().message, "3 is odd");
}

TEST(ResultTest, MovesItsValueOut) {
  Result<std::unique_ptr<Base>> made = Make(true);
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->Id(), 2);
  std::unique_ptr<Base> taken = std::move(made).value();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->Id(), 2);

  Result<std::string> text = std::string("hello");
  EXPECT_EQ(text->size(), 5u);
  text->append("!");
  EXPECT_EQ(*text, "hello!");
}

TEST(ResultTest, VoidResultsCarryOnlyTheError) {
  EXPECT_TRUE(Check(true).ok());
  Result<void> failed = Check(false);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(failed.error().message, "disk full");
}

TEST(ResultTest, TakesAnotherErrorType) {
  struct Refusal {
    int status = 0;
  };
  Result<std::string, Refusal> refused = Refusal{404};
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().status, 404);
  Result<void, Refusal> fine;
  EXPECT_TRUE(fine.ok());
}

TEST(ResultTest, CodesHaveNames) {
  EXPECT_STREQ(ErrorCodeName(ErrorCode::kNotFound), "not_found");
  EXPECT_STREQ(ErrorCodeName(ErrorCode::kUnavailable), "unavailable");
  EXPECT_STREQ(ErrorCodeName(ErrorCode::kConflict), "conflict");
}

}  // namespace
}  // namespace handoff
