#ifndef TILLSTREAM_ENGINE_WORKER_QUERIES_H_
#define TILLSTREAM_ENGINE_WORKER_QUERIES_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tillstream {

// Questions other threads (the HTTP server) put to a worker about its live
// state. The worker answers them between batches, on its own thread, so its
// state needs no lock and every answer is consistent as of a batch boundary;
// the per-record path only ever reads one relaxed atomic per batch.
class WorkerQueries {
 public:
  // The answer is a status (for the HTTP code) and a body.
  using Query = std::function<absl::StatusOr<std::string>()>;

  // Any thread: runs `query` on the worker at its next batch boundary and
  // returns its answer, or DeadlineExceeded when the worker does not get to
  // it within `timeout` (stopped, or stuck in a long batch).
  absl::StatusOr<std::string> Ask(Query query, absl::Duration timeout);

  // The worker: answers every pending question.
  void Serve() {
    if (pending_count_.load(std::memory_order_relaxed) == 0) return;
    ServePending();
  }

 private:
  struct Pending {
    Query query;
    absl::StatusOr<std::string> answer;
    bool done = false;
  };
  void ServePending();

  std::atomic<int> pending_count_{0};
  absl::Mutex mu_;
  std::deque<std::shared_ptr<Pending>> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_WORKER_QUERIES_H_
