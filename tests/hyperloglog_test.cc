#include "operators/hyperloglog.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

TEST(HyperLogLogTest, EmptyAndSmallCountsAreExactOrNearly) {
  HyperLogLog hll;
  EXPECT_EQ(hll.Estimate(), 0);
  for (int i = 0; i < 10; ++i) hll.Add(absl::StrCat("c-", i));
  for (int i = 0; i < 10; ++i)
    hll.Add(absl::StrCat("c-", i));  // duplicates change nothing
  EXPECT_EQ(hll.Estimate(), 10);
}

TEST(HyperLogLogTest, OneMillionDistinctWithinThreeStandardErrors) {
  HyperLogLog hll;
  for (int i = 0; i < 1'000'000; ++i) hll.Add(absl::StrCat("c-", i));
  const double error = std::abs(hll.Estimate() - 1e6) / 1e6;
  std::printf(
      "HLL estimate %lld for 1,000,000 distinct: error %.3f%% (standard error "
      "%.2f%%)\n",
      static_cast<long long>(hll.Estimate()), 100 * error,
      100 * HyperLogLog::kStandardError);
  EXPECT_LT(error, 3 * HyperLogLog::kStandardError);
}

TEST(HyperLogLogTest, MergeIsTheUnion) {
  HyperLogLog a, b, both;
  for (int i = 0; i < 60'000; ++i) {
    std::string id = absl::StrCat("c-", i);
    (i < 40'000 ? a : b).Add(id);
    if (i >= 20'000 && i < 40'000) b.Add(id);  // overlap 20,000-40,000
    both.Add(id);
  }
  a.Merge(b);
  EXPECT_EQ(a.Estimate(),
            both.Estimate());  // register-wise max equals the union's sketch
  EXPECT_LT(std::abs(a.Estimate() - 60'000) / 60'000.0,
            3 * HyperLogLog::kStandardError);
}

TEST(HyperLogLogTest, HashIsPinned) {
  // Pinned values: a changed hash would change every estimate (and replays
  // would stop being byte-identical across versions), so it changes on purpose
  // only.
  EXPECT_EQ(HyperLogLog::Hash(""), 0xf52a15e9a9b5e89bull);
  EXPECT_EQ(HyperLogLog::Hash("c-000172"), 0x1bf42d44e24ca5a7ull);
}

}  // namespace
}  // namespace tillstream
