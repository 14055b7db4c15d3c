#ifndef TILLSTREAM_OPERATORS_KEY_SHARD_H_
#define TILLSTREAM_OPERATORS_KEY_SHARD_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace tillstream {

// The share of a pipeline's groups one worker owns when `workers: N` splits
// them: every rule's groups whose key hashes to `index` of `count`. A group
// always lands on the same worker, so its windows, rolling history, anomaly
// baseline and alerts stay together. The hash is FNV-1a, fixed across runs
// and builds: a checkpointed group must come back to the worker that holds
// its state.
struct KeyShard {
  uint32_t index = 0;
  uint32_t count = 1;

  bool Owns(absl::string_view group_key) const {
    if (count == 1) return true;
    uint64_t hash = 14695981039346656037ull;
    for (const char c : group_key) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ull;
    }
    return hash % count == index;
  }
  // The worker that also writes what belongs to no group (late records).
  bool first() const { return index == 0; }
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_KEY_SHARD_H_
