// Through the embedded broker over real sockets: produce orders, run the
// pipeline --bounded, consume the output topics, compare exactly.
#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "connectors/embedded_broker.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "engine/clock.h"
#include "engine/pipeline_runner.h"
#include "engine/scale_out_run.h"
#include "engine/task_runner.h"
#include "examples/generator/traffic_generator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "librdkafka/rdkafka.h"
#include "state/rocksdb_state_store.h"
#include "tests/pipeline_test_support.h"

namespace tillstream {
namespace {

using testing::FinalSnapshots;
using ::testing::HasSubstr;
using testing::ReadLines;

using testing::Message;

class KafkaIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = EmbeddedBroker::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    broker_ = started->release();
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }

  void Produce(
      const std::string& topic,
      const std::vector<std::pair<std::string, std::string>>& records) {
    testing::ProduceAll(broker_->bootstrap(), topic, records);
  }

  // Every record `generator` makes, produced to `topic` (keyed by store)
  // and returned in order.
  std::vector<std::string> ProduceGenerated(TrafficGenerator* generator,
                                            const std::string& topic) {
    std::vector<std::pair<std::string, std::string>> keyed;
    std::vector<std::string> records;
    std::string record, key;
    while (generator->Next(&record, &key)) {
      keyed.emplace_back(key, record);
      records.push_back(record);
    }
    Produce(topic, keyed);
    return records;
  }

  std::vector<Message> ConsumeAll(const std::string& topic, int partitions) {
    return testing::ConsumeAll(broker_->bootstrap(), topic, partitions);
  }

  // Runs `config` against the embedded broker in --bounded mode.
  RunSummary RunBounded(const PipelineConfig& config) {
    absl::Status status;
    RunSummary summary = RunBounded(config, &status);
    EXPECT_TRUE(status.ok()) << status;
    return summary;
  }
  RunSummary RunBounded(const PipelineConfig& config, absl::Status* status) {
    auto source = KafkaSource::Create({.brokers = broker_->bootstrap(),
                                       .topic = config.source.topic,
                                       .group_id = config.kafka.group_id,
                                       .properties = {},
                                       .bounded = true,
                                       .embedded_broker = true});
    EXPECT_TRUE(source.ok()) << source.status();
    KafkaSinkOptions sink_options;
    sink_options.brokers = broker_->bootstrap();
    sink_options.properties = config.kafka.properties;
    sink_options.topics = OutputTopics(config.outputs);
    auto sink = KafkaSink::Create(sink_options);
    EXPECT_TRUE(sink.ok()) << sink.status();
    SystemClock clock;
    PipelineRunner runner(config, source->get(), sink->get(), &clock);
    std::atomic<bool> stop{false};
    *status = runner.Run(stop);
    return runner.summary();
  }

  // A config whose topics are this test's own.
  PipelineConfig ConfigFor(const std::string& prefix, const std::string& file,
                           int partitions = kPartitions) {
    absl::StatusOr<PipelineConfig> config = LoadPipelineConfig(file);
    EXPECT_TRUE(config.ok()) << config.status();
    config->source.topic = prefix + ".orders";
    config->outputs.kpis = prefix + ".kpis";
    config->outputs.deadletter = prefix + ".deadletter";
    config->outputs.late = prefix + ".late";
    if (!config->outputs.rolling.empty())
      config->outputs.rolling = prefix + ".rolling";
    if (!config->outputs.alerts.empty())
      config->outputs.alerts = prefix + ".alerts";
    config->kafka.group_id = prefix + "-group";
    for (const std::string& topic :
         {config->source.topic, config->outputs.kpis, config->outputs.rolling,
          config->outputs.alerts, config->outputs.deadletter,
          config->outputs.late}) {
      if (topic.empty()) continue;
      EXPECT_TRUE(broker_->CreateTopic(topic, partitions).ok());
    }
    return *config;
  }

  static constexpr int kPartitions = 4;
  static EmbeddedBroker* broker_;
};

EmbeddedBroker* KafkaIntegrationTest::broker_ = nullptr;

std::string StoreOf(const std::string& record) {
  size_t at = record.find("\"store_id\":\"");
  return at == std::string::npos
             ? ""
             : record.substr(at + 12, record.find('"', at + 12) - at - 12);
}

