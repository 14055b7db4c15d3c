#ifndef TILLSTREAM_CONNECTORS_REPARTITION_RECORD_H_
#define TILLSTREAM_CONNECTORS_REPARTITION_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/timestamp.h"

namespace tillstream {

// The records of the repartition topic, through which instances split a
// pipeline's work (docs/scale-out.md). A record's value is the input
// record's original bytes (empty for a control record); its key, a few
// bytes, says who sent it and what it is, so a receiver routes it without
// reading the JSON (the key costs nothing to read; a header would be parsed
// into a list per message). Partitions are chosen by the sender, never by
// the key.

// Who sent a record: the ingest of an input partition (sender = its
// number) or a task (sender = the task, a partition of the repartition
// topic) forwarding an event it resolved.
enum class RouteStage : uint8_t { kIngest = 1, kTask = 2 };

enum class RouteKind : uint8_t {
  kEvent = 1,      // value: the input record
  kWatermark = 2,  // the sender's watermark has reached `watermark`
  kEnd = 3,        // a bounded sender has nothing more to send
};

struct Route {
  RouteStage stage = RouteStage::kIngest;
  RouteKind kind = RouteKind::kEvent;
  int32_t sender = 0;
  // Per sender and receiver, increasing in the order sent, and the same
  // when a sender replays from its checkpoint: the input offset (ingest),
  // the offset in the task's own log of the record it resolved (task). A
  // receiver drops what is not above the highest it has seen (ReplayFilter).
  int64_t seq = 0;
  // An event: where it entered the pipeline (late records and dead letters
  // name it). For the ingest stage, the sender and seq.
  PartitionId origin_partition = {};
  Offset origin_offset = {};
  // An event a task forwards: whether it is its customer's first completed
  // order, decided in the order of the customer's task.
  bool first_order = false;
  Timestamp watermark = Timestamp::Min();  // kWatermark
};

// The record key for `route`, in `key` (replaced; its buffer reused).
void EncodeRoute(const Route& route, std::string* key);
inline std::string EncodeRoute(const Route& route) {
  std::string key;
  EncodeRoute(route, &key);
  return key;
}

// The route in a record's key (empty: the record has none). InvalidArgument
// naming the record (topic, partition, offset) when it is missing,
// truncated, of an unknown version, stage or kind, or has bytes left.
absl::StatusOr<Route> DecodeRoute(absl::string_view key,
                                  absl::string_view topic,
                                  PartitionId partition, Offset offset);

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_REPARTITION_RECORD_H_
