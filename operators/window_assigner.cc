#include "operators/window_assigner.h"

#include <limits>

#include "absl/time/civil_time.h"

namespace tillstream {
namespace {

constexpr int64_t kDay = 86'400'000;

absl::Time ToTime(int64_t ms) { return absl::FromUnixMillis(ms); }
int64_t ToMillis(absl::Time t) { return absl::ToUnixMillis(t); }

}  // namespace

WindowAssigner::WindowAssigner(const KpiRuleConfig& rule)
    : type_(rule.window_type),
      size_(rule.window_size_ms),
      slide_(rule.window_type == WindowType::kHopping ? rule.window_slide_ms
                                                      : rule.window_size_ms),
      zoned_(!rule.timezone.empty()),
      whole_days_(!rule.timezone.empty() && rule.window_size_ms == kDay) {
  // The configuration checked the zone at load; UTC is the fallback.
  if (zoned_ && !absl::LoadTimeZone(rule.timezone, &zone_))
    zone_ = absl::UTCTimeZone();
}

int64_t WindowAssigner::TumblingStart(int64_t ts) const {
  if (!zoned_) return FloorTo(ts, size_);
  if (whole_days_) {
    return ToMillis(
        absl::FromCivil(absl::ToCivilDay(ToTime(ts), zone_), zone_));
  }
  // A part of a local day: floor in local time, with the offset in force at
  // `ts`, so each real hour stays its own window when the clocks go back.
  const int64_t local = ts + zone_.At(ToTime(ts)).offset * int64_t{1000};
  return ts - (local - FloorTo(local, size_));
}

int64_t WindowAssigner::End(int64_t start) const {
  if (!whole_days_) return start + size_;
  const absl::CivilDay day = absl::ToCivilDay(ToTime(start), zone_);
  return ToMillis(absl::FromCivil(day + 1, zone_));
}

int64_t WindowAssigner::FirstOpenStart(Timestamp watermark) const {
  if (watermark.is_max()) return std::numeric_limits<int64_t>::max();
  if (watermark.is_min()) return std::numeric_limits<int64_t>::min();
  const int64_t w = watermark.millis();
  if (type_ == WindowType::kHopping) return FloorTo(w - size_, slide_) + slide_;
  // The window containing w ends after w; every earlier one ended by its start.
  const int64_t containing = TumblingStart(w);
  return End(containing) > w ? containing : End(containing);
}

int64_t WindowAssigner::PeriodIndex(int64_t start) const {
  if (whole_days_) {
    return absl::ToCivilDay(ToTime(start), zone_) - absl::CivilDay(1970, 1, 1);
  }
  // Every other tumbling window starts in its own UTC interval of `size`
  // (a zone's local alignment only shifts starts within it).
  return FloorTo(start, size_) / size_;
}

int64_t WindowAssigner::PeriodStart(int64_t index) const {
  if (whole_days_) {
    return ToMillis(absl::FromCivil(absl::CivilDay(1970, 1, 1) + index, zone_));
  }
  if (!zoned_) return index * size_;
  // The local window that starts within [index*size, (index+1)*size).
  return TumblingStart(index * size_ + size_ - 1);
}

}  // namespace tillstream
