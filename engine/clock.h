#ifndef TILLSTREAM_ENGINE_CLOCK_H_
#define TILLSTREAM_ENGINE_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace tillstream {

// Processing (wall-clock) time, injected so tests drive it by hand. Only
// idleness and pacing read it; no result depends on it. Called per batch.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMillis() = 0;
};

class SteadyClock final : public Clock {
 public:
  int64_t NowMillis() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

class ManualClock final : public Clock {
 public:
  int64_t NowMillis() override { return now_ms_; }
  void AdvanceMillis(int64_t ms) { now_ms_ += ms; }

 private:
  int64_t now_ms_ = 0;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_CLOCK_H_
