#include "engine/scale_out_run.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "connectors/changelog_reader.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "engine/changelog_restore.h"
#include "engine/clock.h"
#include "engine/ingest_stage.h"
#include "engine/status_macros.h"
#include "engine/task_runner.h"
#include "engine/thread_name.h"

namespace tillstream {
namespace {

// Makes sure `topic` exists with `partitions` partitions.
absl::Status PrepareTopic(const ScaleOutRunOptions& options,
                          const KafkaTopicRef& topic, int partitions,
                          bool compacted) {
  if (options.broker != nullptr)
    return options.broker->CreateTopic(topic.topic, partitions);
  absl::StatusOr<int> existing = EnsureTopic(topic, partitions, compacted);
  if (!existing.ok()) return existing.status();
  if (*existing != partitions) {
    return absl::FailedPreconditionError(absl::StrCat(
        "topic ", topic.topic, " has ", *existing,
        " partitions; scale_out.tasks is ", partitions,
        " (one partition per task): keep the task count, or create the "
        "topic with that many partitions"));
  }
  return absl::OkStatus();
}

// Runs `run` on a thread of its own; its error, the first of all, stops
// the others.
class Threads {
 public:
  explicit Threads(std::atomic<bool>& stop) : stop_(stop) {}
  ~Threads() { Join().IgnoreError(); }
  void Start(std::string name, std::function<absl::Status()> run) {
    threads_.emplace_back([this, name = std::move(name), run = std::move(run)] {
      NameThisThread(name);
      absl::Status status = run();
      if (status.ok()) return;
      absl::MutexLock lock(&mu_);
      if (first_error_.ok()) first_error_ = status;
      stop_.store(true);
    });
  }
  absl::Status Join() {
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
    absl::MutexLock lock(&mu_);
    return first_error_;
  }

