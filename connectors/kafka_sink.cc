#include "connectors/kafka_sink.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace tillstream {

std::array<std::string, kOutputKindCount> OutputTopics(
    const OutputsConfig& outputs) {
  std::array<std::string, kOutputKindCount> topics;
  topics[static_cast<int>(OutputKind::kKpis)] = outputs.kpis;
  topics[static_cast<int>(OutputKind::kRolling)] = outputs.rolling;
  topics[static_cast<int>(OutputKind::kAlerts)] = outputs.alerts;
  topics[static_cast<int>(OutputKind::kDeadLetter)] = outputs.deadletter;
  topics[static_cast<int>(OutputKind::kLate)] = outputs.late;
  return topics;
}

absl::StatusOr<std::unique_ptr<KafkaSink>> KafkaSink::Create(
    KafkaSinkOptions options) {
  auto sink = std::unique_ptr<KafkaSink>(new KafkaSink());
  KafkaProperties defaults = {
      {"bootstrap.servers", options.brokers},
      {"enable.idempotence", "true"},
      {"linger.ms", "5"},
      {"compression.type", "lz4"},
      // librdkafka retries a failing delivery until this, then reports it
      // failed: the run stops with an error naming the topic.
      {"message.timeout.ms", "60000"},
      {"log_level", "4"},
  };
  if (!options.transactional_id.empty()) {
    if (options.consumer == nullptr || options.input_topic.empty()) {
      return absl::InvalidArgumentError(
          "a transactional sink needs the consumer whose offsets it commits");
    }
    defaults.emplace_back("transactional.id", options.transactional_id);
    // A transaction spans one checkpoint interval plus its commit.
    defaults.emplace_back("transaction.timeout.ms", "60000");
  }
  sink->transactional_id_ = options.transactional_id;
  sink->input_topic_ = options.input_topic;
  sink->consumer_ = options.consumer;
  rd_kafka_conf_t* conf;
  TS_ASSIGN_OR_RETURN(conf, MakeKafkaConf(defaults, options.properties));
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSink::DeliveryReport);
  rd_kafka_conf_set_opaque(conf, sink.get());
  char error[512];
  sink->producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (sink->producer_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", error));
  }
  for (int k = 0; k < kOutputKindCount; ++k) {
    // An output the pipeline does not use (rolling without rolling rules) has
    // no topic.
    if (options.topics[k].empty()) continue;
    sink->topics_[k] =
        rd_kafka_topic_new(sink->producer_, options.topics[k].c_str(), nullptr);
  }
  if (!options.changelog_topic.empty()) {
    sink->changelog_ = rd_kafka_topic_new(
        sink->producer_, options.changelog_topic.c_str(), nullptr);
  }
  if (!options.repartition_topic.empty()) {
    sink->repartition_ = rd_kafka_topic_new(
        sink->producer_, options.repartition_topic.c_str(), nullptr);
  }
  if (sink->transactional()) {
    // Fences an earlier producer with the same id (a zombie of this
    // instance) and aborts whatever transaction it left open.
    if (rd_kafka_error_t* error =
            rd_kafka_init_transactions(sink->producer_, 60'000)) {
      return sink->TransactionError("init transactions", error);
    }
    if (rd_kafka_error_t* error = rd_kafka_begin_transaction(sink->producer_))
      return sink->TransactionError("begin transaction", error);
  }
  return sink;
}

