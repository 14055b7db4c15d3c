#include "operators/early_warning_operator.h"

#include <string>
#include <utility>
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

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

// Daily store revenue judged every 6 hours against a 4-day baseline, so the
// cumulative curves can be checked by hand.
class EarlyWarningOperatorTest : public ::testing::Test {
 protected:
  EarlyWarningOperatorTest() {
    kpi_.name = "store_day";
    kpi_.group_by = {GroupField::kStoreId};
    kpi_.window_size_ms = kDay;
    rule_.name = "drop";
    rule_.kpi = "store_day";
    rule_.history = 4;
    rule_.min_history = 4;
    rule_.early_warning.enabled = true;
    rule_.early_warning.step_ms = 6 * kHour;
    rule_.early_warning.confirm_steps = 1;  // `for` has a test of its own
  }
  struct Order {
    int64_t ts;  // ms
    std::string revenue;
    int64_t watermark = INT64_MIN;  // after it; INT64_MIN: its ts
  };
  // Orders at `hour` (UTC) of day `day` from `first_day`.
  static Order At(int64_t day, double hour, std::string revenue,
                  absl::string_view first_day = "2024-01-01T00:00:00Z") {
    return {ParseRfc3339(first_day)->millis() + day * kDay +
                static_cast<int64_t>(hour * kHour),
            std::move(revenue)};
  }
  // The same four orders of `amount` at 03, 09, 15 and 21 h on each day.
  static void Day(int64_t day, const std::string& amount,
                  std::vector<Order>* orders) {
    for (double hour : {3, 9, 15, 21}) orders->push_back(At(day, hour, amount));
  }

  // Baseline days of 4 x 100, 4 x 110, 4 x 90 and 4 x 100: cumulative
  // curves (100, 200, 300, 400), (110, 220, 330, 440), (90, 180, 270, 360)
  // and (100, 200, 300, 400); medians 100, 200, 300, 400, MADs 5, 10, 15, 20.
  static std::vector<Order> BaselineDays() {
    std::vector<Order> orders;
    Day(0, "100", &orders);
    Day(1, "110", &orders);
    Day(2, "90", &orders);
    Day(3, "100", &orders);
    return orders;
  }

  // Feeds the orders in time order, the watermark following each one (a
  // live stream), then up to `end_ms` and the end of input; returns the
  // early alerts as short strings.
  std::vector<std::string> Run(const std::vector<Order>& orders,
                               int64_t end_ms) {
    const KpiRuleConfig steps = EarlyWarningOperator::StepRule(rule_, kpi_);
    WindowKpiOperator window(steps, "p");
    EarlyWarningOperator early(rule_, kpi_, steps, "p");
    window.AddListener(&early);
    OutputBatch out;
    for (const Order& order : orders) {
      std::string json = absl::StrCat(
          R"({"order_id":"o","ts":)", order.ts,
          R"(,"store_id":"s-1","lines":[{"sku":"A","qty":1,"unit_price":")",
          order.revenue, R"("}]})");
      OrderEvent event;
      EXPECT_TRUE(decoder_.Decode(json, &event).ok());
      const Timestamp watermark = Timestamp::FromMillis(
          order.watermark == INT64_MIN ? order.ts : order.watermark);
      window.Process(event, ResolveCustomer(event, &customers_), watermark,
                     &out);
      window.AdvanceWatermark(watermark, &out);
    }
    window.AdvanceWatermark(Timestamp::FromMillis(end_ms), &out);
    window.AdvanceWatermark(Timestamp::Max(), &out);
    probe_ = early.probe();
    std::vector<std::string> alerts;
    messages_.clear();
    simdjson::dom::parser parser;
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_NE(out[i].kind, OutputKind::kKpis);  // internal: no snapshots
      if (out[i].kind != OutputKind::kAlerts) continue;
      std::string line(out[i].value);
      simdjson::dom::element e = parser.parse(line);
      EXPECT_TRUE(e["early"].get_bool().value());
      EXPECT_EQ(std::string(e["severity"].get_string().value()), "warning");
      alerts.push_back(absl::StrCat(
          std::string(e["as_of"].get_string().value()).substr(8, 8), " ",
          std::string(e["state"].get_string().value()),
          " observed=", std::string(e["observed"].get_string().value()),
          " median=", simdjson::minify(e["baseline"]["median"]),
          " mad=", simdjson::minify(e["baseline"]["mad"]),
          " z=", simdjson::minify(e["score"]),
          " drop=", simdjson::minify(e["pct_drop"]),
          " id=", std::string(e["alert_id"].get_string().value())));
      messages_.push_back(std::string(e["message"].get_string().value()));
    }
    return alerts;
  }

  KpiRuleConfig kpi_;
  AnomalyRuleConfig rule_;
  StringInterner customers_;
  OrderDecoder decoder_{OrderDecoderOptions{}};
  AnomalyProbe probe_;
  std::vector<std::string> messages_;
};