 private:
  std::atomic<bool>& stop_;
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  absl::Status first_error_;
};

}  // namespace

absl::Status RunScaledOut(const PipelineConfig& config, StateStore* store,
                          const ScaleOutRunOptions& options,
                          std::atomic<bool>& stop) {
  const int tasks = static_cast<int>(config.scale_out_tasks);
  auto topic = [&](std::string name) {
    return KafkaTopicRef{.brokers = options.brokers,
                         .properties = config.kafka.properties,
                         .topic = std::move(name)};
  };
  const KafkaTopicRef repartition =
      topic(absl::StrCat(config.kafka.group_id, "-repartition"));
  const KafkaTopicRef changelog = topic(config.state.changelog);
  TS_RETURN_IF_ERROR(PrepareTopic(options, repartition, tasks, false));
  TS_RETURN_IF_ERROR(PrepareTopic(options, changelog, tasks, true));
  int input_partitions = 0;
  TS_ASSIGN_OR_RETURN(input_partitions,
                      PartitionCount(topic(config.source.topic)));
  TS_RETURN_IF_ERROR(TaskRunner::CheckTasks(store, config));
  options.info(absl::StrCat(
      "scale_out: ", tasks, " tasks over ", repartition.topic, " (changelog ",
      changelog.topic, "), ", config.workers, " task worker",
      config.workers == 1 ? "" : "s", ", ingest of ", config.source.topic, " (",
      input_partitions, " partitions)"));

  const bool embedded = options.broker != nullptr;
  KafkaSinkOptions sink_options;
  sink_options.brokers = options.brokers;
  sink_options.properties = config.kafka.properties;
  sink_options.topics = OutputTopics(config.outputs);
  sink_options.repartition_topic = repartition.topic;

  std::unique_ptr<KafkaSource> input;
  TS_ASSIGN_OR_RETURN(
      input, KafkaSource::Create({.brokers = options.brokers,
                                  .topic = config.source.topic,
                                  .group_id = config.kafka.group_id,
                                  .properties = config.kafka.properties,
                                  .bounded = options.bounded,
                                  .embedded_broker = embedded,
                                  .resume_from_group = true}));
  // A transactional producer commits its consumer's offsets with what it
  // sent: the ingest's over the input, a task worker's over its tasks.
  auto transactional = [&](KafkaSinkOptions sink, absl::string_view role,
                           const std::string& input_topic,
                           rd_kafka_t* consumer) {
    if (options.exactly_once) {
      sink.transactional_id = absl::StrCat("tillstream-", config.kafka.group_id,
                                           "-", options.instance_id, "-", role);
      sink.input_topic = input_topic;
      sink.consumer = consumer;
    }
    return sink;
  };
  std::unique_ptr<KafkaSink> ingest_sink;
  TS_ASSIGN_OR_RETURN(ingest_sink, KafkaSink::Create(transactional(
                                       sink_options, "ingest",
                                       config.source.topic, input->handle())));

  const std::vector<std::string> task_families =
      TaskRunner::TaskFamilies(config);
  sink_options.changelog_topic = changelog.topic;
  CompletedTasks completed;
  SystemClock clock;
  struct Worker {
    std::unique_ptr<KafkaSource> source;
    std::unique_ptr<KafkaSink> sink;
    std::unique_ptr<TaskRunner> runner;
  };
  std::vector<Worker> workers(static_cast<size_t>(config.workers));
  for (Worker& worker : workers) {
    TS_ASSIGN_OR_RETURN(
        worker.source,
        KafkaSource::Create(
            {.brokers = options.brokers,
             .topic = repartition.topic,
             .group_id = absl::StrCat(config.kafka.group_id, "-tasks"),
             .properties = config.kafka.properties,
             .embedded_broker = embedded}));
    TS_ASSIGN_OR_RETURN(
        worker.sink,
        KafkaSink::Create(transactional(
            sink_options, absl::StrCat("tasks-", &worker - workers.data()),
            repartition.topic, worker.source->handle())));
    TaskRunnerOptions task_options{
        .input_partitions = input_partitions,
        .bounded = options.bounded,
        .completed = &completed,
        .restore_changelog =
            [&changelog, &task_families](int32_t task, StateStore* task_store) {
              return RestoreFromChangelog(
                  task_store, task_families,
                  [&changelog, task](int64_t from, ChangelogVisitor visit) {
                    return ReadChangelog(changelog, task, from, visit);
                  });
            },
        .report = options.info,
        .metrics = options.metrics,
        .metrics_part = static_cast<size_t>(1 + (&worker - workers.data()))};
    worker.runner = std::make_unique<TaskRunner>(
        config, worker.source.get(), worker.sink.get(), store, &clock,
        std::move(task_options));
  }

  IngestStage ingest(config, input.get(), ingest_sink.get(), &clock,
                     options.metrics);
  Threads threads(stop);
  threads.Start("ts:ingest", [&] { return ingest.Run(stop); });
  for (size_t i = 0; i < workers.size(); ++i) {
    Worker& worker = workers[i];
    threads.Start(absl::StrCat("ts:tasks", i),
                  [&worker, &stop] { return worker.runner->Run(stop); });
  }
  const absl::Status status = threads.Join();

  const IngestSummary& in = ingest.summary();
  options.info(absl::StrCat("ingest: ", in.records, " records, ", in.forwarded,
                            " events forwarded to their customer's task, ",
                            in.bad_records, " to the dead-letter output"));
  for (size_t w = 0; w < workers.size(); ++w) {
    const TaskRunnerSummary& s = workers[w].runner->summary();
    int64_t outputs = 0;
    for (int64_t count : s.outputs_by_kind) outputs += count;
    options.info(absl::StrCat(
        "task worker ", w, ": ", s.tasks_restored, " tasks restored, ",
        s.records, " records, ", s.resolved, " events resolved, ", s.forwarded,
        " forwarded, ", s.aggregated, " aggregated, ", s.replayed,
        " replays dropped, ", outputs, " outputs"));
  }
  return status;
}

}  // namespace tillstream
