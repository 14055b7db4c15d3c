#ifndef TILLSTREAM_ENGINE_PIPELINE_RUNNER_H_
#define TILLSTREAM_ENGINE_PIPELINE_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "connectors/order_decoder.h"
#include "connectors/output_sink.h"
#include "connectors/record_source.h"
#include "engine/chunked_decode.h"
#include "engine/clock.h"
#include "engine/decode_stage.h"
#include "engine/engine_metrics.h"
#include "engine/live_view.h"
#include "engine/operator_graph.h"
#include "engine/output_batch.h"
#include "engine/pipeline_config.h"
#include "engine/shard_workers.h"
#include "engine/watermark_tracker.h"
#include "engine/worker_queries.h"
#include "operators/anomaly_operator.h"
#include "operators/rolling_operator.h"
#include "operators/string_interner.h"
#include "operators/window_kpi_operator.h"
#include "state/checkpointed_state.h"
#include "state/state_store.h"

namespace tillstream {

// What a run did, for the closing summary and tests.
struct RunSummary {
  int64_t records = 0;      // records read from the source
  int64_t events = 0;       // records decoded into valid events
  int64_t bad_records = 0;  // records sent to the dead-letter output
  int64_t late_events = 0;  // (event, rule) pairs past the lateness bound
  int64_t snapshots = 0;    // KPI windows emitted (revision 0)
  int64_t corrections = 0;  // KPI re-emissions (revision > 0)
  int64_t rolling = 0;      // rolling snapshots (all revisions)
  int64_t alerts = 0;       // alert messages (firing and resolved)
  int64_t outputs = 0;      // output records of every kind
  int64_t outputs_by_kind[kOutputKindCount] = {};
  Timestamp watermark = Timestamp::Min();
  absl::flat_hash_map<std::string, int64_t> bad_by_reason;
};

struct RunnerOptions {
  absl::Duration poll_timeout =
      absl::Milliseconds(100);  // wait for input per poll
  // Called after each batch with the running totals (progress, demo); may be
  // empty.
  std::function<void(const RunSummary&)> on_batch;
  // Benchmarks: called with each batch once its outputs are with the sink.
  std::function<void(const RecordBatch&)> after_batch;
  // With http on: questions answered between batches, and the metrics the
  // worker publishes (every 100 ms at most). Not owned; may be null.
  WorkerQueries* queries = nullptr;
  EngineMetrics* metrics = nullptr;
  // Set when another instance has taken over (KafkaLease::lost): Run
  // returns Aborted at once, with no further checkpoint or output. May be
  // null.
  const std::atomic<bool>* fenced = nullptr;
  // Decode on a second thread, ahead of the operators, when the machine has
  // more than one core (engine/decode_stage.h). Results are the same.
  bool decode_ahead = true;
};

// Runs one pipeline: polls the source a batch at a time, decodes each
// record (bad ones to the dead-letter output, with a reason), tracks event
// time per source partition, feeds every KPI rule, advances the watermark
// once per batch and hands the batch's outputs to the sink. With
// config.workers > 1, the rules' groups are split among that many operator
// graphs, each run by a thread of its own for a phase of every batch
// (engine/shard_workers.h); everything else stays on the calling thread.
//
// Partition tasks follow the source's assignment: an assigned partition gets
// a watermark, a revoked one stops holding the watermark back. The per-record
// loop calls concrete operators directly; only batches cross the virtual
// source and sink interfaces.
//
// `config`, `source`, `sink` and `clock` must outlive the runner. Called from
// one thread.
class PipelineRunner final : private PartitionListener {
 public:
  PipelineRunner(const PipelineConfig& config, RecordSource* source,
                 OutputSink* sink, Clock* clock, RunnerOptions options = {});

  // Runs until a bounded source ends (then every window is closed and all
  // outputs flushed) or `stop` becomes true (outputs so far are flushed; open
  // windows stay open). Returns a source or sink error as it happens.
  absl::Status Run(const std::atomic<bool>& stop);

