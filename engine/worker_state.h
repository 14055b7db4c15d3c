#ifndef TILLSTREAM_ENGINE_WORKER_STATE_H_
#define TILLSTREAM_ENGINE_WORKER_STATE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "state/state_store.h"

namespace tillstream {

// The state of `workers: N`: each worker's operators keep their column
// families under "<family>#<worker>" (with one worker, the plain names), and
// the engine family records N and the version of the hash (KeyShard),
// because the groups are split among workers by a hash of their key: a state
// directory is only ever read back with the N and hash that wrote it.
inline constexpr char kWorkersKey[] = "w";

// The record under kWorkersKey: "N/<hash version>" (version 1 wrote "N").
std::string WorkersRecord(size_t workers);

// A scaled-out state (engine/task_runner.h) records its task count and hash
// version under kTasksKey, as "S/<hash version>".
inline constexpr char kTasksKey[] = "tasks";
std::string TasksRecord(size_t tasks);

std::string WorkerFamily(absl::string_view family, size_t worker,
                         size_t workers);

// `part` (one worker's checkpoint, under the plain family names) appended
// to `batch` under the worker's names.
void AppendWorkerWrites(StateWriteBatch part, size_t worker, size_t workers,
                        StateWriteBatch* batch);

// FailedPrecondition when `store` holds a checkpoint of another worker
// count, of this one split by another hash, or of the pipeline with
// scale_out.
absl::Status CheckWorkers(StateStore* store, int64_t workers);

// `store` as one worker's operators see it: their plain family names read
// the worker's families.
class WorkerStateStore final : public StateStore {
 public:
  WorkerStateStore(StateStore* store, size_t worker, size_t workers)
      : store_(store), worker_(worker), workers_(workers) {}

  absl::Status Write(const StateWriteBatch& batch) override;
  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view family, absl::string_view key) override {
    return store_->Get(WorkerFamily(family, worker_, workers_), key);
  }
  absl::Status Scan(
      absl::string_view family, absl::string_view prefix,
      absl::FunctionRef<void(absl::string_view key, absl::string_view value)>
          visit) override {
    return store_->Scan(WorkerFamily(family, worker_, workers_), prefix, visit);
  }

 private:
  StateStore* store_;
  size_t worker_;
  size_t workers_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_WORKER_STATE_H_
