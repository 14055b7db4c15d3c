#include "engine/pipeline_runner.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/changelog_restore.h"
#include "engine/dead_letter.h"
#include "engine/json_writer.h"
#include "engine/status_macros.h"
#include "engine/time_format.h"
#include "engine/worker_state.h"
#include "state/append_only_table.h"
#include "state/changelog.h"
#include "state/state_codec.h"

namespace tillstream {
namespace {
constexpr uint64_t kEngineStateVersion = 1;

// Starts fetching the event's own bytes.
void PrefetchEvent(const OrderEvent& event) {
  const char* bytes = reinterpret_cast<const char*>(&event);
  for (size_t at = 0; at < sizeof(OrderEvent); at += 64)
    __builtin_prefetch(bytes + at);
}

// Starts fetching the strings a graph's group lookups read first for the
// rules by store and by region (both examples have them; other fields are
// looked up unfetched, as before).
void PrefetchGroupFields(const OrderEvent& event) {
  __builtin_prefetch(event.store_id.data());
  __builtin_prefetch(event.region.data());
}
}  // namespace

PipelineRunner::PipelineRunner(const PipelineConfig& config,
                               RecordSource* source, OutputSink* sink,
                               Clock* clock, RunnerOptions options)
    : config_(config),
      source_(source),
      sink_(sink),
      clock_(clock),
      options_(std::move(options)),
      decode_(
          OrderDecoderOptions{config.source.default_currency, config.limits},
          options_.decode_ahead && config.workers == 1 &&
              std::thread::hardware_concurrency() > 1),
      watermarks_(WatermarkOptions{config.source.max_out_of_orderness_ms,
                                   config.source.idle_timeout_ms}) {
  const auto workers = static_cast<uint32_t>(config.workers);
  for (uint32_t k = 0; k < workers; ++k) {
    graphs_.push_back(
        std::make_unique<OperatorGraph>(config, KeyShard{k, workers}));
  }
  if (workers > 1) {
    workers_ = std::make_unique<ShardWorkers>(workers);
    for (uint32_t k = 0; k < workers; ++k) {
      decoders_.push_back(std::make_unique<OrderDecoder>(
          OrderDecoderOptions{config.source.default_currency, config.limits}));
    }
  }
  if (options_.queries != nullptr) live_ = std::make_unique<LiveView>();
}

void PipelineRunner::OnPartitionsAssigned(
    std::span<const PartitionId> partitions) {
  const int64_t now = clock_->NowMillis();
  ++rebalances_;
  for (PartitionId p : partitions) AddPartition(p, now);
}

PartitionWatermark* PipelineRunner::AddPartition(PartitionId partition,
                                                 int64_t now_ms) {
  PartitionWatermark* added = watermarks_.AddPartition(partition, now_ms);
  // A partition resumed from a checkpoint keeps its event-time progress.
  auto restored = restored_max_seen_.find(partition.value);
  if (restored != restored_max_seen_.end()) added->Observe(restored->second);
  return added;
}

void PipelineRunner::OnPartitionsRevoked(
    std::span<const PartitionId> partitions) {
  ++rebalances_;
  for (PartitionId p : partitions) {
    watermarks_.RemovePartition(p);
    caught_up_.erase(p.value);
  }
}

void PipelineRunner::OnPartitionEnd(PartitionId partition) {
  watermarks_.MarkFinished(partition);
}

absl::Status PipelineRunner::Run(const std::atomic<bool>& stop) {
  // Two batches in flight (sources keep a batch valid until the Poll after
  // next): with a decode thread and a backlog, the next batch is polled as
  // soon as this one is read, so the thread decodes it while this one's
  // windows close, its outputs go out and a checkpoint is taken. Without a
  // backlog (small batches: a live input keeping up), records arriving
  // meanwhile would wait a batch longer: it polls after, as before.
  RecordBatch batches[2];
  size_t current = 0;
  std::optional<absl::StatusOr<PollResult>> polled_ahead;
  // The decode thread must be done with a batch polled ahead before the
  // batch goes.
  absl::Cleanup finish_ahead = [this] {
    if (decode_started_) decode_.Finish();
    decode_started_ = false;
  };
  while (!stop.load(std::memory_order_relaxed)) {
    TS_RETURN_IF_ERROR(CheckNotFenced());
    RecordBatch& batch = batches[current];
    absl::StatusOr<PollResult> polled =
        polled_ahead.has_value()
            ? *std::move(polled_ahead)
            : source_->Poll(this, options_.poll_timeout, &batch);
    polled_ahead.reset();
    if (!polled.ok()) return polled.status();
    const int64_t now = clock_->NowMillis();
    if (*polled == PollResult::kEndOfInput) {
      TS_RETURN_IF_ERROR(FinishAdmitted());
      // Checkpointed before the artificial end of time below, so that a
      // later run over more input resumes with its windows still open.
      if (state_ != nullptr) TS_RETURN_IF_ERROR(Checkpoint());
      // A bounded input ends with a watermark of +infinity: every window
      // closes.
      AdvanceWatermark(Timestamp::Max());
      TS_RETURN_IF_ERROR(WriteOutputs());
      if (options_.metrics != nullptr) PublishMetrics(now);
      TS_RETURN_IF_ERROR(sink_->Flush());
      // The closing outputs in a transaction of their own, offsets
      // unchanged: lost in a crash, a rerun from the checkpoint above
      // closes the same windows again.
      return state_ == nullptr
                 ? absl::OkStatus()
                 : sink_->Commit(next_offsets_, checkpoint_number_);
    }
    const AdmittedBatch* earlier = pending_;
    ProcessBatch(batch, now);
    KeepBehindPartitionsActive(now);
    const Timestamp watermark = watermarks_.Advance(now);
    if (workers_ != nullptr) {
      // The batch read before had its graphs run with this one's reading;
      // its outputs go before the next poll, which may free its records.
      if (earlier != nullptr) TS_RETURN_IF_ERROR(Deliver(earlier->batch));
      pending_->watermark_after = watermark;
      pending_->now_ms = clock_->NowMillis();
    }
    // With a backlog, the next batch is polled now, without waiting (an idle
    // input must not hold this batch's outputs): one worker's decode thread
    // starts on it; with workers > 1, this batch's graphs run with its
    // reading, but not across a checkpoint, which must find them run.
    const bool read_ahead =
        batch.records.size() >= kReadAheadBatch &&
        (workers_ == nullptr ? decode_.threaded() : !CheckpointDue(now));
    if (read_ahead) {
      current = 1 - current;
      polled_ahead =
          source_->Poll(this, absl::ZeroDuration(), &batches[current]);
    }
    const bool more_waiting =
        read_ahead && polled_ahead->ok() && !batches[current].records.empty();
    if (workers_ == nullptr) {
      if (more_waiting) {
        decode_.Start(batches[current].records, clock_->EpochMillis());
        decode_started_ = true;
      }
      AdvanceWatermark(watermark);
      TS_RETURN_IF_ERROR(Deliver(&batch));
    } else if (!more_waiting) {
      TS_RETURN_IF_ERROR(FinishAdmitted());
    }
    if (options_.on_batch) options_.on_batch(summary());
    if (options_.queries != nullptr) options_.queries->Serve();
    if (options_.metrics != nullptr &&
        now - last_publish_ms_ >= kMetricsIntervalMs)
      PublishMetrics(now);
    if (state_ != nullptr && pending_ == nullptr) {
      if (summary_.records == records_checkpointed_ &&
          summary_.outputs == outputs_checkpointed_) {
        // Nothing to save (no record read, no output written): the
        // interval counts from the next change, so an idle input takes no
        // checkpoints and the first batch after one waits its interval.
        last_checkpoint_ms_ = now;
      } else if (CheckpointDue(now)) {
        TS_RETURN_IF_ERROR(Checkpoint());
      }
    }
  }
  TS_RETURN_IF_ERROR(FinishAdmitted());
  if (state_ != nullptr) return Checkpoint();  // flushes the sink first
  return sink_->Flush();
}

std::vector<std::string> PipelineRunner::StateFamilies(
    const PipelineConfig& config) {
  // The operators name their families: build them, touch nothing else.
  std::vector<std::string> families = {std::string(kEngineFamily)};
  for (const std::string& family : OperatorGraph(config).Families()) {
    for (int64_t k = 0; k < config.workers; ++k)
      families.push_back(WorkerFamily(family, k, config.workers));
  }
  return families;
}

absl::StatusOr<std::string> PipelineRunner::InstanceId(StateStore* store) {
  std::optional<std::string> id;
  TS_ASSIGN_OR_RETURN(id, store->Get(kEngineFamily, "i"));
  if (id.has_value()) return *id;
  absl::BitGen random;
  id = absl::StrFormat("%016x", absl::Uniform<uint64_t>(random));
  StateWriteBatch batch;
  batch.Put(kEngineFamily, "i", *id);
  TS_RETURN_IF_ERROR(store->Write(batch));
  return *id;
}

absl::Status PipelineRunner::EnableState(StateStore* store,
                                         int64_t interval_ms) {
  state_ = store;
  checkpoint_interval_ms_ = interval_ms;
  // A changelog record names its run: records of a checkpoint cut short
  // are never taken for those of a later run's checkpoint of that number.
  absl::BitGen random;
  changelog_epoch_ = absl::Uniform<uint64_t>(random);
  std::optional<std::string> instance;
  TS_ASSIGN_OR_RETURN(instance, store->Get(kEngineFamily, "i"));
  instance_id_ = instance.value_or("");
  last_checkpoint_ms_ = clock_->NowMillis();
  TS_RETURN_IF_ERROR(CheckWorkers(store, config_.workers));
  stateful_.clear();
  for (size_t k = 0; k < graphs_.size(); ++k) {
    stateful_.push_back(graphs_[k]->EnableCheckpoints());
    WorkerStateStore worker_store(store, k, graphs_.size());
    for (CheckpointedState* op : stateful_.back())
      TS_RETURN_IF_ERROR(op->Restore(&worker_store));
  }
  TS_RETURN_IF_ERROR(RestoreEngineState());
  restored_checkpoint_ = checkpoint_number_;
  if (sink_->transactional()) TS_RETURN_IF_ERROR(RecoverTransaction());
  source_->StartAt(next_offsets_);
  return absl::OkStatus();
}

absl::Status PipelineRunner::RecoverTransaction() {
  std::optional<std::string> pending;
  TS_ASSIGN_OR_RETURN(pending, state_->Get(kEngineFamily, "t"));
  if (!pending.has_value()) return absl::OkStatus();
  StateDecoder in(*pending);
  const int64_t number = in.I64();
  const absl::string_view outputs = in.Bytes();
  const absl::string_view changelog_header = in.Bytes();
  std::vector<ChangelogRecord> changelog(in.Count());
  for (ChangelogRecord& record : changelog) {
    record.key = std::string(in.Bytes());
    if (in.Bool()) record.value = std::string(in.Bytes());
  }
  if (!in.ok() || !in.done())
    return absl::DataLossError("engine: bad transaction record");
  if (number != checkpoint_number_) return absl::OkStatus();
  int64_t committed;
  TS_ASSIGN_OR_RETURN(committed, source_->CommittedCheckpoint(next_offsets_));
  if (committed >= number) return absl::OkStatus();
  StateDecoder records(outputs);
  while (!records.done() && records.ok()) {
    const auto kind = static_cast<OutputKind>(records.U64());
    outputs_.BeginRecord(kind, records.Bytes());
    const absl::string_view value = records.Bytes();
    outputs_.value()->append(value.data(), value.size());
    outputs_.EndRecord();
  }
  if (!records.ok()) {
    outputs_.Clear();
    return absl::DataLossError("engine: bad transaction record");
  }
  TS_RETURN_IF_ERROR(sink_->Write(outputs_));
  outputs_.Clear();
  if (!changelog.empty())
    TS_RETURN_IF_ERROR(sink_->WriteChangelog(changelog, changelog_header));
  TS_RETURN_IF_ERROR(sink_->Flush());
  return sink_->Commit(next_offsets_, number);
}

// The engine's own records in family "engine":
//   "c" + id (8 bytes)   a known customer, append-only in id order
//   "p"                  version, the operator watermark, and per source
//                        partition the next offset and the max event time
absl::Status PipelineRunner::RestoreEngineState() {
  TS_RETURN_IF_ERROR(ReadEntries(
      state_, kEngineFamily, 'c', "engine: customer table",
      [this](absl::string_view customer) {
        customers_.Intern(customer);
        return true;
      },
      &customers_checkpointed_));
  std::optional<std::string> progress;
  TS_ASSIGN_OR_RETURN(progress, state_->Get(kEngineFamily, "p"));
  if (!progress.has_value()) return absl::OkStatus();
  StateDecoder in(*progress);
  if (in.U64() != kEngineStateVersion) {
    return absl::DataLossError(
        "engine: checkpoint from an incompatible version");
  }
  checkpoint_number_ = in.I64();
  const Timestamp watermark = Timestamp::FromMillis(in.I64());
  const size_t partitions = in.Count();
  for (size_t i = 0; i < partitions; ++i) {
    const int32_t partition = static_cast<int32_t>(in.I64());
    next_offsets_[partition] = in.I64();
    const int64_t max_seen = in.I64();
    if (max_seen != INT64_MIN)
      restored_max_seen_[partition] = Timestamp::FromMillis(max_seen);
  }
  if (!in.done()) return absl::DataLossError("engine: bad progress record");
  watermarks_.RaiseTo(watermark);
  summary_.watermark = watermark;
  return absl::OkStatus();
}

absl::Status PipelineRunner::CheckNotFenced() const {
  if (options_.fenced == nullptr ||
      !options_.fenced->load(std::memory_order_relaxed)) {
    return absl::OkStatus();
  }
  return absl::AbortedError(
      "another instance took over this pipeline (the lease was lost): "
      "stopped without a checkpoint; it resumes from the last one");
}

absl::Status PipelineRunner::Checkpoint() {
  // A checkpoint after a takeover would mix this state into the new
  // holder's changelog.
  TS_RETURN_IF_ERROR(CheckNotFenced());
  const auto started = std::chrono::steady_clock::now();
  StateWriteBatch batch;
  for (size_t k = 0; k < stateful_.size(); ++k) {
    StateWriteBatch part;
    for (CheckpointedState* op : stateful_[k]) op->Checkpoint(&part);
    AppendWorkerWrites(std::move(part), k, stateful_.size(), &batch);
  }
  if (stateful_.size() > 1)
    batch.Put(kEngineFamily, kWorkersKey, WorkersRecord(stateful_.size()));
  WriteNewEntries(
      &batch, kEngineFamily, 'c', customers_.size(), &customers_checkpointed_,
      [this](size_t id) { return std::string(customers_.Lookup(id)); });
  std::string progress;
  StateEncoder out(&progress);
  const int64_t number = checkpoint_number_ + 1;
  out.U64(kEngineStateVersion);
  out.I64(number);
  out.I64(watermarks_.current().millis());
  out.U64(next_offsets_.size());
  for (const auto& [partition, next] : next_offsets_) {
    out.I64(partition);
    out.I64(next);
    // Revoked partitions keep their offset; their event time restarts.
    const PartitionWatermark* p = watermarks_.Find(PartitionId{partition});
    out.I64(p == nullptr || p->max_seen().is_min() ? INT64_MIN
                                                   : p->max_seen().millis());
  }
  batch.Put(kEngineFamily, "p", progress);
  // The changelog gets every write so far (with the instance id, so that a
  // state rebuilt from it keeps its transactional id); the open
  // transaction's record and the changelog offset stay local.
  std::vector<ChangelogRecord> changelog;
  std::string changelog_header;
  if (sink_->has_changelog()) {
    if (!instance_id_.empty()) batch.Put(kEngineFamily, "i", instance_id_);
    changelog = EncodeChangelog(batch, changelog_epoch_, number);
    changelog_header = ChangelogHeaderValue(changelog_epoch_, number);
  }
  const bool transactional = sink_->transactional();
  if (transactional) {
    std::string pending;
    StateEncoder record(&pending);
    record.I64(number);
    record.Bytes(transaction_outputs_);
    record.Bytes(changelog_header);
    record.U64(changelog.size());
    for (const ChangelogRecord& write : changelog) {
      record.Bytes(write.key);
      record.Bool(write.value.has_value());
      if (write.value) record.Bytes(*write.value);
    }
    batch.Put(kEngineFamily, "t", pending);
  }
  // Outputs and the changelog first: once the offsets are saved, their
  // inputs are never processed again, so what they produced must already be
  // delivered (or, exactly-once, be in the transaction and in this
  // checkpoint). And the outputs before the changelog: a restore takes a
  // checkpoint from the changelog when the local state is behind it (a
  // crash between the two) or lost, so its records (the marker last) go
  // out only once every output before them is delivered. In one flush,
  // a crash could leave the changelog's partition complete and an output's
  // partition not, and the restored state would never emit it again.
  absl::Status status = sink_->Flush();
  if (status.ok() && !changelog.empty()) {
    status = sink_->WriteChangelog(changelog, changelog_header);
    if (status.ok()) status = sink_->Flush();
  }
  if (status.ok() && !changelog.empty()) {
    batch.Put(kEngineFamily, kChangelogPositionKey,
              EncodeChangelogPosition(sink_->changelog_offset(), number));
  }
  if (status.ok()) status = state_->Write(batch);
  if (status.ok()) status = sink_->Commit(next_offsets_, number);
  last_checkpoint_ms_ = clock_->NowMillis();
  records_checkpointed_ = summary_.records;
  outputs_checkpointed_ = summary_.outputs;
  if (!status.ok()) {
    ++checkpoint_probe_.failed;
    return absl::Status(status.code(),
                        absl::StrCat("checkpoint: ", status.message()));
  }
  checkpoint_number_ = number;
  transaction_outputs_.clear();
  if (!transactional) source_->CommitOffsets(next_offsets_);
  const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - started)
                         .count();
  const StateWriteBatch* written[] = {&batch};
  checkpoint_probe_.Completed(us, written);
  return absl::OkStatus();
}

