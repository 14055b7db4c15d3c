#ifndef TILLSTREAM_CONNECTORS_KAFKA_CONFIG_H_
#define TILLSTREAM_CONNECTORS_KAFKA_CONFIG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "librdkafka/rdkafka.h"

namespace tillstream {

// Offsets committed by a checkpoint's transaction carry this metadata,
// followed by the checkpoint's number.
inline constexpr char kCheckpointMetadataPrefix[] = "tillstream-checkpoint=";

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// Builds a librdkafka configuration: `defaults` first, then the user's
// `properties` (kafka.properties in the pipeline file) over them, unchanged,
// so every librdkafka setting (SASL, TLS, tuning) passes through. An unknown
// property or bad value is an error naming the property; the value is shown
// only for properties that cannot hold a secret. The caller owns the result.
absl::StatusOr<rd_kafka_conf_t*> MakeKafkaConf(
    const KafkaProperties& defaults, const KafkaProperties& properties);

// True when `brokers` names the in-process embedded broker.
inline bool IsEmbeddedBrokers(const std::string& brokers) {
  return brokers.empty() || brokers == "embedded";
}

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_KAFKA_CONFIG_H_