TEST_F(EarlyWarningOperatorTest, FiresHoursBeforeTheDayClosesAndResolves) {
  std::vector<Order> orders = BaselineDays();
  // Day 4: 20 by 06:00 against a usual 100 (z = -80 / (1.4826 x 5) =
  // -10.7919, drop 0.8; at progress 100 / 400 the drop must exceed
  // 0.3 / sqrt(0.25) = 0.6): fires at the first step; 40 by 12:00 against
  // 200 folds into it; 340 by 18:00 against 300 is back on track.
  orders.push_back(At(4, 3, "20"));
  orders.push_back(At(4, 9, "20"));
  orders.push_back(At(4, 15, "300"));
  // An order the next morning closes the day's last step (a step closes
  // once the stream has moved past it, as windows do).
  orders.push_back(At(5, 1, "100"));
  EXPECT_THAT(Run(orders, At(5, 0, "").ts),
              ElementsAre("05T06:00 firing observed=20.00 median=100 mad=5 "
                          "z=-10.7919 drop=0.8 "
                          "id=drop|store_id=s-1|early|2024-01-05T06:00:00Z",
                          "05T18:00 resolved observed=340.00 median=300 mad=15 "
                          "z=1.7986 drop=-0.1333 "
                          "id=drop|store_id=s-1|early|2024-01-05T06:00:00Z"));
  EXPECT_EQ(messages_[0],
            "Early warning: revenue of store_id=s-1 in the period from "
            "2024-01-05 is 20.00 up to 2024-01-05T06:00:00Z, 80% below the "
            "usual 100.00 by that time (median of 4 earlier periods; robust "
            "z -10.8); the period is still open.");
  EXPECT_EQ(messages_[1],
            "Early warning over: revenue of store_id=s-1 in the period from "
            "2024-01-05 is back on track up to 2024-01-05T18:00:00Z: 340.00 "
            "against the usual 300.00 by that time.");
  // Day 4 judged at 4 steps; days 0-3 had no history.
  EXPECT_EQ(probe_.evaluations, 4);
  EXPECT_EQ(probe_.fired, 1);
  EXPECT_EQ(probe_.folded, 1);
  EXPECT_EQ(probe_.resolved, 1);
}

TEST_F(EarlyWarningOperatorTest, AnOpenWarningEndsWhenTheDayCloses) {
  std::vector<Order> orders = BaselineDays();
  orders.push_back(At(4, 3, "20"));
  orders.push_back(At(5, 1, "100"));
  EXPECT_THAT(Run(orders, At(5, 2, "").ts),
              ElementsAre("05T06:00 firing observed=20.00 median=100 mad=5 "
                          "z=-10.7919 drop=0.8 "
                          "id=drop|store_id=s-1|early|2024-01-05T06:00:00Z",
                          // The evidence of the day's last step.
                          "06T00:00 resolved observed=20.00 median=400 mad=20 "
                          "z=-12.8153 drop=0.95 "
                          "id=drop|store_id=s-1|early|2024-01-05T06:00:00Z"));
  EXPECT_EQ(messages_[1],
            "Early warning over: the period from 2024-01-05 of store_id=s-1 "
            "has closed (revenue 20.00 up to its last step, usual 400.00); "
            "the rule now judges the whole period.");
}

TEST_F(EarlyWarningOperatorTest, StaysOpenWhileTheShortfallPersists) {
  rule_.early_warning.min_progress = 0;
  // Two busy and two quiet afternoons: at 12:00 the baseline (200, 1210,
  // 180, 1200) has median 700 and MAD 505, so 40 scores only z = -0.88;
  // the warning stays open, as the day is still 94% short.
  std::vector<Order> orders;
  const char* second[] = {"100", "1100", "90", "1100"};
  const char* first[] = {"100", "110", "90", "100"};
  for (int64_t day = 0; day < 4; ++day) {
    orders.push_back(At(day, 3, first[day]));
    orders.push_back(At(day, 9, second[day]));
  }
  // 20 by 06:00 against 100 (progress 100 / 700, drop 0.8 > 0.3 /
  // sqrt(1/7) = 0.794): fires.
  orders.push_back(At(4, 3, "20"));
  orders.push_back(At(4, 9, "20"));
  orders.push_back(At(5, 1, "1"));
  EXPECT_THAT(Run(orders, At(5, 2, "").ts),
              ElementsAre("05T06:00 firing observed=20.00 median=100 mad=5 "
                          "z=-10.7919 drop=0.8 "
                          "id=drop|store_id=s-1|early|2024-01-05T06:00:00Z",
                          "06T00:00 resolved observed=40.00 median=700 mad=505 "
                          "z=-0.8815 drop=0.9429 "
                          "id=drop|store_id=s-1|early|2024-01-05T06:00:00Z"));
  EXPECT_EQ(probe_.folded, 3);  // 12:00, 18:00 and 24:00
}

