#ifndef TILLSTREAM_ENGINE_INGEST_STAGE_H_
#define TILLSTREAM_ENGINE_INGEST_STAGE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "connectors/order_decoder.h"
#include "connectors/record_source.h"
#include "connectors/repartition_record.h"
#include "engine/clock.h"
#include "engine/output_batch.h"
#include "engine/pipeline_config.h"
#include "engine/scale_out_metrics.h"
#include "engine/timestamp.h"

namespace tillstream {

struct IngestSummary {
  int64_t records = 0;      // input records read
  int64_t forwarded = 0;    // valid events sent to their customer's task
  int64_t bad_records = 0;  // sent to the dead-letter output
  absl::flat_hash_map<std::string, int64_t> bad_by_reason;
};

// The first stage of a scaled-out pipeline (docs/scale-out.md). It reads
// the input partitions the consumer group gives this instance, decodes each
// record (a bad one goes to the dead-letter output with its reason, as in
// one instance) and forwards each valid event, its bytes unchanged, to the
// task of its customer (of its order when anonymous) on the repartition
// topic, keyed by its route: sender = input partition, seq = offset. After
// each batch, a partition whose watermark (max event time - the source's
// out-of-orderness) moved sends it to every task; a bounded partition's end
// goes to every task too, after its last event. It keeps no state: its
// progress is the group's committed offsets, committed once everything
// before them is delivered, so a restart sends again at most what followed
// and the tasks drop the repeats (engine/replay_filter.h); with a
// transactional sink (exactly-once), the forwarded records, dead letters and
// offsets of each commit interval are one transaction. One thread.
class IngestStage final : private PartitionListener {
 public:
  // `input` resumes from the group's offsets (resume_from_group); `sink`
  // writes dead letters and forwards; `metrics` (may be null) gets part 0.
  // None is owned.
  IngestStage(const PipelineConfig& config, KafkaSource* input, KafkaSink* sink,
              Clock* clock, ScaleOutMetrics* metrics = nullptr);

  // Until a bounded input ends or `stop` becomes true; then everything read
  // is delivered and committed.
  absl::Status Run(const std::atomic<bool>& stop);
  const IngestSummary& summary() const { return summary_; }

 private:
  struct Partition {
    Timestamp max_seen = Timestamp::Min();  // event time, the partition rule
    Timestamp sent = Timestamp::Min();      // the last watermark sent
    int64_t next_offset = -1;               // -1: nothing read yet
  };

  void OnPartitionsAssigned(std::span<const PartitionId> partitions) override;
  void OnPartitionsRevoked(std::span<const PartitionId> partitions) override;
  void OnPartitionEnd(PartitionId partition) override;

  // The partition's watermark: its max event time - the out-of-orderness
  // bound; Min before its first event.
  Timestamp WatermarkOf(const Partition& partition) const;
  absl::Status ProcessBatch(const RecordBatch& batch);
  // Delivers what was sent and commits the offsets of every owned partition
  // to the group (exactly-once: in the sink's transaction).
  absl::Status Commit();
  void PublishMetrics();

  const PipelineConfig& config_;
  KafkaSource* input_;
  KafkaSink* sink_;
  Clock* clock_;
  const uint32_t tasks_;
  OrderDecoder decoder_;
  absl::flat_hash_map<int32_t, Partition> partitions_;
  std::vector<PartitionId> ended_;  // bounded: ends to send after the batch
  OutputBatch dead_letters_;
  std::string route_scratch_;    // the key of the record being forwarded
  absl::Status callback_error_;  // a commit in a revocation callback
  int64_t last_commit_ms_ = 0;
  int64_t commits_ = 0;  // labels the transactions' offsets
  IngestSummary summary_;
  ScaleOutMetrics* metrics_;
  int64_t rebalances_ = 0;
  int64_t last_publish_ms_ = 0;
  std::vector<PartitionLag> lags_;
  absl::flat_hash_set<int32_t> caught_up_;  // since assigned, for /health
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_INGEST_STAGE_H_
