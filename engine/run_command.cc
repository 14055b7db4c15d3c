// `tillstream run PIPELINE.yaml`: Kafka in, Kafka out; or a file replay.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "connectors/embedded_broker.h"
#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "engine/commands.h"
#include "engine/http_server.h"
#include "engine/pipeline_runner.h"
#include "engine/run_reporter.h"
#include "engine/time_format.h"

namespace tillstream {
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

  RunReporter reporter(*config, json_logs, isatty(STDERR_FILENO) == 1);
  std::unique_ptr<EmbeddedBroker> broker;
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
    auto file_sink = FileSink::Open(dir);
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
      auto started = EmbeddedBroker::Start();
      if (!started.ok()) {
        reporter.Error(started.status().message());
        return kExitFailure;
      }
      broker = *std::move(started);
      for (const std::string& topic :
           {config->source.topic, config->outputs.kpis, config->outputs.rolling,
            config->outputs.alerts, config->outputs.deadletter,
            config->outputs.late}) {
        if (topic.empty()) continue;
        status.Update(
            broker->CreateTopic(topic, absl::GetFlag(FLAGS_partitions)));
      }
      brokers = broker->bootstrap();
      reporter.Info(absl::StrCat("embedded broker bootstrap=", brokers));
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
  if (absl::GetFlag(FLAGS_http_port) >= 0)
    config->http.port = absl::GetFlag(FLAGS_http_port);
  const bool http = config->http.port >= 0;
  PipelineRunner* running = nullptr;
  RunnerOptions options;
  options.queries = http ? &queries : nullptr;
  options.metrics = http ? &metrics : nullptr;
  options.on_batch = [&](const RunSummary&) { reporter.OnBatch(*running); };
  PipelineRunner runner(*config, source.get(), sink.get(), &clock,
                        std::move(options));
  running = &runner;
  std::unique_ptr<HttpServer> server;
  if (http) {
    auto started = HttpServer::Start({.config = &*config,
                                      .runner = &runner,
                                      .queries = &queries,
                                      .metrics = &metrics,
                                      .clock = &clock});
    if (!started.ok()) {
      reporter.Error(started.status().message());
      return kExitFailure;
    }
    server = *std::move(started);
    // Scripts and tests read the port from this line.
    reporter.Info(
        absl::StrCat("http=", config->http.address, ":", server->port()));
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
