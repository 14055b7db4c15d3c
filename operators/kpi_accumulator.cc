#include "operators/kpi_accumulator.h"

#include "absl/strings/str_cat.h"
#include "engine/money.h"

namespace tillstream {

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
  absl::StrAppend(out, ",\"distinct_customers\":", customers.size());
}

}  // namespace tillstream
