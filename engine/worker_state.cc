#include "engine/worker_state.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/changelog_restore.h"
#include "engine/status_macros.h"

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

absl::Status CheckWorkers(StateStore* store, int64_t workers) {
  std::optional<std::string> progress;
  TS_ASSIGN_OR_RETURN(progress, store->Get(kEngineFamily, "p"));
  if (!progress.has_value()) return absl::OkStatus();  // no checkpoint yet
  std::optional<std::string> recorded;
  TS_ASSIGN_OR_RETURN(recorded, store->Get(kEngineFamily, kWorkersKey));
  int64_t written_by = 1;
  if (recorded.has_value() && !absl::SimpleAtoi(*recorded, &written_by))
    return absl::DataLossError("engine: bad worker count record");
  if (written_by == workers) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the state holds a checkpoint of workers: ", written_by,
      " (groups are split among workers by a hash of their key); this "
      "pipeline has workers: ",
      workers, ": keep workers: ", written_by,
      ", or start from a new state directory"));
}

}  // namespace tillstream
