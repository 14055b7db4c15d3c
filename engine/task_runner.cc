#include "engine/task_runner.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "engine/dead_letter.h"
#include "engine/status_macros.h"
#include "engine/worker_state.h"
#include "operators/kpi_accumulator.h"
#include "state/append_only_table.h"
#include "state/changelog.h"
#include "state/state_codec.h"

namespace tillstream {
namespace {

constexpr uint64_t kTaskStateVersion = 1;

// The watermark and end of each sender of one stage, as a task sees them.
// Senders are numbered densely from 0.
struct Senders {
  static constexpr int32_t kMaxSenders = 1 << 16;
  Senders(int64_t count, const WatermarkOptions& options, int64_t now_ms)
      : tracker(options) {
    for (int64_t s = 0; s < count; ++s)
      tracker.AddPartition(PartitionId{static_cast<int32_t>(s)}, now_ms);
  }
  size_t count() const { return tracker.partition_count(); }
  bool all_ended() const { return ended.size() == count(); }

  // A record from `sender`: it is active; one that had ended is back (a
  // later run over more input). With `grow` (the input partitions: a topic
  // can gain some while running), an unknown sender joins, and the ids
  // below it with it; otherwise it is refused (null).
  PartitionWatermark* Heard(int32_t sender, int64_t now_ms, bool grow) {
    PartitionWatermark* p = tracker.Find(PartitionId{sender});
    if (p == nullptr) {
      if (!grow || sender < 0 || sender >= kMaxSenders) return nullptr;
      for (auto id = static_cast<int32_t>(count()); id <= sender; ++id)
        p = tracker.AddPartition(PartitionId{id}, now_ms);
    }
    if (ended.erase(sender) > 0) {
      const Timestamp seen = p->max_seen();
      p = tracker.AddPartition(PartitionId{sender}, now_ms);
      p->Observe(seen);
    }
    tracker.MarkActive(p, now_ms);
    return p;
  }
  void End(int32_t sender) {
    if (tracker.Find(PartitionId{sender}) == nullptr) return;
    ended.insert(sender);
    tracker.MarkFinished(PartitionId{sender});
  }

  void Encode(StateEncoder* out) const {
    out->U64(count());
    for (size_t s = 0; s < count(); ++s) {
      const PartitionWatermark* p =
          tracker.Find(PartitionId{static_cast<int32_t>(s)});
      out->I64(p->max_seen().millis());
      out->Bool(ended.contains(static_cast<int32_t>(s)));
    }
  }
  // DataLoss for a damaged record; FailedPrecondition when the checkpoint
  // had more senders than there are now (partitions are never removed). A
  // topic that gained partitions has new senders, which start unheard.
  absl::Status Decode(StateDecoder* in, absl::string_view what) {
    const size_t saved = in->Count();
    if (saved > count()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the checkpoint knows ", saved, " ", what,
                       ", there are ", count(), " now"));
    }
    for (size_t s = 0; s < saved; ++s) {
      const auto sender = static_cast<int32_t>(s);
      const int64_t max_seen = in->I64();
      if (max_seen != INT64_MIN)
        tracker.Find(PartitionId{sender})
            ->Observe(Timestamp::FromMillis(max_seen));
      if (in->Bool()) End(sender);
    }
    return in->ok() ? absl::OkStatus()
                    : absl::DataLossError("engine: bad task progress record");
  }

  WatermarkTracker tracker;
  absl::btree_set<int32_t> ended;
};

}  // namespace

struct TaskRunner::Task {
  Task(const PipelineConfig& config, int32_t task, uint32_t task_count,
       int64_t input_partitions, int64_t now_ms)
      : id(task),
        graph(config, KeyShard{static_cast<uint32_t>(task), task_count}),
        // Senders report watermarks with their lateness applied already.
        ingest(input_partitions,
               {.max_out_of_orderness_ms = 0,
                .idle_timeout_ms = config.source.idle_timeout_ms},
               now_ms),
        tasks(task_count,
              {.max_out_of_orderness_ms = 0,
               .idle_timeout_ms = config.source.idle_timeout_ms},
              now_ms) {}

