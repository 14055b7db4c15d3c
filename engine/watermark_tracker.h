#ifndef TILLSTREAM_ENGINE_WATERMARK_TRACKER_H_
#define TILLSTREAM_ENGINE_WATERMARK_TRACKER_H_

#include <cstdint>

#include "absl/container/node_hash_map.h"
#include "engine/timestamp.h"

namespace tillstream {

struct WatermarkOptions {
  int64_t max_out_of_orderness_ms = 0;  // partition watermark = max ts - this
  int64_t idle_timeout_ms =
      30'000;  // silent this long (processing time) = idle
};

// Event-time progress of one source partition.
class PartitionWatermark {
 public:
  // Per record: cheap and inline.
  void Observe(Timestamp ts) {
    if (ts > max_seen_) max_seen_ = ts;
  }
  Timestamp max_seen() const { return max_seen_; }

 private:
  friend class WatermarkTracker;
  Timestamp max_seen_ = Timestamp::Min();
  int64_t last_active_ms_ = 0;
  bool finished_ = false;
};

// The operator watermark: the minimum of the partition watermarks
// (max event time seen - max_out_of_orderness) over the partitions that are
// active. A partition silent for idle_timeout does not hold it back; one that
// reached the end of a bounded input neither. When every partition is
// finished it holds: the runtime checkpoints first and then ends the input
// with +infinity, so that a later run over more records resumes with the
// windows still open. It never moves backwards. Not thread-safe: one per
// worker. The same rule makes a task's watermark over the senders of the
// repartition topic: one entry per sender, each observing the watermark the
// sender reports, with no out-of-orderness of its own.
class WatermarkTracker {
 public:
  explicit WatermarkTracker(WatermarkOptions options) : options_(options) {}

  // Pointer stays valid until RemovePartition.
  PartitionWatermark* AddPartition(PartitionId partition, int64_t now_ms);
  void RemovePartition(PartitionId partition);
  PartitionWatermark* Find(PartitionId partition);
  const PartitionWatermark* Find(PartitionId partition) const;

  // The partition delivered records at `now_ms` (called once per batch).
  void MarkActive(PartitionWatermark* partition, int64_t now_ms) {
    partition->last_active_ms_ = now_ms;
  }
  // A bounded partition has no more records.
  void MarkFinished(PartitionId partition);

  // True when some unfinished partition has been silent for idle_timeout at
  // `now_ms`: the runtime then asks the source which of them still have
  // records waiting (those are behind, not idle: MarkActive).
  bool AnySilent(int64_t now_ms) const;

  // Recomputes the watermark at processing time `now_ms`.
  Timestamp Advance(int64_t now_ms);
  Timestamp current() const { return current_; }
  // A restored checkpoint's watermark: it never moves back below it.
  void RaiseTo(Timestamp watermark) {
    if (watermark > current_) current_ = watermark;
  }
  size_t partition_count() const { return partitions_.size(); }
  // Calls visit(partition, its watermark) for every partition (metrics).
  template <typename Visit>
  void ForEachPartition(Visit visit) const {
    for (const auto& [id, partition] : partitions_) {
      visit(id, partition.max_seen_.is_min()
                    ? Timestamp::Min()
                    : Timestamp::FromMillis(partition.max_seen_.millis() -
                                            options_.max_out_of_orderness_ms));
    }
  }

 private:
  WatermarkOptions options_;
  absl::node_hash_map<PartitionId, PartitionWatermark> partitions_;
  Timestamp current_ = Timestamp::Min();
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_WATERMARK_TRACKER_H_
