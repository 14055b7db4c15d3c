#include "engine/shard_workers.h"

#include "absl/strings/str_cat.h"
#include "engine/spin_then_wait.h"
#include "engine/thread_name.h"

namespace tillstream {

ShardWorkers::ShardWorkers(size_t shards) {
  for (size_t shard = 1; shard < shards; ++shard)
    threads_.emplace_back([this, shard] {
      NameThisThread(absl::StrCat("ts:worker", shard));
      Loop(shard);
    });
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
  SpinThenWait(mu_, done_, [this] { return running_ == 0; });
  task_ = nullptr;
}

void ShardWorkers::Loop(size_t shard) {
  uint64_t seen = 0;
  while (true) {
    SpinThenWait(mu_, start_, [&] { return stopping_ || phase_ != seen; });
    if (stopping_) return;
    seen = phase_;
    const absl::FunctionRef<void(size_t)> task = *task_;
    task(shard);
    bool last;
    {
      std::lock_guard lock(mu_);
      last = --running_ == 0;
    }
    if (last) done_.notify_one();
  }
}

}  // namespace tillstream
