#include "connectors/kafka_source.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/status_macros.h"

namespace tillstream {

absl::StatusOr<std::unique_ptr<KafkaSource>> KafkaSource::Create(
    KafkaSourceOptions options) {
  auto source =
      std::unique_ptr<KafkaSource>(new KafkaSource(std::move(options)));
  const KafkaSourceOptions& o = source->options_;
  KafkaProperties defaults = {
      {"bootstrap.servers", o.brokers},  {"group.id", o.group_id},
      {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"}, {"log_level", "4"},
  };
  // librdkafka 2.0 stops fetching for about a second once its local queue
  // is full (100,000 records or 64 MiB by default): a worker that drains
  // 100,000 records in a fraction of that second then idles. The queue is
  // made to hold about a second of processing instead (measured: the
  // pipeline through the embedded broker 185k -> 430k events/s).
  defaults.emplace_back("queued.min.messages", "1000000");
  defaults.emplace_back("queued.max.messages.kbytes", "262144");
  if (o.embedded_broker) {
    // The mock cluster holds an empty Fetch for the full wait (DESIGN.md).
    defaults.emplace_back("fetch.wait.max.ms", "5");
    // Its group coordinator now and then refuses a member's SyncGroup
    // (INVALID_REQUEST) when two join at once; the group then waits a
    // session timeout for that member: 6 s rather than 45. Never 3 s or
    // less: it answers an empty group's first JoinGroup after 3 s and drops
    // a member whose session ends first, whose client then waits 5 min.
    defaults.emplace_back("session.timeout.ms", "6000");
    defaults.emplace_back("heartbeat.interval.ms", "1500");
  }
  rd_kafka_conf_t* conf;
  TS_ASSIGN_OR_RETURN(conf, MakeKafkaConf(defaults, o.properties));
  rd_kafka_conf_set_rebalance_cb(conf, &KafkaSource::RebalanceTrampoline);
  rd_kafka_conf_set_opaque(conf, source.get());
  char error[512];
  source->consumer_ =
      rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (source->consumer_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", error));
  }
  rd_kafka_poll_set_consumer(source->consumer_);
  source->queue_ = rd_kafka_queue_get_consumer(source->consumer_);
  if (o.bounded) TS_RETURN_IF_ERROR(source->QueryEndOffsets());

  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, o.topic.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(source->consumer_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("subscribe to ", o.topic, ": ", rd_kafka_err2str(err)));
  }
  return source;
}

KafkaSource::~KafkaSource() {
  ReleaseMessages(&messages_);
  ReleaseMessages(&previous_messages_);
  if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
  if (consumer_ != nullptr) {
    listener_ = nullptr;  // no task is told anything during shutdown
    rd_kafka_consumer_close(consumer_);
    rd_kafka_destroy(consumer_);
  }
}

absl::Status KafkaSource::QueryEndOffsets() {
  rd_kafka_topic_t* topic =
      rd_kafka_topic_new(consumer_, options_.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(consumer_, 0, topic, &metadata, 10'000);
  rd_kafka_topic_destroy(topic);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "metadata for topic ", options_.topic, ": ", rd_kafka_err2str(err)));
  }
  std::vector<int32_t> partitions;
  for (int t = 0; t < metadata->topic_cnt; ++t) {
    const rd_kafka_metadata_topic_t& mt = metadata->topics[t];
    if (options_.topic != mt.topic) continue;
    if (mt.err != RD_KAFKA_RESP_ERR_NO_ERROR) err = mt.err;
    for (int p = 0; p < mt.partition_cnt; ++p)
      partitions.push_back(mt.partitions[p].id);
  }
  rd_kafka_metadata_destroy(metadata);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || partitions.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "topic ", options_.topic, " does not exist: ", rd_kafka_err2str(err)));
  }
  for (int32_t p : partitions) {
    int64_t low = 0, high = 0;
    err = rd_kafka_query_watermark_offsets(consumer_, options_.topic.c_str(), p,
                                           &low, &high, 10'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("end offset of ",
                                                 options_.topic, "/", p, ": ",
                                                 rd_kafka_err2str(err)));
    }
    end_offsets_[p] = {low, high};
  }
  return absl::OkStatus();
}

void KafkaSource::RebalanceTrampoline(
    rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaSource*>(opaque)->OnRebalance(err, partitions);
}

