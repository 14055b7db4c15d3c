// `tillstream run PIPELINE.yaml`: Kafka in, Kafka out; or a file replay.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "connectors/changelog_reader.h"
#include "connectors/embedded_broker.h"
#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "connectors/kafka_lease.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "engine/changelog_restore.h"
#include "engine/commands.h"
#include "engine/http_server.h"
#include "engine/pipeline_runner.h"
#include "engine/run_reporter.h"
#include "engine/scale_out_metrics.h"
#include "engine/scale_out_run.h"
#include "engine/status_macros.h"
#include "engine/task_runner.h"
#include "engine/time_format.h"
#include "state/rocksdb_state_store.h"

namespace tillstream {
namespace {

// One active instance per pipeline, the others standbys (README "Running
// more than one instance"): blocks until this instance holds the lease.
// Null: stopped while standby.
absl::StatusOr<std::unique_ptr<KafkaLease>> TakeLease(
    const PipelineConfig& config, const std::string& brokers,
    const RunReporter& reporter) {
  const KafkaTopicRef topic{
      .brokers = brokers,
      .properties = config.kafka.properties,
      .topic = absl::StrCat(config.kafka.group_id, "-lease")};
  // One partition: the member that has it is the active instance.
  absl::StatusOr<int> partitions =
      EnsureTopic(topic, /*partitions=*/1, /*compacted=*/true);
  if (partitions.ok() && *partitions != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "lease topic ", topic.topic, " has ", *partitions,
        " partitions; it needs exactly one (create it with one partition, "
        "e.g. `tillstream broker --topics ...,",
        topic.topic, ":1`)"));
  }
  if (!partitions.ok()) reporter.Info(partitions.status().message());
  std::unique_ptr<KafkaLease> lease;
  TS_ASSIGN_OR_RETURN(lease,
                      KafkaLease::Create({.brokers = brokers,
                                          .properties = config.kafka.properties,
                                          .group_id = topic.topic,
                                          .topic = topic.topic}));
  if (!lease->Acquire(StopRequested(), [&] {
        reporter.Info(absl::StrCat(
            "standby: another instance of this pipeline holds the lease (",
            topic.topic, "); waiting to take over"));
      })) {
    reporter.Info("stopped while standby");
    return nullptr;
  }
  reporter.Info(
      absl::StrCat("lease=", topic.topic, ": this instance is active"));
  return lease;
}

// Brings the state up from its changelog topic (created if missing; in the
// in-process `broker` when there is one) and says what it did.
absl::Status RestoreChangelog(const PipelineConfig& config,
                              const std::string& brokers,
                              EmbeddedBroker* broker, StateStore* store,
                              const RunReporter& reporter) {
  const KafkaTopicRef topic{.brokers = brokers,
                            .properties = config.kafka.properties,
                            .topic = config.state.changelog};
  const absl::Status created =
      broker != nullptr ? broker->CreateTopic(topic.topic, 1)
                        : EnsureTopic(topic, 1, /*compacted=*/true).status();
  if (!created.ok()) reporter.Info(created.message());
  ChangelogRestore restored;
  TS_ASSIGN_OR_RETURN(
      restored, RestoreFromChangelog(
                    store, PipelineRunner::StateFamilies(config),
                    [&topic](int64_t from, ChangelogVisitor visit) {
                      return ReadChangelog(topic, /*partition=*/0, from, visit);
                    }));
  reporter.Info(absl::StrCat(
      "changelog=", topic.topic, ": ",
      restored.checkpoints == 0
          ? absl::StrCat("the state is current (read from offset ",
                         restored.from, ")")
          : absl::StrCat(restored.replaced ? "replaced the state: " : "",
                         "restored ", restored.writes, " state keys of ",
                         restored.checkpoints, " checkpoints from offset ",
                         restored.from)));
  return absl::OkStatus();
}

// The pipeline's processing_guarantee, its default resolved: exactly-once
// where it can hold (durable state and a real cluster: the embedded broker
// does not enforce transactions).
ProcessingGuarantee EffectiveGuarantee(const PipelineConfig& config,
                                       bool has_state, bool embedded) {
  if (config.processing_guarantee != ProcessingGuarantee::kDefault)
    return config.processing_guarantee;
  return has_state && !embedded ? ProcessingGuarantee::kExactlyOnce
                                : ProcessingGuarantee::kAtLeastOnce;
}