// Calls `visit(record, i, partition)` for each record of the batch in order,
// with its partition's watermark state, and notes each partition's next
// offset.
template <typename Visit>
void PipelineRunner::ReadBatch(const RecordBatch& batch, int64_t now_ms,
                               Visit visit) {
  PartitionId cached_id{-1};
  PartitionWatermark* partition = nullptr;
  int64_t last_offset = -1;  // of cached_id's records in this run of them
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const SourceRecord& record = batch.records[i];
    if (partition == nullptr || record.partition != cached_id) {
      if (partition != nullptr)
        next_offsets_[cached_id.value] = last_offset + 1;
      cached_id = record.partition;
      partition = watermarks_.Find(record.partition);
      if (partition == nullptr)
        partition = AddPartition(record.partition, now_ms);
      watermarks_.MarkActive(partition, now_ms);
    }
    last_offset = record.offset.value;
    visit(record, i, partition);
  }
  if (partition != nullptr) next_offsets_[cached_id.value] = last_offset + 1;
}

void PipelineRunner::ProcessBatch(const RecordBatch& batch, int64_t now_ms) {
  const Timestamp watermark = watermarks_.current();
  if (workers_ == nullptr) {
    if (!decode_started_) decode_.Start(batch.records, clock_->EpochMillis());
    decode_started_ = false;
    ReadBatch(batch, now_ms,
              [&](const SourceRecord& record, size_t i,
                  PartitionWatermark* partition) {
                DecodedRecord& decoded = decode_.Get(i);
                PrefetchCustomer(decode_.Decoded(i + kPrefetchAhead));
                CustomerRef customer;
                if (Admit(record, decoded, partition, &customer))
                  graphs_[0]->Process(decoded.event, customer, watermark);
              });
    decode_.Finish();
    return;
  }
  // workers > 1: the other workers decode chunks of the batch while this
  // thread reads it in order (decoding a chunk too whenever the one it needs
  // is not ready); the graphs run on the workers later (FinishAdmitted), or
  // first in this phase if the batch before still waits for them.
  const AdmittedBatch* earlier = pending_;
  AdmittedBatch& admitted =
      earlier == &admitted_[0] ? admitted_[1] : admitted_[0];
  admitted.batch = &batch;
  admitted.decode.Reset(batch.records);
  const int64_t wall_clock_ms = clock_->EpochMillis();
  for (const std::unique_ptr<OrderDecoder>& decoder : decoders_)
    decoder->SetWallClock(wall_clock_ms);
  admitted.watermark_before = watermark;
  admitted.events.clear();
  admitted.customers.resize(batch.records.size());
  workers_->Run([&](size_t worker) {
    if (earlier != nullptr) RunGraph(worker, *earlier);
    if (worker != 0) {
      while (admitted.decode.DecodeNext(decoders_[worker].get())) {
      }
      return;
    }
    ReadBatch(batch, now_ms,
              [&](const SourceRecord& record, size_t i,
                  PartitionWatermark* partition) {
                DecodedRecord& decoded =
                    admitted.decode.Wait(i, decoders_[0].get());
                PrefetchCustomer(admitted.decode.Decoded(i + kPrefetchAhead));
                if (Admit(record, decoded, partition, &admitted.customers[i]))
                  admitted.events.push_back(static_cast<uint32_t>(i));
              });
  });
  if (earlier != nullptr) summary_.watermark = earlier->watermark_after;
  pending_ = &admitted;
}

