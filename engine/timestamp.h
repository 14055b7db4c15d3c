#ifndef TILLSTREAM_ENGINE_TIMESTAMP_H_
#define TILLSTREAM_ENGINE_TIMESTAMP_H_

#include <compare>
#include <cstdint>
#include <limits>

namespace tillstream {

// A point in event time: milliseconds since the Unix epoch, UTC.
// Min() and Max() stand for -infinity and +infinity; arithmetic saturates
// there, so "max seen - out-of-orderness" never wraps around.
//
//   Timestamp t = Timestamp::FromMillis(1704067200000);  //
//   2024-01-01T00:00:00Z
class Timestamp {
 public:
  constexpr Timestamp() = default;
  static constexpr Timestamp FromMillis(int64_t ms) { return Timestamp(ms); }
  static constexpr Timestamp Min() {
    return Timestamp(std::numeric_limits<int64_t>::min());
  }
  static constexpr Timestamp Max() {
    return Timestamp(std::numeric_limits<int64_t>::max());
  }

  constexpr int64_t millis() const { return ms_; }
  constexpr bool is_min() const { return *this == Min(); }
  constexpr bool is_max() const { return *this == Max(); }

  // Saturating shift by a signed number of milliseconds.
  constexpr Timestamp Plus(int64_t delta_ms) const {
    if (is_min() || is_max()) return *this;
    int64_t out;
    if (__builtin_add_overflow(ms_, delta_ms, &out)) {
      return delta_ms > 0 ? Max() : Min();
    }
    return Timestamp(out);
  }
  constexpr Timestamp Minus(int64_t delta_ms) const {
    return delta_ms == std::numeric_limits<int64_t>::min() ? Min()
                                                           : Plus(-delta_ms);
  }

  constexpr auto operator<=>(const Timestamp&) const = default;

 private:
  constexpr explicit Timestamp(int64_t ms) : ms_(ms) {}
  int64_t ms_ = 0;
};

// A Kafka partition number (or 0 for a file).
struct PartitionId {
  int32_t value = 0;
  constexpr auto operator<=>(const PartitionId&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, PartitionId p) {
    return H::combine(std::move(h), p.value);
  }
};

// A Kafka offset (or a 1-based line number for a file).
struct Offset {
  int64_t value = 0;
  constexpr auto operator<=>(const Offset&) const = default;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_TIMESTAMP_H_