  const int32_t id;
  OperatorGraph graph;
  std::vector<CheckpointedState*> stateful;
  StringInterner resolved;   // customers whose orders this task resolved
  StringInterner customers;  // ids of the customers in this task's groups
  size_t resolved_checkpointed = 0;
  size_t customers_checkpointed = 0;
  ReplayFilter filter;
  Senders ingest;  // the input partitions, for resolving
  Senders tasks;   // every task, for aggregating
  Timestamp watermark = Timestamp::Min();  // the graph's
  Timestamp sent_watermark = Timestamp::Min();
  bool sent_end = false;
  bool complete = false;  // bounded: every window closed
  int64_t next_offset = 0;
  int64_t checkpoint_number = 0;
};

TaskRunner::TaskRunner(const PipelineConfig& config, KafkaSource* repartition,
                       KafkaSink* sink, StateStore* store, Clock* clock,
                       TaskRunnerOptions options)
    : config_(config),
      source_(repartition),
      sink_(sink),
      store_(store),
      clock_(clock),
      options_(std::move(options)),
      task_count_(static_cast<uint32_t>(config.scale_out_tasks)),
      repartition_topic_(std::string(repartition->name())),
      decoder_(
          OrderDecoderOptions{config.source.default_currency, config.limits}) {
  absl::BitGen random;
  changelog_epoch_ = absl::Uniform<uint64_t>(random);
}

TaskRunner::~TaskRunner() = default;

std::vector<std::string> TaskRunner::TaskFamilies(
    const PipelineConfig& config) {
  std::vector<std::string> families = {std::string(kEngineFamily)};
  for (const std::string& family : OperatorGraph(config).Families())
    families.push_back(family);
  return families;
}

std::vector<std::string> TaskRunner::StateFamilies(
    const PipelineConfig& config) {
  const auto tasks = static_cast<size_t>(config.scale_out_tasks);
  std::vector<std::string> families = {std::string(kEngineFamily)};
  const std::vector<std::string> task_families = TaskFamilies(config);
  for (size_t task = 0; task < tasks; ++task) {
    for (const std::string& family : task_families) {
      std::string name = WorkerFamily(family, task, tasks);
      if (name != kEngineFamily) families.push_back(std::move(name));
    }
  }
  return families;
}

absl::Status TaskRunner::CheckTasks(StateStore* store,
                                    const PipelineConfig& config) {
  std::optional<std::string> recorded;
  TS_ASSIGN_OR_RETURN(recorded, store->Get(kEngineFamily, kTasksKey));
  if (!recorded.has_value()) {
    std::optional<std::string> progress;
    TS_ASSIGN_OR_RETURN(progress, store->Get(kEngineFamily, "p"));
    if (progress.has_value()) {
      return absl::FailedPreconditionError(
          "the state holds a checkpoint of this pipeline without scale_out; "
          "start from a new state directory (and a new group_id)");
    }
    StateWriteBatch batch;
    batch.Put(
        kEngineFamily, kTasksKey,
        absl::StrCat(config.scale_out_tasks, "/", KeyShard::kHashVersion));
    return store->Write(batch);
  }
  if (*recorded == TasksRecord(config.scale_out_tasks)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the state holds a checkpoint of scale_out tasks/hash ", *recorded,
      "; this pipeline has scale_out.tasks: ", config.scale_out_tasks,
      " (a task's groups are those whose key hashes to it): keep the task "
      "count, or start from a new state directory and group_id"));
}

