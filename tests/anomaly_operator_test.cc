#include "operators/anomaly_operator.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/order_decoder.h"
#include "engine/time_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "operators/window_kpi_operator.h"
#include "simdjson.h"

namespace tillstream {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kDay = 86'400'000;
const int64_t kJan1 = ParseRfc3339("2024-01-01T00:00:00Z")->millis();

// Daily store revenue with a 4-day baseline, so values can be checked by hand.
class AnomalyOperatorTest : public ::testing::Test {
 protected:
  AnomalyOperatorTest() {
    kpi_.name = "store_day";
    kpi_.group_by = {GroupField::kStoreId};
    kpi_.window_size_ms = kDay;
    rule_.name = "drop";
    rule_.kpi = "store_day";
    rule_.history = 4;
    rule_.min_history = 4;
  }
  // Feeds one order per day of the given revenue ("" = no order that day),
  // closes every day, and returns the alerts as short strings.
  std::vector<std::string> Run(const std::vector<std::string>& revenue_per_day,
                               absl::string_view store = "s-1") {
    WindowKpiOperator window(kpi_, "p");
    AnomalyOperator anomaly(rule_, kpi_, "p");
    window.AddListener(&anomaly);
    OutputBatch out;
    for (size_t day = 0; day < revenue_per_day.size(); ++day) {
      if (revenue_per_day[day].empty()) continue;
      std::string json = absl::StrCat(
          R"({"order_id":"o","ts":)",
          kJan1 + static_cast<int64_t>(day) * kDay + 1000, R"(,"store_id":")",
          store, R"(","lines":[{"sku":"A","qty":1,"unit_price":")",
          revenue_per_day[day], R"("}]})");
      OrderEvent event;
      EXPECT_TRUE(decoder_.Decode(json, &event).ok());
      window.Process(event, ResolveCustomer(event, &customers_),
                     Timestamp::Min(), &out);
    }
    // Events move the watermark past the last day's end (as in a live
    // stream), then the input ends.
    window.AdvanceWatermark(
        Timestamp::FromMillis(
            kJan1 + static_cast<int64_t>(revenue_per_day.size()) * kDay),
        &out);
    window.AdvanceWatermark(Timestamp::Max(), &out);
    probe_ = anomaly.probe();
    std::vector<std::string> alerts;
    simdjson::dom::parser parser;
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i].kind != OutputKind::kAlerts) continue;
      std::string line(out[i].value);
      simdjson::dom::element e = parser.parse(line);
      alerts.push_back(absl::StrCat(
          std::string(e["window"]["start"].get_string().value()).substr(8, 2),
          " ", std::string(e["state"].get_string().value()), " ",
          std::string(e["severity"].get_string().value()),
          " observed=", std::string(e["observed"].get_string().value()),
          " median=", simdjson::minify(e["baseline"]["median"]),
          " mad=", simdjson::minify(e["baseline"]["mad"]),
          " z=", simdjson::minify(e["score"]), " drop=",
          simdjson::minify(e["pct_drop"].error() ? e["pct_rise"]
                                                 : e["pct_drop"]),
          " id=", std::string(e["alert_id"].get_string().value())));
      last_message_ = std::string(e["message"].get_string().value());
    }
    return alerts;
  }

  KpiRuleConfig kpi_;
  AnomalyRuleConfig rule_;
  StringInterner customers_;
  OrderDecoder decoder_{OrderDecoderOptions{}};
  AnomalyProbe probe_;
  std::string last_message_;
};

TEST_F(AnomalyOperatorTest, RobustDropWithExactEvidence) {
  // Baseline 100, 110, 90, 100: median 100, deviations 0, 10, 10, 0, MAD 5;
  // 55: z = -45 / (1.4826 x 5) = -6.0704, drop 0.45.
  EXPECT_THAT(
      Run({"100", "110", "90", "100", "55"}),
      ElementsAre("05 firing warning observed=55.00 median=100 mad=5 z=-6.0704 "
                  "drop=0.45 id=drop|store_id=s-1|2024-01-05T00:00:00Z"));
  EXPECT_EQ(last_message_,
            "revenue of store_id=s-1 in the period from 2024-01-05 was 55.00, "
            "45% below the "
            "usual 100.00 (median of the 4 periods before; robust z -6.1).");
}

