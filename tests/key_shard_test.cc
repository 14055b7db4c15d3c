#include "operators/key_shard.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

// How many of `keys` each of `count` workers owns; fails unless exactly one
// owns each key.
std::vector<int> Shares(const std::vector<std::string>& keys, uint32_t count) {
  std::vector<int> shares(count);
  for (const std::string& key : keys) {
    int owners = 0;
    for (uint32_t index = 0; index < count; ++index) {
      if (KeyShard{index, count}.Owns(key)) {
        ++shares[index];
        ++owners;
      }
    }
    EXPECT_EQ(owners, 1) << key;
  }
  return shares;
}

TEST(KeyShardTest, EveryKeyHasOneOwnerAndTheSharesAreEven) {
  std::vector<std::string> stores;
  for (int i = 0; i < 10'000; ++i)
    stores.push_back(absl::StrCat("store_id=s-", i));
  for (uint32_t count : {1u, 2u, 3u, 4u, 7u}) {
    SCOPED_TRACE(count);
    const double even = 10'000.0 / count;
    for (int share : Shares(stores, count)) {
      EXPECT_GT(share, 0.95 * even);
      EXPECT_LT(share, 1.05 * even);
    }
  }
}

// Keys made of the same bytes in another order: a hash whose low bits only
// see the low bits of the bytes (FNV-1a taken modulo 2) puts them all on one
// of two workers.
TEST(KeyShardTest, AnagramsAreSpreadOverTheWorkers) {
  std::string letters = "abcdef";
  std::vector<std::string> keys;
  do {
    keys.push_back(absl::StrCat("category=", letters));
  } while (std::next_permutation(letters.begin(), letters.end()));
  ASSERT_EQ(keys.size(), 720u);
  for (uint32_t count : {2u, 4u}) {
    SCOPED_TRACE(count);
    const double even = 720.0 / count;
    for (int share : Shares(keys, count)) {
      EXPECT_GT(share, 0.85 * even);
      EXPECT_LT(share, 1.15 * even);
    }
  }
}

// The hash decides where a checkpointed group's state lives: these values
// (computed apart from this code) may only change together with
// KeyShard::kHashVersion.
TEST(KeyShardTest, TheHashIsFixed) {
  EXPECT_EQ(KeyShard::kHashVersion, 2);
  EXPECT_EQ(KeyShard::Hash(""), 0x226e040144470ef3ull);
  EXPECT_EQ(KeyShard::Hash("region=EU"), 0xe351f0c7d296f143ull);
  EXPECT_EQ(KeyShard::Hash("store_id=s-0042"), 0x85e1373593ee0fcdull);
  EXPECT_EQ(KeyShard::Hash("category=tea,channel=web"), 0xc66ab1474a5c0c31ull);
}

}  // namespace
}  // namespace tillstream
