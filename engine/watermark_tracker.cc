#include "engine/watermark_tracker.h"

#include <algorithm>

namespace tillstream {

PartitionWatermark* WatermarkTracker::AddPartition(PartitionId partition,
                                                   int64_t now_ms) {
  PartitionWatermark& state = partitions_[partition];
  state = PartitionWatermark{};
  state.last_active_ms_ = now_ms;
  return &state;
}

void WatermarkTracker::RemovePartition(PartitionId partition) {
  partitions_.erase(partition);
}

PartitionWatermark* WatermarkTracker::Find(PartitionId partition) {
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? nullptr : &it->second;
}

void WatermarkTracker::MarkFinished(PartitionId partition) {
  if (PartitionWatermark* state = Find(partition)) state->finished_ = true;
}

const PartitionWatermark* WatermarkTracker::Find(PartitionId partition) const {
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? nullptr : &it->second;
}

bool WatermarkTracker::AnySilent(int64_t now_ms) const {
  for (const auto& [id, state] : partitions_) {
    if (!state.finished_ &&
        now_ms - state.last_active_ms_ >= options_.idle_timeout_ms)
      return true;
  }
  return false;
}

Timestamp WatermarkTracker::Advance(int64_t now_ms) {
  Timestamp minimum = Timestamp::Max();
  bool any_active = false;
  // Of the partitions with records, those read last, and their minimum.
  int64_t read_last_ms = INT64_MIN;
  Timestamp minimum_read_last = Timestamp::Max();
  for (const auto& [id, state] : partitions_) {
    if (state.finished_) continue;
    const Timestamp watermark =
        state.max_seen_.Minus(options_.max_out_of_orderness_ms);
    if (!state.max_seen_.is_min()) {
      if (state.last_active_ms_ > read_last_ms) {
        read_last_ms = state.last_active_ms_;
        minimum_read_last = watermark;
      } else if (state.last_active_ms_ == read_last_ms) {
        minimum_read_last = std::min(minimum_read_last, watermark);
      }
    }
    if (now_ms - state.last_active_ms_ >= options_.idle_timeout_ms) continue;
    any_active = true;
    minimum = std::min(minimum, watermark);
  }
  if (any_active) {
    current_ = std::max(current_, minimum);
  } else if (read_last_ms != INT64_MIN) {
    // Every unfinished partition idle. Evaluated without gaps, the
    // partitions read last were the only active ones just before they fell
    // silent too, so the watermark reached their minimum, whenever this
    // happens to be called. From there it holds, as Flink does: progress
    // resumes with the next record rather than guessing from wall-clock time.
    current_ = std::max(current_, minimum_read_last);
  }
  return current_;
}

}  // namespace tillstream