TEST_F(AnomalyOperatorTest, NotEnoughHistoryNoJudgement) {
  EXPECT_THAT(Run({"100", "110", "90", "0"}), IsEmpty());
  EXPECT_EQ(probe_.evaluations, 0);
}

TEST_F(AnomalyOperatorTest, MadZeroFallsBackToBelowTheMedian) {
  EXPECT_THAT(
      Run({"100", "100", "100", "100", "60"}),
      ElementsAre(
          "05 firing warning observed=60.00 median=100 mad=0 z=null drop=0.4 "
          "id=drop|store_id=s-1|2024-01-05T00:00:00Z"));
  // Not below the median: nothing, even with MAD = 0.
  EXPECT_THAT(Run({"100", "100", "100", "100", "100"}), IsEmpty());
}

TEST_F(AnomalyOperatorTest, MissingDaysCountAsZero) {
  // Days 2 and 3 have no orders: baseline 100, 100, 0, 0: median 50, MAD 50.
  // 10: z = -40 / 74.13 = -0.5396: not beyond -3.5, so no alert.
  EXPECT_THAT(Run({"100", "100", "", "", "10"}), IsEmpty());
  EXPECT_EQ(probe_.evaluations, 1);
}

TEST_F(AnomalyOperatorTest, LifecycleFoldsEscalatesAndResolvesUnderOneId) {
  rule_.history = 6;
  rule_.min_history = 6;
  // Day 7 drops 45% (warning), day 8 stays low (folded), day 9 drops 70%
  // (escalated to critical), day 10 is back (resolved).
  std::vector<std::string> alerts =
      Run({"100", "102", "98", "100", "101", "99", "55", "56", "30", "100"});
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_THAT(alerts[0],
              ::testing::StartsWith("07 firing warning observed=55.00"));
  EXPECT_THAT(alerts[1],
              ::testing::StartsWith("09 firing critical observed=30.00"));
  EXPECT_THAT(alerts[2],
              ::testing::StartsWith("10 resolved critical observed=100.00"));
  for (const std::string& alert : alerts) {
    EXPECT_THAT(alert, ::testing::EndsWith(
                           "id=drop|store_id=s-1|2024-01-07T00:00:00Z"));
  }
  EXPECT_EQ(probe_.fired, 1);
  EXPECT_EQ(probe_.folded, 1);
  EXPECT_EQ(probe_.escalated, 1);
  EXPECT_EQ(probe_.resolved, 1);
}

TEST_F(AnomalyOperatorTest, StaysOpenWhileStillFarBelowTheMedian) {
  // Days 5-7 are down 90%. On day 7 the baseline (90, 100, 10, 10) has
  // median 50 and MAD 40, so 10 scores only z = -0.67: not anomalous by
  // itself, but 80% below the median, so the incident stays open. Day 8 is
  // back (baseline 100, 10, 10, 10: median 10) and resolves it.
  EXPECT_THAT(
      Run({"100", "110", "90", "100", "10", "10", "10", "100"}),
      ElementsAre(
          "05 firing critical observed=10.00 median=100 mad=5 "
          "z=-12.1408 drop=0.9 "
          "id=drop|store_id=s-1|2024-01-05T00:00:00Z",
          "08 resolved critical observed=100.00 median=10 mad=0 "
          "z=null drop=-9.0 id=drop|store_id=s-1|2024-01-05T00:00:00Z"));
  EXPECT_EQ(probe_.folded, 2);
}