// The log line that says which guarantee a run gives.
std::string GuaranteeLine(ProcessingGuarantee guarantee, bool embedded) {
  return absl::StrCat("processing_guarantee=", GuaranteeName(guarantee),
                      embedded && guarantee == ProcessingGuarantee::kExactlyOnce
                          ? " (the embedded broker does not enforce "
                            "transactions: not a proof)"
                          : "");
}

// The embedded broker with the pipeline's topics (--partitions each).
absl::StatusOr<std::unique_ptr<EmbeddedBroker>> StartEmbeddedBroker(
    const PipelineConfig& config, const RunReporter& reporter) {
  std::unique_ptr<EmbeddedBroker> broker;
  TS_ASSIGN_OR_RETURN(broker, EmbeddedBroker::Start());
  for (const std::string& topic :
       {config.source.topic, config.outputs.kpis, config.outputs.rolling,
        config.outputs.alerts, config.outputs.deadletter,
        config.outputs.late}) {
    if (topic.empty()) continue;
    TS_RETURN_IF_ERROR(
        broker->CreateTopic(topic, absl::GetFlag(FLAGS_partitions)));
  }
  reporter.Info(
      absl::StrCat("embedded broker bootstrap=", broker->bootstrap()));
  return broker;
}

// Starts the HTTP endpoints into *server and logs their address (scripts
// and tests read the port from that line); false (the error logged) when
// they cannot listen.
bool StartHttp(const HttpServer::Context& context, const RunReporter& reporter,
               std::unique_ptr<HttpServer>* server) {
  auto started = HttpServer::Start(context);
  if (!started.ok()) {
    reporter.Error(started.status().message());
    return false;
  }
  *server = *std::move(started);
  reporter.Info(absl::StrCat("http=", context.config->http.address, ":",
                             (*server)->port()));
  return true;
}

// `run` of a pipeline with scale_out: instances split the work over Kafka
// (engine/scale_out_run.h).
int RunScaledOutCommand(const PipelineConfig& config, StateStore* store,
                        const RunReporter& reporter) {
  if (!absl::GetFlag(FLAGS_input).empty()) {
    reporter.Error(
        "scale_out splits a Kafka input between instances; replay a "
        "file with one instance (a pipeline without scale_out)");
    return kExitUsage;
  }
  std::string brokers = absl::GetFlag(FLAGS_brokers);
  if (brokers.empty()) brokers = config.kafka.brokers;
  std::unique_ptr<EmbeddedBroker> broker;
  if (IsEmbeddedBrokers(brokers)) {
    auto started = StartEmbeddedBroker(config, reporter);
    if (!started.ok()) {
      reporter.Error(started.status().message());
      return kExitFailure;
    }
    broker = *std::move(started);
    brokers = broker->bootstrap();
  }
  const bool embedded = broker != nullptr;
  const ProcessingGuarantee guarantee =
      EffectiveGuarantee(config, /*has_state=*/true, embedded);
  const bool exactly_once = guarantee == ProcessingGuarantee::kExactlyOnce;
  std::string instance;
  if (exactly_once) {
    absl::StatusOr<std::string> id = PipelineRunner::InstanceId(store);
    if (!id.ok()) {
      reporter.Error(id.status().message());
      return kExitFailure;
    }
    instance = *id;
  }
  reporter.Info(absl::StrCat(
      GuaranteeLine(guarantee, embedded),
      exactly_once ? "" : " (tasks drop replayed records; outputs carry ids)"));
  SystemClock clock;
  EngineMetrics metrics;
  ScaleOutMetrics parts(&metrics, static_cast<size_t>(config.workers));
  std::unique_ptr<HttpServer> server;
  if (config.http.port >= 0 && !StartHttp({.config = &config,
                                           .metrics = &metrics,
                                           .clock = &clock,
                                           .scale_out = &parts},
                                          reporter, &server)) {
    return kExitFailure;
  }
  const auto started = std::chrono::steady_clock::now();
  const absl::Status status = RunScaledOut(
      config, store,
      {.brokers = brokers,
       .broker = broker.get(),
       .bounded = absl::GetFlag(FLAGS_bounded),
       .exactly_once = exactly_once,
       .instance_id = instance,
       .info = [&reporter](absl::string_view line) { reporter.Info(line); },
       .metrics = config.http.port >= 0 ? &parts : nullptr},
      StopRequested());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  if (!status.ok()) {
    reporter.Error(absl::StrCat("stopped: ", status.message()));
    return kExitFailure;
  }
  reporter.Info(absl::StrFormat("done in %.1f s", seconds));
  return kExitOk;
}

}  // namespace

