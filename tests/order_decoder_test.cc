#include "connectors/order_decoder.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

constexpr char kValid[] =
    R"({"order_id":"o-1","ts":1704067200000,"store_id":"s-1","region":"EU","customer_id":"c-9",)"
    R"("channel":"web","currency":"EUR","status":"completed","lines":[)"
    R"({"sku":"A","category":"toys","qty":2,"unit_price":"3.49","unit_cost":"1.20"},)"
    R"({"sku":"B","qty":1,"unit_price":10}]})";

class OrderDecoderTest : public ::testing::Test {
 protected:
  // The dead-letter reason for `payload`, or "ok".
  std::string Reason(absl::string_view payload) {
    absl::Status status = decoder_.Decode(payload, &event_);
    return status.ok() ? "ok" : std::string(status.message());
  }
  // kValid with `from` replaced by `to`.
  std::string ReasonFor(absl::string_view from, absl::string_view to) {
    std::string payload = absl::StrReplaceAll(kValid, {{from, to}});
    EXPECT_NE(payload, kValid) << "replacement did not apply: " << from;
    return Reason(payload);
  }

  OrderDecoder decoder_{OrderDecoderOptions{"USD"}};
  OrderEvent event_;
};

TEST_F(OrderDecoderTest, DecodesEveryField) {
  ASSERT_EQ(Reason(kValid), "ok");
  EXPECT_EQ(event_.order_id, "o-1");
  EXPECT_EQ(event_.ts.millis(), 1704067200000);
  EXPECT_EQ(event_.store_id, "s-1");
  EXPECT_EQ(event_.region, "EU");
  EXPECT_EQ(event_.customer_id, "c-9");
  EXPECT_EQ(event_.channel, "web");
  EXPECT_EQ(event_.currency, "EUR");
  EXPECT_EQ(event_.status, OrderStatus::kCompleted);
  ASSERT_EQ(event_.lines.size(), 2u);
  EXPECT_EQ(event_.lines[0].sku, "A");
  EXPECT_EQ(event_.lines[0].category, "toys");
  EXPECT_EQ(event_.lines[0].qty, 2);
  EXPECT_EQ(event_.lines[0].unit_price_cents, 349);
  EXPECT_TRUE(event_.lines[0].has_cost);
  EXPECT_EQ(event_.lines[0].unit_cost_cents, 120);
  EXPECT_EQ(event_.lines[1].unit_price_cents,
            1000);  // a JSON number, read exactly
  EXPECT_FALSE(event_.lines[1].has_cost);
  EXPECT_EQ(event_.amount_cents, 2 * 349 + 1000);
  EXPECT_EQ(event_.units, 3);
  EXPECT_EQ(event_.costed_amount_cents, 698);
  EXPECT_EQ(event_.margin_cents, 2 * (349 - 120));
  EXPECT_EQ(event_.payload, kValid);
}

TEST_F(OrderDecoderTest, AppliesDefaults) {
  ASSERT_EQ(
      Reason(
          R"({"order_id":"o","ts":1,"store_id":"s","lines":[{"sku":"A","qty":1,)"
          R"("unit_price":"1.00"}]})"),
      "ok");
  EXPECT_EQ(event_.region, "unknown");
  EXPECT_EQ(event_.channel, "pos");
  EXPECT_EQ(event_.currency, "USD");
  EXPECT_EQ(event_.status, OrderStatus::kCompleted);
  EXPECT_TRUE(event_.customer_id.empty());
}

TEST_F(OrderDecoderTest, AnonymousCustomers) {
  EXPECT_EQ(ReasonFor(R"("customer_id":"c-9")", R"("customer_id":null)"), "ok");
  EXPECT_TRUE(event_.customer_id.empty());
  EXPECT_EQ(ReasonFor(R"("customer_id":"c-9")", R"("customer_id":"")"), "ok");
  EXPECT_TRUE(event_.customer_id.empty());
  EXPECT_EQ(ReasonFor(R"("customer_id":"c-9")", R"("customer_id":7)"),
            "customer_id must be a string or null");
}

TEST_F(OrderDecoderTest, TimestampAsRfc3339) {
  EXPECT_EQ(ReasonFor("1704067200000", R"("2024-01-01T01:00:00.250+01:00")"),
            "ok");
  EXPECT_EQ(event_.ts.millis(), 1704067200250);
  EXPECT_EQ(ReasonFor("1704067200000", R"("yesterday")"),
            "ts \"yesterday\" is not RFC 3339: expected YYYY-MM-DD");
  EXPECT_EQ(ReasonFor("1704067200000", "1704067200000.5"),
            "ts must be integer epoch milliseconds or an RFC 3339 string");
  EXPECT_EQ(ReasonFor("1704067200000", "true"),
            "ts must be integer epoch milliseconds or an RFC 3339 string");
}

TEST_F(OrderDecoderTest, StatusValues) {
  EXPECT_EQ(ReasonFor("completed", "refunded"), "ok");
  EXPECT_EQ(event_.status, OrderStatus::kRefunded);
  EXPECT_EQ(ReasonFor("completed", "cancelled"), "ok");
  EXPECT_EQ(event_.status, OrderStatus::kCancelled);
  EXPECT_EQ(ReasonFor("completed", "shipped"),
            "status \"shipped\" is not one of completed, refunded, cancelled");
}