void PipelineRunner::PrefetchCustomer(const DecodedRecord* ahead) {
  if (ahead != nullptr && ahead->status.ok() && CountsCustomer(ahead->event))
    customers_.Prefetch(ahead->event.customer_id);
}

bool PipelineRunner::Admit(const SourceRecord& record, DecodedRecord& decoded,
                           PartitionWatermark* partition,
                           CustomerRef* customer) {
  ++summary_.records;
  if (!decoded.status.ok()) {
    WriteDeadLetter(record, decoded.status.message());
    return false;
  }
  OrderEvent& event = decoded.event;
  ++summary_.events;
  event.source = {source_->kind(), source_->name(), record.partition,
                  record.offset};
  partition->Observe(event.ts);
  // The customer once per event, so every rule agrees on a first order.
  *customer =
      ResolveCustomer(event, &customers_, graphs_[0]->approx_distinct());
  return true;
}

void PipelineRunner::WriteDeadLetter(const SourceRecord& record,
                                     absl::string_view reason) {
  ++summary_.bad_records;
  CountReason(reason, &summary_.bad_by_reason);
  AppendDeadLetter(
      config_.name,
      {source_->kind(), source_->name(), record.partition, record.offset},
      reason, record.payload, &outputs_);
}

void PipelineRunner::AdvanceWatermark(Timestamp watermark) {
  summary_.watermark = watermark;
  const int64_t now = clock_->NowMillis();
  if (workers_ == nullptr) {
    graphs_[0]->AdvanceWatermark(watermark, now);
    return;
  }
  workers_->Run([&](size_t worker) {
    graphs_[worker]->AdvanceWatermark(watermark, now);
  });
}