  // Durable state: the column families the operators and the engine write
  // (open the store with them), then, before Run, EnableState restores the
  // last checkpoint from `store` (not owned), tells the source where each
  // partition resumes, and makes Run checkpoint every `interval_ms` while
  // there is something to save (`interval_ms` after the first record read
  // or output written since the last checkpoint): operator state,
  // watermarks, known customers and the source offsets in one atomic write,
  // after the outputs so far are delivered (at-least-once: a crash replays
  // from the last checkpoint).
  static std::vector<std::string> StateFamilies(const PipelineConfig& config);
  absl::Status EnableState(StateStore* store, int64_t interval_ms);
  // This instance's id, made at its state's first checkpoint and kept with
  // it: stable across restarts (a transactional id must be), distinct
  // between instances.
  static absl::StatusOr<std::string> InstanceId(StateStore* store);
  const CheckpointProbe& checkpoints() const { return checkpoint_probe_; }
  // After EnableState: the checkpoint restored (0: none, a fresh start) and
  // where each of its partitions resumes.
  int64_t restored_checkpoint() const { return restored_checkpoint_; }
  const SourceOffsets& resume_offsets() const { return next_offsets_; }

  const RunSummary& summary();
  // What a bounded input has left, for progress reports.
  SourceProgress progress() const { return source_->Progress(); }

  // Live queries (GET /kpis, /alerts, /health ...), JSON. Only on the
  // worker's thread: through options.queries.
  std::string KpiRulesJson() const;
  // The group's open windows and last closed one; NotFound for an unknown
  // rule or group.
  absl::StatusOr<std::string> KpiJson(absl::string_view rule,
                                      absl::string_view group) const;
  absl::StatusOr<std::string> SeriesJson(absl::string_view rule,
                                         size_t limit) const;
  absl::StatusOr<std::string> RollingJson(absl::string_view rule) const;
  std::string AlertsJson(absl::string_view state) const;
  // Ready when partitions are assigned (or the input is a file) and each is
  // caught up: within kCaughtUpLag records of its end at least once since
  // it was assigned.
  std::string HealthJson(bool* ready);
  // For the status line (on the worker): total lag of the owned partitions
  // (-1: unknown) and alerts open now.
  int64_t TotalLag();
  int64_t OpenAlerts() const;
  // Input partitions this instance reads now.
  size_t assigned_partitions() const { return watermarks_.partition_count(); }

 private:
  // The rule's index in each graph's kpi_operators(), or -1.
  int FindKpiRule(absl::string_view name) const;
  // `count(operator)` of KPI rule r (its index), summed over the graphs.
  template <typename Count>
  int64_t SumKpiRule(size_t r, Count count) const;
  // The probes of every anomaly and early-warning operator, summed.
  AnomalyProbe AlertTotals() const;
  void RefreshLag();
  // Partitions silent for idle_timeout that still have records waiting
  // count as active: idle means nothing to read.
  void KeepBehindPartitionsActive(int64_t now_ms);
  void PublishMetrics(int64_t now_ms);
  void OnPartitionsAssigned(std::span<const PartitionId> partitions) override;
  void OnPartitionsRevoked(std::span<const PartitionId> partitions) override;
  void OnPartitionEnd(PartitionId partition) override;

  // workers > 1: a batch read in order (its partitions' progress, dead
  // letters and customers), whose events the graphs have still to take.
  struct AdmittedBatch {
    const RecordBatch* batch = nullptr;
    ChunkedDecode decode;
    std::vector<CustomerRef> customers;  // per record
    std::vector<uint32_t> events;        // its valid records, in order
    Timestamp watermark_before = Timestamp::Min();  // lateness judged by it
    Timestamp watermark_after = Timestamp::Min();   // advanced to after them
    int64_t now_ms = 0;                             // when it was read
  };

