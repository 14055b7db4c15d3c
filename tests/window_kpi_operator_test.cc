#include "operators/window_kpi_operator.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/order_decoder.h"
#include "engine/time_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kMinute = 60'000;
const int64_t k10h = ParseRfc3339("2024-01-01T10:00:00Z")->millis();

// An order as JSON: `lines` is the JSON array text.
std::string Order(int64_t ts, absl::string_view store, absl::string_view status,
                  absl::string_view customer, absl::string_view lines) {
  return absl::StrCat(
      R"({"order_id":"o","ts":)", ts, R"(,"store_id":")", store,
      R"(","status":")", status, R"(","customer_id":)",
      customer.empty() ? "null" : absl::StrCat("\"", customer, "\""),
      R"(,"lines":)", lines, "}");
}

class WindowKpiOperatorTest : public ::testing::Test {
 protected:
  WindowKpiOperatorTest() {
    rule_.name = "store_hour";
    rule_.group_by = {GroupField::kStoreId};
    rule_.window_size_ms = kHour;
    rule_.allowed_lateness_ms = 10 * kMinute;
  }

  WindowKpiOperator& op() {
    if (!op_) op_ = std::make_unique<WindowKpiOperator>(rule_, "p");
    return *op_;
  }
  void Feed(const std::string& json, int64_t watermark_ms) {
    OrderEvent event;
    ASSERT_TRUE(decoder_.Decode(json, &event).ok()) << json;
    op().Process(event,
                 ResolveCustomer(event, &customers_, rule_.approx_distinct),
                 Timestamp::FromMillis(watermark_ms), &out_);
  }
  void Advance(Timestamp watermark) { op().AdvanceWatermark(watermark, &out_); }
  void Advance(int64_t watermark_ms) {
    Advance(Timestamp::FromMillis(watermark_ms));
  }
  // Values of output records of `kind` since the last call.
  std::vector<std::string> Take(OutputKind kind) {
    std::vector<std::string> values;
    for (size_t i = 0; i < out_.size(); ++i) {
      if (out_[i].kind == kind) values.emplace_back(out_[i].value);
    }
    return values;
  }
  std::vector<std::string> TakeAll(OutputKind kind) {
    std::vector<std::string> values = Take(kind);
    out_.Clear();
    return values;
  }

  KpiRuleConfig rule_;
  StringInterner customers_;
  OrderDecoder decoder_{OrderDecoderOptions{}};
  std::unique_ptr<WindowKpiOperator> op_;
  OutputBatch out_;
};

TEST_F(WindowKpiOperatorTest, EveryKpiOfOneWindow) {
  const int64_t t = k10h + 5 * kMinute;
  Feed(Order(t, "s-1", "completed", "c-1",
             R"([{"sku":"A","qty":2,"unit_price":"3.49","unit_cost":"1.20"},)"
             R"({"sku":"B","qty":1,"unit_price":"10.00"}])"),
       0);
  Feed(Order(t + 1, "s-1", "completed", "c-1",
             R"([{"sku":"A","qty":1,"unit_price":"0.01","unit_cost":"0.00"}])"),
       0);
  Feed(Order(t + 2, "s-1", "refunded", "c-2",
             R"([{"sku":"A","qty":1,"unit_price":"3.49","unit_cost":"1.20"}])"),
       0);
  Feed(Order(
           t + 3, "s-1", "cancelled", "c-3",
           R"([{"sku":"A","qty":5,"unit_price":"100.00","unit_cost":"1.00"}])"),
       0);
  Feed(Order(t + 4, "s-1", "completed", "",
             R"([{"sku":"C","qty":1,"unit_price":"5.00","unit_cost":"2.50"}])"),
       0);
  Advance(k10h + kHour);
  // revenue 16.98 + 0.01 - 3.49 + 5.00; margin 4.58 + 0.01 - 2.29 + 2.50 over
  // costed revenue 8.50 = 56.47%; aov = 21.99 / 3; one distinct customer
  // (refunds, cancellations and anonymous orders do not count).
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(
          R"({"type":"kpi","pipeline":"p","kpi":"store_hour","window":{"start":"2024-01-01T10:00:00Z","end":"2024-01-01T11:00:00Z"},"group":{"store_id":"s-1"},"revenue":"18.50","orders":3,"refunded_orders":1,"cancelled_orders":1,"units":4,"margin":"4.80","margin_pct":"56.47","aov":"7.33","distinct_customers":1,"new_customers":1,"returning_customers":0,"id":"store_hour|store_id=s-1|2024-01-01T10:00:00Z","revision":0})"));
}