void PipelineRunner::RunGraph(size_t worker, const AdmittedBatch& batch) {
  OperatorGraph& graph = *graphs_[worker];
  const std::vector<uint32_t>& events = batch.events;
  // Each worker walks every event, and about half were decoded on another
  // CPU: their cache lines are fetched ahead, the event first, then (once its
  // views have arrived) the strings they point to. On this machine's CPUs,
  // 450 ns apart most of the time, that took a `workers: 2` replay of 1M
  // orders from 0.65 s to 0.61 s (docs/performance.md).
  for (size_t k = 0; k < events.size(); ++k) {
    if (k + 2 * kPrefetchAhead < events.size())
      PrefetchEvent(batch.decode.slot(events[k + 2 * kPrefetchAhead]).event);
    if (k + kPrefetchAhead < events.size())
      PrefetchGroupFields(batch.decode.slot(events[k + kPrefetchAhead]).event);
    const uint32_t i = events[k];
    graph.Process(batch.decode.slot(i).event, batch.customers[i],
                  batch.watermark_before);
  }
  graph.AdvanceWatermark(batch.watermark_after, batch.now_ms);
}

absl::Status PipelineRunner::FinishAdmitted() {
  if (pending_ == nullptr) return absl::OkStatus();
  const AdmittedBatch& admitted = *pending_;
  workers_->Run([&](size_t worker) { RunGraph(worker, admitted); });
  summary_.watermark = admitted.watermark_after;
  pending_ = nullptr;
  return Deliver(admitted.batch);
}