void TaskRunner::OnPartitionsAssigned(std::span<const PartitionId> partitions) {
  joined_ = true;
  ++rebalances_;
  for (PartitionId p : partitions) {
    absl::StatusOr<std::unique_ptr<Task>> task = RestoreTask(p.value);
    if (!task.ok()) {
      callback_error_.Update(absl::Status(
          task.status().code(),
          absl::StrCat("task ", p.value, ": ", task.status().message())));
      continue;
    }
    start_offsets_[p.value] = (*task)->next_offset;
    tasks_[p.value] = *std::move(task);
    ++summary_.tasks_restored;
  }
  source_->StartAt(start_offsets_);
}

void TaskRunner::OnPartitionsRevoked(std::span<const PartitionId> partitions) {
  ++rebalances_;
  std::vector<Task*> revoked;
  for (PartitionId p : partitions) {
    auto it = tasks_.find(p.value);
    if (it != tasks_.end()) revoked.push_back(it->second.get());
  }
  // Lost (the session expired; then every task is): another member may run
  // them already, and a checkpoint now would write into its changelog.
  // Exactly-once, what the open transaction holds can no longer commit:
  // it is aborted, and a task handed back is restored from its last
  // checkpoint (RocksDB is never ahead of a committed one).
  if (source_->assignment_lost()) {
    callback_error_.Update(sink_->AbortTransaction());
    dead_letters_.Clear();
  } else {
    callback_error_.Update(Checkpoint(revoked));
  }
  for (PartitionId p : partitions) {
    tasks_.erase(p.value);
    start_offsets_.erase(p.value);
  }
}

absl::StatusOr<std::unique_ptr<TaskRunner::Task>> TaskRunner::RestoreTask(
    int32_t id) {
  WorkerStateStore task_store(store_, static_cast<size_t>(id), task_count_);
  std::string restored = "no changelog";
  if (options_.restore_changelog) {
    ChangelogRestore result;
    TS_ASSIGN_OR_RETURN(result, options_.restore_changelog(id, &task_store));
    restored = result.checkpoints == 0
                   ? absl::StrCat("state current (changelog from offset ",
                                  result.from, ")")
                   : absl::StrCat(result.replaced ? "replaced the state: " : "",
                                  "restored ", result.writes, " state keys of ",
                                  result.checkpoints,
                                  " checkpoints from the changelog");
  }
  auto task = std::make_unique<Task>(
      config_, id, task_count_, options_.input_partitions, clock_->NowMillis());
  task->stateful = task->graph.EnableCheckpoints();
  for (CheckpointedState* op : task->stateful)
    TS_RETURN_IF_ERROR(op->Restore(&task_store));
  TS_RETURN_IF_ERROR(RestoreEngineState(task.get(), &task_store));
  if (options_.report) {
    options_.report(absl::StrCat(
        "task ", id, ": ", restored, "; ",
        task->checkpoint_number == 0
            ? std::string("no checkpoint yet")
            : absl::StrCat("resuming from checkpoint ", task->checkpoint_number,
                           " at offset ", task->next_offset)));
  }
  return task;
}

