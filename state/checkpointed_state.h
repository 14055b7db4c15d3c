#ifndef TILLSTREAM_STATE_CHECKPOINTED_STATE_H_
#define TILLSTREAM_STATE_CHECKPOINTED_STATE_H_

#include <string>

#include "absl/status/status.h"
#include "state/state_store.h"

namespace tillstream {

// The keyed state of one operator, kept in memory on the hot path and
// written to its own column family once per checkpoint: only what changed
// since the previous checkpoint (a write-back cache). Called on the owning
// worker's thread, between batches.
class CheckpointedState {
 public:
  virtual ~CheckpointedState() = default;
  // The operator's column family, e.g. "kpi/store_day"; stable across runs.
  virtual const std::string& family() const = 0;
  // Appends the puts and deletes that bring the family up to date.
  virtual void Checkpoint(StateWriteBatch* batch) = 0;
  // Replaces the in-memory state by the family's, on a fresh operator
  // before its first event. DataLoss when a record cannot be read.
  [[nodiscard]] virtual absl::Status Restore(StateStore* store) = 0;
};

}  // namespace tillstream

#endif  // TILLSTREAM_STATE_CHECKPOINTED_STATE_H_