absl::Status PipelineRunner::Deliver(const RecordBatch* done) {
  TS_RETURN_IF_ERROR(WriteOutputs());
  if (done != nullptr && options_.after_batch) options_.after_batch(*done);
  return absl::OkStatus();
}

absl::Status PipelineRunner::WriteOutputs() {
  TS_RETURN_IF_ERROR(WriteOutputs(&outputs_));
  for (const std::unique_ptr<OperatorGraph>& graph : graphs_)
    TS_RETURN_IF_ERROR(WriteOutputs(&graph->outputs()));
  return absl::OkStatus();
}

absl::Status PipelineRunner::WriteOutputs(OutputBatch* outputs) {
  if (outputs->empty()) return absl::OkStatus();
  summary_.outputs += static_cast<int64_t>(outputs->size());
  for (size_t i = 0; i < outputs->size(); ++i)
    ++summary_.outputs_by_kind[static_cast<int>((*outputs)[i].kind)];
  if (live_ != nullptr) live_->Observe(*outputs);
  if (state_ != nullptr && sink_->transactional()) {
    StateEncoder log(&transaction_outputs_);
    for (size_t i = 0; i < outputs->size(); ++i) {
      log.U64(static_cast<uint64_t>((*outputs)[i].kind));
      log.Bytes((*outputs)[i].key);
      log.Bytes((*outputs)[i].value);
    }
  }
  absl::Status status = sink_->Write(*outputs);
  outputs->Clear();
  return status;
}