TEST_F(EarlyWarningOperatorTest, ForNeedsConsecutiveAnomalousSteps) {
  rule_.early_warning.confirm_steps = 2;
  std::vector<Order> orders = BaselineDays();
  orders.push_back(At(4, 3, "20"));
  orders.push_back(At(4, 9, "20"));
  // Anomalous at 06:00 and at 12:00 (40 against 200): fires at the second.
  EXPECT_THAT(Run(orders, At(4, 13, "").ts),
              ElementsAre("05T12:00 firing observed=40.00 median=200 mad=10 "
                          "z=-10.7919 drop=0.8 "
                          "id=drop|store_id=s-1|early|2024-01-05T12:00:00Z"));
  // A slow first step alone (220 against 200 by 12:00) raises nothing.
  orders.back() = At(4, 9, "200");
  EXPECT_THAT(Run(orders, At(4, 13, "").ts), IsEmpty());
}

TEST_F(EarlyWarningOperatorTest, ACorrectedBaselineDayCountsAtTheNextStep) {
  rule_.early_warning.confirm_steps = 2;
  kpi_.allowed_lateness_ms = 5 * kDay;
  std::vector<Order> orders = BaselineDays();
  // Anomalous at 06:00, as above, and judged before the late orders come.
  Order first = At(4, 3, "20");
  first.watermark = At(4, 6.5, "").ts;
  orders.push_back(first);
  // Late orders of 2,000 at 21:00 of days 0-2 arrive at 07:00 of day 4:
  // the usual whole day is now the median of 2400, 2440, 2360 and 400,
  // 2380, so 200 by 12:00 is progress 0.08, below min_progress (0.25).
  // The curves up to 12:00 are as before; judged with the whole day it had
  // at 06:00 (400), 40 by 12:00 would fire as in the test above.
  for (int64_t day : {0, 1, 2}) {
    Order late = At(day, 21, "2000");
    late.watermark = At(4, 7, "").ts;
    orders.push_back(late);
  }
  orders.push_back(At(4, 9, "20"));
  EXPECT_THAT(Run(orders, At(4, 13, "").ts), IsEmpty());
  EXPECT_EQ(probe_.evaluations, 2);
}

TEST_F(EarlyWarningOperatorTest, MinProgressHoldsBackTheFirstHours) {
  rule_.early_warning.min_progress = 0.5;  // expected >= 200 of a usual 400
  std::vector<Order> orders = BaselineDays();
  orders.push_back(At(4, 3, "20"));
  orders.push_back(At(4, 9, "20"));
  const std::vector<std::string> alerts = Run(orders, At(5, 0, "").ts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0],
            "05T12:00 firing observed=40.00 median=200 mad=10 z=-10.7919 "
            "drop=0.8 id=drop|store_id=s-1|early|2024-01-05T12:00:00Z");
}

TEST_F(EarlyWarningOperatorTest, ThresholdsAreTheEarlyWarningsOwn) {
  std::vector<Order> orders = BaselineDays();
  orders.push_back(At(4, 3, "20"));
  // A drop of 0.8 at progress 0.25 must exceed min_change / 0.5.
  rule_.early_warning.min_change = 0.4;
  EXPECT_THAT(Run(orders, At(4, 7, "").ts), IsEmpty());
  rule_.early_warning.min_change = 0.39;
  EXPECT_EQ(Run(orders, At(4, 7, "").ts).size(), 1u);
  rule_.early_warning.z_threshold = 10.8;  // |z| 10.7918 is not beyond
  EXPECT_THAT(Run(orders, At(4, 7, "").ts), IsEmpty());
  rule_.early_warning.z_threshold = 10.7;
  EXPECT_EQ(Run(orders, At(4, 7, "").ts).size(), 1u);
}

