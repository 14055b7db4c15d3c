#include "operators/robust_baseline.h"

#include <algorithm>
#include <cmath>

namespace tillstream {
namespace {

// The median of `values` (reordered in place; not empty); the mean of the
// middle two for an even count. A selection, not a sort: an early warning
// takes three medians per group and step.
double MedianInPlace(std::vector<double>& values) {
  const size_t n = values.size();
  const auto middle = values.begin() + static_cast<ptrdiff_t>(n / 2);
  std::nth_element(values.begin(), middle, values.end());
  if (n % 2 == 1) return *middle;
  // The other middle value is the largest of the lower half.
  return (*std::max_element(values.begin(), middle) + *middle) / 2.0;
}

}  // namespace

RobustEvidence RobustBaseline::Evaluate(std::span<const int64_t> baseline,
                                        int64_t observed, bool drop) {
  RobustEvidence evidence;
  evidence.observed = observed;
  evidence.n = static_cast<int64_t>(baseline.size());
  if (baseline.empty()) return evidence;
  values_.assign(baseline.begin(), baseline.end());
  evidence.median = MedianInPlace(values_);
  deviations_.clear();
  for (int64_t v : baseline)
    deviations_.push_back(std::abs(static_cast<double>(v) - evidence.median));
  evidence.mad = MedianInPlace(deviations_);
  const double x = static_cast<double>(observed);
  const double m = evidence.median;
  if (evidence.mad > 0) {
    evidence.has_score = true;
    evidence.score = (x - m) / (1.4826 * evidence.mad);
  }
  evidence.change = m > 0 ? (drop ? (m - x) / m : (x - m) / m) : 0;
  return evidence;
}

double RobustBaseline::Median(std::span<const int64_t> values) {
  if (values.empty()) return 0;
  values_.assign(values.begin(), values.end());
  return MedianInPlace(values_);
}

bool RobustBaseline::Anomalous(const RobustEvidence& e, bool drop,
                               double z_threshold, double min_change) {
  const double x = static_cast<double>(e.observed);
  const bool beyond_z =
      e.has_score ? (drop ? e.score < -z_threshold : e.score > z_threshold)
                  : (drop ? x < e.median : x > e.median);
  return e.median > 0 && e.change > min_change && beyond_z;
}

}  // namespace tillstream