const RunSummary& PipelineRunner::summary() {
  summary_.late_events = summary_.snapshots = summary_.corrections = 0;
  summary_.rolling = 0;
  for (const std::unique_ptr<OperatorGraph>& graph : graphs_) {
    for (const WindowKpiOperator& op : graph->kpi_operators()) {
      if (op.rule().internal) continue;
      summary_.late_events += op.probe().late_events;
      summary_.snapshots += op.probe().snapshots;
      summary_.corrections += op.probe().corrections;
    }
    for (const RollingOperator& op : graph->rolling_operators())
      summary_.rolling += op.probe().snapshots + op.probe().corrections;
  }
  const AnomalyProbe alerts = AlertTotals();
  summary_.alerts = alerts.fired + alerts.escalated + alerts.resolved;
  return summary_;
}

void PipelineRunner::KeepBehindPartitionsActive(int64_t now_ms) {
  if (!watermarks_.AnySilent(now_ms)) return;
  // Silent but with records waiting at the broker (a backlog after a
  // restart, a fetch that serves other partitions first): behind, not
  // idle. Letting it stop holding the watermark back would turn its
  // records into late events.
  source_->Lag(&lags_);
  for (const PartitionLag& lag : lags_) {
    // Unknown lag (-1) proves nothing: an empty partition may never report
    // one, and must not hold the watermark back for ever.
    if (lag.lag <= 0) continue;
    if (PartitionWatermark* p = watermarks_.Find(lag.partition))
      watermarks_.MarkActive(p, now_ms);
  }
}

