#ifndef TILLSTREAM_CONNECTORS_EMBEDDED_BROKER_H_
#define TILLSTREAM_CONNECTORS_EMBEDDED_BROKER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "librdkafka/rdkafka.h"
#include "librdkafka/rdkafka_mock.h"

namespace tillstream {

// An in-process Kafka broker: librdkafka's mock cluster, listening on an
// ephemeral loopback port that real clients reach over sockets. Mind its
// limits (DESIGN.md): about 5 MiB retained per partition, no CreateTopics API
// (auto-created topics get 4 partitions; create them here instead), and
// transactions accepted but not enforced. Thread-safe; stops on destruction.
class EmbeddedBroker {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedBroker>> Start(int brokers = 1);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // "127.0.0.1:PORT[,...]"
  const std::string& bootstrap() const { return bootstrap_; }

  // Creates `topic` with `partitions` partitions; an existing topic is kept.
  absl::Status CreateTopic(const std::string& topic, int partitions);

  // Fault injection for tests: every request on `topic` fails with `error`
  // (RD_KAFKA_RESP_ERR_NO_ERROR clears it).
  void SetTopicError(const std::string& topic, rd_kafka_resp_err_t error);

 private:
  EmbeddedBroker() = default;
  rd_kafka_t* host_ = nullptr;  // the mock cluster lives in a client handle
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_EMBEDDED_BROKER_H_
