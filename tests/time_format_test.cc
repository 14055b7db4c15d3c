#include "engine/time_format.h"

#include "gtest/gtest.h"

namespace tillstream {
namespace {

TEST(Rfc3339Test, ParsesUtcWithAndWithoutFraction) {
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00Z")->millis(), 1704067200000);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:01:54.112Z")->millis(), 1704067314112);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00.5Z")->millis(), 1704067200500);
  // Digits past milliseconds are truncated, not rounded.
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00.123999Z")->millis(),
            1704067200123);
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59Z")->millis(), -1000);
}

TEST(Rfc3339Test, AppliesUtcOffsets) {
  EXPECT_EQ(ParseRfc3339("2024-01-01T01:30:00+01:30")->millis(), 1704067200000);
  EXPECT_EQ(ParseRfc3339("2023-12-31T19:00:00-05:00")->millis(), 1704067200000);
}

TEST(Rfc3339Test, LeapDayAndLeapSecond) {
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z")->millis(), 1709164800000);
  EXPECT_EQ(ParseRfc3339("2016-12-31T23:59:60Z")->millis(),
            ParseRfc3339("2016-12-31T23:59:59Z")->millis());
}

TEST(Rfc3339Test, RejectsWithReason) {
  EXPECT_EQ(ParseRfc3339("2023-02-29T00:00:00Z").status().message(),
            "ts \"2023-02-29T00:00:00Z\" is not RFC 3339: day out of range");
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00").status().message(),
            "ts \"2024-01-01T00:00:00\" is not RFC 3339: missing time zone "
            "('Z' or +hh:mm)");
  EXPECT_EQ(ParseRfc3339("2024-13-01T00:00:00Z").status().message(),
            "ts \"2024-13-01T00:00:00Z\" is not RFC 3339: month out of range");
  EXPECT_EQ(ParseRfc3339("2024-01-01").status().message(),
            "ts \"2024-01-01\" is not RFC 3339: expected 'T' after the date");
  EXPECT_EQ(ParseRfc3339("2024-01-01T24:00:00Z").status().message(),
            "ts \"2024-01-01T24:00:00Z\" is not RFC 3339: time out of range");
  EXPECT_EQ(
      ParseRfc3339("2024-01-01T00:00:00Zjunk").status().message(),
      "ts \"2024-01-01T00:00:00Zjunk\" is not RFC 3339: trailing characters");
  EXPECT_FALSE(ParseRfc3339("").ok());
  EXPECT_FALSE(ParseRfc3339("2024-01-01T00:00:00.Z").ok());
}

TEST(Rfc3339Test, FormatsUtcAndRoundTrips) {
  EXPECT_EQ(FormatRfc3339(Timestamp::FromMillis(1704067200000)),
            "2024-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(Timestamp::FromMillis(1704067314112)),
            "2024-01-01T00:01:54.112Z");
  EXPECT_EQ(FormatRfc3339(Timestamp::FromMillis(-1)),
            "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(Timestamp::Max()), "+infinity");
  EXPECT_EQ(FormatRfc3339(Timestamp::Min()), "-infinity");
  for (int64_t ms : {0LL, 951782400000LL, 4102444799999LL, -86400000LL}) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(Timestamp::FromMillis(ms)))->millis(),
              ms);
  }
}

TEST(DurationTest, ParsesUnitsAndSums) {
  EXPECT_EQ(*ParseDurationMs("0"), 0);
  EXPECT_EQ(*ParseDurationMs("500ms"), 500);
  EXPECT_EQ(*ParseDurationMs("5s"), 5000);
  EXPECT_EQ(*ParseDurationMs("15m"), 900000);
  EXPECT_EQ(*ParseDurationMs("1h"), 3600000);
  EXPECT_EQ(*ParseDurationMs("1d"), 86400000);
  EXPECT_EQ(*ParseDurationMs("1w"), 604800000);
  EXPECT_EQ(*ParseDurationMs("1h30m"), 5400000);
}

TEST(DurationTest, RejectsWithReason) {
  EXPECT_EQ(ParseDurationMs("5").status().message(),
            "bad duration \"5\": missing unit (expected e.g. 500ms, 5s, 15m, "
            "1h, 1d, 1h30m)");
  EXPECT_EQ(ParseDurationMs("5x").status().message(),
            "bad duration \"5x\": unknown unit \"x\" (expected e.g. 500ms, 5s, "
            "15m, 1h, 1d, "
            "1h30m)");
  EXPECT_FALSE(ParseDurationMs("").ok());
  EXPECT_FALSE(ParseDurationMs("-5s").ok());
  EXPECT_FALSE(ParseDurationMs("s").ok());
  EXPECT_FALSE(ParseDurationMs("99999999999999999999d").ok());
}

TEST(TimestampTest, SaturatesAtInfinity) {
  EXPECT_EQ(Timestamp::Min().Minus(5000), Timestamp::Min());
  EXPECT_EQ(Timestamp::Max().Plus(5000), Timestamp::Max());
  EXPECT_EQ(Timestamp::FromMillis(INT64_MAX - 1).Plus(10), Timestamp::Max());
  EXPECT_EQ(Timestamp::FromMillis(10).Minus(15).millis(), -5);
}

}  // namespace
}  // namespace tillstream
