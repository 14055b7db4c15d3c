#ifndef TILLSTREAM_OPERATORS_KPI_ACCUMULATOR_H_
#define TILLSTREAM_OPERATORS_KPI_ACCUMULATOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/money.h"
#include "engine/order_event.h"
#include "operators/hyperloglog.h"
#include "operators/string_interner.h"
#include "state/state_codec.h"

namespace tillstream {

// The customer of an order, resolved once per event by the runtime.
struct CustomerRef {
  static constexpr uint32_t kAnonymous = UINT32_MAX;
  uint32_t id =
      kAnonymous;  // interned customer_id; kAnonymous, or not a completed order
  uint64_t hash = 0;  // HyperLogLog::Hash of the customer_id
  bool first_order =
      false;  // the engine's first completed order of this customer
};

// Whether `event` counts a customer: completed, and not anonymous.
inline bool CountsCustomer(const OrderEvent& event) {
  return !event.customer_id.empty() && event.status == OrderStatus::kCompleted;
}

// The customer of `event`: interned in `known` (every customer the engine
// has seen), so `first_order` is true exactly once per customer. Anonymous
// customers and orders that are not completed resolve to kAnonymous.
// `hash` is only computed when `with_hash` (a rule counts approximately).
inline CustomerRef ResolveCustomer(const OrderEvent& event,
                                   StringInterner* known,
                                   bool with_hash = false) {
  CustomerRef customer;
  if (CountsCustomer(event)) {
    customer.id = known->Intern(event.customer_id, &customer.first_order);
    if (with_hash) customer.hash = HyperLogLog::Hash(event.customer_id);
  }
  return customer;
}

// The KPIs of one group in one window (DESIGN.md "KPI semantics"), exact in
// integer cents. A completed event counts +1, a refunded one -1, a cancelled
// one only in cancelled_orders.
struct KpiAccumulator {
  // Money and unit sums are 128-bit: adding checked 64-bit event amounts
  // cannot overflow them.
  CentsSum revenue_cents = 0;          // sign x qty x unit_price
  CentsSum completed_gross_cents = 0;  // qty x unit_price of completed events
  CentsSum costed_revenue_cents = 0;   // revenue of lines with a known cost
  CentsSum margin_cents = 0;  // sign x qty x (price - cost), known costs
  CentsSum units = 0;         // sign x qty
  int64_t orders = 0;         // completed events
  int64_t refunded_orders = 0;
  int64_t cancelled_orders = 0;
  absl::flat_hash_set<uint32_t>
      customers;  // interned non-anonymous ids, completed events
  std::unique_ptr<HyperLogLog>
      customer_sketch;  // instead, for approx_distinct rules
  int64_t new_customers =
      0;  // completed orders that were a customer's first ever

  // Revenue and units of one SKU in the window, for top_skus.
  struct SkuTotals {
    CentsSum revenue = 0;
    CentsSum units = 0;
  };
  // Per SKU (interned id); allocated only for rules with top_skus.
  std::unique_ptr<absl::flat_hash_map<uint32_t, SkuTotals>> skus;

  // Adds one order (or, for a line-level rule, the lines of one order that
  // fall into this group): `totals` are before the status sign. `approx`
  // counts customers in the sketch rather than the exact set.
  void Add(OrderStatus status, const CustomerRef& customer, bool approx,
           const OrderTotals& totals) {
    switch (status) {
      case OrderStatus::kCancelled:
        ++cancelled_orders;
        return;
      case OrderStatus::kCompleted:
        ++orders;
        completed_gross_cents += totals.amount_cents;
        if (customer.id != CustomerRef::kAnonymous) {
          if (approx) {
            if (!customer_sketch)
              customer_sketch = std::make_unique<HyperLogLog>();
            customer_sketch->AddHash(customer.hash);
          } else {
            customers.insert(customer.id);
          }
          if (customer.first_order) ++new_customers;
        }
        revenue_cents += totals.amount_cents;
        costed_revenue_cents += totals.costed_amount_cents;
        margin_cents += totals.margin_cents;
        units += totals.units;
        return;
      case OrderStatus::kRefunded:
        ++refunded_orders;
        revenue_cents -= totals.amount_cents;
        costed_revenue_cents -= totals.costed_amount_cents;
        margin_cents -= totals.margin_cents;
        units -= totals.units;
        return;
    }
  }
  // For top_skus: one line's signed revenue and units under its SKU.
  void AddSku(uint32_t sku, int sign, const OrderLine& line) {
    if (!skus)
      skus = std::make_unique<absl::flat_hash_map<uint32_t, SkuTotals>>();
    SkuTotals& t = (*skus)[sku];
    t.revenue += static_cast<CentsSum>(sign) * line.qty * line.unit_price_cents;
    t.units += static_cast<CentsSum>(sign) * line.qty;
  }

  // Adds everything `other` counted (session windows merging). A customer
  // in both counts once; new_customers adds, since each is new once only.
  void Merge(KpiAccumulator&& other);

  // Checkpoints: every field, in a fixed order. Decode into a fresh
  // accumulator; false when the bytes are malformed.
  void Encode(StateEncoder* out) const;
  bool Decode(StateDecoder* in);

  // Appends the KPI fields as JSON members, each preceded by a comma:
  // ,"revenue":"12.30","orders":2,...
  void AppendJsonFields(std::string* out) const;
  // ,"top_skus":[{"sku":..,"revenue":..,"units":..},..]: the `n` SKUs with
  // the most revenue, ties broken by SKU name ascending.
  void AppendTopSkus(int64_t n, const StringInterner& names,
                     std::string* out) const;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_KPI_ACCUMULATOR_H_
