// The end-to-end throughput harness: one command, one run, so its ratios
// compare figures taken on the same machine at the same time.
//
//   build/bench/e2e [--events 1000000] [--partitions 32] [--live_partitions 4]
//                   [--pipeline examples/pos-analytics.yaml] [--kafka_only]
//
// 1. generates the events (seeded) into an NDJSON file;
// 2. file replay of that file through the pipeline (in a child process, so
//    its peak RSS is the engine's own), without and with checkpoints every
//    second (their cost), with two workers, on one thread, and two one-thread
//    replays side by side, a CPU each (what the two cores give work that
//    needs no hand-over: the cores of a shared machine do not keep one
//    speed);
// 3. preloads them into the embedded broker (lz4, spread over partitions);
// 4. (a) the raw consume rate: librdkafka through our Kafka source, no
//    processing (twice, before and after (b), the better of the two); (b) the
//    full pipeline through Kafka, --bounded, outputs to Kafka topics,
//    checkpoints every second (at-least-once), and without checkpoints (their
//    cost on this path), and with two workers;
// 5. a rate-limited live run over a topic of its own: ingest-to-processed
//    latency p50/p99;
// 6. the pandas baseline on the same file, when python3-pandas is there;
// 7. memory: file replays of synthetic orders over one day (10,000 stores,
//    each order a new customer, or none) give the bytes per known customer
//    and per (group, window) key.
// Prints a table and writes the figures as JSON (--result).
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "connectors/embedded_broker.h"
#include "connectors/file_sink.h"
#include "connectors/file_source.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "engine/clock.h"
#include "engine/pipeline_runner.h"
#include "examples/generator/traffic_generator.h"
#include "librdkafka/rdkafka.h"
#include "state/rocksdb_state_store.h"

ABSL_FLAG(int64_t, events, 1'000'000, "events to generate and replay");
// The embedded broker keeps 5 MB of (compressed) batches per partition:
// 32 lz4 partitions hold 1M events of ~370 bytes.
ABSL_FLAG(int32_t, partitions, 32, "partitions of the input topic");
// Round-robin by default: an even spread keeps every partition within the
// embedded broker's retention. --keyed produces each event keyed by its
// store, as POS systems do (DESIGN.md), and librdkafka's partitioner places
// it; a partition then holds whole stores, so the largest overflow 5 MB at
// 1M events: 500,000 over 64 partitions fit.
ABSL_FLAG(bool, keyed, false,
          "produce the input keyed by store_id, not round-robin");
ABSL_FLAG(std::string, pipeline, "examples/pos-analytics.yaml",
          "the pipeline file to run");
ABSL_FLAG(double, live_rate, 20'000, "events/s of the rate-limited live run");
ABSL_FLAG(int32_t, live_seconds, 10, "length of the live run");
// The embedded broker finds a fetch's offset by walking the partition's
// batches from the oldest, and a live producer appends a small batch to
// each partition every few milliseconds: over 32 partitions at 20,000
// events/s its thread took a whole core after ~8 s, and the latency then
// measured the broker (p99 0.4-0.9 s, against 12-13 ms over 4 or 8). Kafka
// finds an offset through an index. 4 is the broker's default for a topic.
ABSL_FLAG(int32_t, live_partitions, 4, "partitions of the live run's topic");
constexpr char kLiveTopic[] = "e2e.live";
ABSL_FLAG(std::string, result, "build/bench/e2e_result.json",
          "where to write the figures as JSON");
// For A/B pairs of the pipeline through Kafka: about a third of a full run.
ABSL_FLAG(bool, kafka_only, false,
          "measure (a) and (b) only: no file replays, memory, live run or "
          "pandas");
ABSL_FLAG(std::string, work_dir, "build/bench/e2e-work",
          "scratch directory (the NDJSON file, file outputs)");

namespace tillstream {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void Die(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "e2e: %.*s: %s\n", static_cast<int>(what.size()),
               what.data(), std::string(status.message()).c_str());
  std::exit(1);
}

// Generates the events into `path`; returns the byte count.
int64_t Generate(const std::string& path, int64_t events) {
  TrafficOptions options;
  options.orders = events;
  options.stores = 50;
  options.days = 60;
  TrafficGenerator generator(options);
  std::ofstream out(path, std::ios::binary);
  std::string record, key;
  int64_t bytes = 0;
  while (generator.Next(&record, &key)) {
    out << record << '\n';
    bytes += static_cast<int64_t>(record.size()) + 1;
  }
  return bytes;
}

struct Replay {
  double seconds = 0;
  int64_t records = 0;
  int64_t peak_rss_kb = 0;
  int64_t checkpoints = 0;
  double checkpoint_seconds = 0;
};

// A fresh RocksDB state for `config` in `dir`, or death.
std::unique_ptr<RocksDbStateStore> FreshState(const PipelineConfig& config,
                                              const std::string& dir) {
  std::filesystem::remove_all(dir);
  auto store = RocksDbStateStore::Open(
      {.dir = dir, .families = PipelineRunner::StateFamilies(config)});
  if (!store.ok()) Die("state", store.status());
  return *std::move(store);
}

// The CPUs this process may run on.
std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

// Pins the calling thread to `cpu`, or dies: a figure taken unpinned would
// be printed as if pinned.
void PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
    std::fprintf(stderr, "e2e: cannot pin a thread to CPU %d\n", cpu);
    _exit(1);
  }
}

