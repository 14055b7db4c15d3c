#include "operators/rolling_operator.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/order_decoder.h"
#include "engine/time_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "operators/window_kpi_operator.h"

namespace tillstream {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kDay = 86'400'000;
const int64_t kJan1 = ParseRfc3339("2024-01-01T00:00:00Z")->millis();

// Rolling rule `store_2d` (span 2 against the 2 before) over daily store KPIs.
class RollingOperatorTest : public ::testing::Test {
 protected:
  RollingOperatorTest() {
    kpi_.name = "store_day";
    kpi_.group_by = {GroupField::kStoreId};
    kpi_.window_size_ms = kDay;
    kpi_.allowed_lateness_ms = kDay;
    rule_ = {
        .name = "store_2d", .kpi = "store_day", .span = 2, .previous_span = 2};
  }
  void Start() {
    window_ = std::make_unique<WindowKpiOperator>(kpi_, "p");
    rolling_ = std::make_unique<RollingOperator>(rule_, kpi_, "p");
    window_->AddListener(rolling_.get());
  }
  // A completed (or refunded) order of `amount` on day `day` for `store`.
  void Order(int day, absl::string_view store, absl::string_view amount,
             absl::string_view status = "completed") {
    std::string json = absl::StrCat(
        R"({"order_id":"o","ts":)", kJan1 + day * kDay + 1000,
        R"(,"store_id":")", store, R"(","status":")", status,
        R"(","lines":[{"sku":"A","qty":1,"unit_price":")", amount, R"("}]})");
    OrderEvent event;
    ASSERT_TRUE(decoder_.Decode(json, &event).ok());
    window_->Process(event, ResolveCustomer(event, &customers_), watermark_,
                     &out_);
  }
  // Moves the watermark to the start of day `day`: every earlier day closes.
  void CloseBefore(int day) {
    watermark_ = Timestamp::FromMillis(kJan1 + day * kDay);
    window_->AdvanceWatermark(watermark_, &out_);
  }
  void CloseAll() {
    watermark_ = Timestamp::Max();
    window_->AdvanceWatermark(watermark_, &out_);
  }
  // Rolling snapshots since the last call, reduced to "day store rev 2d prev
  // pct #revision".
  std::vector<std::string> Take() {
    std::vector<std::string> rows;
    for (size_t i = 0; i < out_.size(); ++i) {
      if (out_[i].kind != OutputKind::kRolling) continue;
      std::string v(out_[i].value);
      auto field = [&](const std::string& name) {
        size_t at = v.find("\"" + name + "\":");
        size_t begin = at + name.size() + 3;
        size_t end = v.find_first_of(",}", begin);
        std::string text = v.substr(begin, end - begin);
        if (!text.empty() && text.front() == '"')
          text = text.substr(1, text.size() - 2);
        return text;
      };
      rows.push_back(
          absl::StrCat(field("start").substr(8, 2), " ", field("store_id"), " ",
                       field("revenue"), " ", field("revenue_2d"), " ",
                       field("revenue_prev_2d"), " ", field("pct_change_2d"),
                       " #", field("revision")));
    }
    out_.Clear();
    return rows;
  }

  KpiRuleConfig kpi_;
  RollingRuleConfig rule_;
  StringInterner customers_;
  OrderDecoder decoder_{OrderDecoderOptions{}};
  std::unique_ptr<WindowKpiOperator> window_;
  std::unique_ptr<RollingOperator> rolling_;
  Timestamp watermark_ = Timestamp::Min();
  OutputBatch out_;
};

TEST_F(RollingOperatorTest,
       SpansSlideEmptyDaysCountAsZeroAndChangeNeedsFullHistory) {
  Start();
  Order(0, "s-1", "10.00");
  Order(1, "s-1", "20.00");
  // day 2: no events
  Order(3, "s-1", "40.00");
  Order(4, "s-1", "50.00");
  CloseAll();
  EXPECT_THAT(
      Take(),
      ElementsAre("01 s-1 10.00 10.00 0.00 null #0",    //
                  "02 s-1 20.00 30.00 0.00 null #0",    //
                  "03 s-1 0.00 20.00 10.00 null #0",    // 3 days of history
                  "04 s-1 40.00 40.00 30.00 33.33 #0",  // (40 - 30) / 30
                  "05 s-1 50.00 90.00 20.00 350.00 #0"));
}

TEST_F(RollingOperatorTest, EmittedWhenThePeriodCloses) {
  Start();
  Order(0, "s-1", "10.00");
  Order(1, "s-1", "20.00");
  CloseBefore(1);
  EXPECT_THAT(Take(), ElementsAre("01 s-1 10.00 10.00 0.00 null #0"));
  CloseBefore(2);
  EXPECT_THAT(Take(), ElementsAre("02 s-1 20.00 30.00 0.00 null #0"));
  CloseBefore(2);
  EXPECT_THAT(Take(), IsEmpty());
}

TEST_F(RollingOperatorTest, NoChangeAgainstANonPositiveBaseline) {
  Start();
  Order(0, "s-1", "10.00", "refunded");
  Order(3, "s-1", "5.00");
  CloseAll();
  EXPECT_THAT(Take(),
              ElementsAre("01 s-1 -10.00 -10.00 0.00 null #0",
                          "02 s-1 0.00 -10.00 0.00 null #0",
                          "03 s-1 0.00 0.00 -10.00 null #0",
                          "04 s-1 5.00 5.00 -10.00 null #0"));  // baseline <= 0
}