TEST_F(KafkaIntegrationTest, GoldenSnapshotsThroughKafka) {
  PipelineConfig config =
      ConfigFor("golden", TILLSTREAM_SOURCE_DIR "/tests/golden/small.yaml");
  std::vector<std::pair<std::string, std::string>> records;
  for (const std::string& line :
       ReadLines(TILLSTREAM_SOURCE_DIR "/tests/golden/small_orders.ndjson")) {
    records.emplace_back(StoreOf(line), line);
  }
  Produce(config.source.topic, records);
  RunSummary summary = RunBounded(config);
  EXPECT_EQ(summary.records, 13);
  EXPECT_EQ(summary.bad_records, 2);

  std::vector<Message> kpis = ConsumeAll(config.outputs.kpis, kPartitions);
  std::vector<std::string> values;
  for (const Message& m : kpis) {
    values.push_back(m.value);
    // The message key is the group rendered k=v.
    EXPECT_THAT(m.value, ::testing::HasSubstr(
                             m.key.substr(0, m.key.find('=')) == "store_id"
                                 ? absl::StrCat(R"("group":{"store_id":")",
                                                m.key.substr(9), "\"}")
                                 : absl::StrCat(R"("group":{"region":")",
                                                m.key.substr(7), "\"}")));
  }
  EXPECT_EQ(FinalSnapshots(values),
            FinalSnapshots(ReadLines(TILLSTREAM_SOURCE_DIR
                                     "/tests/golden/small_kpis.ndjson")));

  std::vector<Message> dead =
      ConsumeAll(config.outputs.deadletter, kPartitions);
  ASSERT_EQ(dead.size(), 2u);
  for (const Message& m : dead) {
    EXPECT_THAT(
        m.value,
        ::testing::MatchesRegex(
            R"(\{"type":"deadletter","pipeline":"golden","reason":".+","source":\{"topic":"golden.orders","partition":[0-3],"offset":[0-9]+\},"payload":".+"\})"));
  }
}

TEST_F(KafkaIntegrationTest, KafkaModeEqualsFileMode) {
  PipelineConfig config =
      ConfigFor("equal", TILLSTREAM_SOURCE_DIR "/examples/pos-analytics.yaml");
  TrafficOptions options;
  options.orders = 8000;
  options.days = 10;
  options.bad_rate = 0.01;
  TrafficGenerator generator(options);
  const std::vector<std::string> records =
      ProduceGenerated(&generator, config.source.topic);
  RunSummary summary = RunBounded(config);
  EXPECT_EQ(summary.records, static_cast<int64_t>(records.size()));
  EXPECT_EQ(summary.bad_records, generator.bad_produced());
  EXPECT_EQ(summary.late_events, 0);

  std::vector<std::string> kafka_kpis;
  for (const Message& m : ConsumeAll(config.outputs.kpis, kPartitions)) {
    kafka_kpis.push_back(m.value);
  }
  auto file_run = testing::RunPipeline(config, records);
  EXPECT_EQ(FinalSnapshots(kafka_kpis), FinalSnapshots(file_run->sink.kpis()));
  // Rolling snapshots too: the same set of final values in both modes.
  std::map<std::string, std::string> kafka_rolling, file_rolling;
  auto final_rolling = [](const std::vector<std::string>& lines) {
    std::map<std::string, std::string> last;
    for (const std::string& line : lines) {
      std::string key = line.substr(0, line.find(",\"revenue\""));
      last[key] = line.substr(0, line.rfind(",\"revision\""));
    }
    return last;
  };
  std::vector<std::string> rolling_values;
  for (const Message& m : ConsumeAll(config.outputs.rolling, kPartitions)) {
    rolling_values.push_back(m.value);
  }
  EXPECT_FALSE(rolling_values.empty());
  EXPECT_EQ(
      final_rolling(rolling_values),
      final_rolling(
          file_run->sink.outputs[static_cast<int>(OutputKind::kRolling)]));
  EXPECT_EQ(ConsumeAll(config.outputs.deadletter, kPartitions).size(),
            static_cast<size_t>(generator.bad_produced()));
}

