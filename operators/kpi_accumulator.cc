#include "operators/kpi_accumulator.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/json_writer.h"
#include "engine/money.h"

namespace tillstream {

void KpiAccumulator::Merge(KpiAccumulator&& other) {
  revenue_cents += other.revenue_cents;
  completed_gross_cents += other.completed_gross_cents;
  costed_revenue_cents += other.costed_revenue_cents;
  margin_cents += other.margin_cents;
  units += other.units;
  orders += other.orders;
  refunded_orders += other.refunded_orders;
  cancelled_orders += other.cancelled_orders;
  new_customers += other.new_customers;
  customers.insert(other.customers.begin(), other.customers.end());
  if (other.customer_sketch) {
    if (customer_sketch) {
      customer_sketch->Merge(*other.customer_sketch);
    } else {
      customer_sketch = std::move(other.customer_sketch);
    }
  }
  if (other.skus) {
    if (!skus)
      skus = std::make_unique<absl::flat_hash_map<uint32_t, SkuTotals>>();
    for (const auto& [sku, totals] : *other.skus) {
      (*skus)[sku].revenue += totals.revenue;
      (*skus)[sku].units += totals.units;
    }
  }
}

void KpiAccumulator::Encode(StateEncoder* out) const {
  out->I128(revenue_cents);
  out->I128(completed_gross_cents);
  out->I128(costed_revenue_cents);
  out->I128(margin_cents);
  out->I128(units);
  out->I64(orders);
  out->I64(refunded_orders);
  out->I64(cancelled_orders);
  out->I64(new_customers);
  // Sorted: the same state always encodes to the same bytes.
  std::vector<uint32_t> ids(customers.begin(), customers.end());
  std::sort(ids.begin(), ids.end());
  out->U64(ids.size());
  uint32_t previous = 0;
  for (uint32_t id : ids) {
    out->U64(id - previous);  // deltas: small varints
    previous = id;
  }
  out->Bool(customer_sketch != nullptr);
  if (customer_sketch) {
    const auto& registers = customer_sketch->registers();
    out->Bytes(absl::string_view(
        reinterpret_cast<const char*>(registers.data()), registers.size()));
  }
  out->U64(skus ? skus->size() : 0);
  if (skus) {
    for (const auto& [sku, totals] : *skus) {
      out->U64(sku);
      out->I128(totals.revenue);
      out->I128(totals.units);
    }
  }
}

bool KpiAccumulator::Decode(StateDecoder* in) {
  revenue_cents = in->I128();
  completed_gross_cents = in->I128();
  costed_revenue_cents = in->I128();
  margin_cents = in->I128();
  units = in->I128();
  orders = in->I64();
  refunded_orders = in->I64();
  cancelled_orders = in->I64();
  new_customers = in->I64();
  const size_t customer_count = in->Count();
  customers.reserve(customer_count);
  uint32_t id = 0;
  for (size_t i = 0; i < customer_count; ++i) {
    id += static_cast<uint32_t>(in->U64());
    customers.insert(id);
  }
  if (in->Bool()) {
    const absl::string_view registers = in->Bytes();
    if (registers.size() != HyperLogLog::kRegisters) return false;
    customer_sketch = std::make_unique<HyperLogLog>();
    std::copy(registers.begin(), registers.end(),
              customer_sketch->mutable_registers().begin());
  }
  const size_t sku_count = in->Count();
  if (sku_count > 0) {
    skus = std::make_unique<absl::flat_hash_map<uint32_t, SkuTotals>>();
    for (size_t i = 0; i < sku_count; ++i) {
      const uint32_t sku = static_cast<uint32_t>(in->U64());
      SkuTotals& totals = (*skus)[sku];
      totals.revenue = in->I128();
      totals.units = in->I128();
    }
  }
  return in->ok();
}

void KpiAccumulator::AppendJsonFields(std::string* out) const {
  out->append(",\"revenue\":\"");
  AppendCents(revenue_cents, out);
  absl::StrAppend(out, "\",\"orders\":", orders,
                  ",\"refunded_orders\":", refunded_orders,
                  ",\"cancelled_orders\":", cancelled_orders, ",\"units\":");
  AppendWholeNumber(units, out);
  out->append(",\"margin\":\"");
  AppendCents(margin_cents, out);
  out->append("\",\"margin_pct\":");
  if (costed_revenue_cents == 0) {
    out->append("null");
  } else {
    // Percent with two decimals = basis points, rounded half away from zero.
    out->push_back('"');
    AppendCents(DivideRoundHalfAwayFromZero(margin_cents * 10'000,
                                            costed_revenue_cents),
                out);
    out->push_back('"');
  }
  out->append(",\"aov\":");
  if (orders == 0) {
    out->append("null");
  } else {
    // Gross completed revenue is never negative: half-up equals half away from
    // zero.
    out->push_back('"');
    AppendCents(DivideRoundHalfAwayFromZero(completed_gross_cents, orders),
                out);
    out->push_back('"');
  }
  // Exact, or the sketch's estimate (never below the new customers counted
  // exactly, so that returning_customers is never negative).
  const int64_t distinct =
      customer_sketch ? std::max(customer_sketch->Estimate(), new_customers)
                      : static_cast<int64_t>(customers.size());
  absl::StrAppend(out, ",\"distinct_customers\":", distinct,
                  ",\"new_customers\":", new_customers,
                  ",\"returning_customers\":", distinct - new_customers);
}

void KpiAccumulator::AppendTopSkus(int64_t n, const StringInterner& names,
                                   std::string* out) const {
  out->append(",\"top_skus\":[");
  if (skus) {
    std::vector<std::pair<uint32_t, SkuTotals>> ranked(skus->begin(),
                                                       skus->end());
    auto higher = [&names](const auto& a, const auto& b) {
      if (a.second.revenue != b.second.revenue)
        return a.second.revenue > b.second.revenue;
      return names.Lookup(a.first) < names.Lookup(b.first);
    };
    const size_t top = std::min(ranked.size(), static_cast<size_t>(n));
    std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end(),
                      higher);
    for (size_t i = 0; i < top; ++i) {
      out->append(i > 0 ? ",{\"sku\":" : "{\"sku\":");
      AppendJsonString(names.Lookup(ranked[i].first), out);
      out->append(",\"revenue\":\"");
      AppendCents(ranked[i].second.revenue, out);
      out->append("\",\"units\":");
      AppendWholeNumber(ranked[i].second.units, out);
      out->push_back('}');
    }
  }
  out->push_back(']');
}

}  // namespace tillstream