// A task's records in its engine family:
//   "c" + id   a customer it resolved, append-only in id order
//   "a" + id   a customer of its groups (their distinct-customer ids)
//   "r"        the replay filter
//   "p"        version, checkpoint number, next offset, the graph's
//              watermark, the watermark and end sent, each stage's senders
absl::Status TaskRunner::RestoreEngineState(Task* task, StateStore* store) {
  TS_RETURN_IF_ERROR(ReadEntries(
      store, kEngineFamily, 'c', "engine: resolved customers",
      [task](absl::string_view customer) {
        task->resolved.Intern(customer);
        return true;
      },
      &task->resolved_checkpointed));
  TS_RETURN_IF_ERROR(ReadEntries(
      store, kEngineFamily, 'a', "engine: group customers",
      [task](absl::string_view customer) {
        task->customers.Intern(customer);
        return true;
      },
      &task->customers_checkpointed));
  std::optional<std::string> filter;
  TS_ASSIGN_OR_RETURN(filter, store->Get(kEngineFamily, "r"));
  if (filter.has_value()) TS_RETURN_IF_ERROR(task->filter.Decode(*filter));
  std::optional<std::string> progress;
  TS_ASSIGN_OR_RETURN(progress, store->Get(kEngineFamily, "p"));
  if (!progress.has_value()) return absl::OkStatus();
  StateDecoder in(*progress);
  if (in.U64() != kTaskStateVersion)
    return absl::DataLossError("engine: task state of an incompatible version");
  task->checkpoint_number = in.I64();
  task->next_offset = in.I64();
  task->watermark = Timestamp::FromMillis(in.I64());
  task->sent_watermark = Timestamp::FromMillis(in.I64());
  task->sent_end = in.Bool();
  TS_RETURN_IF_ERROR(task->ingest.Decode(&in, "input partitions"));
  TS_RETURN_IF_ERROR(task->tasks.Decode(&in, "tasks"));
  if (!in.done())
    return absl::DataLossError("engine: bad task progress record");
  task->tasks.tracker.RaiseTo(task->watermark);
  task->ingest.tracker.RaiseTo(task->sent_watermark);
  return absl::OkStatus();
}

absl::Status TaskRunner::Run(const std::atomic<bool>& stop) {
  RecordBatch batch;
  last_checkpoint_ms_ = clock_->NowMillis();
  while (!stop.load(std::memory_order_relaxed)) {
    absl::StatusOr<PollResult> polled =
        source_->Poll(this, absl::Milliseconds(100), &batch);
    TS_RETURN_IF_ERROR(callback_error_);
    if (!polled.ok()) return polled.status();
    const int64_t now = clock_->NowMillis();
    decoder_.SetWallClock(clock_->EpochMillis());
    for (const SourceRecord& record : batch.records)
      TS_RETURN_IF_ERROR(ProcessRecord(record, now));
    for (auto& [id, task] : tasks_)
      TS_RETURN_IF_ERROR(AfterBatch(task.get(), now));
    TS_RETURN_IF_ERROR(WriteOutputs());
    if (options_.bounded && options_.completed != nullptr &&
        options_.completed->size() >= task_count_) {
      // The closing outputs (exactly-once: in a transaction of their own).
      const absl::Status closed = Checkpoint({});
      PublishMetrics();
      return closed;
    }
    if (now - last_checkpoint_ms_ >= config_.state.checkpoint_interval_ms)
      TS_RETURN_IF_ERROR(CheckpointAll());
    if (now - last_publish_ms_ >= kMetricsIntervalMs) PublishMetrics();
  }
  const absl::Status checkpointed = CheckpointAll();
  PublishMetrics();
  return checkpointed;
}

void TaskRunner::PublishMetrics() {
  if (options_.metrics == nullptr) return;
  last_publish_ms_ = clock_->NowMillis();
  MetricsSnapshot m;
  m.wall_ms = clock_->EpochMillis();
  m.bad_records = summary_.bad_records;
  for (int k = 0; k < kOutputKindCount; ++k)
    m.outputs[k] = summary_.outputs_by_kind[k];
  absl::flat_hash_map<std::string, int64_t> late, open_windows;
  for (const auto& [id, task] : tasks_) {
    for (const WindowKpiOperator& op : task->graph.kpi_operators()) {
      if (op.rule().internal) continue;
      late[op.rule().name] += op.probe().late_events;
      open_windows[op.rule().name] += static_cast<int64_t>(op.open_windows());
    }
    m.watermark = LowerKnown(m.watermark, task->watermark);
    m.known_customers += static_cast<int64_t>(task->resolved.size());
    const AnomalyProbe alerts = task->graph.AlertTotals();
    m.alerts_fired += alerts.fired;
    m.alerts_resolved += alerts.resolved;
  }
  m.late_by_kpi.assign(late.begin(), late.end());
  m.open_windows_by_kpi.assign(open_windows.begin(), open_windows.end());
  m.tasks = joined_ ? static_cast<int64_t>(tasks_.size()) : -1;
  m.rebalances = rebalances_;
  m.checkpoints_on = true;
  m.checkpoints = checkpoint_probe_.completed;
  m.checkpoint_last_us = checkpoint_probe_.last_duration_us;
  m.checkpoint_total_us = checkpoint_probe_.total_duration_us;
  m.checkpoint_last_bytes = checkpoint_probe_.last_bytes;
  m.checkpoint_last_writes = checkpoint_probe_.last_writes;
  options_.metrics->Publish(options_.metrics_part, std::move(m));
}

