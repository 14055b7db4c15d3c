#include "connectors/changelog_reader.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "state/changelog.h"

namespace tillstream {
namespace {

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

absl::StatusOr<KafkaHandle> NewClient(const KafkaTopicRef& topic,
                                      rd_kafka_type_t type,
                                      KafkaProperties defaults) {
  defaults.emplace_back("bootstrap.servers", topic.brokers);
  defaults.emplace_back("log_level", "4");
  rd_kafka_conf_t* conf;
  TS_ASSIGN_OR_RETURN(conf, MakeKafkaConf(defaults, topic.properties));
  char error[512];
  rd_kafka_t* handle = rd_kafka_new(type, conf, error, sizeof(error));
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(
        absl::StrCat("changelog ", topic.topic, ": ", error));
  }
  return KafkaHandle(handle);
}

constexpr int kTimeoutMs = 10'000;

absl::StatusOr<int> PartitionCount(rd_kafka_t* client,
                                   const std::string& topic) {
  rd_kafka_topic_t* handle = rd_kafka_topic_new(client, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(client, 0, handle, &metadata, kTimeoutMs);
  const bool exists = err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                      metadata->topic_cnt == 1 &&
                      metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR;
  const int partitions = exists ? metadata->topics[0].partition_cnt : 0;
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(handle);
  if (!exists) {
    return absl::NotFoundError(absl::StrCat(
        "topic ", topic, " not found: ",
        rd_kafka_err2str(err != RD_KAFKA_RESP_ERR_NO_ERROR
                             ? err
                             : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)));
  }
  return partitions;
}

}  // namespace

absl::StatusOr<int> PartitionCount(const KafkaTopicRef& topic) {
  KafkaHandle admin;
  TS_ASSIGN_OR_RETURN(admin, NewClient(topic, RD_KAFKA_CONSUMER, {}));
  return PartitionCount(admin.get(), topic.topic);
}

absl::StatusOr<int> EnsureTopic(const KafkaTopicRef& topic, int partitions,
                                bool compacted) {
  KafkaHandle admin;
  TS_ASSIGN_OR_RETURN(admin, NewClient(topic, RD_KAFKA_CONSUMER, {}));
  // Most starts find it: ask before creating.
  absl::StatusOr<int> existing = PartitionCount(admin.get(), topic.topic);
  if (existing.ok() || !absl::IsNotFound(existing.status())) return existing;
  char error[512];
  rd_kafka_NewTopic_t* new_topic = rd_kafka_NewTopic_new(
      topic.topic.c_str(), partitions, -1, error, sizeof(error));
  if (new_topic == nullptr) return absl::InvalidArgumentError(error);
  if (compacted)
    rd_kafka_NewTopic_set_config(new_topic, "cleanup.policy", "compact");
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(admin.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(options, kTimeoutMs, error,
                                            sizeof(error));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(admin.get());
  rd_kafka_CreateTopics(admin.get(), &new_topic, 1, options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kTimeoutMs + 2'000);
  absl::Status status = absl::DeadlineExceededError(
      absl::StrCat("topic ", topic.topic,
                   ": CreateTopics had no answer; the broker's "
                   "auto-creation makes it (with the broker's default "
                   "partitions and cleanup policy)"));
  if (event != nullptr) {
    status = absl::OkStatus();
    const rd_kafka_CreateTopics_result_t* result =
        rd_kafka_event_CreateTopics_result(event);
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        result == nullptr ? nullptr
                          : rd_kafka_CreateTopics_result_topics(result, &count);
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = absl::UnavailableError(absl::StrCat(
          "topic ", topic.topic, ": ", rd_kafka_event_error_string(event)));
    }
    for (size_t i = 0; i < count && status.ok(); ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
          err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        status = absl::UnavailableError(
            absl::StrCat("topic ", topic.topic, ": ",
                         rd_kafka_topic_result_error_string(results[i])));
      }
    }
    rd_kafka_event_destroy(event);
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy(new_topic);
  if (!status.ok()) return status;
  return partitions;
}

absl::Status ReadChangelog(const KafkaTopicRef& topic, int32_t partition,
                           int64_t from, ChangelogVisitor visit) {
  KafkaHandle consumer;
  TS_ASSIGN_OR_RETURN(consumer,
                      NewClient(topic, RD_KAFKA_CONSUMER,
                                {{"group.id", "tillstream-changelog-restore"},
                                 {"enable.auto.commit", "false"},
                                 {"isolation.level", "read_committed"},
                                 {"enable.partition.eof", "true"}}));
  int64_t low = 0;
  int64_t high = 0;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      consumer.get(), topic.topic.c_str(), partition, &low, &high, kTimeoutMs);
  if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return absl::OkStatus();
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "changelog ", topic.topic, ": offsets: ", rd_kafka_err2str(err)));
  }
  if (from >= high) return absl::OkStatus();
  if (from < low) {
    return absl::DataLossError(absl::StrCat(
        "changelog ", topic.topic, " starts at offset ", low,
        " but the state needs it from offset ", from,
        ": records were deleted (the topic needs cleanup.policy=compact, "
        "not a deleting retention)"));
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.topic.c_str(), partition)
      ->offset = from;
  err = rd_kafka_assign(consumer.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "changelog ", topic.topic, ": assign: ", rd_kafka_err2str(err)));
  }
  const std::string header_name(kChangelogHeader);
  absl::Status status;
  // Until the end: the partition's end event (under read_committed, at the
  // last stable offset). A transaction a dead writer left open holds that
  // offset until the broker aborts it (transaction.timeout.ms, 60 s for our
  // producers), so a record may be that long in coming.
  constexpr int kEndWaitMs = 75'000;
  while (status.ok()) {
    rd_kafka_message_t* message =
        rd_kafka_consumer_poll(consumer.get(), kEndWaitMs);
    if (message == nullptr) {
      status = absl::DeadlineExceededError(
          absl::StrCat("changelog ", topic.topic, ": no record for ",
                       kEndWaitMs / 1000, " s before its end"));
      break;
    }
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(message);
      break;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = absl::UnavailableError(absl::StrCat(
          "changelog ", topic.topic, ": ", rd_kafka_message_errstr(message)));
    } else {
      rd_kafka_headers_t* headers = nullptr;
      const void* header = nullptr;
      size_t header_size = 0;
      if (rd_kafka_message_headers(message, &headers) ==
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_header_get_last(headers, header_name.c_str(), &header,
                                 &header_size);
      }
      const absl::string_view key(static_cast<const char*>(message->key),
                                  message->key_len);
      std::optional<absl::string_view> value;
      if (message->payload != nullptr) {
        value = absl::string_view(static_cast<const char*>(message->payload),
                                  message->len);
      }
      status = visit(
          message->offset, key, value,
          absl::string_view(static_cast<const char*>(header), header_size));
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_consumer_close(consumer.get());
  return status;
}

}  // namespace tillstream