absl::Status KafkaSink::TransactionError(absl::string_view what,
                                         rd_kafka_error_t* error) {
  absl::Status status = absl::UnavailableError(absl::StrCat(
      "kafka transaction (", transactional_id_, "): ", what, ": ",
      rd_kafka_error_string(error),
      rd_kafka_error_is_fatal(error) ? " (fatal: fenced by a newer instance?)"
                                     : ""));
  const bool abort = rd_kafka_error_txn_requires_abort(error);
  rd_kafka_error_destroy(error);
  // The outputs of an aborted transaction are still in the checkpoint that
  // preceded the commit: a restart produces them again.
  if (abort) {
    if (rd_kafka_error_t* aborted =
            rd_kafka_abort_transaction(producer_, 60'000)) {
      rd_kafka_error_destroy(aborted);
    }
  }
  return status;
}

absl::Status KafkaSink::Commit(const SourceOffsets& offsets,
                               int64_t checkpoint) {
  if (!transactional()) return absl::OkStatus();
  const std::string label = absl::StrCat(kCheckpointMetadataPrefix, checkpoint);
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [partition, next] : offsets) {
    rd_kafka_topic_partition_t* p = rd_kafka_topic_partition_list_add(
        list, input_topic_.c_str(), partition);
    p->offset = next;
    // The list owns (and frees) its metadata.
    p->metadata = std::malloc(label.size());
    std::memcpy(p->metadata, label.data(), label.size());
    p->metadata_size = label.size();
  }
  rd_kafka_consumer_group_metadata_t* group =
      rd_kafka_consumer_group_metadata(consumer_);
  rd_kafka_error_t* error = list->cnt == 0
                                ? nullptr
                                : rd_kafka_send_offsets_to_transaction(
                                      producer_, list, group, 60'000);
  rd_kafka_consumer_group_metadata_destroy(group);
  rd_kafka_topic_partition_list_destroy(list);
  if (error != nullptr) return TransactionError("send offsets", error);
  if ((error = rd_kafka_commit_transaction(producer_, 60'000)) != nullptr)
    return TransactionError("commit", error);
  if (!delivery_error_.ok()) return delivery_error_;
  if ((error = rd_kafka_begin_transaction(producer_)) != nullptr)
    return TransactionError("begin transaction", error);
  return absl::OkStatus();
}

absl::Status KafkaSink::AbortTransaction() {
  if (!transactional()) return absl::OkStatus();
  // Delivered first, into the transaction the abort then discards. An abort
  // purges what is still queued, and librdkafka 2.0 purges produce requests
  // that were already numbered but not yet sent with it: the broker then
  // refuses the next transaction's first records for the gap in their
  // sequence (OUT_OF_ORDER_SEQUENCE_NUMBER, seen in the scale-out takeover
  // test). Bounded: whatever is left is purged as before.
  rd_kafka_flush(producer_, 30'000);
  if (rd_kafka_error_t* error = rd_kafka_abort_transaction(producer_, 60'000))
    return TransactionError("abort", error);
  delivery_error_ = absl::OkStatus();  // of records the abort dropped
  if (rd_kafka_error_t* error = rd_kafka_begin_transaction(producer_))
    return TransactionError("begin transaction", error);
  return absl::OkStatus();
}

KafkaSink::~KafkaSink() {
  if (producer_ == nullptr) return;
  // An uncommitted transaction is left to be aborted: by the broker after
  // its timeout, or at once by the next instance's init_transactions.
  if (!transactional()) rd_kafka_flush(producer_, 10'000);
  for (rd_kafka_topic_t* topic : topics_) {
    if (topic != nullptr) rd_kafka_topic_destroy(topic);
  }
  if (changelog_ != nullptr) rd_kafka_topic_destroy(changelog_);
  if (repartition_ != nullptr) rd_kafka_topic_destroy(repartition_);
  rd_kafka_destroy(producer_);
}

void KafkaSink::DeliveryReport(rd_kafka_t* /*rk*/,
                               const rd_kafka_message_t* message,
                               void* opaque) {
  auto* sink = static_cast<KafkaSink*>(opaque);
  // Purged by AbortTransaction, on purpose.
  if (message->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
      message->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
    return;
  }
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
      message->rkt == sink->changelog_) {
    int64_t& last =
        sink->changelog_offsets_.try_emplace(message->partition, int64_t{-1})
            .first->second;
    last = std::max(last, message->offset);
  }
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR &&
      sink->delivery_error_.ok()) {
    sink->delivery_error_ = absl::UnavailableError(
        absl::StrCat("delivery to ", rd_kafka_topic_name(message->rkt),
                     " failed: ", rd_kafka_err2str(message->err)));
  }
}

absl::Status KafkaSink::Write(const OutputBatch& batch) {
  for (size_t i = 0; i < batch.size(); ++i) {
    OutputBatch::Record record = batch[i];
    rd_kafka_topic_t* topic = topics_[static_cast<int>(record.kind)];
    if (topic == nullptr) {
      return absl::FailedPreconditionError(
          "an output record for an output with no topic");
    }
    while (true) {
      int rc = rd_kafka_produce(
          topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
          const_cast<char*>(record.value.data()), record.value.size(),
          record.key.data(), record.key.size(), nullptr);
      if (rc == 0) break;
      rd_kafka_resp_err_t err = rd_kafka_last_error();
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return absl::UnavailableError(
            absl::StrCat("produce to ", rd_kafka_topic_name(topic), ": ",
                         rd_kafka_err2str(err)));
      }
      rd_kafka_poll(producer_, 10);  // the local queue is full: let it drain
    }
  }
  rd_kafka_poll(producer_, 0);  // serve delivery reports
  return delivery_error_;
}

absl::Status KafkaSink::WriteChangelogTo(
    int32_t partition, std::span<const ChangelogRecord> records,
    absl::string_view header) {
  if (changelog_ == nullptr) return OutputSink::WriteChangelog(records, header);
  const std::string header_name(kChangelogHeader);
  for (const ChangelogRecord& record : records) {
    // A null value is a tombstone.
    void* value =
        record.value ? const_cast<char*>(record.value->data()) : nullptr;
    const size_t value_size = record.value ? record.value->size() : 0;
    while (true) {
      // One partition: the replay relies on the records' order.
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_, RD_KAFKA_V_RKT(changelog_),
          RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(record.key.data(), record.key.size()),
          RD_KAFKA_V_VALUE(value, value_size),
          RD_KAFKA_V_HEADER(header_name.c_str(), header.data(),
                            static_cast<ssize_t>(header.size())),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return absl::UnavailableError(
            absl::StrCat("produce to ", rd_kafka_topic_name(changelog_), ": ",
                         rd_kafka_err2str(err)));
      }
      rd_kafka_poll(producer_, 10);
    }
  }
  rd_kafka_poll(producer_, 0);
  return delivery_error_;
}

absl::Status KafkaSink::Forward(int32_t partition, absl::string_view key,
                                absl::string_view value) {
  if (repartition_ == nullptr) {
    return absl::FailedPreconditionError(
        "this output has no repartition topic");
  }
  while (rd_kafka_produce(repartition_, partition, RD_KAFKA_MSG_F_COPY,
                          const_cast<char*>(value.data()), value.size(),
                          key.data(), key.size(), nullptr) != 0) {
    const rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return absl::UnavailableError(
          absl::StrCat("produce to ", rd_kafka_topic_name(repartition_), "/",
                       partition, ": ", rd_kafka_err2str(err)));
    }
    rd_kafka_poll(producer_, 10);  // the local queue is full: let it drain
  }
  return delivery_error_;
}

absl::Status KafkaSink::ForwardToEach(int32_t partitions,
                                      absl::string_view key) {
  for (int32_t partition = 0; partition < partitions; ++partition)
    TS_RETURN_IF_ERROR(Forward(partition, key, {}));
  return absl::OkStatus();
}

absl::Status KafkaSink::Flush() {
  // Every message is delivered or reported failed within message.timeout.ms,
  // so this returns; the outer bound only guards against a stuck client.
  rd_kafka_resp_err_t err = rd_kafka_flush(producer_, 15 * 60'000);
  if (!delivery_error_.ok()) return delivery_error_;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::DeadlineExceededError(
        absl::StrCat("kafka producer flush: ", rd_kafka_outq_len(producer_),
                     " outputs still undelivered: ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

}  // namespace tillstream