int RunCommand(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::fprintf(
        stderr,
        "usage: tillstream run PIPELINE.yaml [--brokers H:P] [--bounded] "
        "[--input F.ndjson --output-dir DIR]\n");
    return kExitUsage;
  }
  const std::string log_format = absl::GetFlag(FLAGS_log_format);
  if (log_format != "text" && log_format != "json") {
    std::fprintf(stderr, "tillstream: --log-format: expected text or json\n");
    return kExitUsage;
  }
  const bool json_logs = log_format == "json";
  absl::StatusOr<PipelineConfig> config = LoadPipelineConfig(args[0]);
  if (!config.ok()) {
    std::fprintf(stderr, "tillstream: %s\n",
                 std::string(config.status().message()).c_str());
    return kExitUsage;
  }

  if (!absl::GetFlag(FLAGS_state_dir).empty())
    config->state.dir = absl::GetFlag(FLAGS_state_dir);
  if (absl::GetFlag(FLAGS_http_port) >= 0)
    config->http.port = absl::GetFlag(FLAGS_http_port);
  RunReporter reporter(*config, json_logs, isatty(STDERR_FILENO) == 1);
  // State first: an exactly-once sink's transactional id is kept with it.
  std::unique_ptr<RocksDbStateStore> store;
  if (!config->state.dir.empty()) {
    // One budget: the block cache, with the memtables charged to it (at
    // most half of it).
    const int64_t budget = config->state.memory_mb << 20;
    auto opened = RocksDbStateStore::Open(
        {.dir = config->state.dir,
         .families = config->scale_out_tasks > 0
                         ? TaskRunner::StateFamilies(*config)
                         : PipelineRunner::StateFamilies(*config),
         .block_cache_bytes = budget,
         .write_buffer_bytes = budget / 2});
    if (!opened.ok()) {
      reporter.Error(absl::StrCat("state ", config->state.dir, ": ",
                                  opened.status().message()));
      return kExitFailure;
    }
    store = *std::move(opened);
  }
  if (config->scale_out_tasks > 0)
    return RunScaledOutCommand(*config, store.get(), reporter);
  std::unique_ptr<EmbeddedBroker> broker;
  std::unique_ptr<KafkaLease> lease;
  std::unique_ptr<RecordSource> source;
  std::unique_ptr<OutputSink> sink;
  const std::string input = absl::GetFlag(FLAGS_input);
  absl::Status status;
  if (!input.empty()) {
    const std::string dir = absl::GetFlag(FLAGS_output_dir);
    if (dir.empty()) {
      reporter.Error("--input needs --output-dir DIR");
      return kExitUsage;
    }
    auto file_source = FileSource::Open({.path = input});
    auto file_sink = FileSink::Open(dir, /*append=*/store != nullptr);
    status = !file_source.ok() ? file_source.status() : file_sink.status();
    if (status.ok()) {
      source = *std::move(file_source);
      sink = *std::move(file_sink);
    }
  } else {
    std::string brokers = absl::GetFlag(FLAGS_brokers);
    if (brokers.empty()) brokers = config->kafka.brokers;
    const bool embedded = IsEmbeddedBrokers(brokers);
    if (embedded) {
      auto started = StartEmbeddedBroker(*config, reporter);
      if (!started.ok()) {
        reporter.Error(started.status().message());
        return kExitFailure;
      }
      broker = *std::move(started);
      brokers = broker->bootstrap();
    }
    // The changelog: a state that lost its disk (or is behind it after a
    // crash) is rebuilt from Kafka before anything reads it.
    const bool changelog =
        store != nullptr && config->state.changelog != "none";
    if (changelog && !embedded && status.ok()) {
      absl::StatusOr<std::unique_ptr<KafkaLease>> taken =
          TakeLease(*config, brokers, reporter);
      if (!taken.ok()) {
        reporter.Error(taken.status().message());
        return kExitFailure;
      }
      if (*taken == nullptr) return kExitOk;  // stopped while standby
      lease = *std::move(taken);
    }
    if (changelog && status.ok()) {
      status =
          RestoreChangelog(*config, brokers, embedded ? broker.get() : nullptr,
                           store.get(), reporter);
      if (!status.ok()) {
        reporter.Error(
            absl::StrCat("state ", config->state.dir, ": ", status.message()));
        return kExitFailure;
      }
    }
    auto kafka_source =
        KafkaSource::Create({.brokers = brokers,
                             .topic = config->source.topic,
                             .group_id = config->kafka.group_id,
                             .properties = config->kafka.properties,
                             .bounded = absl::GetFlag(FLAGS_bounded),
                             .embedded_broker = embedded});
    KafkaSinkOptions sink_options;
    sink_options.brokers = brokers;
    sink_options.properties = config->kafka.properties;
    sink_options.topics = OutputTopics(config->outputs);
    if (changelog) sink_options.changelog_topic = config->state.changelog;
    const ProcessingGuarantee guarantee =
        EffectiveGuarantee(*config, store != nullptr, embedded);
    if (guarantee == ProcessingGuarantee::kExactlyOnce && store == nullptr) {
      reporter.Error(
          "processing_guarantee: exactly_once needs state (state.dir or "
          "--state-dir): the checkpoint holds the open transaction's outputs");
      return kExitUsage;
    }
    if (guarantee == ProcessingGuarantee::kExactlyOnce && kafka_source.ok()) {
      auto instance = PipelineRunner::InstanceId(store.get());
      if (!instance.ok()) {
        reporter.Error(instance.status().message());
        return kExitFailure;
      }
      sink_options.transactional_id =
          absl::StrCat("tillstream-", config->kafka.group_id, "-", *instance);
      sink_options.input_topic = config->source.topic;
      sink_options.consumer = (*kafka_source)->handle();
    }
    reporter.Info(GuaranteeLine(guarantee, embedded));
    auto kafka_sink = KafkaSink::Create(std::move(sink_options));
    if (status.ok())
      status = !kafka_source.ok() ? kafka_source.status() : kafka_sink.status();
    if (status.ok()) {
      source = *std::move(kafka_source);
      sink = *std::move(kafka_sink);
    }
  }
  if (!status.ok()) {
    reporter.Error(status.message());
    return status.code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                               : kExitFailure;
  }

  SystemClock clock;
  WorkerQueries queries;
  EngineMetrics metrics;
  const bool http = config->http.port >= 0;
  PipelineRunner* running = nullptr;
  RunnerOptions options;
  options.queries = http ? &queries : nullptr;
  options.metrics = http ? &metrics : nullptr;
  options.on_batch = [&](const RunSummary&) { reporter.OnBatch(*running); };
  if (lease != nullptr) options.fenced = &lease->lost();
  PipelineRunner runner(*config, source.get(), sink.get(), &clock,
                        std::move(options));
  running = &runner;
  if (store != nullptr) {
    status =
        runner.EnableState(store.get(), config->state.checkpoint_interval_ms);
    if (!status.ok()) {
      reporter.Error(
          absl::StrCat("state ", config->state.dir, ": ", status.message()));
      return kExitFailure;
    }
    reporter.Info(absl::StrCat(
        "state=", config->state.dir,
        " checkpoint_interval=", config->state.checkpoint_interval_ms, "ms; ",
        runner.restored_checkpoint() == 0
            ? std::string("no checkpoint yet: starting from the beginning")
            : absl::StrCat("resuming from checkpoint ",
                           runner.restored_checkpoint(), " (",
                           runner.resume_offsets().size(),
                           " partitions at their checkpointed offsets, "
                           "watermark ",
                           FormatRfc3339(runner.summary().watermark), ")")));
  }
  std::unique_ptr<HttpServer> server;
  if (http && !StartHttp({.config = &*config,
                          .runner = &runner,
                          .queries = &queries,
                          .metrics = &metrics,
                          .clock = &clock},
                         reporter, &server)) {
    return kExitFailure;
  }
  auto started = std::chrono::steady_clock::now();
  status = runner.Run(StopRequested());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  reporter.Summary(runner, seconds);
  if (!status.ok()) {
    reporter.Error(absl::StrCat("stopped: ", status.message()));
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace tillstream