// workers: 2: each shard sees every event but keeps only the groups whose
// key hashes to it; together they emit exactly what one operator emits,
// and the late record (which belongs to no group) comes from the first.
// The late record is written by the shard that owns the event's group,
// once: each judges lateness by its own watermark (the tasks of scale_out).
TEST_F(WindowKpiOperatorTest, ShardsSplitTheGroupsAndTheOwnerWritesLate) {
  std::vector<std::string> stores;
  for (int i = 0; i < 20; ++i) stores.push_back(absl::StrCat("s-", i));
  auto feed_all = [&](WindowKpiOperator& op, OutputBatch* out) {
    for (size_t i = 0; i < stores.size(); ++i) {
      for (int64_t t : {k10h + 1, k10h + kHour + 2}) {
        OrderEvent event;
        const std::string json =
            Order(t + static_cast<int64_t>(i), stores[i], "completed", "c-1",
                  R"([{"sku":"A","qty":1,"unit_price":"1.00"}])");
        ASSERT_TRUE(decoder_.Decode(json, &event).ok());
        op.Process(event, {}, Timestamp::FromMillis(k10h), out);
      }
    }
    op.AdvanceWatermark(Timestamp::FromMillis(k10h + 2 * kHour), out);
    // Past the first window's lateness: a late event (its record, which
    // the late output quotes, outlives the call).
    const std::string late_json =
        Order(k10h + 5, "s-3", "completed", "c-1",
              R"([{"sku":"A","qty":1,"unit_price":"1.00"}])");
    OrderEvent late;
    ASSERT_TRUE(decoder_.Decode(late_json, &late).ok());
    op.Process(late, {}, Timestamp::FromMillis(k10h + 2 * kHour), out);
  };
  auto values = [](const OutputBatch& out, OutputKind kind) {
    std::vector<std::string> v;
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i].kind == kind) v.emplace_back(out[i].value);
    }
    std::sort(v.begin(), v.end());
    return v;
  };
  OutputBatch whole_out, first_out, second_out;
  WindowKpiOperator whole(rule_, "p");
  WindowKpiOperator first(rule_, "p", KeyShard{0, 2});
  WindowKpiOperator second(rule_, "p", KeyShard{1, 2});
  feed_all(whole, &whole_out);
  feed_all(first, &first_out);
  feed_all(second, &second_out);

  // 20 stores x 2 hours, split between the shards, none in both.
  EXPECT_EQ(whole.group_count(), 20u);
  EXPECT_EQ(first.group_count() + second.group_count(), 20u);
  EXPECT_GT(first.group_count(), 0u);
  EXPECT_GT(second.group_count(), 0u);
  std::vector<std::string> split = values(first_out, OutputKind::kKpis);
  for (const std::string& kpi : values(second_out, OutputKind::kKpis))
    split.push_back(kpi);
  std::sort(split.begin(), split.end());
  EXPECT_EQ(split.size(), 40u);
  EXPECT_EQ(split, values(whole_out, OutputKind::kKpis));
  ASSERT_EQ(KeyShard::IndexOf("store_id=s-3", 2), 1u);  // s-3's owner
  EXPECT_EQ(values(second_out, OutputKind::kLate),
            values(whole_out, OutputKind::kLate));
  EXPECT_EQ(values(second_out, OutputKind::kLate).size(), 1u);
  EXPECT_THAT(values(first_out, OutputKind::kLate), IsEmpty());
  EXPECT_EQ(first.probe().late_events + second.probe().late_events, 1);
  // Live queries: only the owner knows the group, though both have seen it.
  std::string json;
  EXPECT_TRUE(second.AppendOpenWindowsJson("store_id=s-3", &json));
  EXPECT_FALSE(first.AppendOpenWindowsJson("store_id=s-3", &json));
}

