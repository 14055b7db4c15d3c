#include "connectors/embedded_broker.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tillstream {

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(
    int brokers) {
  auto broker = std::unique_ptr<EmbeddedBroker>(new EmbeddedBroker());
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", nullptr, 0);
  broker->host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (broker->host_ == nullptr) {
    return absl::InternalError(absl::StrCat("embedded broker: ", error));
  }
  broker->cluster_ = rd_kafka_mock_cluster_new(broker->host_, brokers);
  if (broker->cluster_ == nullptr) {
    return absl::InternalError(
        "embedded broker: could not start librdkafka's mock cluster");
  }
  broker->bootstrap_ = rd_kafka_mock_cluster_bootstraps(broker->cluster_);
  return broker;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (host_ != nullptr) rd_kafka_destroy(host_);
}

absl::Status EmbeddedBroker::CreateTopic(const std::string& topic,
                                         int partitions) {
  if (partitions <= 0)
    return absl::InvalidArgumentError("partitions must be > 0");
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
      err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return absl::InternalError(absl::StrCat(
        "embedded broker: create topic ", topic, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

void EmbeddedBroker::SetTopicError(const std::string& topic,
                                   rd_kafka_resp_err_t error) {
  rd_kafka_mock_topic_set_error(cluster_, topic.c_str(), error);
}

}  // namespace tillstream
