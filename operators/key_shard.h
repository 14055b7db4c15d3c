#ifndef TILLSTREAM_OPERATORS_KEY_SHARD_H_
#define TILLSTREAM_OPERATORS_KEY_SHARD_H_

#include <bit>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace tillstream {

// The share of a pipeline's groups one worker owns when `workers: N` splits
// them: every rule's groups whose key hashes to `index` of `count`. A group
// always lands on the same worker, so its windows, rolling history, anomaly
// baseline and alerts stay together.
struct KeyShard {
  // The hash is part of the state's format: a checkpointed group must come
  // back to the worker that holds its state, so it is fixed across runs,
  // builds and machines, and a change to it changes this version (the
  // state records it next to the worker count).
  static constexpr int kHashVersion = 2;

  uint32_t index = 0;
  uint32_t count = 1;

  bool Owns(absl::string_view group_key) const {
    return count == 1 || IndexOf(group_key, count) == index;
  }
  // The shard of `count` that owns `key`.
  static uint32_t IndexOf(absl::string_view key, uint32_t count) {
    // The high half of a well-mixed hash scaled to [0, count): no division.
    return static_cast<uint32_t>(((Hash(key) >> 32) * count) >> 32);
  }
  // The worker that also writes what belongs to no group (late records).
  bool first() const { return index == 0; }

  // Eight bytes a step, each multiplied in, then MurmurHash3's 64-bit
  // finalizer, so every bit of the key reaches the high bits Owns uses.
  // (Version 1, FNV-1a byte by byte with a remainder, was slower and left
  // its low bits to the low bits of the bytes: anagrams shared a worker.)
  static uint64_t Hash(absl::string_view key) {
    constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ull;
    uint64_t hash = 0x243f6a8885a308d3ull ^ key.size();
    const char* p = key.data();
    size_t left = key.size();
    for (; left >= 8; p += 8, left -= 8) {
      hash = (hash ^ LittleEndian64(p)) * kMultiplier;
      hash ^= hash >> 29;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < left; ++i)
      tail |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    hash = (hash ^ tail) * kMultiplier;
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ull;
    hash ^= hash >> 33;
    return hash;
  }

 private:
  static uint64_t LittleEndian64(const char* p) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    if constexpr (std::endian::native == std::endian::big)
      word = __builtin_bswap64(word);
    return word;
  }
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_KEY_SHARD_H_
