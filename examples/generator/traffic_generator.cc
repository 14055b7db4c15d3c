#include "examples/generator/traffic_generator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/money.h"
#include "engine/time_format.h"

namespace tillstream {
namespace {

constexpr int64_t kMillisPerHour = 3'600'000;
constexpr int64_t kMillisPerDay = 24 * kMillisPerHour;
constexpr const char* kRegions[] = {"EU-West",  "US-East", "US-West",
                                    "EU-North", "APAC",    "LATAM"};
constexpr const char* kCategories[] = {
    "grocery",     "beverages", "household", "personal_care",
    "electronics", "toys",      "apparel",   "home"};
// Relative traffic per hour of day (stores shut at night) and per weekday
// (Monday first; weekends busier).
constexpr double kHourWeight[24] = {
    0.02, 0.01, 0.01, 0.01, 0.02, 0.05, 0.2, 0.5, 0.8, 1.0, 1.1, 1.3,
    1.5,  1.3,  1.1,  1.0,  1.2,  1.5,  1.6, 1.3, 0.9, 0.5, 0.2, 0.06};
constexpr double kWeekdayWeight[7] = {0.9, 0.85, 0.9, 0.95, 1.15, 1.35, 1.0};

uint64_t SplitMix64(uint64_t* x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::vector<double> ZipfCdf(int n, double exponent) {
  std::vector<double> cdf(n);
  double total = 0;
  for (int i = 0; i < n; ++i) {
    total += 1.0 / std::pow(i + 1, exponent);
    cdf[i] = total;
  }
  for (double& c : cdf) c /= total;
  return cdf;
}

}  // namespace

absl::StatusOr<InjectedDrop> ParseInjectedDrop(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  InjectedDrop drop;
  absl::string_view store = parts.size() == 3 ? parts[0] : "";
  if (store.substr(0, 2) == "s-") store.remove_prefix(2);
  if (parts.size() != 3 || !absl::SimpleAtoi(store, &drop.store) ||
      !absl::SimpleAtoi(parts[1], &drop.day) ||
      !absl::SimpleAtod(parts[2], &drop.fraction) || drop.fraction < 0 ||
      drop.fraction > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad --drop \"", text,
                     "\": expected STORE:DAY:FRACTION, e.g. s-003:30:0.6"));
  }
  return drop;
}

TrafficGenerator::TrafficGenerator(TrafficOptions options)
    : options_(std::move(options)) {
  uint64_t seed = options_.seed;
  for (uint64_t& s : state_) s = SplitMix64(&seed);
  options_.stores = std::max(1, options_.stores);
  options_.skus = std::max(1, options_.skus);
  options_.customers = std::max(1, options_.customers);
  options_.days = std::max(1, options_.days);

  for (int i = 0; i < options_.skus; ++i) {
    // Prices spread log-uniformly from 0.50 to 150.00; cost 40-80% of price.
    int64_t price = static_cast<int64_t>(50 * std::pow(300.0, Uniform()));
    int64_t cost = static_cast<int64_t>(price * (0.4 + 0.4 * Uniform()));
    skus_.push_back({absl::StrFormat("SKU-%04d", i),
                     kCategories[UniformInt(0, std::size(kCategories) - 1)],
                     price, cost});
  }
  sku_cdf_ = ZipfCdf(options_.skus, 1.1);
  customer_cdf_ = ZipfCdf(options_.customers, 0.6);
  // Store sizes fall off like 1/(1 + 0.35 i): the largest about 3x the 8th.
  double total = 0;
  for (int i = 0; i < options_.stores; ++i) {
    total += 1.0 / (1.0 + 0.35 * i);
    store_cdf_.push_back(total);
    store_regions_.push_back(kRegions[i % std::size(kRegions)]);
  }
  for (double& c : store_cdf_) c /= total;

  double mean_weight = 0;
  max_weight_ = 0;
  for (double h : kHourWeight) {
    for (double d : kWeekdayWeight) {
      mean_weight += h * d / (24 * 7);
      max_weight_ = std::max(max_weight_, h * d);
    }
  }
  // Thinning: candidates at the peak rate, each kept with weight(t) / peak.
  double orders_per_ms = static_cast<double>(options_.orders) /
                         (options_.days * static_cast<double>(kMillisPerDay));
  candidate_rate_per_ms_ = orders_per_ms / mean_weight * max_weight_;
  now_ms_ = static_cast<double>(options_.start.millis());
}

uint64_t TrafficGenerator::NextU64() {  // xoshiro256**
  const uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = std::rotl(state_[3], 45);
  return result;
}

double TrafficGenerator::Uniform() { return (NextU64() >> 11) * 0x1.0p-53; }

int64_t TrafficGenerator::UniformInt(int64_t lo, int64_t hi) {
  return lo +
         static_cast<int64_t>(NextU64() % static_cast<uint64_t>(hi - lo + 1));
}

size_t TrafficGenerator::Pick(const std::vector<double>& cdf) {
  size_t i = std::upper_bound(cdf.begin(), cdf.end(), Uniform()) - cdf.begin();
  return std::min(i, cdf.size() - 1);
}

