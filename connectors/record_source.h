#ifndef TILLSTREAM_CONNECTORS_RECORD_SOURCE_H_
#define TILLSTREAM_CONNECTORS_RECORD_SOURCE_H_

#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/order_event.h"
#include "engine/timestamp.h"

namespace tillstream {

// One input record: a view of its bytes and where it came from.
struct SourceRecord {
  absl::string_view payload;
  PartitionId partition;
  Offset offset;
  int64_t append_ms;           // Kafka: the message timestamp (latency); else 0
  absl::string_view key = {};  // Kafka: the message key; else empty
};

// Records of one Poll, valid until the second Poll after it on the same
// source: a runner may finish one batch while it decodes the next.
struct RecordBatch {
  std::vector<SourceRecord> records;
};

// Told by a source, from inside Poll and on the polling thread, which
// partitions it now owns. The runtime creates and drops per-partition tasks.
class PartitionListener {
 public:
  virtual ~PartitionListener() = default;
  virtual void OnPartitionsAssigned(
      std::span<const PartitionId> partitions) = 0;
  virtual void OnPartitionsRevoked(std::span<const PartitionId> partitions) = 0;
  // A bounded partition delivered its last record.
  virtual void OnPartitionEnd(PartitionId partition) = 0;
};

enum class PollResult { kRecords, kEndOfInput };

// Per partition, the offset of the next record to read: where a checkpoint
// resumes.
using SourceOffsets = absl::flat_hash_map<int32_t, int64_t>;

// How far behind the end of its partition a consumer is, in records.
struct PartitionLag {
  PartitionId partition;
  int64_t lag = -1;  // -1: not known yet
};

// How much of a bounded input has been read, for progress reports.
struct SourceProgress {
  int64_t done = 0;    // records (Kafka) or bytes (file) read so far
  int64_t total = -1;  // what there is to read; -1: unbounded or unknown
  const char* unit = "records";
};

// A stream of input records, moved a batch at a time. Implementations: Kafka
// (one consumer of a group), an NDJSON file. Used by one thread.
class RecordSource {
 public:
  virtual ~RecordSource() = default;

  // Replaces `batch` with the next records, waiting up to `timeout` for some
  // (an empty batch is fine). kEndOfInput once a bounded source is exhausted.
  // An error is fatal for the source.
  [[nodiscard]] virtual absl::StatusOr<PollResult> Poll(
      PartitionListener* listener, absl::Duration timeout,
      RecordBatch* batch) = 0;

  // How records of this source name their origin in dead letters and late
  // records.
  virtual SourceKind kind() const = 0;
  virtual absl::string_view name() const = 0;
  // The lag of every owned partition (metrics, health); empty by default.
  // Between polls, on the polling thread; no network round trip.
  virtual void Lag(std::vector<PartitionLag>* out) { out->clear(); }
  virtual SourceProgress Progress() const { return {}; }

  // Before the first Poll: read each partition in `offsets` from its offset
  // there (a restored checkpoint), others from their beginning.
  virtual void StartAt(const SourceOffsets& offsets) = 0;
  // After a checkpoint: record its offsets where monitoring sees them (the
  // consumer group); the checkpoint itself stays the source of truth.
  virtual void CommitOffsets(const SourceOffsets& /*offsets*/) {}
  // Exactly-once recovery: the highest checkpoint number a transaction
  // committed with the group's offsets of `partitions` (-1: none, or a
  // source without transactions).
  virtual absl::StatusOr<int64_t> CommittedCheckpoint(
      const SourceOffsets& /*partitions*/) {
    return -1;
  }
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_RECORD_SOURCE_H_