void KafkaSource::OnRebalance(rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* partitions) {
  const bool cooperative =
      std::strcmp(rd_kafka_rebalance_protocol(consumer_), "COOPERATIVE") == 0;
  std::vector<PartitionId> ids;
  for (int i = 0; i < partitions->cnt; ++i) {
    ids.push_back(PartitionId{partitions->elems[i].partition});
  }
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (listener_ != nullptr) listener_->OnPartitionsAssigned(ids);
    if (options_.resume_from_group) {
      absl::Status resumed = ResumeFromGroup(partitions);
      if (!resumed.ok()) {
        rebalance_error_ = resumed;
        return;
      }
    }
    for (int i = 0; i < partitions->cnt; ++i) {
      auto start = start_offsets_.find(partitions->elems[i].partition);
      partitions->elems[i].offset = start == start_offsets_.end()
                                        ? RD_KAFKA_OFFSET_BEGINNING
                                        : start->second;
    }
    rd_kafka_error_t* error = nullptr;
    rd_kafka_resp_err_t assign_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cooperative) {
      error = rd_kafka_incremental_assign(consumer_, partitions);
    } else {
      assign_err = rd_kafka_assign(consumer_, partitions);
    }
    if (error != nullptr) {
      rebalance_error_ = absl::InternalError(
          absl::StrCat("assign partitions: ", rd_kafka_error_string(error)));
      rd_kafka_error_destroy(error);
      return;
    }
    if (assign_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rebalance_error_ = absl::InternalError(
          absl::StrCat("assign partitions: ", rd_kafka_err2str(assign_err)));
      return;
    }
    ever_assigned_ = true;
    for (PartitionId id : ids) assigned_[id.value] = PartitionState{};
    if (options_.bounded) {
      for (PartitionId id : ids) {
        auto range = end_offsets_.find(id.value);
        // A partition created after start has nothing to read in this run; one
        // whose retained log starts at its end offset is empty.
        auto start = start_offsets_.find(id.value);
        const int64_t first =
            range == end_offsets_.end() ? 0
            : start == start_offsets_.end()
                ? range->second.first
                : std::max(range->second.first, start->second);
        bool empty =
            range == end_offsets_.end() || first >= range->second.second;
        assigned_[id.value].end_offset = empty ? 0 : range->second.second;
        if (empty) {
          FinishPartition(id.value);
        }
      }
    }
  } else {
    if (listener_ != nullptr) listener_->OnPartitionsRevoked(ids);
    for (PartitionId id : ids) assigned_.erase(id.value);
    if (cooperative) {
      rd_kafka_error_t* error =
          rd_kafka_incremental_unassign(consumer_, partitions);
      if (error != nullptr) rd_kafka_error_destroy(error);
    } else {
      rd_kafka_assign(consumer_, nullptr);
    }
  }
}

absl::Status KafkaSource::ResumeFromGroup(
    const rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_topic_partition_list_t* committed =
      rd_kafka_topic_partition_list_copy(partitions);
  // Asked, not left to librdkafka (OFFSET_STORED): a bounded run must know
  // where each partition starts to tell an empty one.
  const rd_kafka_resp_err_t err =
      rd_kafka_committed(consumer_, committed, 10'000);
  for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < committed->cnt;
       ++i) {
    const rd_kafka_topic_partition_t& p = committed->elems[i];
    if (p.offset >= 0) {
      start_offsets_[p.partition] = p.offset;
    } else {
      start_offsets_.erase(p.partition);  // nothing committed: the beginning
    }
  }
  rd_kafka_topic_partition_list_destroy(committed);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "committed offsets of ", options_.topic, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

void KafkaSource::FinishPartition(int32_t partition) {
  PartitionState& state = assigned_[partition];
  if (state.done) return;
  state.done = true;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), partition);
  rd_kafka_pause_partitions(consumer_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (listener_ != nullptr) listener_->OnPartitionEnd(PartitionId{partition});
}

void KafkaSource::ReleaseMessages(std::vector<rd_kafka_message_t*>* batch) {
  for (rd_kafka_message_t* m : *batch) rd_kafka_message_destroy(m);
  batch->clear();
}