// The round trip of one cache line between the first two CPUs, in ns (0
// with fewer): two threads, one pinned to each, pass a counter back and
// forth. A shared host moves its virtual CPUs about: here they sat about
// 450 ns apart most of the time and 100-170 ns apart at others, and every
// record one thread hands another pays for such trips.
double CrossCpuRoundTripNs(const std::vector<int>& cpus) {
  if (cpus.size() < 2) return 0;
  constexpr int64_t kRounds = 200'000;
  struct alignas(64) Ball {
    std::atomic<int64_t> count{0};
  } ball;
  auto play = [&](int cpu, int64_t first) {
    PinTo(cpu);
    for (int64_t i = first; i < 2 * kRounds; i += 2) {
      while (ball.count.load(std::memory_order_acquire) != i) {
      }
      ball.count.store(i + 1, std::memory_order_release);
    }
  };
  double seconds = 0;
  std::thread other(play, cpus[1], 1);
  std::thread timed([&] {
    const auto started = Clock::now();
    play(cpus[0], 0);
    seconds = Seconds(started);
  });
  timed.join();
  other.join();
  return seconds * 1e9 / kRounds;
}

// A file replay running in a child process.
struct ReplayChild {
  pid_t pid;
  int figures_fd;  // the child writes its Replay here
};

// Starts a file replay in a child process; with checkpoints every second
// into `state_dir` unless it is empty; on `cpu` alone unless it is negative.
ReplayChild StartReplay(const PipelineConfig& config, const std::string& input,
                        const std::string& out_dir,
                        const std::string& state_dir = "",
                        bool decode_ahead = true, int cpu = -1) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) std::exit(1);
  const pid_t child = fork();
  if (child == 0) {
    close(pipe_fds[0]);
    if (cpu >= 0) PinTo(cpu);  // before any thread of the replay starts
    // One thread means no reading ahead either.
    auto source = FileSource::Open({.path = input, .read_ahead = decode_ahead});
    auto sink = FileSink::Open(out_dir);
    if (!source.ok() || !sink.ok()) _exit(1);
    SystemClock clock;
    RunnerOptions options;
    options.decode_ahead = decode_ahead;
    PipelineRunner runner(config, source->get(), sink->get(), &clock,
                          std::move(options));
    std::unique_ptr<RocksDbStateStore> store;
    if (!state_dir.empty()) {
      store = FreshState(config, state_dir);
      if (!runner.EnableState(store.get(), 1'000).ok()) _exit(1);
    }
    std::atomic<bool> stop{false};
    const auto started = Clock::now();
    if (!runner.Run(stop).ok()) _exit(1);
    Replay r{Seconds(started), runner.summary().records, 0,
             runner.checkpoints().completed,
             runner.checkpoints().total_duration_us / 1e6};
    if (write(pipe_fds[1], &r, sizeof(r)) != sizeof(r)) _exit(1);
    _exit(0);
  }
  close(pipe_fds[1]);
  return {child, pipe_fds[0]};
}

// The replay's time, records and peak RSS, once it has ended.
Replay FinishReplay(ReplayChild child) {
  Replay r;
  if (read(child.figures_fd, &r, sizeof(r)) != sizeof(r)) {
    std::fprintf(stderr, "e2e: the file replay failed\n");
    std::exit(1);
  }
  close(child.figures_fd);
  int status = 0;
  struct rusage usage;
  wait4(child.pid, &status, 0, &usage);
  r.peak_rss_kb = usage.ru_maxrss;
  return r;
}

Replay FileReplay(const PipelineConfig& config, const std::string& input,
                  const std::string& out_dir, const std::string& state_dir = "",
                  bool decode_ahead = true) {
  return FinishReplay(
      StartReplay(config, input, out_dir, state_dir, decode_ahead));
}

rd_kafka_t* Producer(const std::string& bootstrap, const char* linger_ms) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [key, value] :
       std::vector<std::pair<const char*, const char*>>{
           {"bootstrap.servers", bootstrap.c_str()},
           {"compression.codec", "lz4"},
           {"linger.ms", linger_ms},
           {"batch.size", "1000000"},
           {"queue.buffering.max.messages", "1000000"}}) {
    rd_kafka_conf_set(conf, key, value, error, sizeof(error));
  }
  rd_kafka_t* producer =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (producer == nullptr) {
    std::fprintf(stderr, "e2e: producer: %s\n", error);
    std::exit(1);
  }
  return producer;
}

