#ifndef TILLSTREAM_CONNECTORS_KAFKA_LEASE_H_
#define TILLSTREAM_CONNECTORS_KAFKA_LEASE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "connectors/kafka_config.h"
#include "librdkafka/rdkafka.h"

namespace tillstream {

struct KafkaLeaseOptions {
  std::string brokers;
  KafkaProperties properties;  // kafka.properties, passed through
  std::string group_id;        // the lease's own consumer group
  std::string topic;           // an empty topic; its partition 0 is the lease
};

// Which instance of a pipeline is active, decided by Kafka's group
// protocol: every instance joins one consumer group over a topic nobody
// writes, and the member assigned its partition 0 holds the lease
// (cooperative-sticky assignment: a joining member does not take it from
// the holder). The others are standbys; when the holder leaves or its
// session times out, the group hands partition 0 to one of them.
class KafkaLease {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaLease>> Create(
      KafkaLeaseOptions options);
  ~KafkaLease();  // leaves the group: a standby takes over at once

  // Blocks until this instance holds the lease (true) or `stop` is set
  // (false). `on_wait` is called once when it waits longer than a group
  // join (5 s).
  bool Acquire(const std::atomic<bool>& stop,
               const std::function<void()>& on_wait);
  // Set once the group took a held lease away: this instance must stop at
  // once, without another checkpoint (the new holder resumes from the last
  // one).
  const std::atomic<bool>& lost() const { return lost_; }

 private:
  KafkaLease() = default;
  void PollLoop();

  KafkaLeaseOptions options_;
  rd_kafka_t* consumer_ = nullptr;
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> lost_{false};
  std::atomic<bool> closing_{false};
  std::thread poller_;  // serves the group's heartbeats and rebalances
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_KAFKA_LEASE_H_
