#ifndef TILLSTREAM_ENGINE_TASK_RUNNER_H_
#define TILLSTREAM_ENGINE_TASK_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "connectors/order_decoder.h"
#include "connectors/repartition_record.h"
#include "engine/changelog_restore.h"
#include "engine/clock.h"
#include "engine/operator_graph.h"
#include "engine/output_batch.h"
#include "engine/pipeline_config.h"
#include "engine/replay_filter.h"
#include "engine/scale_out_metrics.h"
#include "engine/watermark_tracker.h"
#include "operators/string_interner.h"
#include "state/state_store.h"

namespace tillstream {

// Bounded runs: the tasks that closed every window, over all of an
// instance's task runners, which end once every task is here.
class CompletedTasks {
 public:
  void Add(int32_t task) {
    absl::MutexLock lock(&mu_);
    done_.insert(task);
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return done_.size();
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_set<int32_t> done_;
};

struct TaskRunnerOptions {
  int64_t input_partitions = 1;  // the ingest's senders
  bool bounded = false;          // end once every task has closed its windows
  CompletedTasks* completed = nullptr;  // bounded: shared by the instance
  // Brings a task's state (through its view of the store) up to its
  // changelog partition before it is read; empty: no changelog (tests).
  std::function<absl::StatusOr<ChangelogRestore>(int32_t task,
                                                 StateStore* task_store)>
      restore_changelog;
  // Told of each task restored, for the log.
  std::function<void(absl::string_view line)> report;
  // Gets this runner's figures as part `metrics_part`; may be null.
  ScaleOutMetrics* metrics = nullptr;
  size_t metrics_part = 1;
};

// What one task runner did, for the closing summary.
struct TaskRunnerSummary {
  int64_t records = 0;     // repartition records read
  int64_t replayed = 0;    // dropped: a sender sent them again
  int64_t resolved = 0;    // events whose customer this runner's tasks own
  int64_t forwarded = 0;   // resolved events sent on to group tasks
  int64_t aggregated = 0;  // events run through a task's operators
  int64_t outputs_by_kind[kOutputKindCount] = {};
  int64_t bad_records = 0;
  int64_t tasks_restored = 0;
};

// One thread of a scaled-out instance (docs/scale-out.md): a member of the
// consumer group `<group_id>-tasks` over the repartition topic, whose
// partitions are the tasks. The group assigns it tasks; each task is
// restored (from its changelog partition, or local RocksDB when current)
// before its first record, checkpointed and dropped when revoked, and has
// its own state under its own column families (`kpi/store_day#3`,
// `engine#3`): its operator graph over the groups that hash to it, its share
// of the customer table, the highest sequence per sender (ReplayFilter) and
// its senders' watermarks. A task reads its log in order:
//   - an event from the ingest is resolved against the task's customers
//     (first completed order or not) and forwarded once to each task that
//     owns one of its groups;
//   - an event from a task runs through the graph with that bit;
//   - watermarks and ends: from the ingest of each input partition (the
//     task forwards its minimum on to every task), and from each task (the
//     minimum is the graph's watermark).
// At-least-once, a checkpoint delivers the outputs and forwarded records
// first, then writes each task's state with its offset to the changelog and
// RocksDB (a replay is dropped by the receivers' filters and by output ids).
// Exactly-once (a transactional sink), the outputs, forwarded records,
// changelog records and task offsets of a checkpoint are one transaction,
// committed before RocksDB is written. One thread; the store is shared
// (RocksDB takes concurrent writers).
class TaskRunner final : private PartitionListener {
 public:
  TaskRunner(const PipelineConfig& config, KafkaSource* repartition,
             KafkaSink* sink, StateStore* store, Clock* clock,
             TaskRunnerOptions options);
  ~TaskRunner() override;

  absl::Status Run(const std::atomic<bool>& stop);
  const TaskRunnerSummary& summary() const { return summary_; }

  // The column families of a scaled-out instance: the engine's and, per
  // task, the engine's and every operator's under the task's name.
  static std::vector<std::string> StateFamilies(const PipelineConfig& config);
  // One task's families under their plain names (a task's view of the
  // store, WorkerStateStore, gives them the task's).
  static std::vector<std::string> TaskFamilies(const PipelineConfig& config);
  // FailedPrecondition when `store` holds the state of another task count
  // or of a pipeline without scale_out; records the count in a new one.
  static absl::Status CheckTasks(StateStore* store,
                                 const PipelineConfig& config);

 private:
  struct Task;

  void OnPartitionsAssigned(std::span<const PartitionId> partitions) override;
  void OnPartitionsRevoked(std::span<const PartitionId> partitions) override;
  void OnPartitionEnd(PartitionId) override {}

  absl::StatusOr<std::unique_ptr<Task>> RestoreTask(int32_t id);
  absl::Status RestoreEngineState(Task* task, StateStore* store);
  absl::Status ProcessRecord(const SourceRecord& record, int64_t now_ms);
  // Decodes the record's event into event_; false (a dead letter written)
  // when it is not one. The ingest decoded it already: this only fails
  // when the pipeline's limits changed between them.
  bool Decode(const SourceRecord& record);
  absl::Status Resolve(Task* task, const SourceRecord& record,
                       const Route& route);
  absl::Status Aggregate(Task* task, const SourceRecord& record,
                         const Route& route);
  // Forwards the task's watermark or end as a sender and advances its
  // graph; a bounded task whose senders have all ended closes everything.
  absl::Status AfterBatch(Task* task, int64_t now_ms);
  absl::Status WriteOutputs();
  // Checkpoints `tasks` (those not completed) in one go; exactly-once,
  // every task, in the transaction that commits what the producer sent.
  absl::Status Checkpoint(const std::vector<Task*>& tasks);
  absl::Status CheckpointAll();
  void PublishMetrics();
  void WriteDeadLetter(const SourceRecord& record, absl::string_view reason);

  const PipelineConfig& config_;
  KafkaSource* source_;
  KafkaSink* sink_;
  StateStore* store_;
  Clock* clock_;
  TaskRunnerOptions options_;
  const uint32_t task_count_;
  const std::string repartition_topic_;
  OrderDecoder decoder_;
  absl::flat_hash_map<int32_t, std::unique_ptr<Task>> tasks_;
  SourceOffsets start_offsets_;
  OutputBatch dead_letters_;
  // Per record, reused: the event, group keys, the route, target tasks.
  OrderEvent event_;
  std::string key_scratch_;
  std::string route_scratch_;
  std::vector<uint32_t> targets_;
  uint64_t changelog_epoch_ = 0;
  int64_t commits_ = 0;  // exactly-once: labels the transactions' offsets
  int64_t last_checkpoint_ms_ = 0;
  absl::Status callback_error_;
  TaskRunnerSummary summary_;
  // For metrics.
  bool joined_ = false;  // has had an assignment
  int64_t rebalances_ = 0;
  CheckpointProbe checkpoint_probe_;
  int64_t last_publish_ms_ = 0;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_TASK_RUNNER_H_
