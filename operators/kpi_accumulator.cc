#include "operators/kpi_accumulator.h"

#include "absl/strings/str_cat.h"
#include "engine/money.h"

namespace tillstream {

void KpiAccumulator::AppendJsonFields(std::string* out) const {
  out->append(",\"revenue\":\"");
  AppendCents(revenue_cents, out);
  absl::StrAppend(out, "\",\"orders\":", orders,
                  ",\"refunded_orders\":", refunded_orders,
                  ",\"cancelled_orders\":", cancelled_orders,
                  ",\"units\":", units, ",\"margin\":\"");
  AppendCents(margin_cents, out);
  out->append("\",\"margin_pct\":");
  if (costed_revenue_cents == 0) {
    out->append("null");
  } else {
    // Percent with two decimals: basis points, rounded half away from zero.
    // 128-bit so that no real margin can overflow the scaling.
    __int128 scaled = static_cast<__int128>(margin_cents) * 10'000;
    __int128 q = scaled / costed_revenue_cents;
    __int128 r = scaled % costed_revenue_cents;
    __int128 abs_r = r < 0 ? -r : r;
    __int128 abs_d = costed_revenue_cents < 0
                         ? -static_cast<__int128>(costed_revenue_cents)
                         : costed_revenue_cents;
    if (2 * abs_r >= abs_d)
      q += (scaled < 0) != (costed_revenue_cents < 0) ? -1 : 1;
    out->push_back('"');
    AppendCents(static_cast<int64_t>(q), out);
    out->push_back('"');
  }
  out->append(",\"aov\":");
  if (orders == 0) {
    out->append("null");
  } else {
    out->push_back('"');
    // Gross completed revenue is never negative: half-up equals half away from
    // zero.
    AppendCents(DivideRoundHalfAwayFromZero(completed_gross_cents, orders),
                out);
    out->push_back('"');
  }
  absl::StrAppend(out, ",\"distinct_customers\":", customers.size());
}

}  // namespace tillstream