TEST_F(AnomalyOperatorTest, CooldownKeepsTheGroupQuiet) {
  rule_.history = 6;
  rule_.min_history = 6;
  rule_.cooldown = 1;
  // Fires on day 7, resolves on 8; the drop on day 9 is within the cooldown;
  // the one on day 10 opens a new incident with its own id.
  std::vector<std::string> alerts =
      Run({"100", "102", "98", "100", "101", "99", "50", "100", "50", "50"});
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_THAT(alerts[0], ::testing::StartsWith("07 firing"));
  EXPECT_THAT(alerts[1], ::testing::StartsWith("08 resolved"));
  EXPECT_THAT(alerts[2], ::testing::StartsWith("10 firing"));
  EXPECT_THAT(alerts[2], ::testing::EndsWith("|2024-01-10T00:00:00Z"));
  EXPECT_EQ(probe_.suppressed, 1);
}

TEST_F(AnomalyOperatorTest, MinimumVolumeGuard) {
  rule_.min_volume = 500;  // in currency units
  EXPECT_THAT(Run({"100", "110", "90", "100", "10"}), IsEmpty());
  rule_.min_volume = 100;
  EXPECT_EQ(Run({"100", "110", "90", "100", "10"}).size(), 1u);
}

TEST_F(AnomalyOperatorTest, PartialLastPeriodAtEndOfInputIsNotJudged) {
  WindowKpiOperator window(kpi_, "p");
  AnomalyOperator anomaly(rule_, kpi_, "p");
  window.AddListener(&anomaly);
  OutputBatch out;
  for (int day = 0; day < 5; ++day) {
    OrderEvent event;
    std::string json = absl::StrCat(
        R"({"order_id":"o","ts":)", kJan1 + day * kDay + 1000,
        R"(,"store_id":"s-1","lines":[{"sku":"A","qty":1,"unit_price":")",
        day == 4 ? "1" : "100", R"("}]})");
    ASSERT_TRUE(decoder_.Decode(json, &event).ok());
    window.Process(event, ResolveCustomer(event, &customers_), Timestamp::Min(),
                   &out);
  }
  // The input ends during day 4: its window closes and is emitted, but the
  // drop it shows may only be the missing rest of the day.
  window.AdvanceWatermark(Timestamp::Max(), &out);
  EXPECT_EQ(anomaly.probe().evaluations, 0);
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_NE(out[i].kind, OutputKind::kAlerts);
}

TEST_F(AnomalyOperatorTest, WeeklySeasonCompareSameWeekday) {
  rule_.season = 7;
  rule_.history = 2;
  rule_.min_history = 2;
  // Two weeks where day 5 of each week is twice as busy; in week 3 day 5
  // falls to the level of an ordinary day: a 50% drop against the same
  // weekday, though no lower than any other day.
  std::vector<std::string> days;
  for (int week = 0; week < 3; ++week) {
    for (int d = 0; d < 7; ++d)
      days.push_back(d == 5 && week < 2 ? "200" : "100");
  }
  EXPECT_THAT(
      Run(days),
      ElementsAre("20 firing warning observed=100.00 median=200 mad=0 z=null "
                  "drop=0.5 id=drop|store_id=s-1|2024-01-20T00:00:00Z",
                  "21 resolved warning observed=100.00 median=100 mad=0 "
                  "z=null drop=0.0 id=drop|store_id=s-1|2024-01-20T00:00:00Z"));
}

TEST_F(AnomalyOperatorTest, SpikeIsTheMirrorRule) {
  rule_.direction = AnomalyRuleConfig::Direction::kSpike;
  std::vector<std::string> alerts = Run({"100", "110", "90", "100", "200"});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_THAT(alerts[0], ::testing::HasSubstr(
                             "firing critical observed=200.00 median=100 mad=5 "
                             "z=13.4898"));
  EXPECT_THAT(last_message_,
              ::testing::HasSubstr("100% above the usual 100.00"));
  EXPECT_THAT(Run({"100", "110", "90", "100", "40"}),
              IsEmpty());  // a drop is no spike
}

}  // namespace
}  // namespace tillstream
