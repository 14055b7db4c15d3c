#include "operators/robust_baseline.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tillstream {
namespace {

// The definitions, by sorting: the middle value (the mean of the middle two
// for an even count), of the values and of their absolute deviations from
// it.
double Middle(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

struct MedianAndMad {
  double median;
  double mad;
};

MedianAndMad BySorting(const std::vector<int64_t>& baseline) {
  const double median =
      Middle(std::vector<double>(baseline.begin(), baseline.end()));
  std::vector<double> deviations;
  for (int64_t v : baseline)
    deviations.push_back(std::abs(static_cast<double>(v) - median));
  return {median, Middle(deviations)};
}

TEST(RobustBaselineTest, MedianAndMadOfSmallBaselines) {
  RobustBaseline robust;
  RobustEvidence odd = robust.Evaluate({{1, 2, 3, 4, 100}}, 0, true);
  EXPECT_EQ(odd.median, 3);
  EXPECT_EQ(odd.mad, 1);  // deviations 2, 1, 0, 1, 97
  EXPECT_EQ(odd.n, 5);
  RobustEvidence even = robust.Evaluate({{4, 1, 3, 2}}, 0, true);
  EXPECT_EQ(even.median, 2.5);
  EXPECT_EQ(even.mad, 1);  // deviations 1.5, 0.5, 0.5, 1.5
  RobustEvidence one = robust.Evaluate({{7}}, 0, true);
  EXPECT_EQ(one.median, 7);
  EXPECT_EQ(one.mad, 0);
  EXPECT_FALSE(one.has_score);
}

// Baselines up to 64 values go through a sorting network and a merge of the
// deviations, longer ones through selection: both give exactly what sorting
// gives, for every length, with ties, negative values and wide ranges.
TEST(RobustBaselineTest, EveryLengthGivesExactlyWhatSortingGives) {
  std::mt19937_64 random(20261123);
  RobustBaseline robust;
  for (size_t n = 1; n <= 80; ++n) {
    for (int64_t range :
         {int64_t{3}, int64_t{1'000}, int64_t{1'000'000'000'000}}) {
      for (int round = 0; round < 20; ++round) {
        std::vector<int64_t> baseline;
        for (size_t i = 0; i < n; ++i) {
          baseline.push_back(static_cast<int64_t>(random() % (2 * range)) -
                             range / 2);
        }
        const MedianAndMad expected = BySorting(baseline);
        const RobustEvidence e = robust.Evaluate(baseline, 0, true);
        ASSERT_EQ(e.median, expected.median) << "n " << n;
        ASSERT_EQ(e.mad, expected.mad) << "n " << n;
        ASSERT_EQ(robust.Median(baseline), expected.median) << "n " << n;
      }
    }
  }
}

}  // namespace
}  // namespace tillstream