// scale_out through the embedded broker: the ingest, four tasks on two
// task workers, two hops over the repartition topic, each task's state in
// RocksDB and its changelog partition. The outputs equal one instance's
// file replay of the same records; at-least-once and exactly-once (whose
// transactions the embedded broker accepts without enforcing them: this
// runs the transactional path, it proves nothing of its guarantee).
class ScaledOutTest : public KafkaIntegrationTest,
                      public ::testing::WithParamInterface<bool> {};

INSTANTIATE_TEST_SUITE_P(Guarantees, ScaledOutTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "ExactlyOnce" : "AtLeastOnce";
                         });

TEST_P(ScaledOutTest, EqualsOneInstance) {
  const bool exactly_once = GetParam();
  const std::string prefix = exactly_once ? "scaled-eos" : "scaled";
  // Eight partitions: the embedded broker keeps about 5 MiB of each.
  constexpr int kInputPartitions = 8;
  PipelineConfig config =
      ConfigFor(prefix, TILLSTREAM_SOURCE_DIR "/examples/pos-analytics.yaml",
                kInputPartitions);
  config.state.changelog = prefix + "-group-changelog";
  config.state.checkpoint_interval_ms = 100;
  config.scale_out_tasks = 4;
  config.workers = 2;
  TrafficOptions options;
  options.seed = 20261121;
  options.orders = 40000;
  options.stores = 12;
  options.days = 35;
  options.bad_rate = 0.01;
  options.drops = {{.store = 3, .day = 31, .fraction = 0.9}};  // an alert
  TrafficGenerator generator(options);
  const std::vector<std::string> records =
      ProduceGenerated(&generator, config.source.topic);
  const std::string dir = ::testing::TempDir() + "/tillstream-" + prefix;
  std::filesystem::remove_all(dir);
  EngineMetrics metrics;  // the instance's, as GET /metrics serves them
  ScaleOutMetrics parts(&metrics, 2);
  {
    auto store = RocksDbStateStore::Open(
        {.dir = dir, .families = TaskRunner::StateFamilies(config)});
    ASSERT_TRUE(store.ok()) << store.status();
    std::vector<std::string> log;
    absl::Mutex log_mu;
    std::atomic<bool> stop{false};
    const absl::Status status =
        RunScaledOut(config, store->get(),
                     {.brokers = broker_->bootstrap(),
                      .broker = broker_,
                      .bounded = true,
                      .exactly_once = exactly_once,
                      .instance_id = "test",
                      .info =
                          [&](absl::string_view line) {
                            absl::MutexLock lock(&log_mu);
                            log.emplace_back(line);
                          },
                      .metrics = &parts},
                     stop);
    ASSERT_TRUE(status.ok()) << status;
    const std::string all = absl::StrJoin(log, "\n");
    EXPECT_THAT(all,
                HasSubstr(absl::StrCat("ingest: ", records.size(), " records")))
        << all;
    for (int task = 0; task < 4; ++task)
      EXPECT_THAT(all, HasSubstr(absl::StrCat("task ", task, ": "))) << all;
  }
  std::filesystem::remove_all(dir);

  auto file_run = testing::RunPipeline(config, records);
  auto consumed = [&](const std::string& topic) {
    std::vector<std::string> values;
    for (const Message& m : ConsumeAll(topic, kInputPartitions))
      values.push_back(m.value);
    return values;
  };
  for (OutputKind kind :
       {OutputKind::kKpis, OutputKind::kRolling, OutputKind::kAlerts}) {
    const std::string topic =
        OutputTopics(config.outputs)[static_cast<int>(kind)];
    SCOPED_TRACE(topic);
    const std::vector<std::string>& want =
        file_run->sink.outputs[static_cast<int>(kind)];
    EXPECT_FALSE(want.empty());
    EXPECT_EQ(testing::LastById(consumed(topic)), testing::LastById(want));
  }
  // new_customers follows the order a customer's orders are seen, which
  // differs between the two runs; every customer is still new exactly once.
  EXPECT_EQ(testing::NewCustomersPerRule(consumed(config.outputs.kpis)),
            testing::NewCustomersPerRule(file_run->sink.kpis()));
  EXPECT_EQ(consumed(config.outputs.deadletter).size(),
            static_cast<size_t>(generator.bad_produced()));

  // The instance's figures, merged from its threads: what it read, wrote
  // (every record in the output topics, none replayed in a run without a
  // crash) and owned.
  const std::string rendered = metrics.RenderPrometheus(0);
  auto metric = [&](const std::string& line) {
    return ::testing::HasSubstr(absl::StrCat("\n", line, "\n"));
  };
  EXPECT_THAT(rendered, metric(absl::StrCat("tillstream_records_in_total ",
                                            records.size())));
  EXPECT_THAT(rendered, metric("tillstream_events_in_total 40000"));
  for (auto [kind, name] : {std::pair{OutputKind::kKpis, "kpis"},
                            std::pair{OutputKind::kRolling, "rolling"},
                            std::pair{OutputKind::kAlerts, "alerts"},
                            std::pair{OutputKind::kDeadLetter, "deadletter"}}) {
    EXPECT_THAT(
        rendered,
        metric(absl::StrCat(
            "tillstream_outputs_total{output=\"", name, "\"} ",
            consumed(OutputTopics(config.outputs)[static_cast<int>(kind)])
                .size())));
  }
  EXPECT_THAT(rendered, metric("tillstream_tasks 4"));
  bool ready = false;
  EXPECT_THAT(parts.HealthJson(&ready), HasSubstr("\"tasks\":4"));
  EXPECT_TRUE(ready);
}