TEST_F(RollingOperatorTest, GroupsStartAtTheirFirstPeriodAndAreOrderedByKey) {
  Start();
  Order(0, "s-2", "1.00");
  Order(1, "s-2", "2.00");
  Order(1, "s-1", "5.00");
  CloseAll();
  EXPECT_THAT(Take(), ElementsAre("01 s-2 1.00 1.00 0.00 null #0",  //
                                  "02 s-1 5.00 5.00 0.00 null #0",  //
                                  "02 s-2 2.00 3.00 0.00 null #0"));
}

TEST_F(RollingOperatorTest, CorrectionReemitsEveryPeriodItFeeds) {
  Start();
  for (int day = 0; day < 6; ++day) Order(day, "s-1", "10.00");
  CloseBefore(5);
  EXPECT_EQ(Take().size(), 5u);
  // A late order on day 4 (its window ended at the watermark; one day of
  // lateness): KPI day 4 is corrected and rolling day 4, the only closed
  // period that includes it, is emitted again.
  Order(4, "s-1", "1.00");
  CloseBefore(5);
  EXPECT_THAT(Take(), ElementsAre("05 s-1 11.00 21.00 20.00 5.00 #1"));
  // Day 3 is past its lateness: the order goes to the late output instead.
  Order(3, "s-1", "1.00");
  CloseBefore(5);
  EXPECT_THAT(Take(), IsEmpty());
  CloseAll();
  EXPECT_THAT(Take(), ElementsAre("06 s-1 10.00 21.00 20.00 5.00 #0"));
  EXPECT_EQ(rolling_->probe().corrections, 1);
  EXPECT_EQ(window_->probe().late_events, 1);
}

TEST_F(RollingOperatorTest, LocalDaysStepOverDaylightSavingChanges) {
  kpi_.timezone = "Europe/Berlin";
  Start();
  // Noon UTC on 30, 31 March and 1 April: three consecutive Berlin days, the
  // middle one 23 hours long.
  for (const char* noon : {"2024-03-30T12:00:00Z", "2024-03-31T12:00:00Z",
                           "2024-04-01T12:00:00Z"}) {
    OrderEvent event;
    std::string json = absl::StrCat(
        R"({"order_id":"o","ts":")", noon,
        R"(","store_id":"s-1","lines":[{"sku":"A","qty":1,"unit_price":"1.00"}]})");
    ASSERT_TRUE(decoder_.Decode(json, &event).ok());
    window_->Process(event, ResolveCustomer(event, &customers_), watermark_,
                     &out_);
  }
  CloseAll();
  std::vector<std::string> periods;
  for (size_t i = 0; i < out_.size(); ++i) {
    if (out_[i].kind != OutputKind::kRolling) continue;
    std::string v(out_[i].value);
    const size_t period = v.find("\"period\""),
                 revenue = v.find("\"revenue_2d\"");
    periods.push_back(v.substr(period, v.find('}', period) - period + 1) + " " +
                      v.substr(revenue, v.find(',', revenue) - revenue));
  }
  EXPECT_THAT(
      periods,
      ElementsAre(
          R"("period":{"start":"2024-03-29T23:00:00Z","end":"2024-03-30T23:00:00Z"} "revenue_2d":"1.00")",
          R"("period":{"start":"2024-03-30T23:00:00Z","end":"2024-03-31T22:00:00Z"} "revenue_2d":"2.00")",
          R"("period":{"start":"2024-03-31T22:00:00Z","end":"2024-04-01T22:00:00Z"} "revenue_2d":"2.00")"));
}

TEST_F(RollingOperatorTest, MetricsOnRequest) {
  rule_.metrics = {RollingMetric::kRevenue, RollingMetric::kOrders,
                   RollingMetric::kUnits, RollingMetric::kAov};
  Start();
  Order(0, "s-1", "10.00");
  Order(0, "s-1", "20.01");
  Order(1, "s-1", "3.00", "refunded");
  CloseAll();
  std::vector<std::string> values;
  for (size_t i = 0; i < out_.size(); ++i) {
    if (out_[i].kind == OutputKind::kRolling)
      values.emplace_back(out_[i].value);
  }
  ASSERT_EQ(values.size(), 2u);
  EXPECT_THAT(
      values[1],
      HasSubstr(
          R"("revenue":"-3.00","revenue_2d":"27.01","revenue_prev_2d":"0.00",)"
          R"("pct_change_2d":null,"orders":0,"orders_2d":2,"orders_prev_2d":0,)"
          R"("orders_pct_change_2d":null,"units":-1,"units_2d":1,)"
          R"("units_prev_2d":0,"units_pct_change_2d":null,"aov":null,)"
          R"("aov_2d":"15.01","aov_prev_2d":null,"aov_pct_change_2d":null,)"
          R"("id":"store_2d|store_id=s-1|2024-01-02T00:00:00Z","revision":0})"));
}

}  // namespace
}  // namespace tillstream
