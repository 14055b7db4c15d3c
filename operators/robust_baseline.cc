#include "operators/robust_baseline.h"

#include <algorithm>
#include <cmath>

namespace tillstream {
namespace {

// The median of `values` (sorted in place); the mean of the middle two for
// an even count.
double MedianInPlace(std::vector<double>& values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
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
