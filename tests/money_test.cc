#include "engine/money.h"

#include "gtest/gtest.h"

namespace tillstream {
namespace {

TEST(ParseCentsTest, ExactCents) {
  EXPECT_EQ(*ParseCents("3.49", "p"), 349);
  EXPECT_EQ(*ParseCents("12", "p"), 1200);
  EXPECT_EQ(*ParseCents("0.5", "p"), 50);
  EXPECT_EQ(*ParseCents("0.05", "p"), 5);
  EXPECT_EQ(*ParseCents("0", "p"), 0);
  // A value no double can hold exactly stays exact.
  EXPECT_EQ(*ParseCents("90071992547409.93", "p"), 9007199254740993);
}

TEST(ParseCentsTest, RejectsWithReason) {
  EXPECT_EQ(ParseCents("3,49", "unit_price").status().message(),
            "unit_price \"3,49\" is not a decimal");
  EXPECT_EQ(
      ParseCents("1.234", "unit_price").status().message(),
      "unit_price \"1.234\" is not a decimal with at most 2 fraction digits");
  EXPECT_EQ(ParseCents("-1.00", "unit_cost").status().message(),
            "unit_cost must be >= 0, got -1.00");
  EXPECT_EQ(ParseCents("1e2", "unit_price").status().message(),
            "unit_price \"1e2\" is not a decimal");
  EXPECT_EQ(ParseCents("99999999999999999999", "unit_price").status().message(),
            "unit_price \"99999999999999999999\" is out of range");
  for (const char* bad : {"", ".5", "5.", "abc", " 5", "5 ", "+5", "0x10"}) {
    EXPECT_FALSE(ParseCents(bad, "p").ok()) << bad;
  }
}

TEST(FormatCentsTest, TwoFractionDigitsAndSign) {
  EXPECT_EQ(FormatCents(123450), "1234.50");
  EXPECT_EQ(FormatCents(-310), "-3.10");
  EXPECT_EQ(FormatCents(5), "0.05");
  EXPECT_EQ(FormatCents(-5), "-0.05");
  EXPECT_EQ(FormatCents(0), "0.00");
  EXPECT_EQ(FormatCents(INT64_MIN), "-92233720368547758.08");
  // Sums beyond 64 bits print exactly.
  EXPECT_EQ(FormatCents(static_cast<CentsSum>(INT64_MAX) * 1000 + 7),
            "92233720368547758070.07");
  std::string whole;
  AppendWholeNumber(-static_cast<CentsSum>(INT64_MAX) * 10, &whole);
  EXPECT_EQ(whole, "-92233720368547758070");
}

TEST(RoundingTest, HalfAwayFromZero) {
  EXPECT_EQ(DivideRoundHalfAwayFromZero(5, 2), 3);
  EXPECT_EQ(DivideRoundHalfAwayFromZero(-5, 2), -3);
  EXPECT_EQ(DivideRoundHalfAwayFromZero(4, 3), 1);
  EXPECT_EQ(DivideRoundHalfAwayFromZero(5, 3), 2);
  EXPECT_EQ(DivideRoundHalfAwayFromZero(-5, 3), -2);
  EXPECT_EQ(DivideRoundHalfAwayFromZero(7, -2), -4);
  EXPECT_EQ(DivideRoundHalfAwayFromZero(INT64_MAX, 2), INT64_MAX / 2 + 1);
}

}  // namespace
}  // namespace tillstream
