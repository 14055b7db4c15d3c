#include "connectors/order_decoder.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
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

  OrderDecoder decoder_{OrderDecoderOptions{}};
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
  EXPECT_EQ(event_.totals.amount_cents, 2 * 349 + 1000);
  EXPECT_EQ(event_.totals.units, 3);
  EXPECT_EQ(event_.totals.costed_amount_cents, 698);
  EXPECT_EQ(event_.totals.margin_cents, 2 * (349 - 120));
  EXPECT_EQ(event_.payload, kValid);
}

TEST_F(OrderDecoderTest, AppliesDefaults) {
  ASSERT_EQ(
      Reason(
          R"({"order_id":"o","ts":1704067200000,"store_id":"s","lines":[{"sku":"A","qty":1,)"
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
            "lines[0].qty 9223372036854775807 is over the limit of 1000000 "
            "(limits.max_qty)");
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

// Every limit, set small so that the test records stay readable.
class OrderDecoderLimitsTest : public OrderDecoderTest {
 protected:
  OrderDecoderLimitsTest() {
    InputLimits limits;
    limits.max_record_bytes = 300;
    limits.max_lines = 2;
    limits.max_depth = 4;
    limits.max_string_bytes = 8;
    limits.max_qty = 100;
    limits.max_unit_price_cents = 50'000;
    limits.min_ts_ms = 1'000'000'000'000;  // 2001-09-09T01:46:40Z
    limits.max_future_ms = 3'600'000;
    limited_ =
        std::make_unique<OrderDecoder>(OrderDecoderOptions{"USD", limits});
    limited_->SetWallClock(1'704'067'200'000);  // 2024-01-01T00:00:00Z
  }
  std::string Limited(absl::string_view payload) {
    absl::Status status = limited_->Decode(payload, &event_);
    return status.ok() ? "ok" : std::string(status.message());
  }
  static std::string Order(absl::string_view ts, absl::string_view store,
                           absl::string_view lines) {
    return absl::StrCat(R"({"order_id":"o","ts":)", ts, R"(,"store_id":")",
                        store, R"(","lines":)", lines, "}");
  }
  std::unique_ptr<OrderDecoder> limited_;
};

TEST_F(OrderDecoderLimitsTest, WithinEveryLimit) {
  EXPECT_EQ(
      Limited(Order(
          "1704067200000", "s-1",
          R"([{"sku":"A","qty":100,"unit_price":"500.00"},{"sku":"B","qty":1,)"
          R"("unit_price":"1"}])")),
      "ok");
}

TEST_F(OrderDecoderLimitsTest, EachLimitHasItsReason) {
  const std::string line = R"([{"sku":"A","qty":1,"unit_price":"1.00"}])";
  EXPECT_EQ(
      Limited(Order("1704067200000", std::string(400, 's'), line)),
      "record is 499 bytes, over the limit of 300 (limits.max_record_bytes)");
  EXPECT_EQ(
      Limited(Order("1704067200000", "store-1234", line)),
      "store_id is 10 bytes, over the limit of 8 (limits.max_string_bytes)");
  EXPECT_EQ(Limited(Order("1704067200000", "s",
                          R"([{"sku":"A","qty":1,"unit_price":"1"},)"
                          R"({"sku":"A","qty":1,"unit_price":"1"},)"
                          R"({"sku":"A","qty":1,"unit_price":"1"}])")),
            "order has more than 2 lines (limits.max_lines)");
  EXPECT_EQ(Limited(Order("1704067200000", "s",
                          R"([{"sku":"A","qty":101,"unit_price":"1"}])")),
            "lines[0].qty 101 is over the limit of 100 (limits.max_qty)");
  EXPECT_EQ(Limited(Order("1704067200000", "s",
                          R"([{"sku":"A","qty":1,"unit_price":"500.01"}])")),
            "lines[0].unit_price 500.01 is over the limit of 500.00 "
            "(limits.max_unit_price)");
  EXPECT_EQ(
      Limited(Order(
          "1704067200000", "s",
          R"([{"sku":"A","qty":1,"unit_price":"1","unit_cost":"999.00"}])")),
      "lines[0].unit_cost 999.00 is over the limit of 500.00 "
      "(limits.max_unit_price)");
  EXPECT_EQ(Limited(Order("999999999999", "s", line)),
            "ts 2001-09-09T01:46:39.999Z is before limits.min_ts "
            "2001-09-09T01:46:40Z");
  EXPECT_EQ(Limited(Order(R"("2024-01-01T01:00:00.001Z")", "s", line)),
            "ts 2024-01-01T01:00:00.001Z is further in the future than "
            "limits.max_future "
            "allows");
  EXPECT_EQ(Limited(Order("1704070800000", "s", line)),
            "ok");  // exactly the bound
  EXPECT_EQ(Limited(R"({"order_id":"o","x":{"a":{"b":{"c":{"d":1}}}}})"),
            "invalid JSON at byte 35: nested too deep (limits.max_depth)");
}

