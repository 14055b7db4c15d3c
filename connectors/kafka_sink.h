#ifndef TILLSTREAM_CONNECTORS_KAFKA_SINK_H_
#define TILLSTREAM_CONNECTORS_KAFKA_SINK_H_

#include <array>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "connectors/kafka_config.h"
#include "connectors/output_sink.h"
#include "engine/pipeline_config.h"
#include "librdkafka/rdkafka.h"

namespace tillstream {

struct KafkaSinkOptions {
  std::string brokers;
  KafkaProperties properties;  // kafka.properties, passed through
  // Topic per OutputKind (kpis, deadletter, late).
  std::array<std::string, kOutputKindCount> topics;
  // Exactly-once: a transactional producer with this id (stable across
  // restarts of one instance, so a restart fences its zombie); empty: an
  // idempotent producer, at-least-once.
  std::string transactional_id;
  // The input topic and the consumer whose offsets a transaction commits.
  std::string input_topic;
  rd_kafka_t* consumer = nullptr;
  // Durable state's changelog topic (its partition 0, or one per task with
  // scale-out); empty: none.
  std::string changelog_topic;
  // Scale-out: the repartition topic Forward writes to; empty: none.
  std::string repartition_topic;
};

// The topic of each OutputKind, from the pipeline's `outputs:`.
std::array<std::string, kOutputKindCount> OutputTopics(
    const OutputsConfig& outputs);

// Produces output records to Kafka with an idempotent producer (no duplicates
// or reordering from producer retries). The message key is the record's key:
// the KPI group rendered k=v[,k=v]. A delivery failure is kept and returned by
// the next Write or Flush: outputs are never dropped silently. One thread.
class KafkaSink final : public OutputSink {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaSink>> Create(
      KafkaSinkOptions options);
  ~KafkaSink() override;

  absl::Status Write(const OutputBatch& batch) override;
  absl::Status Flush() override;
  // Sends `offsets` (metadata "tillstream-checkpoint=N") to the open
  // transaction, commits it and begins the next.
  absl::Status Commit(const SourceOffsets& offsets,
                      int64_t checkpoint) override;
  bool transactional() const override { return !transactional_id_.empty(); }
  bool has_changelog() const override { return changelog_ != nullptr; }
  absl::Status WriteChangelog(std::span<const ChangelogRecord> records,
                              absl::string_view header) override {
    return WriteChangelogTo(0, records, header);
  }
  int64_t changelog_offset() const override { return changelog_offset(0); }
  // Scale-out: the changelog of the task that owns changelog `partition`.
  absl::Status WriteChangelogTo(int32_t partition,
                                std::span<const ChangelogRecord> records,
                                absl::string_view header);
  int64_t changelog_offset(int32_t partition) const {
    auto it = changelog_offsets_.find(partition);
    return it == changelog_offsets_.end() ? -1 : it->second;
  }
  // Exactly-once: drops what the open transaction holds (its records are
  // delivered, then aborted) and begins the next. For a member
  // whose partitions were lost: what it sent can no longer commit.
  absl::Status AbortTransaction();
  // Scale-out: a record to `partition` of the repartition topic, delivered
  // by the next Flush (in order per partition: the producer is idempotent).
  absl::Status Forward(int32_t partition, absl::string_view key,
                       absl::string_view value);
  // A control record (`key`, no value) to each of the repartition topic's
  // first `partitions` partitions: a watermark or an end for every task.
  absl::Status ForwardToEach(int32_t partitions, absl::string_view key);

 private:
  KafkaSink() = default;
  static void DeliveryReport(rd_kafka_t* rk, const rd_kafka_message_t* message,
                             void* opaque);

  absl::Status TransactionError(absl::string_view what,
                                rd_kafka_error_t* error);

  rd_kafka_t* producer_ = nullptr;
  std::string transactional_id_;
  std::string input_topic_;
  rd_kafka_t* consumer_ = nullptr;
  std::array<rd_kafka_topic_t*, kOutputKindCount> topics_{};
  rd_kafka_topic_t* changelog_ = nullptr;
  rd_kafka_topic_t* repartition_ = nullptr;
  // Per changelog partition, the offset of its last delivered record.
  absl::flat_hash_map<int32_t, int64_t> changelog_offsets_;
  absl::Status delivery_error_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_KAFKA_SINK_H_