absl::Status TaskRunner::ProcessRecord(const SourceRecord& record,
                                       int64_t now_ms) {
  ++summary_.records;
  auto it = tasks_.find(record.partition.value);
  if (it == tasks_.end()) return absl::OkStatus();  // revoked while in flight
  Task* task = it->second.get();
  task->next_offset = record.offset.value + 1;
  absl::StatusOr<Route> route = DecodeRoute(record.key, repartition_topic_,
                                            record.partition, record.offset);
  if (!route.ok()) {
    WriteDeadLetter(record, route.status().message());
    return absl::OkStatus();
  }
  Senders& senders =
      route->stage == RouteStage::kIngest ? task->ingest : task->tasks;
  PartitionWatermark* sender =
      senders.Heard(route->sender, now_ms, route->stage == RouteStage::kIngest);
  if (sender == nullptr) {
    WriteDeadLetter(
        record,
        absl::StrCat(
            "route from ",
            route->stage == RouteStage::kIngest ? "input partition " : "task ",
            route->sender, ", which this pipeline does not have"));
    return absl::OkStatus();
  }
  switch (route->kind) {
    case RouteKind::kWatermark:
      sender->Observe(route->watermark);
      return absl::OkStatus();
    case RouteKind::kEnd:
      senders.End(route->sender);
      return absl::OkStatus();
    case RouteKind::kEvent:
      break;
  }
  if (!task->filter.Accept(*route)) {
    ++summary_.replayed;
    return absl::OkStatus();
  }
  return route->stage == RouteStage::kIngest ? Resolve(task, record, *route)
                                             : Aggregate(task, record, *route);
}

bool TaskRunner::Decode(const SourceRecord& record) {
  const absl::Status decoded = decoder_.Decode(record.payload, &event_);
  if (!decoded.ok()) WriteDeadLetter(record, decoded.message());
  return decoded.ok();
}

absl::Status TaskRunner::Resolve(Task* task, const SourceRecord& record,
                                 const Route& route) {
  if (!Decode(record)) return absl::OkStatus();
  const OrderEvent& event = event_;
  ++summary_.resolved;
  bool first_order = false;
  if (CountsCustomer(event))
    task->resolved.Intern(event.customer_id, &first_order);
  task->graph.TasksOf(event, task_count_, &key_scratch_, &targets_);
  EncodeRoute({.stage = RouteStage::kTask,
               .kind = RouteKind::kEvent,
               .sender = task->id,
               .seq = record.offset.value,
               .origin_partition = route.origin_partition,
               .origin_offset = route.origin_offset,
               .first_order = first_order},
              &route_scratch_);
  for (uint32_t target : targets_) {
    TS_RETURN_IF_ERROR(sink_->Forward(static_cast<int32_t>(target),
                                      route_scratch_, record.payload));
    ++summary_.forwarded;
  }
  return absl::OkStatus();
}