// A dead letter that cannot be written stops the engine with a clear error:
// bad records are never lost silently. (No source offset is committed, so a
// restart reads the bad record again.)
TEST_F(KafkaIntegrationTest, UnwritableDeadLetterTopicStopsTheRun) {
  PipelineConfig config = ConfigFor(
      "unwritable", TILLSTREAM_SOURCE_DIR "/examples/pos-analytics.yaml");
  Produce(
      config.source.topic,
      {{"s-1",
        R"({"order_id":"o","ts":1704067200000,"store_id":"s-1","lines":[]})"}});
  // librdkafka retries for message.timeout.ms, then reports the failure.
  config.kafka.properties.emplace_back("message.timeout.ms", "2000");
  broker_->SetTopicError(config.outputs.deadletter,
                         RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  absl::Status status;
  RunSummary summary = RunBounded(config, &status);
  broker_->SetTopicError(config.outputs.deadletter, RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(summary.bad_records, 1);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("delivery to unwritable.deadletter failed"));
}

// The runner decodes the next batch while it finishes one: a batch's records
// (views into librdkafka's messages) stay valid through the next Poll.
TEST_F(KafkaIntegrationTest, ABatchStaysValidUntilTheSecondPollAfterIt) {
  const std::string topic = "two-batches.orders";
  ASSERT_TRUE(broker_->CreateTopic(topic, 1).ok());
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 50; ++i)
    records.emplace_back("k", absl::StrCat("record ", i));
  Produce(topic, records);
  auto source = KafkaSource::Create({.brokers = broker_->bootstrap(),
                                     .topic = topic,
                                     .group_id = "two-batches",
                                     .properties = {},
                                     .bounded = true,
                                     .embedded_broker = true,
                                     .max_batch_records = 7});
  ASSERT_TRUE(source.ok()) << source.status();
  struct : PartitionListener {
    void OnPartitionsAssigned(std::span<const PartitionId>) override {}
    void OnPartitionsRevoked(std::span<const PartitionId>) override {}
    void OnPartitionEnd(PartitionId) override {}
  } listener;
  RecordBatch batches[2];
  std::vector<std::string> previous, read;
  for (size_t current = 0;; current = 1 - current) {
    absl::StatusOr<PollResult> polled =
        (*source)->Poll(&listener, absl::Milliseconds(100), &batches[current]);
    ASSERT_TRUE(polled.ok()) << polled.status();
    std::vector<std::string> still;
    for (const SourceRecord& r : batches[1 - current].records)
      still.emplace_back(r.payload);
    EXPECT_EQ(still, previous);
    if (*polled == PollResult::kEndOfInput) break;
    previous.clear();
    for (const SourceRecord& r : batches[current].records)
      previous.emplace_back(r.payload);
    read.insert(read.end(), previous.begin(), previous.end());
  }
  ASSERT_EQ(read.size(), records.size());
  for (size_t i = 0; i < read.size(); ++i)
    EXPECT_EQ(read[i], records[i].second);
}

}  // namespace
}  // namespace tillstream
