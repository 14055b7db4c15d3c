#ifndef TILLSTREAM_STATE_CHANGELOG_H_
#define TILLSTREAM_STATE_CHANGELOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "state/state_store.h"

namespace tillstream {

// The state's changelog: every checkpoint's writes as records of one
// compacted Kafka topic partition, so that an instance that lost its disk
// (or a new one) rebuilds the state from Kafka.
//
// A record's key is the column family, a NUL byte and the state key; its
// value is the state value, or null for a delete (a tombstone: compaction
// drops the key). Every record carries a header naming its writer's epoch
// (random per run) and checkpoint number, and each checkpoint ends with a
// marker record for that epoch. A record counts only once a marker of its
// epoch with its checkpoint number or a later one follows it: the records
// of a checkpoint cut short by a crash are never restored, even when a
// later run writes a checkpoint with the same number. One partition orders
// all families' records, so this needs no transaction (at-least-once); in
// exactly-once mode the records join the checkpoint's transaction as well.
struct ChangelogRecord {
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
};

// The header every record of checkpoint `number` of run `epoch` carries.
inline constexpr absl::string_view kChangelogHeader = "tillstream.checkpoint";
std::string ChangelogHeaderValue(uint64_t epoch, int64_t number);

// The records of one checkpoint's `batch`, the marker last.
std::vector<ChangelogRecord> EncodeChangelog(const StateWriteBatch& batch,
                                             uint64_t epoch, int64_t number);

// Rebuilds state from changelog records read in log order: Add each, then
// TakeWrites gives the writes of every completed checkpoint, last write per
// key, to apply in one batch.
class ChangelogReplay {
 public:
  absl::Status Add(int64_t offset, absl::string_view key,
                   std::optional<absl::string_view> value,
                   absl::string_view header);
  StateWriteBatch TakeWrites();

  int64_t records() const { return records_; }
  int64_t checkpoints() const { return checkpoints_; }
  // The offset of the last marker seen (-1: none): a later restore reads
  // from the record after it.
  int64_t last_marker_offset() const { return last_marker_offset_; }
  // The checkpoint numbers of the first and the last marker seen (-1: none).
  int64_t first_checkpoint() const { return first_checkpoint_; }
  int64_t last_checkpoint() const { return last_checkpoint_; }

 private:
  struct Pending {
    int64_t number;
    std::string key;
    std::optional<std::string> value;
  };
  absl::flat_hash_map<uint64_t, std::vector<Pending>> pending_;  // by epoch
  // Completed writes by changelog key, in the order first written.
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<std::pair<std::string, std::optional<std::string>>> writes_;
  int64_t records_ = 0;
  int64_t checkpoints_ = 0;
  int64_t last_marker_offset_ = -1;
  int64_t first_checkpoint_ = -1;
  int64_t last_checkpoint_ = -1;
};

}  // namespace tillstream

#endif  // TILLSTREAM_STATE_CHANGELOG_H_
