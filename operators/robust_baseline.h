#ifndef TILLSTREAM_OPERATORS_ROBUST_BASELINE_H_
#define TILLSTREAM_OPERATORS_ROBUST_BASELINE_H_

#include <cstdint>
#include <span>
#include <vector>

namespace tillstream {

// What the robust rule (DESIGN.md) found for one observed value.
struct RobustEvidence {
  int64_t observed = 0;
  double median = 0;       // of the baseline
  double mad = 0;          // median absolute deviation from it
  int64_t n = 0;           // baseline values
  bool has_score = false;  // false when MAD = 0
  double score = 0;        // (observed - median) / (1.4826 MAD)
  double change = 0;  // (median - observed) / median for a drop, mirrored for
                      // a spike; 0 when median <= 0
};

// The median/MAD statistics of the robust drop and spike rules, shared by
// period judgements and early warnings. Keeps its scratch space between calls.
class RobustBaseline {
 public:
  RobustEvidence Evaluate(std::span<const int64_t> baseline, int64_t observed,
                          bool drop);
  // The median alone (0 for none).
  double Median(std::span<const int64_t> values);
  // median > 0, change > min_change and the score beyond -z_threshold (drop)
  // or z_threshold (spike); with MAD = 0, any value below (above) the median.
  static bool Anomalous(const RobustEvidence& evidence, bool drop,
                        double z_threshold, double min_change);

 private:
  std::vector<double> values_;
  std::vector<double> deviations_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_ROBUST_BASELINE_H_