absl::Status TaskRunner::Aggregate(Task* task, const SourceRecord& record,
                                   const Route& route) {
  if (!Decode(record)) return absl::OkStatus();
  OrderEvent& event = event_;
  ++summary_.aggregated;
  // Where the event entered the pipeline: late records name it.
  event.source = {SourceKind::kKafka, config_.source.topic,
                  route.origin_partition, route.origin_offset};
  CustomerRef customer;
  if (CountsCustomer(event)) {
    customer.id = task->customers.Intern(event.customer_id);
    customer.first_order = route.first_order;
    if (task->graph.approx_distinct())
      customer.hash = HyperLogLog::Hash(event.customer_id);
  }
  task->graph.Process(event, customer, task->watermark);
  return absl::OkStatus();
}

absl::Status TaskRunner::AfterBatch(Task* task, int64_t now_ms) {
  if (task->complete) return absl::OkStatus();
  // As a sender: the minimum over the input partitions, once it moves.
  if (task->ingest.all_ended()) {
    if (!task->sent_end) {
      TS_RETURN_IF_ERROR(
          sink_->ForwardToEach(static_cast<int32_t>(task_count_),
                               EncodeRoute({.stage = RouteStage::kTask,
                                            .kind = RouteKind::kEnd,
                                            .sender = task->id})));
      task->sent_end = true;
    }
  } else {
    task->sent_end = false;
    const Timestamp resolved = task->ingest.tracker.Advance(now_ms);
    if (resolved > task->sent_watermark) {
      TS_RETURN_IF_ERROR(
          sink_->ForwardToEach(static_cast<int32_t>(task_count_),
                               EncodeRoute({.stage = RouteStage::kTask,
                                            .kind = RouteKind::kWatermark,
                                            .sender = task->id,
                                            .watermark = resolved})));
      task->sent_watermark = resolved;
    }
  }
  // As a receiver: the minimum over the tasks is the graph's watermark.
  if (options_.bounded && task->tasks.all_ended()) {
    // As one instance does at the end of a bounded input: checkpointed
    // first, so that a later run over more input resumes with the windows
    // still open; then every window closes.
    TS_RETURN_IF_ERROR(Checkpoint({task}));
    task->graph.AdvanceWatermark(Timestamp::Max(), now_ms);
    task->complete = true;
    if (options_.completed != nullptr) options_.completed->Add(task->id);
    return absl::OkStatus();
  }
  task->watermark = task->tasks.tracker.Advance(now_ms);
  task->graph.AdvanceWatermark(task->watermark, now_ms);
  return absl::OkStatus();
}

absl::Status TaskRunner::WriteOutputs() {
  if (!dead_letters_.empty()) {
    summary_.outputs_by_kind[static_cast<int>(OutputKind::kDeadLetter)] +=
        static_cast<int64_t>(dead_letters_.size());
    TS_RETURN_IF_ERROR(sink_->Write(dead_letters_));
    dead_letters_.Clear();
  }
  for (auto& [id, task] : tasks_) {
    OutputBatch& outputs = task->graph.outputs();
    if (outputs.empty()) continue;
    for (size_t i = 0; i < outputs.size(); ++i)
      ++summary_.outputs_by_kind[static_cast<int>(outputs[i].kind)];
    TS_RETURN_IF_ERROR(sink_->Write(outputs));
    outputs.Clear();
  }
  return absl::OkStatus();
}

void TaskRunner::WriteDeadLetter(const SourceRecord& record,
                                 absl::string_view reason) {
  ++summary_.bad_records;
  AppendDeadLetter(
      config_.name,
      {SourceKind::kKafka, repartition_topic_, record.partition, record.offset},
      reason, record.payload, &dead_letters_);
}

absl::Status TaskRunner::CheckpointAll() {
  std::vector<Task*> all;
  for (auto& [id, task] : tasks_) all.push_back(task.get());
  return Checkpoint(all);
}

