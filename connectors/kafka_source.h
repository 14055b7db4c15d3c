#ifndef TILLSTREAM_CONNECTORS_KAFKA_SOURCE_H_
#define TILLSTREAM_CONNECTORS_KAFKA_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "connectors/kafka_config.h"
#include "connectors/record_source.h"
#include "librdkafka/rdkafka.h"

namespace tillstream {

struct KafkaSourceOptions {
  std::string brokers;  // bootstrap servers
  std::string topic;    // input topic
  std::string
      group_id;  // consumer group; instances sharing it split the partitions
  KafkaProperties properties;       // kafka.properties, passed through
  bool bounded = false;             // stop at the end offsets seen at start
  bool embedded_broker = false;     // tune fetch waits for the mock cluster
  size_t max_batch_records = 4096;  // records per Poll
  // Each assigned partition resumes from the group's committed offset (else
  // from its beginning), not from StartAt's: for a consumer whose progress
  // the group keeps (the scale-out ingest).
  bool resume_from_group = false;
};

// One consumer of a Kafka consumer group (librdkafka KafkaConsumer). The
// group assigns partitions; the assignment callbacks run inside Poll and tell
// the PartitionListener, so the runtime creates and drops partition tasks.
// An assigned partition is read from the offset a restored checkpoint gives
// (StartAt), else from its beginning: the engine's own checkpoint is the
// source of truth, the group's committed offsets are for monitoring. The
// listener hears of an assignment before the offsets are chosen, so it may
// restore the partitions' state and call StartAt from the callback.
// Records are views into librdkafka's buffers, no copy; they stay valid until
// the second Poll after theirs. Used by one thread.
class KafkaSource final : public RecordSource {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaSource>> Create(
      KafkaSourceOptions options);
  ~KafkaSource() override;

  absl::StatusOr<PollResult> Poll(PartitionListener* listener,
                                  absl::Duration timeout,
                                  RecordBatch* batch) override;
  SourceKind kind() const override { return SourceKind::kKafka; }
  absl::string_view name() const override { return options_.topic; }
  // High watermark (cached from fetch responses) minus position.
  void Lag(std::vector<PartitionLag>* out) override;
  // Bounded: records read of those between the start and end offsets.
  SourceProgress Progress() const override;
  void StartAt(const SourceOffsets& offsets) override {
    start_offsets_ = offsets;
  }
  // Asynchronous: a failed commit only delays what monitoring shows.
  void CommitOffsets(const SourceOffsets& offsets) override;
  // The highest checkpoint label ("tillstream-checkpoint=N" metadata) of the
  // group's committed offsets for `partitions`; -1 when none has one.
  absl::StatusOr<int64_t> CommittedCheckpoint(
      const SourceOffsets& partitions) override;
  // For a transactional producer that commits this consumer's offsets.
  rd_kafka_t* handle() const { return consumer_; }
  // Inside OnPartitionsRevoked: the partitions were lost (the session
  // expired), not handed over; another member may own them already.
  bool assignment_lost() const {
    return rd_kafka_assignment_lost(consumer_) != 0;
  }

 private:
  struct PartitionState {
    int64_t end_offset = -1;  // bounded mode: stop before this offset
    bool done = false;
  };

  explicit KafkaSource(KafkaSourceOptions options)
      : options_(std::move(options)) {}
  absl::Status QueryEndOffsets();
  void OnRebalance(rd_kafka_resp_err_t err,
                   rd_kafka_topic_partition_list_t* partitions);
  void FinishPartition(int32_t partition);
  // Sets the start of each of `partitions` to the group's committed offset
  // (none committed: the beginning).
  absl::Status ResumeFromGroup(
      const rd_kafka_topic_partition_list_t* partitions);
  // Destroys a batch's messages (its records' bytes).
  static void ReleaseMessages(std::vector<rd_kafka_message_t*>* batch);
  static void RebalanceTrampoline(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t* partitions,
                                  void* opaque);

  KafkaSourceOptions options_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  std::vector<rd_kafka_message_t*> messages_;           // the current batch's
  std::vector<rd_kafka_message_t*> previous_messages_;  // the batch before
  absl::flat_hash_map<int32_t, std::pair<int64_t, int64_t>>
      end_offsets_;  // bounded: [low, high) at start
  absl::flat_hash_map<int32_t, PartitionState> assigned_;
  SourceOffsets start_offsets_;            // from a restored checkpoint
  PartitionListener* listener_ = nullptr;  // set during Poll
  absl::Status rebalance_error_;
  bool ever_assigned_ = false;
  int64_t records_read_ = 0;
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_KAFKA_SOURCE_H_