TEST_F(WindowKpiOperatorTest, AovRoundsHalfUp) {
  Feed(Order(k10h, "s-1", "completed", "a",
             R"([{"sku":"A","qty":1,"unit_price":"0.01"}])"),
       0);
  Feed(Order(k10h, "s-1", "completed", "b",
             R"([{"sku":"A","qty":1,"unit_price":"0.04"}])"),
       0);
  Feed(Order(k10h, "s-1", "refunded", "b",
             R"([{"sku":"A","qty":1,"unit_price":"0.04"}])"),
       0);
  Advance(Timestamp::Max());
  std::vector<std::string> kpis = TakeAll(OutputKind::kKpis);
  ASSERT_EQ(kpis.size(), 1u);
  // gross completed 0.05 / 2 orders = 0.025 -> 0.03; refunds do not lower it.
  EXPECT_THAT(kpis[0], ::testing::HasSubstr(R"("revenue":"0.01")"));
  EXPECT_THAT(kpis[0], ::testing::HasSubstr(R"("aov":"0.03")"));
  // No line has a cost: margin 0 and margin_pct unknown.
  EXPECT_THAT(kpis[0],
              ::testing::HasSubstr(R"("margin":"0.00","margin_pct":null)"));
}

TEST_F(WindowKpiOperatorTest, OnlyRefundsAndCancellations) {
  Feed(Order(k10h, "s-1", "refunded", "a",
             R"([{"sku":"A","qty":2,"unit_price":"1.55"}])"),
       0);
  Feed(Order(k10h, "s-1", "cancelled", "a",
             R"([{"sku":"A","qty":1,"unit_price":"9.99"}])"),
       0);
  Advance(Timestamp::Max());
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(::testing::HasSubstr(
          R"("revenue":"-3.10","orders":0,"refunded_orders":1,"cancelled_orders":1,"units":-2,"margin":"0.00","margin_pct":null,"aov":null,"distinct_customers":0,"new_customers":0,"returning_customers":0,"id":"store_hour|store_id=s-1|2024-01-01T10:00:00Z","revision":0})")));
}

TEST_F(WindowKpiOperatorTest, EventAtWindowEndBelongsToTheNextWindow) {
  Feed(Order(k10h + kHour - 1, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
       0);
  Feed(Order(k10h + kHour, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"2.00"}])"),
       0);
  Advance(Timestamp::Max());
  std::vector<std::string> kpis = TakeAll(OutputKind::kKpis);
  ASSERT_EQ(kpis.size(), 2u);
  EXPECT_THAT(kpis[0],
              ::testing::HasSubstr(R"("start":"2024-01-01T10:00:00Z")"));
  EXPECT_THAT(kpis[0], ::testing::HasSubstr(R"("revenue":"1.00")"));
  EXPECT_THAT(kpis[1],
              ::testing::HasSubstr(R"("start":"2024-01-01T11:00:00Z")"));
  EXPECT_THAT(kpis[1], ::testing::HasSubstr(R"("revenue":"2.00")"));
}

TEST_F(WindowKpiOperatorTest, EmitsWhenWatermarkPassesEnd) {
  Feed(Order(k10h, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
       0);
  Advance(k10h + kHour - 1);
  EXPECT_THAT(TakeAll(OutputKind::kKpis), IsEmpty());
  Advance(k10h + kHour);
  EXPECT_EQ(TakeAll(OutputKind::kKpis).size(), 1u);
  Advance(k10h + 2 * kHour);  // emitted once only
  EXPECT_THAT(TakeAll(OutputKind::kKpis), IsEmpty());
  EXPECT_EQ(op().probe().snapshots, 1);
}

TEST_F(WindowKpiOperatorTest, LateEventWithinLatenessReemitsWithNextRevision) {
  Feed(Order(k10h, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
       0);
  Advance(k10h + kHour);
  ASSERT_EQ(TakeAll(OutputKind::kKpis).size(), 1u);
  // Two late events in one batch: one correction.
  Feed(Order(k10h + 1, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"2.00"}])"),
       k10h + kHour);
  Feed(Order(k10h + 2, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"4.00"}])"),
       k10h + kHour);
  Advance(k10h + kHour + kMinute);
  std::vector<std::string> kpis = TakeAll(OutputKind::kKpis);
  ASSERT_EQ(kpis.size(), 1u);
  EXPECT_THAT(kpis[0], ::testing::HasSubstr(R"("revenue":"7.00","orders":3)"));
  EXPECT_THAT(kpis[0], ::testing::HasSubstr(R"("revision":1})"));
  Feed(Order(k10h + 3, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"8.00"}])"),
       k10h + kHour + kMinute);
  Advance(k10h + kHour + 2 * kMinute);
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(::testing::HasSubstr(R"("revenue":"15.00","orders":4)")));
  EXPECT_EQ(op().probe().corrections, 2);
}

