#ifndef TILLSTREAM_ENGINE_SHARD_WORKERS_H_
#define TILLSTREAM_ENGINE_SHARD_WORKERS_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"

namespace tillstream {

// Runs one task on every shard at once, a phase of a batch at a time: the
// calling thread takes shard 0 and a thread of its own each other shard;
// Run returns when every shard has finished. Between phases the shards
// share nothing, so the per-record path takes no lock: a batch costs two
// hand-overs per phase, not one per record.
// A hand-over spins briefly before it sleeps (SpinThenWait).
class ShardWorkers {
 public:
  explicit ShardWorkers(size_t shards);
  ~ShardWorkers();
  ShardWorkers(const ShardWorkers&) = delete;
  ShardWorkers& operator=(const ShardWorkers&) = delete;

  size_t size() const { return threads_.size() + 1; }
  void Run(absl::FunctionRef<void(size_t shard)> task);

 private:
  void Loop(size_t shard);

  // The flags are atomics so a spinning thread can read them; every change
  // is still made under the mutex, so a sleeping thread misses none.
  // std::mutex rather than absl::Mutex: ThreadSanitizer checks this class
  // only through it (Debian's Abseil is not built for it).
  std::mutex mu_;
  std::condition_variable start_;
  std::condition_variable done_;
  const absl::FunctionRef<void(size_t)>* task_ = nullptr;
  std::atomic<uint64_t> phase_{0};  // phases started
  std::atomic<size_t> running_{0};  // threads still in the current phase
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_SHARD_WORKERS_H_
