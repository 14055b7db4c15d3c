#include "operators/window_assigner.h"

#include <vector>

#include "engine/time_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 86'400'000;

int64_t At(const char* rfc3339) { return ParseRfc3339(rfc3339)->millis(); }
std::string Utc(int64_t ms) { return FormatRfc3339(Timestamp::FromMillis(ms)); }

KpiRuleConfig Tumbling(int64_t size, std::string zone = "") {
  KpiRuleConfig rule;
  rule.window_size_ms = size;
  rule.timezone = std::move(zone);
  return rule;
}

std::vector<std::string> Windows(const WindowAssigner& assigner, int64_t ts) {
  std::vector<std::string> windows;
  assigner.ForEachWindow(ts, [&](int64_t start) {
    windows.push_back(Utc(start) + "/" + Utc(assigner.End(start)));
  });
  return windows;
}

TEST(WindowAssignerTest, TumblingUtcAtBoundaries) {
  WindowAssigner hourly(Tumbling(kHour));
  EXPECT_THAT(Windows(hourly, At("2024-01-01T10:00:00Z")),
              ElementsAre("2024-01-01T10:00:00Z/2024-01-01T11:00:00Z"));
  EXPECT_THAT(Windows(hourly, At("2024-01-01T10:59:59.999Z")),
              ElementsAre("2024-01-01T10:00:00Z/2024-01-01T11:00:00Z"));
  EXPECT_THAT(Windows(hourly, -1),
              ElementsAre("1969-12-31T23:00:00Z/1970-01-01T00:00:00Z"));
  EXPECT_EQ(
      hourly.FirstOpenStart(Timestamp::FromMillis(At("2024-01-01T11:00:00Z"))),
      At("2024-01-01T11:00:00Z"));
  EXPECT_EQ(hourly.FirstOpenStart(
                Timestamp::FromMillis(At("2024-01-01T10:59:59.999Z"))),
            At("2024-01-01T10:00:00Z"));
}

TEST(WindowAssignerTest, HoppingWindowsContainingAnEvent) {
  KpiRuleConfig rule;
  rule.window_type = WindowType::kHopping;
  rule.window_size_ms = kHour;
  rule.window_slide_ms = 15 * kMinute;
  WindowAssigner hopping(rule);
  EXPECT_THAT(Windows(hopping, At("2024-01-01T10:20:00Z")),
              ElementsAre("2024-01-01T09:30:00Z/2024-01-01T10:30:00Z",
                          "2024-01-01T09:45:00Z/2024-01-01T10:45:00Z",
                          "2024-01-01T10:00:00Z/2024-01-01T11:00:00Z",
                          "2024-01-01T10:15:00Z/2024-01-01T11:15:00Z"));
  // On a slide boundary the window that just ended is not included.
  EXPECT_THAT(Windows(hopping, At("2024-01-01T10:30:00Z")),
              ElementsAre("2024-01-01T09:45:00Z/2024-01-01T10:45:00Z",
                          "2024-01-01T10:00:00Z/2024-01-01T11:00:00Z",
                          "2024-01-01T10:15:00Z/2024-01-01T11:15:00Z",
                          "2024-01-01T10:30:00Z/2024-01-01T11:30:00Z"));
  // Windows ending at or before 10:30 are closed; 09:45 is the first open.
  EXPECT_EQ(
      hopping.FirstOpenStart(Timestamp::FromMillis(At("2024-01-01T10:30:00Z"))),
      At("2024-01-01T09:45:00Z"));
}

TEST(WindowAssignerTest, BerlinDaysAcrossDaylightSavingChanges) {
  WindowAssigner berlin(Tumbling(kDay, "Europe/Berlin"));
  // An ordinary winter day: 23:00Z to 23:00Z.
  EXPECT_THAT(Windows(berlin, At("2024-01-15T12:00:00Z")),
              ElementsAre("2024-01-14T23:00:00Z/2024-01-15T23:00:00Z"));
  // 2024-03-31: clocks go forward, a 23-hour day.
  EXPECT_THAT(Windows(berlin, At("2024-03-31T12:00:00Z")),
              ElementsAre("2024-03-30T23:00:00Z/2024-03-31T22:00:00Z"));
  // 2024-10-27: clocks go back, a 25-hour day.
  EXPECT_THAT(Windows(berlin, At("2024-10-27T12:00:00Z")),
              ElementsAre("2024-10-26T22:00:00Z/2024-10-27T23:00:00Z"));
  // Local midnight belongs to the new day.
  EXPECT_THAT(Windows(berlin, At("2024-10-27T23:00:00Z")),
              ElementsAre("2024-10-27T23:00:00Z/2024-10-28T23:00:00Z"));
  // Periods are consecutive local days.
  const int64_t index = berlin.PeriodIndex(At("2024-03-30T23:00:00Z"));
  EXPECT_EQ(berlin.PeriodStart(index + 1), At("2024-03-31T22:00:00Z"));
  EXPECT_EQ(berlin.PeriodIndex(At("2024-03-31T22:00:00Z")), index + 1);
}

TEST(WindowAssignerTest, NewYorkDaysAndHours) {
  WindowAssigner days(Tumbling(kDay, "America/New_York"));
  // 2024-03-10: 23 hours (EST -> EDT); 2024-11-03: 25 hours (EDT -> EST).
  EXPECT_THAT(Windows(days, At("2024-03-10T12:00:00Z")),
              ElementsAre("2024-03-10T05:00:00Z/2024-03-11T04:00:00Z"));
  EXPECT_THAT(Windows(days, At("2024-11-03T12:00:00Z")),
              ElementsAre("2024-11-03T04:00:00Z/2024-11-04T05:00:00Z"));
  // Local hours on the night the clocks go back: 01:00-02:00 happens twice,
  // as two separate windows (05:00Z and 06:00Z).
  WindowAssigner hours(Tumbling(kHour, "America/New_York"));
  EXPECT_THAT(Windows(hours, At("2024-11-03T05:30:00Z")),
              ElementsAre("2024-11-03T05:00:00Z/2024-11-03T06:00:00Z"));
  EXPECT_THAT(Windows(hours, At("2024-11-03T06:30:00Z")),
              ElementsAre("2024-11-03T06:00:00Z/2024-11-03T07:00:00Z"));
}

TEST(WindowAssignerTest, HalfHourZoneAlignsHoursLocally) {
  WindowAssigner kolkata(Tumbling(kHour, "Asia/Kolkata"));  // UTC+05:30
  EXPECT_THAT(Windows(kolkata, At("2024-01-01T10:10:00Z")),
              ElementsAre("2024-01-01T09:30:00Z/2024-01-01T10:30:00Z"));
  const int64_t index = kolkata.PeriodIndex(At("2024-01-01T09:30:00Z"));
  EXPECT_EQ(kolkata.PeriodStart(index), At("2024-01-01T09:30:00Z"));
  EXPECT_EQ(kolkata.PeriodStart(index + 1), At("2024-01-01T10:30:00Z"));
}

}  // namespace
}  // namespace tillstream
