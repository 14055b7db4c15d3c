#include "engine/ingest_stage.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "connectors/repartition_record.h"
#include "engine/dead_letter.h"
#include "engine/status_macros.h"
#include "operators/key_shard.h"

namespace tillstream {

IngestStage::IngestStage(const PipelineConfig& config, KafkaSource* input,
                         KafkaSink* sink, Clock* clock,
                         ScaleOutMetrics* metrics)
    : config_(config),
      input_(input),
      sink_(sink),
      clock_(clock),
      tasks_(static_cast<uint32_t>(config.scale_out_tasks)),
      decoder_(
          OrderDecoderOptions{config.source.default_currency, config.limits}),
      metrics_(metrics) {}

Timestamp IngestStage::WatermarkOf(const Partition& partition) const {
  if (partition.max_seen.is_min()) return Timestamp::Min();
  return partition.max_seen.Minus(config_.source.max_out_of_orderness_ms);
}

void IngestStage::OnPartitionsAssigned(
    std::span<const PartitionId> partitions) {
  ++rebalances_;
  for (PartitionId p : partitions) {
    partitions_[p.value] = Partition{};
    caught_up_.erase(p.value);
  }
}

void IngestStage::OnPartitionsRevoked(std::span<const PartitionId> partitions) {
  // What was read from them goes out and is committed before another
  // instance resumes them: it then sends again as little as possible (and,
  // exactly-once, the open transaction's offsets are still this member's
  // to send). Lost (the session expired): another member resumes them from
  // the last commit, and exactly-once what the open transaction holds can
  // no longer commit: aborted.
  if (input_->assignment_lost()) {
    callback_error_.Update(sink_->AbortTransaction());
    dead_letters_.Clear();
  } else {
    callback_error_.Update(Commit());
  }
  ++rebalances_;
  for (PartitionId p : partitions) partitions_.erase(p.value);
}

void IngestStage::OnPartitionEnd(PartitionId partition) {
  // Called while the batch with the partition's last records is polled:
  // the end goes out after them.
  ended_.push_back(partition);
}

absl::Status IngestStage::ProcessBatch(const RecordBatch& batch) {
  decoder_.SetWallClock(clock_->EpochMillis());
  OrderEvent event;
  Partition* partition = nullptr;
  int32_t partition_id = -1;
  for (const SourceRecord& record : batch.records) {
    ++summary_.records;
    if (partition == nullptr || record.partition.value != partition_id) {
      auto it = partitions_.find(record.partition.value);
      if (it == partitions_.end()) continue;  // revoked while in flight
      partition = &it->second;
      partition_id = record.partition.value;
    }
    partition->next_offset = record.offset.value + 1;
    const absl::Status decoded = decoder_.Decode(record.payload, &event);
    if (!decoded.ok()) {
      ++summary_.bad_records;
      CountReason(decoded.message(), &summary_.bad_by_reason);
      AppendDeadLetter(
          config_.name,
          {input_->kind(), input_->name(), record.partition, record.offset},
          decoded.message(), record.payload, &dead_letters_);
      continue;
    }
    partition->max_seen = std::max(partition->max_seen, event.ts);
    const absl::string_view customer =
        event.customer_id.empty() ? event.order_id : event.customer_id;
    const auto task = static_cast<int32_t>(KeyShard::IndexOf(customer, tasks_));
    EncodeRoute({.stage = RouteStage::kIngest,
                 .kind = RouteKind::kEvent,
                 .sender = record.partition.value,
                 .seq = record.offset.value},
                &route_scratch_);
    TS_RETURN_IF_ERROR(sink_->Forward(task, route_scratch_, record.payload));
    ++summary_.forwarded;
  }
  if (!dead_letters_.empty()) {
    TS_RETURN_IF_ERROR(sink_->Write(dead_letters_));
    dead_letters_.Clear();
  }
  for (auto& [id, state] : partitions_) {
    const Timestamp watermark = WatermarkOf(state);
    if (watermark.is_min() || watermark <= state.sent) continue;
    state.sent = watermark;
    TS_RETURN_IF_ERROR(
        sink_->ForwardToEach(static_cast<int32_t>(tasks_),
                             EncodeRoute({.stage = RouteStage::kIngest,
                                          .kind = RouteKind::kWatermark,
                                          .sender = id,
                                          .watermark = watermark})));
  }
  for (PartitionId ended : ended_) {
    TS_RETURN_IF_ERROR(sink_->ForwardToEach(
        static_cast<int32_t>(tasks_), EncodeRoute({.stage = RouteStage::kIngest,
                                                   .kind = RouteKind::kEnd,
                                                   .sender = ended.value})));
  }
  ended_.clear();
  return absl::OkStatus();
}

absl::Status IngestStage::Commit() {
  SourceOffsets offsets;
  for (const auto& [id, state] : partitions_) {
    if (state.next_offset >= 0) offsets[id] = state.next_offset;
  }
  last_commit_ms_ = clock_->NowMillis();
  // Exactly-once: the forwarded records, dead letters and offsets commit
  // together. Otherwise the records are delivered before the offsets go.
  if (sink_->transactional()) return sink_->Commit(offsets, ++commits_);
  TS_RETURN_IF_ERROR(sink_->Flush());
  input_->CommitOffsets(offsets);
  return absl::OkStatus();
}

void IngestStage::PublishMetrics() {
  if (metrics_ == nullptr) return;
  last_publish_ms_ = clock_->NowMillis();
  input_->Lag(&lags_);
  absl::flat_hash_map<int32_t, int64_t> lag_by_partition;
  for (const PartitionLag& lag : lags_) {
    lag_by_partition[lag.partition.value] = lag.lag;
    if (IsCaughtUp(lag.lag)) caught_up_.insert(lag.partition.value);
  }
  MetricsSnapshot m;
  m.wall_ms = clock_->EpochMillis();
  m.records_in = summary_.records;
  m.events_in = summary_.forwarded;
  m.bad_records = summary_.bad_records;
  m.outputs[static_cast<int>(OutputKind::kDeadLetter)] = summary_.bad_records;
  m.decode_errors = DecodeErrorClasses(summary_.bad_by_reason);
  for (const auto& [id, state] : partitions_) {
    auto lag = lag_by_partition.find(id);
    m.partitions.push_back(
        {.partition = id,
         .lag = lag == lag_by_partition.end() ? -1 : lag->second,
         .watermark = WatermarkOf(state),
         .caught_up = caught_up_.contains(id)});
  }
  std::sort(
      m.partitions.begin(), m.partitions.end(),
      [](const auto& a, const auto& b) { return a.partition < b.partition; });
  m.assigned_partitions = static_cast<int64_t>(partitions_.size());
  m.rebalances = rebalances_;
  metrics_->Publish(0, std::move(m));
}

absl::Status IngestStage::Run(const std::atomic<bool>& stop) {
  RecordBatch batch;
  last_commit_ms_ = clock_->NowMillis();
  while (!stop.load(std::memory_order_relaxed)) {
    absl::StatusOr<PollResult> polled =
        input_->Poll(this, absl::Milliseconds(100), &batch);
    TS_RETURN_IF_ERROR(callback_error_);
    if (!polled.ok()) return polled.status();
    const int64_t now = clock_->NowMillis();
    TS_RETURN_IF_ERROR(ProcessBatch(batch));
    if (*polled == PollResult::kEndOfInput) break;
    if (now - last_commit_ms_ >= config_.state.checkpoint_interval_ms)
      TS_RETURN_IF_ERROR(Commit());
    if (now - last_publish_ms_ >= kMetricsIntervalMs) PublishMetrics();
  }
  const absl::Status committed = Commit();
  PublishMetrics();
  return committed;
}

}  // namespace tillstream
