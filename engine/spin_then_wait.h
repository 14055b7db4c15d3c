#ifndef TILLSTREAM_ENGINE_SPIN_THEN_WAIT_H_
#define TILLSTREAM_ENGINE_SPIN_THEN_WAIT_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace tillstream {

// Returns once `ready()` holds: polls it for up to about 50 microseconds,
// then sleeps on `cv`. Batches hand work between threads every few hundred
// microseconds, and waking a sleeping thread costs tens of microseconds on
// a virtual machine (7% of a two-worker replay); 50 microseconds is short
// enough that a thread with nothing to do soon gives its core back (to
// librdkafka's threads, on the Kafka path).
//
// `ready` reads atomics; whoever makes it true does so under `mu` and then
// notifies `cv`, so a sleeper misses nothing.
template <typename Ready>
void SpinThenWait(std::mutex& mu, std::condition_variable& cv, Ready ready) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::microseconds(50);
  do {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return;
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
  } while (std::chrono::steady_clock::now() < deadline);
  std::unique_lock lock(mu);
  cv.wait(lock, ready);
}

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_SPIN_THEN_WAIT_H_
