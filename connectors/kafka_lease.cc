#include "connectors/kafka_lease.h"

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "engine/thread_name.h"

namespace tillstream {

absl::StatusOr<std::unique_ptr<KafkaLease>> KafkaLease::Create(
    KafkaLeaseOptions options) {
  auto lease = std::unique_ptr<KafkaLease>(new KafkaLease());
  KafkaProperties defaults = {
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group_id},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"enable.auto.commit", "false"},
      {"log_level", "4"}};
  // Dynamic membership: a clean stop leaves the group, so a standby takes
  // over at once (a static member would hold the lease for its session).
  rd_kafka_conf_t* conf;
  TS_ASSIGN_OR_RETURN(conf, MakeKafkaConf(defaults, options.properties));
  char error[512];
  lease->consumer_ =
      rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (lease->consumer_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("lease consumer: ", error));
  }
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, options.topic.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(lease->consumer_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "lease: subscribe to ", options.topic, ": ", rd_kafka_err2str(err)));
  }
  lease->options_ = std::move(options);
  lease->poller_ = std::thread([l = lease.get()] {
    NameThisThread("ts:lease");
    l->PollLoop();
  });
  return lease;
}

KafkaLease::~KafkaLease() {
  closing_ = true;
  if (poller_.joinable()) poller_.join();
  if (consumer_ != nullptr) {
    rd_kafka_consumer_close(consumer_);
    rd_kafka_destroy(consumer_);
  }
}

void KafkaLease::PollLoop() {
  while (!closing_.load()) {
    // Nobody writes the topic: a poll serves heartbeats and rebalances.
    if (rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_, 100)) {
      rd_kafka_message_destroy(message);
    }
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    bool holds = false;
    if (rd_kafka_assignment(consumer_, &assigned) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      holds = rd_kafka_topic_partition_list_find(
                  assigned, options_.topic.c_str(), 0) != nullptr;
      rd_kafka_topic_partition_list_destroy(assigned);
    }
    absl::MutexLock lock(&mu_);
    if (held_ && !holds) lost_ = true;
    held_ = holds;
  }
}

bool KafkaLease::Acquire(const std::atomic<bool>& stop,
                         const std::function<void()>& on_wait) {
  absl::MutexLock lock(&mu_);
  // A lone instance gets the lease within a group join: say nothing unless
  // the wait is longer.
  int waits = 0;
  while (!held_) {
    if (stop.load()) return false;
    if (++waits == 25 && on_wait) on_wait();
    // Wakes when the poller changes the lease, or to look at `stop`.
    mu_.AwaitWithTimeout(absl::Condition(&held_), absl::Milliseconds(200));
  }
  lost_ = false;
  return true;
}

}  // namespace tillstream