absl::Status TaskRunner::Checkpoint(const std::vector<Task*>& chosen) {
  last_checkpoint_ms_ = clock_->NowMillis();
  const auto started = std::chrono::steady_clock::now();
  const bool transactional = sink_->transactional();
  // Exactly-once: a commit takes everything the producer sent, for every
  // task, so every task's state goes with it.
  std::vector<Task*> tasks = chosen;
  if (transactional) {
    tasks.clear();
    for (auto& [id, task] : tasks_) tasks.push_back(task.get());
  }
  TS_RETURN_IF_ERROR(WriteOutputs());
  // At-least-once: outputs and forwarded records are delivered first: once
  // a task's offset is saved, the records before it are never read again
  // (PipelineRunner::Checkpoint). Exactly-once: they commit with it.
  if (!transactional) TS_RETURN_IF_ERROR(sink_->Flush());
  struct Pending {
    Task* task;
    StateWriteBatch batch;
    int64_t number;
  };
  std::vector<Pending> pending;
  for (Task* task : tasks) {
    // A closed task's state is past the end of time: never saved.
    if (task->complete) continue;
    Pending& p =
        pending.emplace_back(Pending{task, {}, task->checkpoint_number + 1});
    for (CheckpointedState* op : task->stateful) op->Checkpoint(&p.batch);
    WriteNewEntries(&p.batch, kEngineFamily, 'c', task->resolved.size(),
                    &task->resolved_checkpointed, [task](size_t id) {
                      return std::string(task->resolved.Lookup(id));
                    });
    WriteNewEntries(&p.batch, kEngineFamily, 'a', task->customers.size(),
                    &task->customers_checkpointed, [task](size_t id) {
                      return std::string(task->customers.Lookup(id));
                    });
    p.batch.Put(kEngineFamily, "r", task->filter.Encode());
    std::string progress;
    StateEncoder out(&progress);
    out.U64(kTaskStateVersion);
    out.I64(p.number);
    out.I64(task->next_offset);
    out.I64(task->watermark.millis());
    out.I64(task->sent_watermark.millis());
    out.Bool(task->sent_end);
    task->ingest.Encode(&out);
    task->tasks.Encode(&out);
    p.batch.Put(kEngineFamily, "p", progress);
    if (sink_->has_changelog()) {
      const std::vector<ChangelogRecord> changelog =
          EncodeChangelog(p.batch, changelog_epoch_, p.number);
      TS_RETURN_IF_ERROR(sink_->WriteChangelogTo(
          task->id, changelog,
          ChangelogHeaderValue(changelog_epoch_, p.number)));
    }
  }
  // Delivered, so that each task's changelog offset is known.
  if (sink_->has_changelog() || transactional)
    TS_RETURN_IF_ERROR(sink_->Flush());
  SourceOffsets offsets;
  for (Task* task : tasks) offsets[task->id] = task->next_offset;
  // Exactly-once: the outputs, forwarded records, changelog records and
  // the tasks' offsets commit together, before the local state is written,
  // so that it is never ahead of what the changelog committed (a crash in
  // between: the restore takes the checkpoint from the changelog).
  if (transactional) TS_RETURN_IF_ERROR(sink_->Commit(offsets, ++commits_));
  for (Pending& p : pending) {
    if (sink_->has_changelog()) {
      p.batch.Put(kEngineFamily, kChangelogPositionKey,
                  EncodeChangelogPosition(sink_->changelog_offset(p.task->id),
                                          p.number));
    }
    WorkerStateStore task_store(store_, static_cast<size_t>(p.task->id),
                                task_count_);
    absl::Status written = task_store.Write(p.batch);
    if (!written.ok()) {
      return absl::Status(written.code(),
                          absl::StrCat("checkpoint of task ", p.task->id, ": ",
                                       written.message()));
    }
    p.task->checkpoint_number = p.number;
  }
  // For monitoring (the lag per task); exactly-once committed them above.
  if (!transactional) source_->CommitOffsets(offsets);
  std::vector<const StateWriteBatch*> written;
  for (const Pending& p : pending) written.push_back(&p.batch);
  checkpoint_probe_.Completed(
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - started)
          .count(),
      written);
  return absl::OkStatus();
}

}  // namespace tillstream
