#ifndef TILLSTREAM_OPERATORS_KPI_ACCUMULATOR_H_
#define TILLSTREAM_OPERATORS_KPI_ACCUMULATOR_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "engine/money.h"
#include "engine/order_event.h"

namespace tillstream {

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

  // `customer` is the interned customer id, or kAnonymous.
  static constexpr uint32_t kAnonymous = UINT32_MAX;
  void Add(const OrderEvent& event, uint32_t customer) {
    switch (event.status) {
      case OrderStatus::kCancelled:
        ++cancelled_orders;
        return;
      case OrderStatus::kCompleted:
        ++orders;
        completed_gross_cents += event.amount_cents;
        if (customer != kAnonymous) customers.insert(customer);
        revenue_cents += event.amount_cents;
        costed_revenue_cents += event.costed_amount_cents;
        margin_cents += event.margin_cents;
        units += event.units;
        return;
      case OrderStatus::kRefunded:
        ++refunded_orders;
        revenue_cents -= event.amount_cents;
        costed_revenue_cents -= event.costed_amount_cents;
        margin_cents -= event.margin_cents;
        units -= event.units;
        return;
    }
  }

  // Appends the KPI fields as JSON members, each preceded by a comma:
  // ,"revenue":"12.30","orders":2,...
  void AppendJsonFields(std::string* out) const;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_KPI_ACCUMULATOR_H_
