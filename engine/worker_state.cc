#include "engine/worker_state.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/changelog_restore.h"
#include "engine/status_macros.h"
#include "operators/key_shard.h"

namespace tillstream {

std::string WorkerFamily(absl::string_view family, size_t worker,
                         size_t workers) {
  if (workers == 1) return std::string(family);
  return absl::StrCat(family, "#", worker);
}

void AppendWorkerWrites(StateWriteBatch part, size_t worker, size_t workers,
                        StateWriteBatch* batch) {
  for (StateWriteBatch::Write& write : std::move(part).TakeWrites()) {
    write.family = WorkerFamily(write.family, worker, workers);
    batch->Add(std::move(write));
  }
}

absl::Status WorkerStateStore::Write(const StateWriteBatch& batch) {
  StateWriteBatch renamed;
  AppendWorkerWrites(batch, worker_, workers_, &renamed);
  return store_->Write(renamed);
}

std::string WorkersRecord(size_t workers) {
  return absl::StrCat(workers, "/", KeyShard::kHashVersion);
}

std::string TasksRecord(size_t tasks) {
  return absl::StrCat(tasks, "/", KeyShard::kHashVersion);
}

absl::Status CheckWorkers(StateStore* store, int64_t workers) {
  std::optional<std::string> tasks;
  TS_ASSIGN_OR_RETURN(tasks, store->Get(kEngineFamily, kTasksKey));
  if (tasks.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the state holds the tasks of this pipeline with scale_out (tasks/"
        "hash ",
        *tasks,
        "); this pipeline has no scale_out: put it back, or start from a new "
        "state directory"));
  }
  std::optional<std::string> progress;
  TS_ASSIGN_OR_RETURN(progress, store->Get(kEngineFamily, "p"));
  if (!progress.has_value()) return absl::OkStatus();  // no checkpoint yet
  std::optional<std::string> recorded;
  TS_ASSIGN_OR_RETURN(recorded, store->Get(kEngineFamily, kWorkersKey));
  int64_t written_by = 1;
  int64_t hash_version = KeyShard::kHashVersion;  // one worker hashes nothing
  if (recorded.has_value()) {
    const std::vector<absl::string_view> fields =
        absl::StrSplit(*recorded, '/');
    hash_version = 1;  // which wrote the count alone
    if (fields.size() > 2 || !absl::SimpleAtoi(fields[0], &written_by) ||
        (fields.size() == 2 && !absl::SimpleAtoi(fields[1], &hash_version)))
      return absl::DataLossError("engine: bad worker count record");
  }
  if (written_by == workers) {
    if (hash_version == KeyShard::kHashVersion) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "the state holds a checkpoint of workers: ", written_by,
        " whose groups an earlier version split among workers by another "
        "hash of their key (version ",
        hash_version, "; this one is version ", KeyShard::kHashVersion,
        "): start from a new state directory"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "the state holds a checkpoint of workers: ", written_by,
      " (groups are split among workers by a hash of their key); this "
      "pipeline has workers: ",
      workers, ": keep workers: ", written_by,
      ", or start from a new state directory"));
}

}  // namespace tillstream