absl::StatusOr<PollResult> KafkaSource::Poll(PartitionListener* listener,
                                             absl::Duration timeout,
                                             RecordBatch* batch) {
  // The previous batch stays valid through this Poll; the one before goes.
  ReleaseMessages(&previous_messages_);
  messages_.swap(previous_messages_);
  batch->records.clear();
  listener_ = listener;
  messages_.resize(options_.max_batch_records);
  // What is there now, without waiting to fill the batch (a batch call with
  // a timeout waits until the batch is full or the timeout passes: a
  // processing thread would idle while records sit in the queue). Only an
  // empty queue is waited on, for its first record.
  ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, messages_.data(),
                                           messages_.size());
  if (n == 0) {
    n = rd_kafka_consume_batch_queue(
        queue_, static_cast<int>(absl::ToInt64Milliseconds(timeout)),
        messages_.data(), 1);
    if (n == 1) {
      const ssize_t more = rd_kafka_consume_batch_queue(
          queue_, 0, messages_.data() + 1, messages_.size() - 1);
      if (more > 0) n += more;
    }
  }
  messages_.resize(n < 0 ? 0 : static_cast<size_t>(n));
  if (!rebalance_error_.ok()) return rebalance_error_;
  for (rd_kafka_message_t* m : messages_) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char reason[512];
        rd_kafka_fatal_error(consumer_, reason, sizeof(reason));
        return absl::InternalError(absl::StrCat("kafka consumer: ", reason));
      }
      // Transient (broker down, rebalancing): librdkafka retries by itself.
      continue;
    }
    int32_t partition = m->partition;
    auto it = assigned_.find(partition);
    if (it == assigned_.end()) continue;  // revoked while in flight
    PartitionState& state = it->second;
    if (options_.bounded) {
      if (state.done || m->offset >= state.end_offset) continue;
    }
    batch->records.push_back(
        {absl::string_view(static_cast<const char*>(m->payload), m->len),
         PartitionId{partition}, Offset{m->offset},
         rd_kafka_message_timestamp(m, nullptr),
         absl::string_view(static_cast<const char*>(m->key), m->key_len)});
    if (options_.bounded && m->offset + 1 >= state.end_offset)
      FinishPartition(partition);
  }
  records_read_ += static_cast<int64_t>(batch->records.size());
  if (options_.bounded && ever_assigned_ && batch->records.empty() &&
      std::all_of(assigned_.begin(), assigned_.end(),
                  [](const auto& entry) { return entry.second.done; })) {
    return PollResult::kEndOfInput;
  }
  return PollResult::kRecords;
}

void KafkaSource::Lag(std::vector<PartitionLag>* out) {
  out->clear();
  if (assigned_.empty()) return;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size()));
  for (const auto& [partition, state] : assigned_) {
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), partition);
  }
  rd_kafka_position(consumer_, list);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    int64_t low = -1, high = -1;
    PartitionLag lag{PartitionId{p.partition}};
    if (rd_kafka_get_watermark_offsets(consumer_, options_.topic.c_str(),
                                       p.partition, &low,
                                       &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0) {
      // Before the first fetch the position is unset: all of it is lag.
      lag.lag = std::max<int64_t>(0, high - (p.offset >= 0 ? p.offset : low));
    }
    out->push_back(lag);
  }
  rd_kafka_topic_partition_list_destroy(list);
  std::sort(out->begin(), out->end(),
            [](const PartitionLag& a, const PartitionLag& b) {
              return a.partition.value < b.partition.value;
            });
}

void KafkaSource::CommitOffsets(const SourceOffsets& offsets) {
  if (offsets.empty()) return;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [partition, next] : offsets) {
    if (!assigned_.contains(partition)) continue;
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), partition)
        ->offset = next;
  }
  if (list->cnt > 0) rd_kafka_commit(consumer_, list, /*async=*/1);
  rd_kafka_topic_partition_list_destroy(list);
}

absl::StatusOr<int64_t> KafkaSource::CommittedCheckpoint(
    const SourceOffsets& partitions) {
  if (partitions.empty()) return -1;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& [partition, next] : partitions)
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), partition);
  // Past transaction.timeout.ms: by then the broker has aborted a zombie's
  // open transaction, whose pending offsets make the answer wait.
  rd_kafka_resp_err_t err = rd_kafka_committed(consumer_, list, 70'000);
  int64_t checkpoint = -1;
  for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    absl::string_view metadata(static_cast<const char*>(p.metadata),
                               p.metadata == nullptr ? 0 : p.metadata_size);
    int64_t label = 0;
    if (absl::ConsumePrefix(&metadata, kCheckpointMetadataPrefix) &&
        absl::SimpleAtoi(metadata, &label)) {
      checkpoint = std::max(checkpoint, label);
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "committed offsets of ", options_.topic, ": ", rd_kafka_err2str(err)));
  }
  return checkpoint;
}

SourceProgress KafkaSource::Progress() const {
  SourceProgress progress{records_read_, -1, "records"};
  if (options_.bounded && !end_offsets_.empty()) {
    progress.total = 0;
    for (const auto& [partition, range] : end_offsets_)
      progress.total += range.second - range.first;
  }
  return progress;
}

}  // namespace tillstream
