#include "engine/pipeline_runner.h"

#include "absl/strings/str_cat.h"
#include "engine/json_writer.h"
#include "engine/status_macros.h"

namespace tillstream {

PipelineRunner::PipelineRunner(const PipelineConfig& config,
                               RecordSource* source, OutputSink* sink,
                               Clock* clock, RunnerOptions options)
    : config_(config),
      source_(source),
      sink_(sink),
      clock_(clock),
      options_(std::move(options)),
      decoder_(
          OrderDecoderOptions{config.source.default_currency, config.limits}),
      watermarks_(WatermarkOptions{config.source.max_out_of_orderness_ms,
                                   config.source.idle_timeout_ms}) {
  for (const KpiRuleConfig& rule : config.kpis) {
    approx_distinct_ = approx_distinct_ || rule.approx_distinct;
    kpi_operators_.emplace_back(rule, config.name);
  }
  for (const RollingRuleConfig& rule : config.rolling) {
    for (WindowKpiOperator& op : kpi_operators_) {
      if (op.rule().name != rule.kpi) continue;
      rolling_operators_.emplace_back(rule, op.rule(), config.name);
      op.AddListener(&rolling_operators_.back());
    }
  }
  const size_t rule_count = kpi_operators_.size();
  for (const AnomalyRuleConfig& rule : config.anomalies) {
    for (size_t i = 0; i < rule_count; ++i) {
      WindowKpiOperator& op = kpi_operators_[i];
      if (op.rule().name != rule.kpi) continue;
      anomaly_operators_.emplace_back(rule, op.rule(), config.name);
      op.AddListener(&anomaly_operators_.back());
      if (!rule.early_warning.enabled) continue;
      step_rules_.push_back(EarlyWarningOperator::StepRule(rule, op.rule()));
      WindowKpiOperator& steps =
          kpi_operators_.emplace_back(step_rules_.back(), config.name);
      early_operators_.emplace_back(rule, op.rule(), step_rules_.back(),
                                    config.name);
      steps.AddListener(&early_operators_.back());
    }
  }
}

void PipelineRunner::OnPartitionsAssigned(
    std::span<const PartitionId> partitions) {
  const int64_t now = clock_->NowMillis();
  for (PartitionId p : partitions) watermarks_.AddPartition(p, now);
}

void PipelineRunner::OnPartitionsRevoked(
    std::span<const PartitionId> partitions) {
  for (PartitionId p : partitions) watermarks_.RemovePartition(p);
}

void PipelineRunner::OnPartitionEnd(PartitionId partition) {
  watermarks_.MarkFinished(partition);
}

absl::Status PipelineRunner::Run(const std::atomic<bool>& stop) {
  RecordBatch batch;
  while (!stop.load(std::memory_order_relaxed)) {
    absl::StatusOr<PollResult> polled =
        source_->Poll(this, options_.poll_timeout, &batch);
    if (!polled.ok()) return polled.status();
    const int64_t now = clock_->NowMillis();
    if (*polled == PollResult::kEndOfInput) {
      // A bounded input ends with a watermark of +infinity: every window
      // closes.
      AdvanceWatermark(Timestamp::Max());
      TS_RETURN_IF_ERROR(WriteOutputs());
      return sink_->Flush();
    }
    ProcessBatch(batch, now);
    AdvanceWatermark(watermarks_.Advance(now));
    TS_RETURN_IF_ERROR(WriteOutputs());
    if (options_.on_batch) options_.on_batch(summary());
  }
  return sink_->Flush();
}

void PipelineRunner::ProcessBatch(const RecordBatch& batch, int64_t now_ms) {
  const Timestamp watermark = watermarks_.current();
  decoder_.SetWallClock(clock_->EpochMillis());
  PartitionId cached_id{-1};
  PartitionWatermark* partition = nullptr;
  OrderEvent event;
  for (const SourceRecord& record : batch.records) {
    if (partition == nullptr || record.partition != cached_id) {
      cached_id = record.partition;
      partition = watermarks_.Find(record.partition);
      if (partition == nullptr)
        partition = watermarks_.AddPartition(record.partition, now_ms);
      watermarks_.MarkActive(partition, now_ms);
    }
    ++summary_.records;
    absl::Status decoded = decoder_.Decode(record.payload, &event);
    if (!decoded.ok()) {
      WriteDeadLetter(record, decoded.message());
      continue;
    }
    ++summary_.events;
    event.source = {source_->kind(), source_->name(), record.partition,
                    record.offset};
    partition->Observe(event.ts);
    // The customer once per event, so every rule agrees on a first order.
    const CustomerRef customer =
        ResolveCustomer(event, &customers_, approx_distinct_);
    for (WindowKpiOperator& op : kpi_operators_) {
      op.Process(event, customer, watermark, &outputs_);
    }
  }
}

void PipelineRunner::WriteDeadLetter(const SourceRecord& record,
                                     absl::string_view reason) {
  ++summary_.bad_records;
  // Reasons quote values, so a hostile producer could make them unbounded:
  // count the first kMaxReasons distinct ones, the rest together.
  constexpr size_t kMaxReasons = 1000;
  auto it = summary_.bad_by_reason.find(reason);
  if (it != summary_.bad_by_reason.end()) {
    ++it->second;
  } else if (summary_.bad_by_reason.size() < kMaxReasons) {
    summary_.bad_by_reason.emplace(reason, 1);
  } else {
    ++summary_.bad_by_reason["(other reasons)"];
  }
  SourcePosition source{source_->kind(), source_->name(), record.partition,
                        record.offset};
  std::string key = absl::StrCat(source.topic, "/", source.partition.value, "/",
                                 source.offset.value);
  outputs_.BeginRecord(OutputKind::kDeadLetter, key);
  std::string* json = outputs_.value();
  json->append("{\"type\":\"deadletter\",\"pipeline\":");
  AppendJsonString(config_.name, json);
  json->append(",\"reason\":");
  AppendJsonString(reason, json);
  json->append(",\"source\":");
  AppendSourceJson(source, json);
  json->append(",\"payload\":");
  AppendJsonString(record.payload, json);
  json->push_back('}');
  outputs_.EndRecord();
}

void PipelineRunner::AdvanceWatermark(Timestamp watermark) {
  summary_.watermark = watermark;
  const int64_t now = clock_->NowMillis();
  for (WindowKpiOperator& op : kpi_operators_)
    op.AdvanceWatermark(watermark, &outputs_, now);
}

absl::Status PipelineRunner::WriteOutputs() {
  if (outputs_.empty()) return absl::OkStatus();
  summary_.outputs += static_cast<int64_t>(outputs_.size());
  absl::Status status = sink_->Write(outputs_);
  outputs_.Clear();
  return status;
}

const RunSummary& PipelineRunner::summary() {
  summary_.late_events = summary_.snapshots = summary_.corrections = 0;
  for (const WindowKpiOperator& op : kpi_operators_) {
    if (op.rule().internal) continue;
    summary_.late_events += op.probe().late_events;
    summary_.snapshots += op.probe().snapshots;
    summary_.corrections += op.probe().corrections;
  }
  summary_.alerts = 0;
  for (const AnomalyOperator& op : anomaly_operators_) {
    summary_.alerts +=
        op.probe().fired + op.probe().escalated + op.probe().resolved;
  }
  for (const EarlyWarningOperator& op : early_operators_)
    summary_.alerts += op.probe().fired + op.probe().resolved;
  summary_.rolling = 0;
  for (const RollingOperator& op : rolling_operators_) {
    summary_.rolling += op.probe().snapshots + op.probe().corrections;
  }
  return summary_;
}

}  // namespace tillstream