TEST_F(OrderDecoderTest, MissingRequiredFields) {
  EXPECT_EQ(ReasonFor(R"("order_id":"o-1",)", ""), "missing field order_id");
  EXPECT_EQ(ReasonFor(R"("ts":1704067200000,)", ""), "missing field ts");
  EXPECT_EQ(ReasonFor(R"("store_id":"s-1",)", ""), "missing field store_id");
  EXPECT_EQ(Reason(R"({"order_id":"o","ts":1,"store_id":"s"})"),
            "missing field lines");
  EXPECT_EQ(ReasonFor(R"("sku":"B",)", ""), "missing field lines[1].sku");
  EXPECT_EQ(ReasonFor(R"("qty":2,)", ""), "missing field lines[0].qty");
  EXPECT_EQ(ReasonFor(R"(,"unit_price":10)", ""),
            "missing field lines[1].unit_price");
}

TEST_F(OrderDecoderTest, FieldRules) {
  EXPECT_EQ(ReasonFor(R"("order_id":"o-1")", R"("order_id":"")"),
            "order_id must not be empty");
  EXPECT_EQ(ReasonFor(R"("store_id":"s-1")", R"("store_id":17)"),
            "store_id must be a string");
  EXPECT_EQ(ReasonFor(R"("lines":[)", R"("lines":{"x":[)"),
            "lines must be an array");
  EXPECT_EQ(Reason(R"({"order_id":"o","ts":1,"store_id":"s","lines":[]})"),
            "lines must have at least one line");
  EXPECT_EQ(ReasonFor(R"("qty":2)", R"("qty":0)"),
            "lines[0].qty must be > 0, got 0");
  EXPECT_EQ(ReasonFor(R"("qty":2)", R"("qty":-2)"),
            "lines[0].qty must be > 0, got -2");
  EXPECT_EQ(ReasonFor(R"("qty":2)", R"("qty":1.5)"),
            "lines[0].qty must be an integer");
  EXPECT_EQ(ReasonFor(R"("qty":2)", R"("qty":"2")"),
            "lines[0].qty must be an integer");
  EXPECT_EQ(ReasonFor(R"("unit_price":"3.49")", R"("unit_price":"3,49")"),
            "lines[0].unit_price \"3,49\" is not a decimal");
  EXPECT_EQ(ReasonFor(R"("unit_price":10)", R"("unit_price":10.001)"),
            "lines[1].unit_price \"10.001\" is not a decimal with at most 2 "
            "fraction digits");
  EXPECT_EQ(ReasonFor(R"("unit_price":10)", R"("unit_price":-1)"),
            "lines[1].unit_price must be >= 0, got -1");
  EXPECT_EQ(ReasonFor(R"("unit_price":10)", R"("unit_price":null)"),
            "lines[1].unit_price must be a decimal string or number");
  EXPECT_EQ(ReasonFor(R"("unit_cost":"1.20")", R"("unit_cost":"cheap")"),
            "lines[0].unit_cost \"cheap\" is not a decimal");
  EXPECT_EQ(ReasonFor(R"("lines":[)", R"("lines":[7,)"),
            "lines[0] must be an object");
  EXPECT_EQ(ReasonFor(R"("qty":2)", R"("qty":9223372036854775807)"),
            "lines[0] amount is out of range");
  EXPECT_EQ(ReasonFor(R"("store_id":"s-1",)",
                      R"("store_id":"s-1","store_id":"s-2",)"),
            "duplicate field store_id");
}

TEST_F(OrderDecoderTest, UnknownFieldsAreIgnored) {
  EXPECT_EQ(
      ReasonFor(R"("order_id":"o-1",)",
                R"("order_id":"o-1","loyalty":{"tier":[1,2,{"x":null}]},)"),
      "ok");
  EXPECT_EQ(ReasonFor(R"("sku":"A",)", R"("sku":"A","promo":"SUMMER",)"), "ok");
}

TEST_F(OrderDecoderTest, InvalidJson) {
  EXPECT_EQ(Reason(""), "empty record");
  EXPECT_EQ(Reason("order 17 total=3.10"),
            "invalid JSON: unexpected structure");
  EXPECT_EQ(Reason("null"), "record is not a JSON object");
  EXPECT_EQ(Reason("nonsense"), "invalid JSON: bad literal");
  EXPECT_EQ(Reason("[1,2]"), "record is not a JSON object");
  EXPECT_EQ(Reason(R"({"order_id":"o-1","ts":17)"),
            "invalid JSON at byte 25: truncated document");
  EXPECT_EQ(Reason(R"({"order_id":"o-1)"), "invalid JSON: unclosed string");
  EXPECT_EQ(Reason(absl::StrCat(kValid, "{}")),
            "invalid JSON: trailing content after the object");
  EXPECT_EQ(Reason("{\"order_id\":\"o-\xff\"}"), "invalid JSON: invalid UTF-8");
  EXPECT_EQ(
      Reason(
          R"({"order_id":"o-1","ts":1,"store_id":"s","lines":[{"sku":"A","qty":1,)"
          R"("unit_price":"1.00"}],"x":tru})"),
      "invalid JSON at byte 94: bad literal");
  EXPECT_EQ(ReasonFor(R"("sku":"A",)", R"("sku":"A","note":"\x",)"),
            "invalid JSON at byte 169: bad string escape");
}

TEST_F(OrderDecoderTest, ReusesItselfAcrossRecords) {
  ASSERT_EQ(Reason(kValid), "ok");
  ASSERT_NE(Reason(R"({"order_id":"o-2"})"), "ok");
  ASSERT_EQ(Reason(kValid), "ok");
  EXPECT_EQ(event_.lines.size(), 2u);
  EXPECT_EQ(event_.amount_cents, 1698);
}

}  // namespace
}  // namespace tillstream