TEST_F(WindowKpiOperatorTest, EventPastLatenessGoesToLateOutput) {
  Feed(Order(k10h, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
       0);
  const int64_t expiry = k10h + kHour + 10 * kMinute;
  Advance(expiry - 1);
  EXPECT_EQ(op().open_windows(), 1u);
  Advance(expiry);
  EXPECT_EQ(op().open_windows(),
            0u);  // state dropped at end + allowed_lateness
  TakeAll(OutputKind::kKpis);
  Feed(Order(k10h + 5, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"2.00"}])"),
       expiry);
  Advance(expiry);
  EXPECT_THAT(Take(OutputKind::kKpis), IsEmpty());
  std::vector<std::string> late = TakeAll(OutputKind::kLate);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_THAT(
      late[0],
      ::testing::StartsWith(
          R"({"type":"late","pipeline":"p","kpi":"store_hour","window":{"start":"2024-01-01T10:00:00Z","end":"2024-01-01T11:00:00Z"},"ts":"2024-01-01T10:00:00.005Z","watermark":"2024-01-01T11:10:00Z","source":)"));
  EXPECT_EQ(op().probe().late_events, 1);
}

TEST_F(WindowKpiOperatorTest, FirstEventOfAnAlreadyClosedWindowIsEmittedOnce) {
  Feed(Order(k10h, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
       0);
  Advance(k10h + 3 * kHour);
  TakeAll(OutputKind::kKpis);
  // Window 12:00-13:00 had no events; it is within lateness of 13:00? No: its
  // end 13:00 + 10 min > watermark 13:00, so the event is accepted.
  Feed(Order(k10h + 2 * kHour + 1, "s-2", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"3.00"}])"),
       k10h + 3 * kHour);
  Advance(k10h + 3 * kHour + kMinute);
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(::testing::AllOf(::testing::HasSubstr(R"("store_id":"s-2")"),
                                   ::testing::HasSubstr(R"("revision":0})"))));
  Advance(k10h + 4 * kHour);
  EXPECT_THAT(TakeAll(OutputKind::kKpis), IsEmpty());
}

TEST_F(WindowKpiOperatorTest, SnapshotsOrderedByWindowThenGroupKey) {
  for (const char* store : {"s-3", "s-1", "s-2"}) {
    Feed(Order(k10h + kHour, store, "completed", "",
               R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
         0);
    Feed(Order(k10h, store, "completed", "",
               R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
         0);
  }
  Advance(Timestamp::Max());
  std::vector<std::string> order;
  for (const std::string& kpi : TakeAll(OutputKind::kKpis)) {
    order.push_back(kpi.substr(kpi.find("\"start\":") + 20, 2) + "/" +
                    kpi.substr(kpi.find("\"store_id\":") + 12, 3));
  }
  EXPECT_THAT(order, ElementsAre("10/s-1", "10/s-2", "10/s-3", "11/s-1",
                                 "11/s-2", "11/s-3"));
}

TEST_F(WindowKpiOperatorTest, SumsBeyondSixtyFourBitsStayExact) {
  // Each order is the largest the default limits allow per line; 200 of them
  // sum past 2^63 cents without overflowing.
  const std::string big =
      R"([{"sku":"A","qty":1000000,"unit_price":"1000000.00","unit_cost":"0.00"},)"
      R"({"sku":"A","qty":1000000,"unit_price":"1000000.00","unit_cost":"0.00"}])";
  for (int i = 0; i < 50000; ++i)
    Feed(Order(k10h, "s-1", "completed", "", big), 0);
  Advance(Timestamp::Max());
  // 50,000 orders x 2 lines x 1e6 x 1e8 cents = 1e19 cents =
  // 100,000,000,000,000,000.00
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(::testing::HasSubstr(
          R"("revenue":"100000000000000000.00","orders":50000,"refunded_orders":0,"cancelled_orders":0,"units":100000000000,"margin":"100000000000000000.00","margin_pct":"100.00","aov":"2000000000000.00")")));
}

TEST_F(WindowKpiOperatorTest, LineLevelGroupsCountEachLineInItsOwnGroup) {
  rule_.group_by = {GroupField::kSku};
  // Two lines of SKU A in one order: one order, both lines' revenue.
  Feed(Order(k10h, "s-1", "completed", "c-1",
             R"([{"sku":"A","qty":2,"unit_price":"1.50","unit_cost":"1.00"},)"
             R"({"sku":"B","qty":1,"unit_price":"4.00"},)"
             R"({"sku":"A","qty":1,"unit_price":"1.50","unit_cost":"1.00"}])"),
       0);
  Feed(Order(k10h, "s-2", "refunded", "c-2",
             R"([{"sku":"A","qty":1,"unit_price":"1.50"}])"),
       0);
  Advance(Timestamp::Max());
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(
          ::testing::HasSubstr(
              R"("group":{"sku":"A"},"revenue":"3.00","orders":1,"refunded_orders":1,"cancelled_orders":0,"units":2,"margin":"1.50","margin_pct":"33.33","aov":"4.50","distinct_customers":1,)"),
          ::testing::HasSubstr(
              R"("group":{"sku":"B"},"revenue":"4.00","orders":1,"refunded_orders":0,"cancelled_orders":0,"units":1,"margin":"0.00","margin_pct":null,"aov":"4.00","distinct_customers":1,)")));
}

