#include "connectors/kafka_config.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/pipeline_config.h"

namespace tillstream {

absl::StatusOr<rd_kafka_conf_t*> MakeKafkaConf(
    const KafkaProperties& defaults, const KafkaProperties& properties) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const KafkaProperties* list : {&defaults, &properties}) {
    for (const auto& [name, value] : *list) {
      if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error,
                            sizeof(error)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        // librdkafka's message quotes the value: keep it only when the
        // property cannot hold a secret.
        return absl::InvalidArgumentError(absl::StrCat(
            "kafka property \"", name, "\": ",
            IsSecretProperty(name) ? "invalid value (not shown)" : error));
      }
    }
  }
  return conf;
}

}  // namespace tillstream
