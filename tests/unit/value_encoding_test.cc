#include "store/value_encoding.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace handoff::store {
namespace {

TEST(ValueEncodingTest, EmptyListsAreEmptyStrings) {
  EXPECT_EQ(EncodeKeyValues({}), "");
  EXPECT_EQ(EncodeStrings({}), "");
  EXPECT_EQ(EncodeFailures({}), "");
  EXPECT_EQ(EncodeSpans({}), "");
  ASSERT_TRUE(DecodeKeyValues("").ok());
  EXPECT_TRUE(DecodeKeyValues("")->empty());
  EXPECT_TRUE(DecodeStrings("")->empty());
  EXPECT_TRUE(DecodeFailures("")->empty());
  EXPECT_TRUE(DecodeSpans("")->empty());
}

TEST(ValueEncodingTest, ListsRoundTripAnyBytes) {
  const KeyValues kv = {{"team", "shop"}, {"", std::string("a\0b\xff", 4)}, {"k", ""}};
  Result<KeyValues> kv_back = DecodeKeyValues(EncodeKeyValues(kv));
  ASSERT_TRUE(kv_back.ok());
  EXPECT_EQ(*kv_back, kv);

  const std::vector<std::string> strings = {"TestPay", "", "Test/Sub\n", std::string(300, 'x')};
  Result<std::vector<std::string>> strings_back = DecodeStrings(EncodeStrings(strings));
  ASSERT_TRUE(strings_back.ok());
  EXPECT_EQ(*strings_back, strings);

  const std::vector<Failure> failures = {{"boom", "a_test.cc", 12}, {"", "", -3}};
  Result<std::vector<Failure>> failures_back = DecodeFailures(EncodeFailures(failures));
  ASSERT_TRUE(failures_back.ok());
  ASSERT_EQ(failures_back->size(), 2u);
  EXPECT_EQ((*failures_back)[0].message, "boom");
  EXPECT_EQ((*failures_back)[0].file, "a_test.cc");
  EXPECT_EQ((*failures_back)[0].line, 12);
  EXPECT_EQ((*failures_back)[1].line, -3);

  const std::vector<Span> spans = {{"db", -5, 1'000'000'000'000, {{"rows", "3"}}}, {"idle", 0, 0, {}}};
  Result<std::vector<Span>> spans_back = DecodeSpans(EncodeSpans(spans));
  ASSERT_TRUE(spans_back.ok());
  ASSERT_EQ(spans_back->size(), 2u);
  EXPECT_EQ((*spans_back)[0].name, "db");
  EXPECT_EQ((*spans_back)[0].start_ns, -5);
  EXPECT_EQ((*spans_back)[0].elapsed_ns, 1'000'000'000'000);
  EXPECT_EQ((*spans_back)[0].attributes, (KeyValues{{"rows", "3"}}));
  EXPECT_TRUE((*spans_back)[1].attributes.empty());
}

TEST(ValueEncodingTest, TruncatedListsAreCorrupt) {
  const std::string kv = EncodeKeyValues({{"team", "shop"}});
  const std::string strings = EncodeStrings({"one", "two"});
  const std::string failures = EncodeFailures({{"boom", "a.cc", 1}});
  const std::string spans = EncodeSpans({{"db", 1, 2, {{"k", "v"}}}});
  for (std::size_t cut = 1; cut < kv.size(); ++cut) {
    Result<KeyValues> back = DecodeKeyValues(kv.substr(0, cut));
    ASSERT_FALSE(back.ok()) << cut;
    EXPECT_EQ(back.error().code, ErrorCode::kCorrupt);
    EXPECT_EQ(back.error().message, "key/value list");
  }
  for (std::size_t cut = 1; cut < strings.size(); ++cut) {
    EXPECT_FALSE(DecodeStrings(strings.substr(0, cut)).ok()) << cut;
  }
  for (std::size_t cut = 1; cut < failures.size(); ++cut) {
    EXPECT_FALSE(DecodeFailures(failures.substr(0, cut)).ok()) << cut;
  }
  for (std::size_t cut = 1; cut < spans.size(); ++cut) {
    EXPECT_FALSE(DecodeSpans(spans.substr(0, cut)).ok()) << cut;
  }
  // A count larger than the bytes that follow.
  EXPECT_FALSE(DecodeStrings("\x7f" "ab").ok());
}

TEST(ValueEncodingTest, TotalsRoundTripAndOldOnesReadBack) {
  RunTotals t;
  t.total = 9;
  t.passed = 3;
  t.failed = 2;
  t.skipped = 1;
  t.soft_failed = 1;
  t.cancelled = 2;
  t.flaky = 1;
  EXPECT_EQ(EncodeTotals(t), "9 3 2 1 1 2 1");
  std::optional<RunTotals> back = DecodeTotals(EncodeTotals(t));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->total, 9);
  EXPECT_EQ(back->soft_failed, 1);
  EXPECT_EQ(back->cancelled, 2);
  EXPECT_EQ(back->flaky, 1);

  // Written before the one result model: four numbers.
  std::optional<RunTotals> old = DecodeTotals("4 2 1 1");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->total, 4);
  EXPECT_EQ(old->skipped, 1);
  EXPECT_EQ(old->flaky, 0);

  EXPECT_FALSE(DecodeTotals("").has_value());  // not finished
  EXPECT_FALSE(DecodeTotals("4 2 1").has_value());
  EXPECT_FALSE(DecodeTotals("a b c d").has_value());
}

}  // namespace
}  // namespace handoff::store