TEST_F(WindowKpiOperatorTest, CategoryAndOrderFieldsTogether) {
  rule_.group_by = {GroupField::kStoreId, GroupField::kCategory};
  Feed(Order(k10h, "s-1", "completed", "",
             R"([{"sku":"A","category":"toys","qty":1,"unit_price":"2.00"},)"
             R"({"sku":"B","qty":1,"unit_price":"3.00"}])"),
       0);
  Advance(Timestamp::Max());
  std::vector<std::string> kpis = TakeAll(OutputKind::kKpis);
  ASSERT_EQ(kpis.size(), 2u);
  // A line without a category groups under null (key "category=").
  EXPECT_THAT(
      kpis[0],
      ::testing::HasSubstr(
          R"("group":{"store_id":"s-1","category":null},"revenue":"3.00")"));
  EXPECT_THAT(
      kpis[1],
      ::testing::HasSubstr(
          R"("group":{"store_id":"s-1","category":"toys"},"revenue":"2.00")"));
}

TEST_F(WindowKpiOperatorTest, TopSkusByRevenueTiesBySkuName) {
  rule_.top_skus = 2;
  Feed(
      Order(
          k10h, "s-1", "completed", "",
          R"([{"sku":"C","qty":1,"unit_price":"5.00"},{"sku":"B","qty":5,"unit_price":"1.00"},)"
          R"({"sku":"A","qty":1,"unit_price":"4.00"},{"sku":"D","qty":1,"unit_price":"9.00"}])"),
      0);
  // A refund of D brings it below the tie of B and C at 5.00.
  Feed(Order(k10h, "s-1", "refunded", "",
             R"([{"sku":"D","qty":1,"unit_price":"9.00"}])"),
       0);
  // Cancelled orders change nothing.
  Feed(Order(k10h, "s-1", "cancelled", "",
             R"([{"sku":"A","qty":9,"unit_price":"9.00"}])"),
       0);
  Advance(Timestamp::Max());
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(::testing::HasSubstr(
          R"("distinct_customers":0,"new_customers":0,"returning_customers":0,"top_skus":[{"sku":"B","revenue":"5.00","units":5},{"sku":"C","revenue":"5.00","units":1}],"id":"store_hour|store_id=s-1|2024-01-01T10:00:00Z","revision":0})")));
}

TEST_F(WindowKpiOperatorTest, NewAndReturningCustomers) {
  // c-1 and c-2 first order at 10:00; in the 11:00 window c-1 returns and c-3
  // is new. A refund or an anonymous order makes nobody new.
  Feed(Order(k10h, "s-1", "completed", "c-1",
             R"([{"sku":"A","qty":1,"unit_price":"1"}])"),
       0);
  Feed(Order(k10h, "s-1", "completed", "c-2",
             R"([{"sku":"A","qty":1,"unit_price":"1"}])"),
       0);
  Feed(Order(k10h, "s-1", "completed", "c-1",
             R"([{"sku":"A","qty":1,"unit_price":"1"}])"),
       0);
  Feed(Order(k10h + kHour, "s-1", "completed", "c-1",
             R"([{"sku":"A","qty":1,"unit_price":"1"}])"),
       0);
  Feed(Order(k10h + kHour, "s-1", "completed", "c-3",
             R"([{"sku":"A","qty":1,"unit_price":"1"}])"),
       0);
  Feed(Order(k10h + kHour, "s-1", "refunded", "c-4",
             R"([{"sku":"A","qty":1,"unit_price":"1"}])"),
       0);
  Feed(Order(k10h + kHour, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"1"}])"),
       0);
  Advance(Timestamp::Max());
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(
          HasSubstr(
              R"("distinct_customers":2,"new_customers":2,"returning_customers":0)"),
          HasSubstr(
              R"("distinct_customers":2,"new_customers":1,"returning_customers":1)")));
}

