#ifndef TILLSTREAM_OPERATORS_HYPERLOGLOG_H_
#define TILLSTREAM_OPERATORS_HYPERLOGLOG_H_

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace tillstream {

// A HyperLogLog sketch of distinct strings (Flajolet et al. 2007, with
// linear counting for small cardinalities): 2^12 one-byte registers, 4 KiB
// per sketch, standard error 1.04 / sqrt(4096) = 1.6%. Mergeable: the union
// of two sketches is their register-wise maximum. The hash is fixed (FNV-1a
// with a 64-bit finalizer), so estimates are the same on every run.
class HyperLogLog {
 public:
  static constexpr int kPrecision = 12;
  static constexpr int kRegisters = 1 << kPrecision;
  static constexpr double kStandardError = 1.04 / 64.0;  // 1/sqrt(4096) = 1/64

  void Add(absl::string_view value) { AddHash(Hash(value)); }
  void AddHash(uint64_t hash) {
    const uint32_t index = static_cast<uint32_t>(hash >> (64 - kPrecision));
    const uint64_t rest = hash << kPrecision;
    // Position of the first 1 bit in the remaining 52 bits, 1-based.
    const uint8_t rank = rest == 0
                             ? 64 - kPrecision + 1
                             : static_cast<uint8_t>(__builtin_clzll(rest) + 1);
    if (rank > registers_[index]) registers_[index] = rank;
  }
  void Merge(const HyperLogLog& other) {
    for (int i = 0; i < kRegisters; ++i) {
      if (other.registers_[i] > registers_[i])
        registers_[i] = other.registers_[i];
    }
  }
  // The estimated number of distinct values added, rounded to the nearest
  // integer.
  int64_t Estimate() const;

  static uint64_t Hash(absl::string_view value);

  // The raw registers (checkpoints).
  const std::array<uint8_t, kRegisters>& registers() const {
    return registers_;
  }
  std::array<uint8_t, kRegisters>& mutable_registers() { return registers_; }

 private:
  std::array<uint8_t, kRegisters> registers_{};
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_HYPERLOGLOG_H_
