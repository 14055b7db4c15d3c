#include "tests/pipeline_test_support.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "engine/clock.h"
#include "gtest/gtest.h"
#include "librdkafka/rdkafka.h"
#include "simdjson.h"

namespace tillstream::testing {

VectorSource::VectorSource(std::vector<std::string> records,
                           std::vector<int> partition_of, int partitions,
                           size_t batch_size, size_t burst)
    : records_(std::move(records)),
      queues_(partitions),
      next_(partitions, 0),
      batch_size_(batch_size),
      burst_(burst) {
  for (size_t i = 0; i < records_.size(); ++i)
    queues_[partition_of[i]].push_back(i);
}

void VectorSource::StartAt(const SourceOffsets& offsets) {
  for (const auto& [partition, next] : offsets) {
    if (partition >= 0 && static_cast<size_t>(partition) < queues_.size())
      next_[partition] = std::min<size_t>(next, queues_[partition].size());
  }
}

absl::StatusOr<PollResult> VectorSource::Poll(PartitionListener* listener,
                                              absl::Duration,
                                              RecordBatch* batch) {
  if (!announced_) {
    announced_ = true;
    std::vector<PartitionId> ids;
    for (size_t p = 0; p < queues_.size(); ++p)
      ids.push_back(PartitionId{static_cast<int32_t>(p)});
    listener->OnPartitionsAssigned(ids);
    for (PartitionId p : ids) {
      if (next_[p.value] == queues_[p.value].size())
        listener->OnPartitionEnd(p);
    }
  }
  batch->records.clear();
  // Turns without a record in a row: all partitions are at their end.
  size_t empty_turns = 0;
  while (batch->records.size() < batch_size_ && empty_turns < queues_.size()) {
    const size_t p = turn_;
    if (left_in_turn_ == 0) left_in_turn_ = burst_;
    bool took = false;
    while (left_in_turn_ > 0 && next_[p] < queues_[p].size() &&
           batch->records.size() < batch_size_) {
      size_t index = queues_[p][next_[p]++];
      batch->records.push_back({records_[index],
                                PartitionId{static_cast<int32_t>(p)},
                                Offset{static_cast<int64_t>(next_[p] - 1)}, 0});
      --left_in_turn_;
      took = true;
      if (next_[p] == queues_[p].size())
        listener->OnPartitionEnd(PartitionId{static_cast<int32_t>(p)});
    }
    // A burst cut short by the end of the batch goes on in the next one.
    if (left_in_turn_ == 0 || next_[p] == queues_[p].size()) {
      turn_ = (turn_ + 1) % queues_.size();
      left_in_turn_ = 0;
    }
    empty_turns = took ? 0 : empty_turns + 1;
  }
  if (batch->records.empty()) {
    for (size_t p = 0; p < queues_.size(); ++p) {
      if (queues_[p].empty())
        listener->OnPartitionEnd(PartitionId{static_cast<int32_t>(p)});
    }
    return PollResult::kEndOfInput;
  }
  return PollResult::kRecords;
}

absl::Status CollectingSink::Write(const OutputBatch& batch) {
  for (size_t i = 0; i < batch.size(); ++i) {
    outputs[static_cast<int>(batch[i].kind)].emplace_back(batch[i].value);
  }
  return absl::OkStatus();
}

std::unique_ptr<PipelineRun> RunPipeline(
    const PipelineConfig& config, const std::vector<std::string>& records,
    int partitions, size_t batch_size, int64_t wall_clock_ms, size_t burst) {
  std::vector<int> partition_of(records.size());
  // Spread by a hash of the record, as Kafka does by key: stable across runs.
  for (size_t i = 0; i < records.size(); ++i) {
    partition_of[i] =
        static_cast<int>(std::hash<std::string>()(records[i]) % partitions);
  }
  VectorSource source(records, partition_of, partitions, batch_size, burst);
  auto run = std::make_unique<PipelineRun>();
  ManualClock clock;  // never idle: results depend on the events only
  clock.SetEpochMillis(wall_clock_ms);
  PipelineRunner runner(config, &source, &run->sink, &clock);
  std::atomic<bool> stop{false};
  EXPECT_TRUE(runner.Run(stop).ok());
  run->summary = runner.summary();
  return run;
}

std::map<std::string, std::string> FinalSnapshots(
    const std::vector<std::string>& kpis) {
  std::map<std::string, std::string> final_snapshots;
  std::map<std::string, int64_t> revisions;
  simdjson::dom::parser parser;
  for (const std::string& line : kpis) {
    simdjson::dom::element e = parser.parse(line);
    std::string key = std::string(e["kpi"].get_string().value()) + "|" +
                      std::string(e["window"]["start"].get_string().value()) +
                      "|" + simdjson::minify(e["group"]);
    int64_t revision = e["revision"].get_int64().value();
    auto [it, inserted] = revisions.emplace(key, revision);
    EXPECT_TRUE(inserted || revision == it->second + 1)
        << "revisions out of order: " << line;
    it->second = revision;
    // new/returning customers depend on arrival order by definition (the
    // engine's first sighting of a customer): compared separately.
    std::string value = line.substr(0, line.rfind(",\"revision\":"));
    size_t at = value.find(",\"new_customers\":");
    if (at != std::string::npos) {
      size_t end =
          value.find(",\"", value.find("\"returning_customers\":", at) + 1);
      value.erase(at, (end == std::string::npos ? value.size() : end) - at);
    }
    final_snapshots[key] = value;
    // A merged session supersedes the sessions it lists.
    simdjson::dom::array replaced;
    if (!e["replaces"].get(replaced)) {
      for (simdjson::dom::element r : replaced) {
        std::string old_key = std::string(e["kpi"].get_string().value()) + "|" +
                              std::string(r["start"].get_string().value()) +
                              "|" + simdjson::minify(e["group"]);
        final_snapshots.erase(old_key);
        revisions.erase(old_key);
      }
    }
  }
  return final_snapshots;
}

std::map<std::string, int64_t> NewCustomersPerRule(
    const std::vector<std::string>& kpis) {
  std::map<std::string, std::string> last;  // kpi|window|group -> line
  simdjson::dom::parser parser;
  for (const std::string& line : kpis) {
    simdjson::dom::element e = parser.parse(line);
    last[std::string(e["kpi"].get_string().value()) + "|" +
         std::string(e["window"]["start"].get_string().value()) + "|" +
         simdjson::minify(e["group"])] = line;
  }
  std::map<std::string, int64_t> sums;
  for (const auto& [key, line] : last) {
    simdjson::dom::element e = parser.parse(line);
    sums[std::string(e["kpi"].get_string().value())] +=
        e["new_customers"].get_int64().value();
  }
  return sums;
}

TrafficOptions AlertingTraffic(int64_t orders, int days) {
  TrafficOptions options;
  options.seed = 20261121;
  options.orders = orders;
  options.stores = 12;
  options.days = days;
  options.late_rate = 0;
  options.bad_rate = 0.002;
  options.drops = {InjectedDrop{.store = 3, .day = 31, .fraction = 0.9}};
  return options;
}

PipelineConfig PosAnalyticsConfig() {
  absl::StatusOr<PipelineConfig> config =
      LoadPipelineConfig(TILLSTREAM_SOURCE_DIR "/examples/pos-analytics.yaml");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void ProduceAll(
    const std::string& bootstrap, const std::string& topic,
    const std::vector<std::pair<std::string, std::string>>& records) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error,
                    sizeof(error));
  rd_kafka_conf_set(conf, "linger.ms", "1", error, sizeof(error));
  rd_kafka_t* producer =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  ASSERT_NE(producer, nullptr) << error;
  for (const auto& [key, value] : records) {
    ASSERT_EQ(
        rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(topic.c_str()),
            RD_KAFKA_V_KEY(key.data(), key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
        RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  EXPECT_EQ(rd_kafka_flush(producer, 30'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(producer);
}

std::vector<Message> ConsumeAll(const std::string& bootstrap,
                                const std::string& topic, int partitions) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error,
                    sizeof(error));
  rd_kafka_conf_set(conf, "group.id", "integration-reader", error,
                    sizeof(error));
  rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", error, sizeof(error));
  rd_kafka_t* consumer =
      rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  EXPECT_NE(consumer, nullptr) << error;
  std::vector<Message> messages;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(consumer, topic.c_str(), p, &low,
                                               &high, 10'000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    if (high <= low) continue;
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = low;
    rd_kafka_assign(consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    int64_t next = low;
    // Bounded: each poll waits at most 1 s, and 60 polls in a row that
    // bring nothing end it.
    for (int idle = 0; next < high && idle < 60;) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 1000);
      if (m == nullptr) {
        ++idle;
        continue;
      }
      idle = 0;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        messages.push_back(
            {std::string(static_cast<const char*>(m->key), m->key_len),
             std::string(static_cast<const char*>(m->payload), m->len),
             m->partition, m->offset});
        next = m->offset + 1;
      }
      rd_kafka_message_destroy(m);
    }
    EXPECT_EQ(next, high) << "could not read " << topic << "/" << p
                          << " to its end";
  }
  rd_kafka_assign(consumer, nullptr);
  rd_kafka_destroy(consumer);
  return messages;
}

std::map<std::string, std::string> LastById(
    const std::vector<std::string>& outputs) {
  std::map<std::string, std::string> last;
  simdjson::dom::parser parser;
  for (const std::string& output : outputs) {
    simdjson::dom::object o = parser.parse(output).get_object();
    std::string fields;
    for (auto [field, value] : o) {
      if (field == "revision" || field == "new_customers" ||
          field == "returning_customers")
        continue;
      absl::StrAppend(&fields, std::string(field), "=", simdjson::minify(value),
                      ";");
    }
    last[std::string(o["id"].get_string().value())] = fields;
  }
  return last;
}

}  // namespace tillstream::testing