void PipelineRunner::RefreshLag() {
  source_->Lag(&lags_);
  for (const PartitionLag& lag : lags_) {
    if (IsCaughtUp(lag.lag)) caught_up_.insert(lag.partition.value);
  }
}

template <typename Count>
int64_t PipelineRunner::SumKpiRule(size_t r, Count count) const {
  int64_t sum = 0;
  for (const std::unique_ptr<OperatorGraph>& graph : graphs_)
    sum += static_cast<int64_t>(count(graph->kpi_operators()[r]));
  return sum;
}

void PipelineRunner::PublishMetrics(int64_t now_ms) {
  last_publish_ms_ = now_ms;
  RefreshLag();
  const RunSummary& s = summary();
  MetricsSnapshot m;
  m.wall_ms = clock_->EpochMillis();
  m.records_in = s.records;
  m.events_in = s.events;
  m.bad_records = s.bad_records;
  for (int k = 0; k < kOutputKindCount; ++k)
    m.outputs[k] = s.outputs_by_kind[k];
  m.decode_errors = DecodeErrorClasses(s.bad_by_reason);
  const auto& rules = graphs_[0]->kpi_operators();
  for (size_t r = 0; r < rules.size(); ++r) {
    if (rules[r].rule().internal) continue;
    m.late_by_kpi.emplace_back(rules[r].rule().name,
                               SumKpiRule(r, [](const WindowKpiOperator& op) {
                                 return op.probe().late_events;
                               }));
    m.open_windows_by_kpi.emplace_back(
        rules[r].rule().name, SumKpiRule(r, [](const WindowKpiOperator& op) {
          return op.open_windows();
        }));
  }
  absl::flat_hash_map<int32_t, int64_t> lag_by_partition;
  for (const PartitionLag& lag : lags_)
    lag_by_partition[lag.partition.value] = lag.lag;
  watermarks_.ForEachPartition([&](PartitionId id, Timestamp watermark) {
    auto lag = lag_by_partition.find(id.value);
    m.partitions.push_back({id.value,
                            lag == lag_by_partition.end() ? -1 : lag->second,
                            watermark});
  });
  std::sort(
      m.partitions.begin(), m.partitions.end(),
      [](const auto& a, const auto& b) { return a.partition < b.partition; });
  m.watermark = s.watermark;
  m.known_customers = static_cast<int64_t>(customers_.size());
  m.assigned_partitions = static_cast<int64_t>(watermarks_.partition_count());
  m.rebalances = rebalances_;
  const AnomalyProbe alerts = AlertTotals();
  m.alerts_fired = alerts.fired;
  m.alerts_resolved = alerts.resolved;
  m.checkpoints_on = state_ != nullptr;
  m.checkpoints = checkpoint_probe_.completed;
  m.checkpoint_failures = checkpoint_probe_.failed;
  m.checkpoint_last_us = checkpoint_probe_.last_duration_us;
  m.checkpoint_total_us = checkpoint_probe_.total_duration_us;
  m.checkpoint_last_bytes = checkpoint_probe_.last_bytes;
  m.checkpoint_last_writes = checkpoint_probe_.last_writes;
  options_.metrics->Publish(std::move(m));
}

int PipelineRunner::FindKpiRule(absl::string_view name) const {
  const auto& rules = graphs_[0]->kpi_operators();
  for (size_t r = 0; r < rules.size(); ++r) {
    if (!rules[r].rule().internal && rules[r].rule().name == name)
      return static_cast<int>(r);
  }
  return -1;
}