// With limits raised as far as they go, checked arithmetic still refuses an
// order whose amount does not fit in 64 bits.
TEST(OrderDecoderOverflowTest, AmountsThatDoNotFitAreRefused) {
  InputLimits limits;
  limits.max_qty = 1'000'000'000;
  limits.max_unit_price_cents = INT64_MAX;
  OrderDecoder decoder(OrderDecoderOptions{"USD", limits});
  OrderEvent event;
  auto reason = [&](absl::string_view lines) {
    absl::Status status = decoder.Decode(
        absl::StrCat(
            R"({"order_id":"o","ts":1704067200000,"store_id":"s","lines":)",
            lines, "}"),
        &event);
    return status.ok() ? std::string("ok") : std::string(status.message());
  };
  EXPECT_EQ(
      reason(
          R"([{"sku":"A","qty":1000000000,"unit_price":"92233720368547758.07"}])"),
      "lines[0] amount is out of range");
  EXPECT_EQ(
      reason(R"([{"sku":"A","qty":2,"unit_price":"40000000000000000.00"},)"
             R"({"sku":"B","qty":2,"unit_price":"40000000000000000.00"}])"),
      "order amount is out of range");
}

TEST_F(OrderDecoderTest, DefaultLimitsRefuseAbsurdValues) {
  EXPECT_EQ(
      ReasonFor("1704067200000", "0"),
      "ts 1970-01-01T00:00:00Z is before limits.min_ts 2000-01-01T00:00:00Z");
  EXPECT_EQ(
      ReasonFor(R"("qty":2)", R"("qty":1000001)"),
      "lines[0].qty 1000001 is over the limit of 1000000 (limits.max_qty)");
  std::string deep = absl::StrCat(R"({"x":)", std::string(100, '['),
                                  std::string(100, ']'), "}");
  EXPECT_EQ(Reason(deep),
            "invalid JSON at byte 20: nested too deep (limits.max_depth)");
}

TEST_F(OrderDecoderTest, ReusesItselfAcrossRecords) {
  ASSERT_EQ(Reason(kValid), "ok");
  ASSERT_NE(Reason(R"({"order_id":"o-2"})"), "ok");
  ASSERT_EQ(Reason(kValid), "ok");
  EXPECT_EQ(event_.lines.size(), 2u);
  EXPECT_EQ(event_.totals.amount_cents, 1698);
}

// Whether `view` lies in `payload`.
bool Within(absl::string_view view, absl::string_view payload) {
  return view.data() >= payload.data() &&
         view.data() + view.size() <= payload.data() + payload.size();
}

TEST_F(OrderDecoderTest, DecodesInPlaceWithoutCopyingPlainStrings) {
  const std::string payload = absl::StrReplaceAll(
      kValid, {{R"("region":"EU")", R"("region":"north\tside")"},
               {R"("order_id")", R"("order\u005fid")"}});
  ASSERT_TRUE(decoder_.DecodeInPlace(payload, &event_).ok());
  EXPECT_EQ(event_.order_id, "o-1");  // an escaped key is still a key
  EXPECT_TRUE(Within(event_.order_id, payload));
  EXPECT_TRUE(Within(event_.store_id, payload));
  EXPECT_TRUE(Within(event_.lines[0].sku, payload));
  EXPECT_EQ(event_.region, "north\tside");  // unescaped: not in the payload
  EXPECT_FALSE(Within(event_.region, payload));
  EXPECT_EQ(event_.totals.amount_cents, 1698);
  // Views are taken only of valid strings.
  for (absl::string_view bad : {"o-\x01", "o-\xff"}) {
    const std::string invalid = absl::StrReplaceAll(kValid, {{"o-1", bad}});
    EXPECT_FALSE(decoder_.DecodeInPlace(invalid, &event_).ok());
  }
  // Decode parses a copy.
  ASSERT_TRUE(decoder_.Decode(payload, &event_).ok());
  EXPECT_EQ(event_.order_id, "o-1");
  EXPECT_FALSE(Within(event_.order_id, payload));
}

// A record that ends at every distance from an unreadable page: decoding in
// place reads no further than the page it ends on (a read past it would
// crash the test), and parses in place wherever the padding fits there.
TEST_F(OrderDecoderTest, DecodesInPlaceNoFurtherThanItsPage) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* mapping = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mapping, MAP_FAILED);
  char* first = static_cast<char*>(mapping);
  ASSERT_EQ(mprotect(first + page, page, PROT_NONE), 0);
  const size_t size = std::strlen(kValid);
  int in_place = 0;
  for (size_t gap = 0; gap <= 2 * simdjson::SIMDJSON_PADDING; ++gap) {
    char* at = first + page - gap - size;
    std::memcpy(at, kValid, size);
    const absl::string_view payload(at, size);
    ASSERT_TRUE(decoder_.DecodeInPlace(payload, &event_).ok()) << gap;
    EXPECT_EQ(event_.store_id, "s-1") << gap;
    EXPECT_EQ(event_.totals.amount_cents, 1698) << gap;
    if (Within(event_.order_id, payload)) ++in_place;
  }
  // Wherever the 64 bytes of padding fit on the page (with 4 KiB pages).
  if (page == 4096) {
    EXPECT_EQ(in_place, static_cast<int>(simdjson::SIMDJSON_PADDING) + 1);
  }
  munmap(mapping, 2 * page);
}

}  // namespace
}  // namespace tillstream
