// The end-to-end harness (build/bench/e2e) as `make bench` runs it, on few
// events: that it still runs every part through and writes every figure.
// Its figures are not judged (speed is measured, never asserted in a test);
// only that they exist, are consistent with each other and count every event.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace {

const std::string kHarness = TILLSTREAM_E2E;
const std::string kSource = TILLSTREAM_SOURCE_DIR;
constexpr int64_t kEvents = 20'000;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(BenchHarnessTest, RunsEveryPartAndWritesConsistentFigures) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    absl::StrCat("tillstream-e2e-", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string result = (dir / "result.json").string();
  const std::string log = (dir / "log.txt").string();
  // From the source directory, as `make bench` runs it (the example
  // pipeline and the pandas script are found from there).
  const std::string command =
      absl::StrCat("cd '", kSource, "' && '", kHarness, "' --events ", kEvents,
                   " --live_seconds 2 --result '", result, "' --work_dir '",
                   (dir / "work").string(), "' >'", log, "' 2>&1");
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(log);

  simdjson::dom::parser parser;
  simdjson::dom::element figures;
  ASSERT_EQ(parser.load(result).get(figures), simdjson::SUCCESS)
      << ReadFile(result);
  EXPECT_EQ(figures["events"].get_int64().value(), kEvents);
  // Every rate was measured.
  for (const char* rate :
       {"preload_events_per_second", "raw_consume_events_per_second",
        "pipeline_kafka_events_per_second",
        "pipeline_kafka_no_checkpoints_events_per_second",
        "pipeline_kafka_two_workers_events_per_second",
        "file_replay_events_per_second",
        "file_replay_checkpointed_events_per_second",
        "file_replay_one_thread_events_per_second",
        "file_replay_two_workers_events_per_second"}) {
    SCOPED_TRACE(rate);
    EXPECT_GT(figures[rate].get_double().value(), 0);
  }
  // (b)/(a) is the quotient of the two rates printed, (a) the better run.
  const double raw = figures["raw_consume_events_per_second"].get_double();
  const double pipeline =
      figures["pipeline_kafka_events_per_second"].get_double();
  EXPECT_NEAR(figures["pipeline_to_raw_ratio"].get_double().value(),
              pipeline / raw, 0.001);
  double better_raw = 0;
  for (simdjson::dom::element run :
       figures["raw_consume_runs_events_per_second"].get_array())
    better_raw = std::max(better_raw, run.get_double().value());
  EXPECT_EQ(better_raw, raw);
  // Checkpoints were on in (b); latency was sampled in the live run.
  EXPECT_GE(figures["pipeline_kafka_checkpoints"].get_int64().value(), 1);
  const int64_t p50 = figures["latency_p50_ms"].get_int64();
  const int64_t p99 = figures["latency_p99_ms"].get_int64();
  EXPECT_GE(p50, 0);
  EXPECT_LE(p50, p99);
  // Memory: the per-customer and per-key figures and the 1M-customer RSS.
  EXPECT_GT(figures["bytes_per_known_customer"].get_double().value(), 0);
  EXPECT_GT(figures["bytes_per_window_key"].get_double().value(), 0);
  EXPECT_GT(
      figures["peak_rss_1m_customers_10k_stores_bytes"].get_int64().value(), 0);
  EXPECT_GT(figures["file_replay_peak_rss_bytes"].get_int64().value(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