std::string PipelineRunner::KpiRulesJson() const {
  std::string json = "[";
  const auto& rules = graphs_[0]->kpi_operators();
  for (size_t r = 0; r < rules.size(); ++r) {
    if (rules[r].rule().internal) continue;
    const int64_t groups = SumKpiRule(
        r, [](const WindowKpiOperator& op) { return op.group_count(); });
    const int64_t windows = SumKpiRule(
        r, [](const WindowKpiOperator& op) { return op.open_windows(); });
    if (json.size() > 1) json.push_back(',');
    json.append("{\"name\":");
    AppendJsonString(rules[r].rule().name, &json);
    absl::StrAppend(&json, ",\"groups\":", groups,
                    ",\"windows_in_state\":", windows, "}");
  }
  json.push_back(']');
  return json;
}

absl::StatusOr<std::string> PipelineRunner::KpiJson(
    absl::string_view rule, absl::string_view group) const {
  const int r = FindKpiRule(rule);
  if (r < 0) {
    return absl::NotFoundError(
        absl::StrCat("no KPI rule named \"", rule, "\""));
  }
  // Only the graph that owns the group knows it.
  std::string open;
  bool known = false;
  for (const std::unique_ptr<OperatorGraph>& graph : graphs_) {
    if (graph->kpi_operators()[r].AppendOpenWindowsJson(group, &open)) {
      known = true;
      break;
    }
  }
  const std::string* closed =
      live_ == nullptr ? nullptr : live_->LastClosed(rule, group);
  if (!known && closed == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("KPI rule \"", rule, "\" has no group \"", group, "\""));
  }
  std::string json = "{\"kpi\":";
  AppendJsonString(rule, &json);
  json.append(",\"group\":");
  AppendJsonString(group, &json);
  json.append(",\"open\":");
  json.append(known ? open : "[]");
  json.append(",\"last_closed\":");
  json.append(closed == nullptr ? "null" : *closed);
  json.push_back('}');
  return json;
}

absl::StatusOr<std::string> PipelineRunner::SeriesJson(absl::string_view rule,
                                                       size_t limit) const {
  if (FindKpiRule(rule) < 0) {
    return absl::NotFoundError(
        absl::StrCat("no KPI rule named \"", rule, "\""));
  }
  std::string json;
  if (live_ != nullptr) live_->AppendSeriesJson(rule, limit, &json);
  return json;
}

absl::StatusOr<std::string> PipelineRunner::RollingJson(
    absl::string_view rule) const {
  for (const RollingRuleConfig& r : config_.rolling) {
    if (r.name != rule) continue;
    std::string json;
    if (live_ != nullptr) live_->AppendRollingJson(rule, &json);
    return json;
  }
  return absl::NotFoundError(
      absl::StrCat("no rolling rule named \"", rule, "\""));
}

std::string PipelineRunner::AlertsJson(absl::string_view state) const {
  std::string json;
  if (live_ != nullptr) live_->AppendAlertsJson(state, &json);
  return json;
}

std::string PipelineRunner::HealthJson(bool* ready) {
  RefreshLag();
  const bool kafka = source_->kind() == SourceKind::kKafka;
  const bool assigned = watermarks_.partition_count() > 0;
  *ready = !kafka || assigned;
  std::string partitions = "[";
  for (const PartitionLag& lag : lags_) {
    const bool caught_up = caught_up_.contains(lag.partition.value);
    *ready = *ready && caught_up;
    if (partitions.size() > 1) partitions.push_back(',');
    absl::StrAppend(&partitions, "{\"partition\":", lag.partition.value,
                    ",\"lag\":", lag.lag,
                    ",\"caught_up\":", caught_up ? "true" : "false", "}");
  }
  partitions.push_back(']');
  return absl::StrCat("{\"status\":\"", *ready ? "ready" : "starting",
                      "\",\"source\":\"", kafka ? "kafka" : "file",
                      "\",\"partitions\":", partitions, ",\"watermark\":\"",
                      FormatRfc3339(summary_.watermark), "\"}");
}

int64_t PipelineRunner::TotalLag() {
  RefreshLag();
  if (lags_.empty()) return -1;
  int64_t total = 0;
  for (const PartitionLag& lag : lags_) total += std::max<int64_t>(0, lag.lag);
  return total;
}

int64_t PipelineRunner::OpenAlerts() const {
  const AnomalyProbe alerts = AlertTotals();
  return alerts.fired - alerts.resolved;
}

AnomalyProbe PipelineRunner::AlertTotals() const {
  AnomalyProbe total;
  for (const std::unique_ptr<OperatorGraph>& graph : graphs_)
    total += graph->AlertTotals();
  return total;
}

}  // namespace tillstream
