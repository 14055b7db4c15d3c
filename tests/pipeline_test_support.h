#ifndef TILLSTREAM_TESTS_PIPELINE_TEST_SUPPORT_H_
#define TILLSTREAM_TESTS_PIPELINE_TEST_SUPPORT_H_

// Fakes and helpers shared by the pipeline-level tests.
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "connectors/output_sink.h"
#include "connectors/record_source.h"
#include "engine/pipeline_config.h"
#include "engine/pipeline_runner.h"
#include "examples/generator/traffic_generator.h"

namespace tillstream::testing {

// A bounded source over in-memory records spread over `partitions`
// partitions (record i goes to partition_of[i]), delivered `batch_size` at a
// time, interleaving the partitions round-robin, `burst` records of one at a
// time (Kafka hands a backlog over a partition's fetch at a time).
class VectorSource final : public RecordSource {
 public:
  VectorSource(std::vector<std::string> records, std::vector<int> partition_of,
               int partitions, size_t batch_size, size_t burst = 1);
  absl::StatusOr<PollResult> Poll(PartitionListener* listener,
                                  absl::Duration timeout,
                                  RecordBatch* batch) override;
  SourceKind kind() const override { return SourceKind::kKafka; }
  absl::string_view name() const override { return "orders"; }
  // Offsets are indexes into each partition's records.
  void StartAt(const SourceOffsets& offsets) override;
  // What a transactional sink committed last (exactly-once tests).
  absl::StatusOr<int64_t> CommittedCheckpoint(const SourceOffsets&) override {
    return committed_checkpoint;
  }
  int64_t committed_checkpoint = -1;

 private:
  std::vector<std::string> records_;
  std::vector<std::vector<size_t>> queues_;  // record indexes per partition
  std::vector<size_t> next_;
  size_t batch_size_;
  size_t burst_;
  size_t turn_ = 0;          // the partition whose burst is taken now
  size_t left_in_turn_ = 0;  // of its burst; 0: a new turn
  bool announced_ = false;
};

// Keeps every output value per kind, in order.
class CollectingSink final : public OutputSink {
 public:
  absl::Status Write(const OutputBatch& batch) override;
  absl::Status Flush() override { return absl::OkStatus(); }
  std::vector<std::string> outputs[kOutputKindCount];
  const std::vector<std::string>& kpis() const {
    return outputs[static_cast<int>(OutputKind::kKpis)];
  }
};

// Runs `config` over `records` to the end of input.
struct PipelineRun {
  CollectingSink sink;
  RunSummary summary;
};
// `wall_clock_ms` is the processing-time clock's epoch (limits.max_future);
// `burst` as in VectorSource.
std::unique_ptr<PipelineRun> RunPipeline(
    const PipelineConfig& config, const std::vector<std::string>& records,
    int partitions = 1, size_t batch_size = 1024,
    int64_t wall_clock_ms = 4'102'444'800'000, size_t burst = 1);

// The last revision of every KPI snapshot, keyed by kpi|window start|group,
// with the revision field removed: what a compacted, corrected view holds.
// new_customers and returning_customers are left out: they follow arrival
// order (see NewCustomersPerRule).
std::map<std::string, std::string> FinalSnapshots(
    const std::vector<std::string>& kpis);

// Sum of new_customers over the final snapshots of each KPI rule: every
// customer is new exactly once per order-level rule, whatever the order.
std::map<std::string, int64_t> NewCustomersPerRule(
    const std::vector<std::string>& kpis);

// The pipeline of examples/pos-analytics.yaml.
PipelineConfig PosAnalyticsConfig();

// `orders` orders over `days` days of 12 stores, 0.2% malformed, none late,
// one store's sales dropping on day 31 (an alert): the crash tests' traffic.
TrafficOptions AlertingTraffic(int64_t orders = 40'000, int days = 35);

// Reads an NDJSON file into lines.
std::vector<std::string> ReadLines(const std::string& path);

// Produces (key, value) records to `topic` of the broker at `bootstrap` and
// waits until all are acknowledged (EXPECTs that they are).
void ProduceAll(
    const std::string& bootstrap, const std::string& topic,
    const std::vector<std::pair<std::string, std::string>>& records);

// What a compacted view of outputs ends with: the last record per `id`, in
// the order given, as its fields without those that depend on batching or
// arrival order (revision: corrections are coalesced per batch;
// new/returning customers: the engine's first sighting of a customer).
std::map<std::string, std::string> LastById(
    const std::vector<std::string>& outputs);

// One message read back from a topic.
struct Message {
  std::string key;
  std::string value;
  int32_t partition;
  int64_t offset;
};
// Every message of `topic` (`partitions` of them) at `bootstrap`, partition
// by partition in offset order, read up to the end offsets at the time of
// the call (EXPECTs that it gets there).
std::vector<Message> ConsumeAll(const std::string& bootstrap,
                                const std::string& topic, int partitions);

}  // namespace tillstream::testing

#endif  // TILLSTREAM_TESTS_PIPELINE_TEST_SUPPORT_H_
