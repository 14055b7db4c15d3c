// `tillstream run PIPELINE.yaml`: Kafka in, Kafka out; or a file replay.
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
#include "engine/pipeline_runner.h"
#include "engine/time_format.h"

namespace tillstream {
namespace {

void PrintSummary(const PipelineConfig& config, const RunSummary& s,
                  double seconds) {
  std::fprintf(
      stderr,
      "tillstream: pipeline %s: %lld records, %lld events, %lld dead letters, "
      "%lld late, %lld windows emitted (+%lld corrections), %lld rolling, %lld "
      "alerts, "
      "watermark %s, "
      "%.2f s (%.0f records/s)\n",
      config.name.c_str(), static_cast<long long>(s.records),
      static_cast<long long>(s.events), static_cast<long long>(s.bad_records),
      static_cast<long long>(s.late_events),
      static_cast<long long>(s.snapshots),
      static_cast<long long>(s.corrections), static_cast<long long>(s.rolling),
      static_cast<long long>(s.alerts), FormatRfc3339(s.watermark).c_str(),
      seconds, seconds > 0 ? s.records / seconds : 0.0);
  std::vector<std::pair<int64_t, std::string>> reasons;
  for (const auto& [reason, count] : s.bad_by_reason)
    reasons.emplace_back(count, reason);
  std::sort(reasons.rbegin(), reasons.rend());
  for (size_t i = 0; i < reasons.size() && i < 8; ++i) {
    std::fprintf(stderr, "  dead letter x%lld: %s\n",
                 static_cast<long long>(reasons[i].first),
                 reasons[i].second.c_str());
  }
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
  absl::StatusOr<PipelineConfig> config = LoadPipelineConfig(args[0]);
  if (!config.ok()) {
    std::fprintf(stderr, "tillstream: %s\n",
                 std::string(config.status().message()).c_str());
    return kExitUsage;
  }

  std::unique_ptr<EmbeddedBroker> broker;
  std::unique_ptr<RecordSource> source;
  std::unique_ptr<OutputSink> sink;
  const std::string input = absl::GetFlag(FLAGS_input);
  absl::Status status;
  if (!input.empty()) {
    const std::string dir = absl::GetFlag(FLAGS_output_dir);
    if (dir.empty()) {
      std::fprintf(stderr, "tillstream: --input needs --output-dir DIR\n");
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
        std::fprintf(stderr, "tillstream: %s\n",
                     std::string(started.status().message()).c_str());
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
      std::fprintf(stderr, "tillstream: embedded broker bootstrap=%s\n",
                   brokers.c_str());
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
    std::fprintf(stderr, "tillstream: %s\n",
                 std::string(status.message()).c_str());
    return status.code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                               : kExitFailure;
  }

  SystemClock clock;
  PipelineRunner runner(*config, source.get(), sink.get(), &clock);
  auto started = std::chrono::steady_clock::now();
  status = runner.Run(StopRequested());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  PrintSummary(*config, runner.summary(), seconds);
  if (!status.ok()) {
    std::fprintf(stderr, "tillstream: stopped: %s\n",
                 std::string(status.message()).c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace tillstream
