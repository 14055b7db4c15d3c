#ifndef TILLSTREAM_ENGINE_REPLAY_FILTER_H_
#define TILLSTREAM_ENGINE_REPLAY_FILTER_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "connectors/repartition_record.h"

namespace tillstream {

// What a task has already received from each sender over the repartition
// topic, so that a sender replaying from its checkpoint after a crash counts
// nothing twice (docs/scale-out.md). A sender's records reach a task in the
// order sent (one partition, an idempotent producer) with increasing `seq`,
// and a replay sends the same records with the same `seq`: a record is new
// exactly when its `seq` is above the highest accepted from its sender.
// Part of the task's checkpoint. One thread.
class ReplayFilter {
 public:
  // True (and remembered) when `seq` is above the highest accepted from
  // the sender; false for a replayed record, to drop.
  bool Accept(RouteStage stage, int32_t sender, int64_t seq) {
    int64_t& highest =
        highest_.try_emplace(Key(stage, sender), -1).first->second;
    if (seq <= highest) return false;
    highest = seq;
    return true;
  }
  bool Accept(const Route& route) {
    return Accept(route.stage, route.sender, route.seq);
  }
  // The highest `seq` accepted from the sender, -1 before any.
  int64_t highest(RouteStage stage, int32_t sender) const {
    auto it = highest_.find(Key(stage, sender));
    return it == highest_.end() ? -1 : it->second;
  }

  // One checkpoint record: every sender's highest, in sender order (the
  // same filter encodes to the same bytes).
  std::string Encode() const;
  // Replaces the filter with a checkpoint's; DataLoss for a damaged record.
  absl::Status Decode(absl::string_view record);

 private:
  static uint64_t Key(RouteStage stage, int32_t sender) {
    return (uint64_t{static_cast<uint8_t>(stage)} << 32) |
           static_cast<uint32_t>(sender);
  }
  absl::flat_hash_map<uint64_t, int64_t> highest_{};
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_REPLAY_FILTER_H_