  // Reads the batch in order and, with one worker, runs the graph over it.
  // With workers > 1, the graphs run later (FinishAdmitted); the batch read
  // before, if its graphs are still to run, runs in the same phase as this
  // one is decoded and read.
  void ProcessBatch(const RecordBatch& batch, int64_t now_ms);
  template <typename Visit>
  void ReadBatch(const RecordBatch& batch, int64_t now_ms, Visit visit);
  // Reads record i of the batch: partition progress, a dead letter, or an
  // event with its customer resolved (false for a dead letter).
  bool Admit(const SourceRecord& record, DecodedRecord& decoded,
             PartitionWatermark* partition, CustomerRef* customer);
  // Starts loading the customer table's entry for a record a few ahead of
  // the one being read, if it is decoded already (null if not) and counts
  // a customer (ResolveCustomer looks it up): the table outgrows the cache,
  // and the in-order reader's lookups are the one serial part of a batch.
  void PrefetchCustomer(const DecodedRecord* ahead);
  static constexpr size_t kPrefetchAhead = 8;
  PartitionWatermark* AddPartition(PartitionId partition, int64_t now_ms);
  absl::Status CheckNotFenced() const;
  absl::Status Checkpoint();
  absl::Status RestoreEngineState();
  // Exactly-once: commits the last checkpoint's transaction again when a
  // crash came between its state write and its commit.
  absl::Status RecoverTransaction();
  void WriteDeadLetter(const SourceRecord& record, absl::string_view reason);
  void AdvanceWatermark(Timestamp watermark);
  // workers > 1: worker `worker`'s graph over the admitted batch's events,
  // then its watermark advanced.
  void RunGraph(size_t worker, const AdmittedBatch& batch);
  // workers > 1: the graphs over the batch read last, if not run yet, and
  // its outputs to the sink (Deliver).
  absl::Status FinishAdmitted();
  // Hands the outputs so far to the sink; then, for a batch whose graphs
  // have run (null: none), options_.after_batch.
  absl::Status Deliver(const RecordBatch* done);
  bool CheckpointDue(int64_t now_ms) const {
    return state_ != nullptr &&
           now_ms - last_checkpoint_ms_ >= checkpoint_interval_ms_;
  }
  absl::Status WriteOutputs();
  absl::Status WriteOutputs(OutputBatch* outputs);

  const PipelineConfig& config_;
  RecordSource* source_;
  OutputSink* sink_;
  Clock* clock_;
  RunnerOptions options_;

  DecodeStage decode_;
  bool decode_started_ = false;  // on the batch polled ahead
  // A batch of at least this many records means more are waiting: poll the
  // next one ahead (Run).
  static constexpr size_t kReadAheadBatch = 256;
  WatermarkTracker watermarks_;
  StringInterner customers_;  // every customer seen: who is new
  // One graph per worker (config.workers), each over its share of the
  // groups; one graph runs on this thread.
  std::vector<std::unique_ptr<OperatorGraph>> graphs_;
  OutputBatch outputs_;  // the runner's own: dead letters, recovered outputs
  RunSummary summary_;

  // workers > 1: each batch is decoded by every worker (chunks claimed in
  // turn) while this thread reads it in order (partitions, dead letters,
  // customers); then every worker runs its graph over the valid events. In
  // a backlog the graphs over one batch run in the same phase as the next
  // batch is decoded and read: a worker done with its groups decodes
  // instead of waiting for the others, and a batch costs one hand-over.
  std::unique_ptr<ShardWorkers> workers_;
  std::vector<std::unique_ptr<OrderDecoder>> decoders_;  // one per worker
  AdmittedBatch admitted_[2];
  AdmittedBatch* pending_ = nullptr;  // read; its graphs not run yet

  // Live queries and metrics (http on).
  std::unique_ptr<LiveView> live_;
  std::vector<PartitionLag> lags_;
  absl::flat_hash_set<int32_t> caught_up_;  // partitions that reached the end
  int64_t rebalances_ = 0;
  int64_t last_publish_ms_ = INT64_MIN / 2;  // far past, no overflow

  // Durable state (EnableState).
  StateStore* state_ = nullptr;
  int64_t checkpoint_interval_ms_ = 0;
  int64_t last_checkpoint_ms_ = 0;
  // summary_.records and .outputs as of the last checkpoint.
  int64_t records_checkpointed_ = 0;
  int64_t outputs_checkpointed_ = 0;
  std::vector<std::vector<CheckpointedState*>> stateful_;  // per graph
  SourceOffsets next_offsets_;  // per partition: the next record to process
  absl::flat_hash_map<int32_t, Timestamp> restored_max_seen_;
  size_t customers_checkpointed_ = 0;
  int64_t checkpoint_number_ = 0;  // of the last completed checkpoint
  uint64_t changelog_epoch_ = 0;   // this run's, in its changelog records
  std::string instance_id_;
  int64_t restored_checkpoint_ = 0;
  // Exactly-once: the outputs of the open transaction (kind, key, value),
  // kept in the checkpoint so that a transaction lost between the state
  // write and its commit is produced again on restart.
  std::string transaction_outputs_;
  CheckpointProbe checkpoint_probe_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_PIPELINE_RUNNER_H_
