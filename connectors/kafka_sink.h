#ifndef TILLSTREAM_CONNECTORS_KAFKA_SINK_H_
#define TILLSTREAM_CONNECTORS_KAFKA_SINK_H_

#include <array>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "connectors/kafka_config.h"
#include "connectors/output_sink.h"
#include "engine/pipeline_config.h"
#include "librdkafka/rdkafka.h"

namespace tillstream {

struct KafkaSinkOptions {
  std::string brokers;
  KafkaProperties properties;  // kafka.properties, passed through
  // Topic per OutputKind (kpis, deadletter, late).
  std::array<std::string, kOutputKindCount> topics;
};

// The topic of each OutputKind, from the pipeline's `outputs:`.
std::array<std::string, kOutputKindCount> OutputTopics(
    const OutputsConfig& outputs);

// Produces output records to Kafka with an idempotent producer (no duplicates
// or reordering from producer retries). The message key is the record's key:
// the KPI group rendered k=v[,k=v]. A delivery failure is kept and returned by
// the next Write or Flush: outputs are never dropped silently. One thread.
class KafkaSink final : public OutputSink {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaSink>> Create(
      KafkaSinkOptions options);
  ~KafkaSink() override;

  absl::Status Write(const OutputBatch& batch) override;
  absl::Status Flush() override;

 private:
  KafkaSink() = default;
  static void DeliveryReport(rd_kafka_t* rk, const rd_kafka_message_t* message,
                             void* opaque);

  rd_kafka_t* producer_ = nullptr;
  std::array<rd_kafka_topic_t*, kOutputKindCount> topics_{};
  absl::Status delivery_error_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_KAFKA_SINK_H_