TEST_F(WindowKpiOperatorTest, ApproximateDistinctCustomers) {
  rule_.approx_distinct = true;
  for (int i = 0; i < 20000; ++i) {
    Feed(Order(k10h, "s-1", "completed", absl::StrCat("c-", i % 5000),
               R"([{"sku":"A","qty":1,"unit_price":"1"}])"),
         0);
  }
  Advance(Timestamp::Max());
  std::vector<std::string> kpis = TakeAll(OutputKind::kKpis);
  ASSERT_EQ(kpis.size(), 1u);
  size_t at = kpis[0].find("\"distinct_customers\":") + 21;
  int64_t estimate = std::stoll(kpis[0].substr(at));
  EXPECT_LT(std::abs(estimate - 5000), 3 * 5000 * HyperLogLog::kStandardError)
      << estimate;
  // New customers are counted exactly; returning = estimate - new.
  EXPECT_THAT(kpis[0], HasSubstr(absl::StrCat(
                           "\"new_customers\":5000,\"returning_customers\":",
                           estimate - 5000, ",")));
}

TEST_F(WindowKpiOperatorTest, StoreLocalDaysInBerlin) {
  rule_.window_size_ms = 24 * kHour;
  rule_.timezone = "Europe/Berlin";
  // 22:30Z on 30 March is 23:30 in Berlin (CET); 22:30Z on 31 March is 00:30
  // on 1 April (CEST): the 23-hour day of 31 March lies between them.
  const int64_t t1 = ParseRfc3339("2024-03-30T22:30:00Z")->millis();
  const int64_t t2 = ParseRfc3339("2024-03-31T21:30:00Z")->millis();
  const int64_t t3 = ParseRfc3339("2024-03-31T22:30:00Z")->millis();
  for (int64_t t : {t1, t2, t3}) {
    Feed(Order(t, "s-1", "completed", "",
               R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
         0);
  }
  Advance(Timestamp::Max());
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(
          HasSubstr(
              R"("window":{"start":"2024-03-29T23:00:00Z","end":"2024-03-30T23:00:00Z"},"group":{"store_id":"s-1"},"revenue":"1.00")"),
          HasSubstr(
              R"("window":{"start":"2024-03-30T23:00:00Z","end":"2024-03-31T22:00:00Z"},"group":{"store_id":"s-1"},"revenue":"1.00")"),
          HasSubstr(
              R"("window":{"start":"2024-03-31T22:00:00Z","end":"2024-04-01T22:00:00Z"},"group":{"store_id":"s-1"},"revenue":"1.00")")));
}

TEST_F(WindowKpiOperatorTest, HoppingWindowsEachCountTheEvent) {
  rule_.window_type = WindowType::kHopping;
  rule_.window_size_ms = kHour;
  rule_.window_slide_ms = 30 * kMinute;
  Feed(Order(k10h + 40 * kMinute, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"2.00"}])"),
       0);
  Feed(Order(k10h + 70 * kMinute, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"5.00"}])"),
       0);
  Advance(k10h + 60 * kMinute);  // closes the window ending at 11:00 only
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(HasSubstr(
          R"("start":"2024-01-01T10:00:00Z","end":"2024-01-01T11:00:00Z"},"group":{"store_id":"s-1"},"revenue":"2.00")")));
  Advance(Timestamp::Max());
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(
          HasSubstr(
              R"("start":"2024-01-01T10:30:00Z","end":"2024-01-01T11:30:00Z"},"group":{"store_id":"s-1"},"revenue":"7.00")"),
          HasSubstr(
              R"("start":"2024-01-01T11:00:00Z","end":"2024-01-01T12:00:00Z"},"group":{"store_id":"s-1"},"revenue":"5.00")")));
}

