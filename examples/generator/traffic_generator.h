#ifndef TILLSTREAM_EXAMPLES_GENERATOR_TRAFFIC_GENERATOR_H_
#define TILLSTREAM_EXAMPLES_GENERATOR_TRAFFIC_GENERATOR_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/timestamp.h"

namespace tillstream {

// A sales drop injected for one store on one day: that day keeps only
// (1 - fraction) of the store's orders.
struct InjectedDrop {
  int store = 0;    // store index: s-000 is 0
  int64_t day = 0;  // days since the start
  double fraction = 0.5;
};
// Parses "STORE:DAY:FRACTION", e.g. "s-003:30:0.6" or "3:30:0.6".
absl::StatusOr<InjectedDrop> ParseInjectedDrop(absl::string_view text);

struct TrafficOptions {
  uint64_t seed = 42;
  int64_t orders = 10'000;  // valid order events to produce
  int stores = 8;           // stores of different sizes (s-000 the largest)
  int days = 28;            // event-time span the orders are spread over
  Timestamp start =
      Timestamp::FromMillis(1'704'067'200'000);  // 2024-01-01T00:00Z
  int skus = 400;                                // Zipf-like popularity
  int customers = 20'000;     // returning customers, Zipf-like loyalty
  double refund_rate = 0.05;  // refunds of recent orders
  double cancel_rate = 0.01;
  double late_rate = 0.01;        // events whose ts is behind the stream
  int64_t max_late_ms = 600'000;  // ... by up to this (uniform from 1 s)
  double bad_rate = 0.0;          // malformed records, on top of `orders`
  std::vector<InjectedDrop> drops;
};

// Seeded, realistic POS traffic: one JSON order per line, in stream order.
// The same options give the same bytes on every machine (own PRNG, no
// std:: distributions). Hour-of-day and weekday seasonality, stores of
// different sizes, 20% anonymous customers, refunds that reverse a recent
// order's lines, a few late events, optional drops and malformed records.
class TrafficGenerator {
 public:
  explicit TrafficGenerator(TrafficOptions options);

  // Writes the next record (no newline) and its Kafka key (the store id).
  // False once `orders` valid orders have been produced.
  bool Next(std::string* record, std::string* key);

  int64_t valid_produced() const { return valid_; }
  int64_t bad_produced() const { return bad_; }

 private:
  struct Sku {
    std::string id;
    std::string category;
    int64_t price_cents;
    int64_t cost_cents;
  };
  struct RecentOrder {
    int store;
    std::string customer;
    std::string lines_json;
  };

  uint64_t NextU64();
  double Uniform();                            // [0, 1)
  int64_t UniformInt(int64_t lo, int64_t hi);  // [lo, hi]
  size_t Pick(const std::vector<double>& cdf);
  double RateWeight(int64_t ts_ms) const;
  void AdvanceTime();
  void WriteBad(std::string* record);

  TrafficOptions options_;
  uint64_t state_[4];
  std::vector<Sku> skus_;
  std::vector<double> sku_cdf_, store_cdf_, customer_cdf_;
  std::vector<std::string> store_regions_;
  std::deque<RecentOrder> recent_;
  double max_weight_ = 1.0;
  double candidate_rate_per_ms_ = 0.0;
  double now_ms_ = 0.0;
  int64_t valid_ = 0;
  int64_t bad_ = 0;
  int64_t next_order_number_ = 1;
};

}  // namespace tillstream

#endif  // TILLSTREAM_EXAMPLES_GENERATOR_TRAFFIC_GENERATOR_H_