TEST_F(EarlyWarningOperatorTest, ShortHistoryAndMissingDays) {
  // Only three days of history: no judgement at all.
  std::vector<Order> orders;
  Day(0, "100", &orders);
  Day(1, "100", &orders);
  Day(2, "100", &orders);
  orders.push_back(At(3, 3, "10"));
  EXPECT_THAT(Run(orders, At(4, 0, "").ts), IsEmpty());
  EXPECT_EQ(probe_.evaluations, 0);
  // A day without orders counts as a zero curve: baseline 100, 0, 100, 100
  // at 06:00 gives median 100, MAD 0, so 10 < 100 fires (z null).
  orders.clear();
  Day(0, "100", &orders);
  Day(2, "100", &orders);
  Day(3, "100", &orders);
  orders.push_back(At(4, 3, "10"));
  const std::vector<std::string> alerts = Run(orders, At(4, 7, "").ts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0],
            "05T06:00 firing observed=10.00 median=100 mad=0 z=null drop=0.9 "
            "id=drop|store_id=s-1|early|2024-01-05T06:00:00Z");
}

TEST_F(EarlyWarningOperatorTest, OnlyTheLastHistoryDaysAreKept) {
  // Four days of 4 x 1000, then the usual four baseline days: the history
  // of four keeps only the last four, so the big days change nothing.
  std::vector<Order> orders;
  for (int64_t day = 0; day < 4; ++day) Day(day, "1000", &orders);
  for (Order order : BaselineDays()) {
    order.ts += 4 * kDay;
    orders.push_back(order);
  }
  orders.push_back(At(8, 3, "20"));
  // The drop from the big days fires and resolves on days 4-7 too.
  const std::vector<std::string> alerts = Run(orders, At(8, 7, "").ts);
  ASSERT_FALSE(alerts.empty());
  EXPECT_EQ(alerts.back(),
            "09T06:00 firing observed=20.00 median=100 mad=5 z=-10.7919 "
            "drop=0.8 id=drop|store_id=s-1|early|2024-01-09T06:00:00Z");
}

TEST_F(EarlyWarningOperatorTest, PartialLastStepAtEndOfInputIsNotJudged) {
  std::vector<Order> orders = BaselineDays();
  orders.push_back(At(4, 3, "20"));
  // The input ends at 04:00 on day 4: the 00-06 step is partial.
  EXPECT_THAT(Run(orders, At(4, 4, "").ts), IsEmpty());
}

TEST_F(EarlyWarningOperatorTest, SeasonalComparesTheSameWeekday) {
  rule_.season = 7;
  rule_.history = 2;
  rule_.min_history = 2;
  // Days 0 and 7 are busy (4 x 400), the others quiet (4 x 100). Day 14 (the
  // same weekday) at 100 per step is 75% below its weekday's 400 by 06:00,
  // though normal for any other day.
  std::vector<Order> orders;
  for (int64_t day = 0; day < 14; ++day)
    Day(day, day % 7 == 0 ? "400" : "100", &orders);
  orders.push_back(At(14, 3, "100"));
  const std::vector<std::string> alerts = Run(orders, At(14, 7, "").ts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0],
            "15T06:00 firing observed=100.00 median=400 mad=0 z=null "
            "drop=0.75 id=drop|store_id=s-1|early|2024-01-15T06:00:00Z");
}

TEST_F(EarlyWarningOperatorTest, LocalDaysLineUpByTheClockAcrossDst) {
  // Berlin local days, hourly steps. Every day has 100 at 07:30 and 100 at
  // 20:30 local time; on 2024-10-27 the clocks go back, so local 07:30 is
  // 8.5 hours after midnight. Positions by local clock keep the curves
  // equal; positions by elapsed time would see 0 against 100 at 08:00.
  kpi_.timezone = "Europe/Berlin";
  rule_.early_warning.step_ms = kHour;
  std::vector<Order> orders;
  const char* days[] = {"2024-10-22", "2024-10-23", "2024-10-24",
                        "2024-10-25", "2024-10-26", "2024-10-27"};
  for (const char* day : days) {
    for (const char* local : {"T07:30:00", "T20:30:00"}) {
      const bool winter = std::string(day) == "2024-10-27";
      orders.push_back(
          {ParseRfc3339(absl::StrCat(day, local, winter ? "+01:00" : "+02:00"))
               ->millis(),
           "100"});
    }
  }
  EXPECT_THAT(Run(orders, ParseRfc3339("2024-10-28T00:00:00+01:00")->millis()),
              IsEmpty());
  // 2024-10-26 was judged at each of its 24 hours, 2024-10-27 at its 22
  // hours up to 21:00 local (the two 02:00 hours included), where the
  // stream's last window ends.
  EXPECT_EQ(probe_.evaluations, 24 + 22);
}

}  // namespace
}  // namespace tillstream