TEST_F(WindowKpiOperatorTest, LiveQueriesFindAGroupByItsWholeKey) {
  Feed(Order(k10h, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
       0);
  std::string json;
  ASSERT_TRUE(op().AppendOpenWindowsJson("store_id=s-1", &json));
  EXPECT_THAT(json, AllOf(HasSubstr(R"("group":{"store_id":"s-1"})"),
                          HasSubstr(R"("revenue":"1.00")")));
  // The same value under another field's name (currency= is as long as
  // store_id=), a value alone, and an unknown store are not its groups.
  for (absl::string_view other :
       {"currency=s-1", "region=s-1", "s-1", "store_id=s-2", "store_id=", ""}) {
    json.clear();
    EXPECT_FALSE(op().AppendOpenWindowsJson(other, &json)) << other;
    EXPECT_THAT(json, IsEmpty());
  }
}

TEST_F(WindowKpiOperatorTest,
       EmitUpdatesSendsEarlySnapshotsOfChangedOpenWindows) {
  rule_.update_interval_ms = 60'000;
  Feed(Order(k10h, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
       0);
  op().AdvanceWatermark(Timestamp::FromMillis(k10h + kMinute), &out_,
                        /*now_ms=*/0);
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(AllOf(
          HasSubstr(R"("revenue":"1.00")"),
          HasSubstr(
              R"("final":false,"id":"store_hour|store_id=s-1|2024-01-01T10:00:00Z","revision":0})"))));
  // Changed, but the interval has not passed: nothing yet.
  Feed(Order(k10h + 1, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"2.00"}])"),
       k10h + kMinute);
  op().AdvanceWatermark(Timestamp::FromMillis(k10h + 2 * kMinute), &out_,
                        30'000);
  EXPECT_THAT(TakeAll(OutputKind::kKpis), IsEmpty());
  op().AdvanceWatermark(Timestamp::FromMillis(k10h + 3 * kMinute), &out_,
                        60'000);
  EXPECT_THAT(TakeAll(OutputKind::kKpis),
              ElementsAre(AllOf(HasSubstr(R"("revenue":"3.00")"),
                                HasSubstr(R"("final":false)"))));
  // Unchanged since: no early snapshot.
  op().AdvanceWatermark(Timestamp::FromMillis(k10h + 4 * kMinute), &out_,
                        120'000);
  EXPECT_THAT(TakeAll(OutputKind::kKpis), IsEmpty());
  // The window closes: its final snapshot, revision 0 as with emit: final.
  Feed(Order(k10h + 2, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"4.00"}])"),
       k10h + 4 * kMinute);
  op().AdvanceWatermark(Timestamp::FromMillis(k10h + kHour), &out_, 121'000);
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(AllOf(
          HasSubstr(R"("revenue":"7.00")"),
          HasSubstr(
              R"("final":true,"id":"store_hour|store_id=s-1|2024-01-01T10:00:00Z","revision":0})"))));
  EXPECT_EQ(op().probe().early_snapshots, 2);
  EXPECT_EQ(op().probe().snapshots, 1);
}

class SessionWindowTest : public WindowKpiOperatorTest {
 protected:
  SessionWindowTest() {
    rule_.window_type = WindowType::kSession;
    rule_.session_gap_ms = 30 * kMinute;
    rule_.allowed_lateness_ms = kHour;
  }
  void Buy(int64_t minute, absl::string_view price,
           int64_t watermark_minute = -100000) {
    Feed(Order(k10h + minute * kMinute, "s-1", "completed", "",
               absl::StrCat(R"([{"sku":"A","qty":1,"unit_price":")", price,
                            R"("}])")),
         watermark_minute == -100000 ? INT64_MIN
                                     : k10h + watermark_minute * kMinute);
  }
};

TEST_F(SessionWindowTest, EventsWithinTheGapShareASession) {
  Buy(0, "1.00");
  Buy(10, "2.00");
  Buy(50, "4.00");  // 40 minutes after the last: a new session
  Advance(k10h + 40 * kMinute);
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(HasSubstr(
          R"("window":{"start":"2024-01-01T10:00:00Z","end":"2024-01-01T10:40:00Z"},"group":{"store_id":"s-1"},"revenue":"3.00","orders":2)")));
  Advance(Timestamp::Max());
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(HasSubstr(
          R"("window":{"start":"2024-01-01T10:50:00Z","end":"2024-01-01T11:20:00Z"},"group":{"store_id":"s-1"},"revenue":"4.00","orders":1)")));
}

