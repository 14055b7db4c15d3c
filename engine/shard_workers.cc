#include "engine/shard_workers.h"

namespace tillstream {

ShardWorkers::ShardWorkers(size_t shards) {
  for (size_t shard = 1; shard < shards; ++shard)
    threads_.emplace_back([this, shard] { Loop(shard); });
}

ShardWorkers::~ShardWorkers() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  start_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void ShardWorkers::Run(absl::FunctionRef<void(size_t shard)> task) {
  {
    std::lock_guard lock(mu_);
    task_ = &task;
    running_ = threads_.size();
    ++phase_;
  }
  start_.notify_all();
  task(0);
  std::unique_lock lock(mu_);
  done_.wait(lock, [this] { return running_ == 0; });
  task_ = nullptr;
}

void ShardWorkers::Loop(size_t shard) {
  uint64_t seen = 0;
  std::unique_lock lock(mu_);
  while (true) {
    start_.wait(lock, [&] { return stopping_ || phase_ != seen; });
    if (stopping_) return;
    seen = phase_;
    const absl::FunctionRef<void(size_t)> task = *task_;
    lock.unlock();
    task(shard);
    lock.lock();
    if (--running_ == 0) done_.notify_one();
  }
}

}  // namespace tillstream
