#ifndef TILLSTREAM_ENGINE_CLOCK_H_
#define TILLSTREAM_ENGINE_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace tillstream {

// Processing time, injected so tests drive it by hand. Only idleness, pacing
// and the limits.max_future bound read it. Called per batch, not per record.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic milliseconds, for intervals.
  virtual int64_t NowMillis() = 0;
  // Wall-clock milliseconds since the Unix epoch.
  virtual int64_t EpochMillis() = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t EpochMillis() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told. Its wall clock starts at 2100-01-01, so
// no test event is "from the future" unless a test says so.
class ManualClock final : public Clock {
 public:
  int64_t NowMillis() override { return now_ms_; }
  int64_t EpochMillis() override { return epoch_ms_ + now_ms_; }
  void AdvanceMillis(int64_t ms) { now_ms_ += ms; }
  void SetEpochMillis(int64_t ms) { epoch_ms_ = ms - now_ms_; }

 private:
  int64_t now_ms_ = 0;
  int64_t epoch_ms_ = 4'102'444'800'000;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_CLOCK_H_
