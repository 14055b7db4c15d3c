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
  for (const auto& [id, state] : partitions_) {
    if (state.finished_) continue;
    if (now_ms - state.last_active_ms_ >= options_.idle_timeout_ms) continue;
    any_active = true;
    minimum = std::min(minimum,
                       state.max_seen_.Minus(options_.max_out_of_orderness_ms));
  }
  if (any_active) current_ = std::max(current_, minimum);
  // Every unfinished partition idle (or all finished): hold, as Flink does;
  // progress resumes with the next record rather than guessing from
  // wall-clock time.
  return current_;
}

}  // namespace tillstream