double TrafficGenerator::RateWeight(int64_t ts_ms) const {
  int64_t days =
      ts_ms >= 0 ? ts_ms / kMillisPerDay : (ts_ms + 1) / kMillisPerDay - 1;
  int hour = static_cast<int>((ts_ms - days * kMillisPerDay) / kMillisPerHour);
  int weekday =
      static_cast<int>(((days + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  return kHourWeight[hour] * kWeekdayWeight[weekday];
}

void TrafficGenerator::AdvanceTime() {
  while (true) {
    now_ms_ += -std::log(1.0 - Uniform()) / candidate_rate_per_ms_;
    if (Uniform() * max_weight_ < RateWeight(static_cast<int64_t>(now_ms_)))
      return;
  }
}

bool TrafficGenerator::Next(std::string* record, std::string* key) {
  record->clear();
  if (valid_ >= options_.orders) return false;
  if (options_.bad_rate > 0 && Uniform() < options_.bad_rate) {
    WriteBad(record);
    key->assign("s-bad");
    ++bad_;
    return true;
  }
  int store;
  int64_t ts;
  while (true) {
    AdvanceTime();
    ts = static_cast<int64_t>(now_ms_);
    store = static_cast<int>(Pick(store_cdf_));
    int64_t day = (ts - options_.start.millis()) / kMillisPerDay;
    bool dropped = false;
    for (const InjectedDrop& drop : options_.drops) {
      if (drop.store == store && drop.day == day && Uniform() < drop.fraction)
        dropped = true;
    }
    if (!dropped) break;
  }
  if (options_.late_rate > 0 && Uniform() < options_.late_rate) {
    ts -= UniformInt(1'000, std::max<int64_t>(1'000, options_.max_late_ms));
  }

  std::string customer;
  std::string lines;
  const char* status = "completed";
  double roll = Uniform();
  if (roll < options_.refund_rate && !recent_.empty()) {
    // A refund reverses an earlier order of the same store, if there is one.
    const RecentOrder& original = recent_[UniformInt(0, recent_.size() - 1)];
    store = original.store;
    customer = original.customer;
    lines = original.lines_json;
    status = "refunded";
  } else {
    if (roll < options_.refund_rate + options_.cancel_rate)
      status = "cancelled";
    if (Uniform() >= 0.2) {
      customer = absl::StrFormat("c-%06d", Pick(customer_cdf_));
    }
    int line_count = 1;
    while (line_count < 8 && Uniform() < 0.55) ++line_count;
    lines.assign(1, '[');
    for (int i = 0; i < line_count; ++i) {
      const Sku& sku = skus_[Pick(sku_cdf_)];
      int64_t qty = Uniform() < 0.7 ? 1 : UniformInt(2, 5);
      absl::StrAppend(&lines, i > 0 ? "," : "", "{\"sku\":\"", sku.id,
                      "\",\"category\":\"", sku.category, "\",\"qty\":", qty,
                      ",\"unit_price\":\"", FormatCents(sku.price_cents), "\"");
      // 3% of lines carry no cost, as some POS systems do not know it.
      if (Uniform() >= 0.03) {
        absl::StrAppend(&lines, ",\"unit_cost\":\"",
                        FormatCents(sku.cost_cents), "\"");
      }
      lines.push_back('}');
    }
    lines.push_back(']');
    if (absl::string_view(status) == "completed") {
      recent_.push_back({store, customer, lines});
      if (recent_.size() > 512) recent_.pop_front();
    }
  }

  key->assign(absl::StrFormat("s-%03d", store));
  absl::StrAppend(record, "{\"order_id\":\"",
                  absl::StrFormat("o-%09d", next_order_number_++),
                  "\",\"ts\":");
  // One event in twenty names its time as RFC 3339, as some POS systems do.
  if (Uniform() < 0.05) {
    absl::StrAppend(record, "\"", FormatRfc3339(Timestamp::FromMillis(ts)),
                    "\"");
  } else {
    absl::StrAppend(record, ts);
  }
  absl::StrAppend(record, ",\"store_id\":\"", *key, "\",\"region\":\"",
                  store_regions_[store], "\",\"customer_id\":",
                  customer.empty() ? "null" : "\"" + customer + "\"",
                  ",\"channel\":\"", Uniform() < 0.85 ? "pos" : "kiosk",
                  "\",\"currency\":\"USD\",\"status\":\"", status,
                  "\",\"lines\":", lines, "}");
  ++valid_;
  return true;
}

void TrafficGenerator::WriteBad(std::string* record) {
  int64_t ts = static_cast<int64_t>(now_ms_);
  std::string order_id = absl::StrFormat("o-bad-%06d", bad_);
  switch (UniformInt(0, 5)) {
    case 0:  // truncated in flight
      absl::StrAppend(
          record, "{\"order_id\":\"", order_id, "\",\"ts\":", ts,
          ",\"store_id\":\"s-000\",\"lines\":[{\"sku\":\"SKU-0001\",\"qty\":");
      break;
    case 1:  // a required field missing
      absl::StrAppend(record, "{\"order_id\":\"", order_id, "\",\"ts\":", ts,
                      ",\"lines\":[{\"sku\":\"SKU-0001\",\"qty\":1,\"unit_"
                      "price\":\"2.50\"}]}");
      break;
    case 2:  // negative quantity
      absl::StrAppend(
          record, "{\"order_id\":\"", order_id, "\",\"ts\":", ts,
          ",\"store_id\":\"s-000\",\"lines\":[{\"sku\":\"SKU-0001\",\"qty\":-2,"
          "\"unit_price\":\"2.50\"}]}");
      break;
    case 3:  // a locale-formatted price
      absl::StrAppend(
          record, "{\"order_id\":\"", order_id, "\",\"ts\":", ts,
          ",\"store_id\":\"s-000\",\"lines\":[{\"sku\":\"SKU-0001\",\"qty\":1,"
          "\"unit_price\":\"3,49\"}]}");
      break;
    case 4:  // no lines at all
      absl::StrAppend(record, "{\"order_id\":\"", order_id, "\",\"ts\":", ts,
                      ",\"store_id\":\"s-000\",\"lines\":[]}");
      break;
    default:  // not JSON
      absl::StrAppend(record, "order ", order_id, " store=s-000 total=12.50");
  }
}

}  // namespace tillstream