// The store_id of a generated order (the generator writes it unescaped).
absl::string_view StoreIdOf(absl::string_view line) {
  constexpr absl::string_view kField = "\"store_id\":\"";
  const size_t at = line.find(kField);
  if (at == absl::string_view::npos) return {};
  const size_t start = at + kField.size();
  return line.substr(start, line.find('"', start) - start);
}

// `line` to `partition`, or with `key` to the partition librdkafka's
// partitioner picks for it when `partition` is RD_KAFKA_PARTITION_UA.
void Produce(rd_kafka_t* producer, const std::string& topic,
             const std::string& line, int32_t partition,
             absl::string_view key = {}) {
  while (rd_kafka_producev(
             producer, RD_KAFKA_V_TOPIC(topic.c_str()),
             RD_KAFKA_V_PARTITION(partition),
             RD_KAFKA_V_KEY(key.data(), key.size()),
             RD_KAFKA_V_VALUE(const_cast<char*>(line.data()), line.size()),
             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd_kafka_poll(producer, 10);
  }
}

class NoPartitions final : public PartitionListener {
  void OnPartitionsAssigned(std::span<const PartitionId>) override {}
  void OnPartitionsRevoked(std::span<const PartitionId>) override {}
  void OnPartitionEnd(PartitionId) override {}
};

std::unique_ptr<KafkaSource> Source(const std::string& bootstrap,
                                    const std::string& topic,
                                    const std::string& group, bool bounded) {
  auto source = KafkaSource::Create({.brokers = bootstrap,
                                     .topic = topic,
                                     .group_id = group,
                                     .properties = {},
                                     .bounded = bounded,
                                     .embedded_broker = true,
                                     .max_batch_records = 4096});
  if (!source.ok()) Die("kafka source", source.status());
  return *std::move(source);
}

std::unique_ptr<KafkaSink> Sink(const std::string& bootstrap,
                                const PipelineConfig& config) {
  KafkaSinkOptions options;
  options.brokers = bootstrap;
  options.topics = OutputTopics(config.outputs);
  auto sink = KafkaSink::Create(std::move(options));
  if (!sink.ok()) Die("kafka sink", sink.status());
  return *std::move(sink);
}

// Synthetic orders over one day: store i % stores, customer "c-<i>" (each
// order a new customer) or anonymous.
void WriteSynthetic(const std::string& path, int64_t orders, int64_t stores,
                    bool customers) {
  std::ofstream out(path, std::ios::binary);
  const int64_t day = 1'704'067'200'000;  // 2024-01-01
  for (int64_t i = 0; i < orders; ++i) {
    out << absl::StrFormat(
        R"({"order_id":"o-%d","ts":%d,"store_id":"s-%05d","region":"EU",)"
        R"("customer_id":%s,"status":"completed","lines":[{"sku":"A",)"
        R"("qty":1,"unit_price":"1.00"}]})"
        "\n",
        i, day + i * 86'000'000 / orders, i % stores,
        customers ? absl::StrCat("\"c-", i, "\"") : "null");
  }
}

struct Memory {
  int64_t customers = 0, keys = 0;
  double bytes_per_customer = 0, bytes_per_key = 0;
  int64_t customers_rss_kb = 0;
};

// Peak RSS of one-day replays of a store_day rule: with 1M orders over 10k
// stores, each order a new customer; the same anonymous; and 1M orders
// over 100k stores, anonymous. The differences are per customer and per
// (store, day) window.
Memory MeasureMemory(const std::string& work) {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      "pipeline: memory\n"
      "kpis: [{name: store_day, group_by: [store_id], window: {type: "
      "tumbling, size: 1d}}]\n"
      "outputs: {kpis: k, deadletter: d, late: l}\n",
      "memory.yaml");
  if (!config.ok()) Die("memory pipeline", config.status());
  constexpr int64_t kOrders = 1'000'000;
  std::printf("memory: three one-day replays of %lld orders ...\n",
              static_cast<long long>(kOrders));
  const std::string input = work + "/memory.ndjson";
  WriteSynthetic(input, kOrders, 10'000, /*customers=*/true);
  const Replay customers = FileReplay(*config, input, work + "/out-memory");
  WriteSynthetic(input, kOrders, 10'000, /*customers=*/false);
  const Replay anonymous = FileReplay(*config, input, work + "/out-memory");
  WriteSynthetic(input, kOrders, 100'000, /*customers=*/false);
  const Replay stores = FileReplay(*config, input, work + "/out-memory");
  std::filesystem::remove(input);
  Memory m;
  m.customers = kOrders;
  m.keys = 90'000;
  m.bytes_per_customer =
      (customers.peak_rss_kb - anonymous.peak_rss_kb) * 1024.0 / kOrders;
  m.bytes_per_key = (stores.peak_rss_kb - anonymous.peak_rss_kb) * 1024.0 /
                    static_cast<double>(m.keys);
  m.customers_rss_kb = customers.peak_rss_kb;
  return m;
}

int Main() {
  const int64_t events = absl::GetFlag(FLAGS_events);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  const int live_partitions = absl::GetFlag(FLAGS_live_partitions);
  const std::string work = absl::GetFlag(FLAGS_work_dir);
  std::filesystem::create_directories(work + "/out");
  absl::StatusOr<PipelineConfig> config =
      LoadPipelineConfig(absl::GetFlag(FLAGS_pipeline));
  if (!config.ok()) Die("pipeline", config.status());
  config->http.port = -1;

  const std::string input = work + "/orders.ndjson";
  std::printf("generating %lld events ...\n", static_cast<long long>(events));
  const int64_t bytes = Generate(input, events);

  // (c) file replay, before the broker holds the events in this process;
  // without and with checkpoints, with two workers, on one thread (no
  // decoding ahead), and two one-thread replays side by side, each on a CPU
  // of its own: what the two cores give work that needs no hand-over, in the
  // same minute (the cores of a shared machine do not keep one speed).
  // Alternating, the better of two each.
  const bool kafka_only = absl::GetFlag(FLAGS_kafka_only);
  PipelineConfig two_workers_config = *config;
  two_workers_config.workers = 2;
  const std::vector<int> cpus = AllowedCpus();
  Replay replay, checkpointed, one_thread, two_workers;
  double side_by_side[2] = {0, 0};
  Memory memory;
  // At the start (before the file replays), before (a) and after (b).
  double round_trip_ns[3] = {CrossCpuRoundTripNs(cpus), 0, 0};
  if (!kafka_only) {
    std::printf(
        "file replays, without and with checkpoints, with two workers, on one "
        "thread, two one-thread replays side by side ...\n");
    for (int round = 0; round < 2; ++round) {
      Replay plain = FileReplay(*config, input, work + "/out");
      Replay with =
          FileReplay(*config, input, work + "/out", work + "/state-c");
      Replay two = FileReplay(two_workers_config, input, work + "/out");
      Replay single = FileReplay(*config, input, work + "/out", "", false);
      if (round == 0 || plain.seconds < replay.seconds) replay = plain;
      if (round == 0 || with.seconds < checkpointed.seconds)
        checkpointed = with;
      if (round == 0 || two.seconds < two_workers.seconds) two_workers = two;
      if (round == 0 || single.seconds < one_thread.seconds)
        one_thread = single;
      if (cpus.size() < 2) continue;
      ReplayChild pair[2];
      for (int i = 0; i < 2; ++i) {
        pair[i] = StartReplay(*config, input, absl::StrCat(work, "/out-", i),
                              "", false, cpus[i]);
      }
      double rates[2];
      for (int i = 0; i < 2; ++i) {
        const Replay r = FinishReplay(pair[i]);
        rates[i] = r.records / r.seconds;
      }
      if (rates[0] + rates[1] > side_by_side[0] + side_by_side[1]) {
        side_by_side[0] = rates[0];
        side_by_side[1] = rates[1];
      }
    }
    memory = MeasureMemory(work);
  }

  auto broker = EmbeddedBroker::Start();
  if (!broker.ok()) Die("embedded broker", broker.status());
  const std::string bootstrap = (*broker)->bootstrap();
  for (const std::string& topic :
       {config->source.topic, std::string(kLiveTopic), config->outputs.kpis,
        config->outputs.rolling, config->outputs.alerts,
        config->outputs.deadletter, config->outputs.late}) {
    if (topic.empty()) continue;
    absl::Status created = (*broker)->CreateTopic(
        topic, topic == kLiveTopic ? live_partitions : partitions);
    if (!created.ok()) Die("create topic", created);
  }
  std::printf("preloading the embedded broker (%d partitions, lz4) ...\n",
              partitions);
  const auto started = Clock::now();
  {
    rd_kafka_t* producer = Producer(bootstrap, "50");
    std::ifstream in(input, std::ios::binary);
    int64_t n = 0;
    const bool keyed = absl::GetFlag(FLAGS_keyed);
    for (std::string line; std::getline(in, line); ++n) {
      if (keyed) {
        Produce(producer, config->source.topic, line, RD_KAFKA_PARTITION_UA,
                StoreIdOf(line));
      } else {
        Produce(producer, config->source.topic, line, n % partitions);
      }
    }
    if (rd_kafka_flush(producer, 300'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "e2e: preload did not complete\n");
      return 1;
    }
    rd_kafka_destroy(producer);
  }
  const double preload_seconds = Seconds(started);

  // (a) raw consume, timed from its first record to the end: joining the
  // consumer group (seconds on the embedded broker) is not throughput. Run
  // twice, before and after (b)'s rounds, each in a consumer group of its
  // own, and the better taken, as for (b): a single run of (a) swung from
  // 0.9M to 2.5M events/s between runs minutes apart on this machine, and
  // the ratio (b)/(a) with it.
  auto raw_consume = [&](const std::string& group) {
    auto source = Source(bootstrap, config->source.topic, group, true);
    NoPartitions listener;
    RecordBatch batch;
    Clock::time_point counted_from = Clock::now();
    int64_t records = 0, first_batch = -1;
    while (true) {
      auto polled = source->Poll(&listener, absl::Milliseconds(100), &batch);
      if (!polled.ok()) Die("raw consume", polled.status());
      if (first_batch < 0 && !batch.records.empty()) {
        counted_from = Clock::now();  // after the first batch, not counted
        first_batch = static_cast<int64_t>(batch.records.size());
        continue;
      }
      records += static_cast<int64_t>(batch.records.size());
      if (*polled == PollResult::kEndOfInput) break;
    }
    const double seconds = Seconds(counted_from);
    const int64_t consumed = records + std::max<int64_t>(first_batch, 0);
    if (consumed != events) {
      Die("raw consume",
          absl::DataLossError(absl::StrFormat(
              "consumed %d of %d events: the embedded broker's retention "
              "dropped some; use more --partitions (with --keyed, fewer "
              "--events)",
              consumed, events)));
    }
    return records / seconds;
  };
  round_trip_ns[1] = CrossCpuRoundTripNs(cpus);
  std::printf("(a) raw consume ...\n");
  const double raw_first = raw_consume("e2e-raw-0");

  // (b) the pipeline through Kafka, with one worker and with two (each run
  // in a consumer group of its own, from the beginning).
  struct KafkaRun {
    double rate = 0;
    CheckpointProbe checkpoints;
  };
  auto pipeline_through_kafka = [&](const PipelineConfig& pipeline,
                                    const std::string& name,
                                    bool checkpoints = true) {
    auto source = Source(bootstrap, pipeline.source.topic, name, true);
    auto sink = Sink(bootstrap, pipeline);
    SystemClock clock;
    RunnerOptions options;
    Clock::time_point counted_from = Clock::now();
    int64_t first_batch = -1;
    options.after_batch = [&](const RecordBatch& batch) {
      if (first_batch >= 0 || batch.records.empty()) return;
      counted_from = Clock::now();  // after the first batch, not counted
      first_batch = static_cast<int64_t>(batch.records.size());
    };
    PipelineRunner runner(pipeline, source.get(), sink.get(), &clock,
                          std::move(options));
    std::unique_ptr<RocksDbStateStore> store;
    if (checkpoints) {
      store = FreshState(pipeline, work + "/" + name);
      absl::Status enabled = runner.EnableState(store.get(), 1'000);
      if (!enabled.ok()) Die("state", enabled);
    }
    std::atomic<bool> stop{false};
    absl::Status status = runner.Run(stop);
    if (!status.ok()) Die("pipeline", status);
    const double seconds = Seconds(counted_from);
    // A rate over fewer records than were preloaded would flatter (b).
    if (runner.summary().records != events) {
      Die(name, absl::DataLossError(absl::StrFormat(
                    "read %d of %d events", runner.summary().records, events)));
    }
    return KafkaRun{(runner.summary().records - first_batch) / seconds,
                    runner.checkpoints()};
  };
  // With and without checkpoints alternating, the better of two each (a
  // consumer group of its own per run): what checkpoints cost on this path,
  // where each one waits for the outputs' delivery.
  std::printf(
      "(b) the pipeline through Kafka, --bounded, with and without "
      "checkpoints, workers: 2 ...\n");
  KafkaRun kafka, kafka_unchecked;
  for (int round = 0; round < 2; ++round) {
    const std::string suffix = absl::StrCat("-", round);
    const KafkaRun with =
        pipeline_through_kafka(*config, "e2e-pipeline" + suffix);
    const KafkaRun without = pipeline_through_kafka(
        *config, "e2e-pipeline-unchecked" + suffix, /*checkpoints=*/false);
    if (round == 0 || with.rate > kafka.rate) kafka = with;
    if (round == 0 || without.rate > kafka_unchecked.rate)
      kafka_unchecked = without;
  }
  round_trip_ns[2] = CrossCpuRoundTripNs(cpus);
  std::printf("(a) raw consume, again ...\n");
  const double raw_second = raw_consume("e2e-raw-1");
  const double raw_rate = std::max(raw_first, raw_second);
  const KafkaRun kafka_two_workers =
      pipeline_through_kafka(two_workers_config, "e2e-pipeline-2");

  // Live run: events produced at a steady rate while the pipeline runs;
  // latency from each event's timestamp (set when it is handed to the
  // producer: its linger and the broker count) to the end of the batch that
  // processed it (its outputs handed to the sink).
  const double rate = absl::GetFlag(FLAGS_live_rate);
  const int live_seconds = absl::GetFlag(FLAGS_live_seconds);
  std::vector<int64_t> latencies;
  if (!kafka_only) {
    std::printf("live run: %.0f events/s for %d s ...\n", rate, live_seconds);
    PipelineConfig live = *config;
    live.source.topic = kLiveTopic;
    auto source = Source(bootstrap, live.source.topic, "e2e-live", false);
    auto sink = Sink(bootstrap, live);
    SystemClock clock;
    RunnerOptions options;
    std::atomic<int64_t> processed{0};
    options.after_batch = [&](const RecordBatch& batch) {
      const int64_t now = clock.EpochMillis();
      for (const SourceRecord& r : batch.records)
        latencies.push_back(now - r.append_ms);
      processed += static_cast<int64_t>(batch.records.size());
    };
    PipelineRunner runner(live, source.get(), sink.get(), &clock,
                          std::move(options));
    std::atomic<bool> stop{false};
    absl::Status status;
    std::thread worker([&] { status = runner.Run(stop); });
    rd_kafka_t* producer = Producer(bootstrap, "5");
    std::ifstream in(input, std::ios::binary);
    // One event per partition first, and (bounded) wait until they are
    // processed: the consumer has joined its group and fetches from every
    // partition, so the timed events measure the pipeline, not the join.
    // (With one warm-up event, librdkafka now and then started fetching the
    // other partitions about 0.5 s later, and the first timed events waited
    // for it: a p99 near 400 ms in about one run of three.)
    for (int p = 0; p < live_partitions; ++p) {
      std::string warmup;
      std::getline(in, warmup);
      Produce(producer, live.source.topic, warmup, p);
    }
    rd_kafka_flush(producer, 10'000);
    for (int i = 0; i < 600 && processed.load() < live_partitions; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int64_t warmups = processed.load();
    const auto live_start = Clock::now();
    int64_t sent = live_partitions;
    for (std::string line;
         std::getline(in, line) && Seconds(live_start) < live_seconds;) {
      Produce(producer, live.source.topic, line, sent % live_partitions);
      ++sent;
      // Paced: never ahead of the rate.
      while (sent > rate * Seconds(live_start))
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, 30'000);
    rd_kafka_destroy(producer);
    // Drain: wait (bounded) until everything sent was processed.
    for (int i = 0; i < 300 && processed.load() < sent; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
    worker.join();
    if (!status.ok()) Die("live run", status);
    // The warm-up events are not timed.
    latencies.erase(
        latencies.begin(),
        latencies.begin() + std::min<size_t>(latencies.size(), warmups));
  }
  std::sort(latencies.begin(), latencies.end());
  auto percentile = [&](double p) -> int64_t {
    if (latencies.empty()) return -1;
    return latencies[static_cast<size_t>(p * (latencies.size() - 1))];
  };

  // The pandas baseline on the same file.
  double pandas_rate = 0;
  if (!kafka_only) {
    const std::string command = absl::StrCat(
        "/usr/bin/python3 bench/pandas_baseline.py '", input, "' 2>/dev/null");
    if (std::FILE* p = popen(command.c_str(), "r")) {
      char line[256] = {};
      if (std::fgets(line, sizeof(line), p) != nullptr)
        pandas_rate = std::atof(line);
      pclose(p);
    }
  }

  const double kafka_rate = kafka.rate;
  std::printf(
      "\nend-to-end, %lld events (%.0f MB, %.0f B/event), %d partitions "
      "(%s), pipeline %s\n",
      static_cast<long long>(events), bytes / 1e6,
      static_cast<double>(bytes) / events, partitions,
      absl::GetFlag(FLAGS_keyed) ? "keyed by store" : "round-robin",
      absl::GetFlag(FLAGS_pipeline).c_str());
  std::printf("  preload into the embedded broker      %9.0f events/s\n",
              events / preload_seconds);
  if (cpus.size() > 1) {
    std::printf(
        "  a cache line's round trip between two CPUs: %.0f ns at the start, "
        "%.0f ns before (a), %.0f ns after (b)\n",
        round_trip_ns[0], round_trip_ns[1], round_trip_ns[2]);
  } else {
    std::printf("  one CPU only: no round trip between CPUs to time\n");
  }
  std::printf(
      "  (a) raw consume, no processing        %9.0f events/s  (the better "
      "of %.0f and %.0f)\n",
      raw_rate, raw_first, raw_second);
  std::printf(
      "  (b) pipeline through Kafka, bounded   %9.0f events/s  = %.2f x (a); "
      "%lld checkpoints, %.3f s\n",
      kafka_rate, kafka_rate / raw_rate,
      static_cast<long long>(kafka.checkpoints.completed),
      kafka.checkpoints.total_duration_us / 1e6);
  std::printf(
      "      without checkpoints               %9.0f events/s  = %.2f x (a); "
      "checkpoints: %.1f%% %s\n",
      kafka_unchecked.rate, kafka_unchecked.rate / raw_rate,
      100.0 * std::abs(1 - kafka_rate / kafka_unchecked.rate),
      kafka_rate > kafka_unchecked.rate ? "faster (noise)" : "slower");
  std::printf(
      "      workers: 2                        %9.0f events/s  = %.2f x (a)\n",
      kafka_two_workers.rate, kafka_two_workers.rate / raw_rate);
  const std::string result = absl::GetFlag(FLAGS_result);
  std::ofstream out(result);
  out << absl::StrFormat(
      "{\"events\":%d,\"bytes\":%d,\"partitions\":%d,\"keyed\":%s,"
      "\"pipeline\":\"%s\","
      "\"preload_events_per_second\":%.0f,\"raw_consume_events_per_second\":"
      "%.0f,\"raw_consume_runs_events_per_second\":[%.0f,%.0f],\"pipeline_"
      "kafka_events_per_second\":%.0f,\"pipeline_to_raw_ratio\":%.3f,"
      "\"pipeline_kafka_checkpoints\":%d,"
      "\"pipeline_kafka_two_workers_events_per_second\":%.0f,"
      "\"pipeline_kafka_no_checkpoints_events_per_second\":%.0f,"
      "\"cross_cpu_round_trip_ns\":[%.0f,%.0f,%.0f]",
      events, bytes, partitions, absl::GetFlag(FLAGS_keyed) ? "true" : "false",
      absl::GetFlag(FLAGS_pipeline), events / preload_seconds, raw_rate,
      raw_first, raw_second, kafka_rate, kafka_rate / raw_rate,
      kafka.checkpoints.completed, kafka_two_workers.rate, kafka_unchecked.rate,
      round_trip_ns[0], round_trip_ns[1], round_trip_ns[2]);
  if (kafka_only) {
    out << "}\n";
    std::printf("  figures written to %s\n", result.c_str());
    return 0;
  }
  const double file_rate = replay.records / replay.seconds;
  std::printf(
      "  (c) file replay                       %9.0f events/s  peak RSS %lld "
      "MB\n",
      file_rate, static_cast<long long>(replay.peak_rss_kb / 1024));
  const double one_thread_rate = one_thread.records / one_thread.seconds;
  const double side_by_side_rate = side_by_side[0] + side_by_side[1];
  const double two_workers_rate = two_workers.records / two_workers.seconds;
  std::printf("      on one thread (no decoding ahead) %9.0f events/s\n",
              one_thread_rate);
  if (side_by_side_rate > 0) {
    std::printf(
        "      two side by side, a CPU each      %9.0f events/s  (%.0f + %.0f) "
        "= %.2f x one thread: what the two cores give work without "
        "hand-overs\n",
        side_by_side_rate, side_by_side[0], side_by_side[1],
        side_by_side_rate / one_thread_rate);
  } else {
    std::printf("      two side by side: one CPU only, not measured\n");
  }
  const std::string against_pair =
      side_by_side_rate > 0
          ? absl::StrFormat(", %.2f x two side by side",
                            two_workers_rate / side_by_side_rate)
          : "";
  std::printf(
      "      two threads (one worker decoding ahead) = %.2f x one thread\n"
      "      workers: 2                        %9.0f events/s  = %.2f x one "
      "thread%s, %.2f x one worker decoding ahead\n",
      file_rate / one_thread_rate, two_workers_rate,
      two_workers_rate / one_thread_rate, against_pair.c_str(),
      two_workers_rate / file_rate);
  const double checkpointed_rate = checkpointed.records / checkpointed.seconds;
  std::printf(
      "      with checkpoints every second     %9.0f events/s  = %.1f%% %s; "
      "%lld checkpoints, %.3f s in them; peak RSS %lld MB\n",
      checkpointed_rate, 100.0 * std::abs(1 - checkpointed_rate / file_rate),
      // Faster happens: the cost is below this machine's noise.
      checkpointed_rate > file_rate ? "more (noise)" : "less",
      static_cast<long long>(checkpointed.checkpoints),
      checkpointed.checkpoint_seconds,
      static_cast<long long>(checkpointed.peak_rss_kb / 1024));
  std::printf(
      "  memory: %lld customers known: %.0f B each; %lld (group, window) "
      "keys: %.0f B each; peak RSS %lld MB with 1M customers and 10k "
      "stores\n",
      static_cast<long long>(memory.customers), memory.bytes_per_customer,
      static_cast<long long>(memory.keys), memory.bytes_per_key,
      static_cast<long long>(memory.customers_rss_kb / 1024));
  if (pandas_rate > 0) {
    std::printf(
        "  pandas baseline, same file            %9.0f events/s  (c) = %.1f x "
        "pandas\n",
        pandas_rate, file_rate / pandas_rate);
  } else {
    std::printf("  pandas baseline: python3-pandas is not installed\n");
  }
  std::printf(
      "  live run at %.0f events/s over %d partitions: ingest-to-processed "
      "latency p50 %lld ms, p99 %lld ms (%zu events)\n",
      rate, live_partitions, static_cast<long long>(percentile(0.5)),
      static_cast<long long>(percentile(0.99)), latencies.size());

  out << absl::StrFormat(
      ",\"file_replay_events_per_second\":%.0f,"
      "\"file_replay_peak_rss_bytes\":%d,\"pandas_events_per_second\":%.0f,"
      "\"live_rate\":%.0f,\"live_partitions\":%d,\"latency_p50_ms\":%d,"
      "\"latency_p99_ms\":%d,"
      "\"file_replay_checkpointed_events_per_second\":%.0f,"
      "\"bytes_per_known_customer\":%.0f,"
      "\"bytes_per_window_key\":%.0f,\"peak_rss_1m_customers_10k_stores_"
      "bytes\":%d,\"file_replay_one_thread_events_per_second\":%.0f,"
      "\"file_replay_side_by_side_events_per_second\":[%.0f,%.0f],"
      "\"file_replay_two_workers_events_per_second\":%.0f}\n",
      file_rate, replay.peak_rss_kb * 1024, pandas_rate, rate, live_partitions,
      percentile(0.5), percentile(0.99), checkpointed_rate,
      memory.bytes_per_customer, memory.bytes_per_key,
      memory.customers_rss_kb * 1024, one_thread_rate, side_by_side[0],
      side_by_side[1], two_workers_rate);
  std::printf("  figures written to %s\n", result.c_str());
  return 0;
}

}  // namespace
}  // namespace tillstream

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return tillstream::Main();
}
