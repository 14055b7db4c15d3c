#include "operators/hyperloglog.h"

#include <cmath>

namespace tillstream {

uint64_t HyperLogLog::Hash(absl::string_view value) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : value) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  // SplitMix64's finalizer spreads FNV's weak low-entropy bits over all 64.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

int64_t HyperLogLog::Estimate() const {
  constexpr double m = kRegisters;
  const double alpha = 0.7213 / (1.0 + 1.079 / m);
  double sum = 0;
  int zeros = 0;
  for (uint8_t r : registers_) {
    sum += std::ldexp(1.0, -r);
    if (r == 0) ++zeros;
  }
  double estimate = alpha * m * m / sum;
  // Small range: linear counting is far more accurate while registers are
  // empty.
  if (estimate <= 2.5 * m && zeros > 0) estimate = m * std::log(m / zeros);
  return std::llround(estimate);
}

}  // namespace tillstream
