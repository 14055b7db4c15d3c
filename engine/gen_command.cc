// `tillstream gen`: synthetic POS traffic to a file or a Kafka topic.
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "connectors/kafka_config.h"
#include "engine/commands.h"
#include "engine/time_format.h"
#include "examples/generator/traffic_generator.h"
#include "librdkafka/rdkafka.h"

namespace tillstream {
namespace {

absl::StatusOr<TrafficOptions> OptionsFromFlags() {
  TrafficOptions options;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.orders = absl::GetFlag(FLAGS_orders);
  options.stores = absl::GetFlag(FLAGS_stores);
  options.days = absl::GetFlag(FLAGS_days);
  options.bad_rate = absl::GetFlag(FLAGS_bad_rate);
  options.late_rate = absl::GetFlag(FLAGS_late_rate);
  absl::StatusOr<Timestamp> start = ParseRfc3339(absl::GetFlag(FLAGS_start));
  if (!start.ok()) return start.status();
  options.start = *start;
  for (const std::string& text : absl::GetFlag(FLAGS_drop)) {
    absl::StatusOr<InjectedDrop> drop = ParseInjectedDrop(text);
    if (!drop.ok()) return drop.status();
    options.drops.push_back(*drop);
  }
  return options;
}

// Sleeps as needed to hold `rate` records per second on average.
class Pacer {
 public:
  explicit Pacer(double rate)
      : rate_(rate), start_(std::chrono::steady_clock::now()) {}
  void Wait(int64_t sent) {
    if (rate_ <= 0 || sent % 64 != 0) return;
    auto due = start_ + std::chrono::duration<double>(sent / rate_);
    std::this_thread::sleep_until(due);
  }

 private:
  double rate_;
  std::chrono::steady_clock::time_point start_;
};

int GenerateToFile(TrafficGenerator& generator, const std::string& path) {
  std::FILE* out = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
  if (out == nullptr) {
    std::fprintf(stderr, "tillstream: %s: cannot open for writing\n",
                 path.c_str());
    return kExitFailure;
  }
  std::setvbuf(out, nullptr, _IOFBF, 1 << 20);
  Pacer pacer(absl::GetFlag(FLAGS_rate));
  std::string record, key;
  int64_t sent = 0;
  while (!StopRequested().load() && generator.Next(&record, &key)) {
    record.push_back('\n');
    std::fwrite(record.data(), 1, record.size(), out);
    pacer.Wait(++sent);
  }
  bool ok = std::fflush(out) == 0 && !std::ferror(out);
  if (out != stdout) ok = std::fclose(out) == 0 && ok;
  if (!ok) {
    std::fprintf(stderr, "tillstream: %s: write failed\n", path.c_str());
    return kExitFailure;
  }
  return kExitOk;
}

int GenerateToKafka(TrafficGenerator& generator, const std::string& brokers,
                    const std::string& topic_name) {
  auto conf = MakeKafkaConf({{"bootstrap.servers", brokers},
                             {"linger.ms", "5"},
                             {"compression.type", "lz4"},
                             {"enable.idempotence", "true"}},
                            {});
  if (!conf.ok()) {
    std::fprintf(stderr, "tillstream: %s\n",
                 std::string(conf.status().message()).c_str());
    return kExitUsage;
  }
  char error[512];
  rd_kafka_t* producer =
      rd_kafka_new(RD_KAFKA_PRODUCER, *conf, error, sizeof(error));
  if (producer == nullptr) {
    std::fprintf(stderr, "tillstream: kafka producer: %s\n", error);
    return kExitFailure;
  }
  rd_kafka_topic_t* topic =
      rd_kafka_topic_new(producer, topic_name.c_str(), nullptr);
  Pacer pacer(absl::GetFlag(FLAGS_rate));
  std::string record, key;
  int64_t sent = 0;
  int rc = kExitOk;
  while (!StopRequested().load() && generator.Next(&record, &key)) {
    while (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                            record.data(), record.size(), key.data(),
                            key.size(), nullptr) != 0) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::fprintf(stderr, "tillstream: produce: %s\n",
                     rd_kafka_err2str(rd_kafka_last_error()));
        rc = kExitFailure;
        break;
      }
      rd_kafka_poll(producer, 10);
    }
    if (rc != kExitOk) break;
    rd_kafka_poll(producer, 0);
    pacer.Wait(++sent);
  }
  if (rd_kafka_flush(producer, 60'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "tillstream: flush to %s timed out\n",
                 topic_name.c_str());
    rc = kExitFailure;
  }
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(producer);
  return rc;
}

}  // namespace

int GenCommand(const std::vector<std::string>& args) {
  const std::string out = absl::GetFlag(FLAGS_out);
  const std::string brokers = absl::GetFlag(FLAGS_brokers);
  if (!args.empty() || out.empty() == brokers.empty()) {
    std::fprintf(stderr,
                 "usage: tillstream gen [--orders N] [--rate R] [--seed S] "
                 "(--out F.ndjson | --brokers H:P --topic T)\n");
    return kExitUsage;
  }
  absl::StatusOr<TrafficOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    std::fprintf(stderr, "tillstream: %s\n",
                 std::string(options.status().message()).c_str());
    return kExitUsage;
  }
  TrafficGenerator generator(*options);
  int rc = out.empty()
               ? GenerateToKafka(generator, brokers, absl::GetFlag(FLAGS_topic))
               : GenerateToFile(generator, out);
  std::fprintf(stderr, "tillstream gen: %lld orders, %lld malformed records\n",
               static_cast<long long>(generator.valid_produced()),
               static_cast<long long>(generator.bad_produced()));
  return rc;
}

}  // namespace tillstream
