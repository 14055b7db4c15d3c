#include "engine/worker_queries.h"

#include <utility>

namespace tillstream {

absl::StatusOr<std::string> WorkerQueries::Ask(Query query,
                                               absl::Duration timeout) {
  auto pending = std::make_shared<Pending>();
  pending->query = std::move(query);
  absl::MutexLock lock(&mu_);
  pending_.push_back(pending);
  pending_count_.fetch_add(1, std::memory_order_relaxed);
  const bool done =
      mu_.AwaitWithTimeout(absl::Condition(&pending->done), timeout);
  if (done) return std::move(pending->answer);
  // Withdrawn: the worker will not run it.
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (*it == pending) {
      pending_.erase(it);
      pending_count_.fetch_sub(1, std::memory_order_relaxed);
      break;
    }
  }
  return absl::DeadlineExceededError(
      "the engine's worker did not answer in time (stopped, or busy with a "
      "long batch)");
}

void WorkerQueries::ServePending() {
  absl::MutexLock lock(&mu_);
  while (!pending_.empty()) {
    std::shared_ptr<Pending> pending = std::move(pending_.front());
    pending_.pop_front();
    pending_count_.fetch_sub(1, std::memory_order_relaxed);
    // The worker's state is only touched here, on its thread; the lock
    // guards the queue and the answer handed back.
    pending->answer = pending->query();
    pending->done = true;
  }
}

}  // namespace tillstream