TEST_F(SessionWindowTest, LateEventMergesSessionsAndSaysWhatItReplaces) {
  Buy(30, "1.00");
  Buy(70, "2.00");
  Advance(k10h + 65 * kMinute);  // [10:30, 11:00) closes
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(AllOf(
          HasSubstr(
              R"("start":"2024-01-01T10:30:00Z","end":"2024-01-01T11:00:00Z")"),
          HasSubstr(R"("revision":0})"))));
  // A late order at 10:10 reaches [10:30, ...) within its gap, and 10:45
  // bridges to the 11:10 session: one session from 10:10 to 11:40, which
  // supersedes the one emitted under 10:30.
  Buy(10, "4.00", 65);
  Buy(45, "8.00", 65);
  Advance(k10h + 66 * kMinute);
  EXPECT_THAT(TakeAll(OutputKind::kKpis),
              IsEmpty());  // re-opened: it ends at 11:40
  Advance(k10h + 100 * kMinute);
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(AllOf(
          HasSubstr(
              R"("window":{"start":"2024-01-01T10:10:00Z","end":"2024-01-01T11:40:00Z"},"group":{"store_id":"s-1"},"revenue":"15.00","orders":4)"),
          HasSubstr(
              R"("replaces":[{"start":"2024-01-01T10:30:00Z"}],"id":"store_hour|store_id=s-1|2024-01-01T10:10:00Z","revision":1})"))));
}

TEST_F(SessionWindowTest, ClosedSessionCorrectedInPlace) {
  Buy(0, "1.00");
  Advance(k10h + 31 * kMinute);
  ASSERT_EQ(TakeAll(OutputKind::kKpis).size(), 1u);
  Buy(5, "2.00",
      31);  // inside [10:00, 10:30) but ending 10:35: still closed at 10:36
  Advance(k10h + 36 * kMinute);
  EXPECT_THAT(
      TakeAll(OutputKind::kKpis),
      ElementsAre(AllOf(
          HasSubstr(
              R"("start":"2024-01-01T10:00:00Z","end":"2024-01-01T10:35:00Z")"),
          HasSubstr(R"("revenue":"3.00")"), HasSubstr(R"("revision":1})"))));
}

TEST_F(SessionWindowTest, PastLatenessGoesToLateOutput) {
  Buy(0, "1.00");
  Advance(k10h + 2 * kHour);  // session ended 10:30; lateness 1 h has passed
  TakeAll(OutputKind::kKpis);
  Buy(5, "2.00", 120);
  Advance(k10h + 2 * kHour);
  EXPECT_THAT(Take(OutputKind::kKpis), IsEmpty());
  EXPECT_THAT(
      TakeAll(OutputKind::kLate),
      ElementsAre(HasSubstr(
          R"("window":{"start":"2024-01-01T10:05:00Z","end":"2024-01-01T10:35:00Z"})")));
  EXPECT_EQ(op().open_windows(), 0u);
}

TEST_F(WindowKpiOperatorTest, GroupsByManyFieldsAndAnonymousCustomer) {
  rule_.group_by = {GroupField::kCustomerId, GroupField::kStoreId};
  Feed(Order(k10h, "s-1", "completed", "",
             R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
       0);
  Feed(Order(k10h, "s-1", "completed", "c-7",
             R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
       0);
  Advance(Timestamp::Max());
  out_.Clear();
  Feed(Order(k10h, "s-1", "completed", "c-7",
             R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
       0);
  Advance(Timestamp::Max());
  // After +infinity everything is late; the keys of the first two:
  EXPECT_EQ(op().probe().snapshots, 2);
  OutputBatch fresh;
  WindowKpiOperator op2(rule_, "p");
  OrderEvent event;
  ASSERT_TRUE(decoder_
                  .Decode(Order(k10h, "s-1", "completed", "",
                                R"([{"sku":"A","qty":1,"unit_price":"1.00"}])"),
                          &event)
                  .ok());
  op2.Process(event, ResolveCustomer(event, &customers_), Timestamp::Min(),
              &fresh);
  op2.AdvanceWatermark(Timestamp::Max(), &fresh);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].key, "customer_id=,store_id=s-1");
  EXPECT_THAT(
      std::string(fresh[0].value),
      ::testing::HasSubstr(R"("group":{"customer_id":null,"store_id":"s-1"})"));
}

}  // namespace
}  // namespace tillstream
