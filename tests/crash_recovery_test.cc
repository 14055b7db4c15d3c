// kill -9 while traffic flows: `tillstream broker`, `tillstream gen` and
// `tillstream run` as separate processes; the engine is killed at random
// points and restarted on its state directory each time. The outputs, read
// back from the broker and reduced to the last record per id (what a
// compacted topic keeps), equal those of one uninterrupted file replay of
// the same events: nothing lost, nothing counted twice.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "librdkafka/rdkafka.h"
#include "simdjson.h"
#include "tests/pipeline_test_support.h"

namespace tillstream {
namespace {

const std::string kBinary = TILLSTREAM_BINARY;
const std::string kSource = TILLSTREAM_SOURCE_DIR;
constexpr int kPartitions = 4;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A child process with stdout and stderr in files.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& out_prefix)
      : out_(out_prefix + ".out"), err_(out_prefix + ".err") {
    pid_ = fork();
    if (pid_ == 0) {
      int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      std::vector<char*> argv;
      for (const std::string& arg : args)
        argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void Kill9() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    exited_ = true;
  }
  // The exit code once the process ends within `seconds`; -1 if it does not
  // (then it is killed).
  int WaitExit(int seconds) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!Running()) return exit_code_;
      usleep(50'000);  // polling a child's exit, bounded by the deadline
    }
    Kill9();
    return -1;
  }
  bool Running() {
    if (exited_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    }
    return !exited_;
  }
  std::string out() const { return ReadFile(out_); }
  std::string err() const { return ReadFile(err_); }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

// Polls `done` every 50 ms for up to `seconds`.
template <typename Condition>
bool WaitFor(int seconds, Condition done) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    usleep(50'000);
  }
  return true;
}

// Records in `topic` so far (sum of the partitions' end offsets).
int64_t TopicSize(rd_kafka_t* client, const std::string& topic) {
  int64_t total = 0;
  for (int p = 0; p < kPartitions; ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(client, topic.c_str(), p, &low, &high,
                                         5'000) == RD_KAFKA_RESP_ERR_NO_ERROR)
      total += high;
  }
  return total;
}

// The record with the fields that depend on arrival order or batching left
// out: revision (corrections are coalesced per batch), and which customers
// were new (the engine's first sighting, which follows arrival order).
std::string Comparable(simdjson::dom::object o) {
  std::string text;
  for (auto [field, value] : o) {
    if (field == "revision" || field == "new_customers" ||
        field == "returning_customers")
      continue;
    absl::StrAppend(&text, std::string(field), "=", simdjson::minify(value),
                    ";");
  }
  return text;
}

// Last record per id, in the order given.
std::map<std::string, std::string> LastById(
    const std::vector<std::string>& values) {
  std::map<std::string, std::string> last;
  simdjson::dom::parser parser;
  for (const std::string& value : values) {
    simdjson::dom::object o = parser.parse(value).get_object();
    last[std::string(o["id"].get_string().value())] = Comparable(o);
  }
  return last;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

class CrashRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            absl::StrCat("tillstream-crash-", getpid()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(CrashRecoveryTest, KilledFiveTimesWhileTrafficFlowsEndsLikeOneRun) {
  const std::vector<std::string> gen_flags = {
      "--orders=40000", "--seed=20261121",  "--stores=12",        "--days=35",
      "--late_rate=0",  "--bad_rate=0.002", "--drop=s-003:31:0.9"};
  // The pipeline of the demo with durable state; a dead member leaves the
  // group after 3 s rather than 45.
  std::string pipeline = ReadFile(kSource + "/examples/pos-analytics.yaml");
  pipeline = absl::StrReplaceAll(
      pipeline,
      {{"kafka: {brokers: embedded, properties: {}}",
        absl::StrCat("kafka: {brokers: embedded, properties: "
                     "{session.timeout.ms: \"3000\", heartbeat.interval.ms: "
                     "\"300\"}}\nstate: {dir: ",
                     dir_, "/state, checkpoint_interval: 200ms}\n",
                     "processing_guarantee: at_least_once")}});
  ASSERT_NE(pipeline.find("state:"), std::string::npos);
  const std::string pipeline_file = dir_ + "/pipeline.yaml";
  std::ofstream(pipeline_file) << pipeline;

  // The reference: one uninterrupted replay of the same events.
  {
    std::vector<std::string> args = {kBinary, "gen",
                                     "--out=" + dir_ + "/orders.ndjson"};
    args.insert(args.end(), gen_flags.begin(), gen_flags.end());
    Child gen(args, dir_ + "/gen-file");
    ASSERT_EQ(gen.WaitExit(120), 0) << gen.err();
    Child replay({kBinary, "run", kSource + "/examples/pos-analytics.yaml",
                  "--input=" + dir_ + "/orders.ndjson",
                  "--output-dir=" + dir_ + "/reference"},
                 dir_ + "/replay");
    ASSERT_EQ(replay.WaitExit(120), 0) << replay.err();
  }

  Child broker({kBinary, "broker", "--partitions=4",
                "--topics=pos.orders,pos.kpis,pos.rolling,pos.alerts,"
                "pos.deadletter,pos.late"},
               dir_ + "/broker");
  std::string bootstrap;
  ASSERT_TRUE(WaitFor(30, [&] {
    std::string out = broker.out();
    size_t at = out.find("bootstrap=");
    size_t end = out.find('\n', at);
    if (at == std::string::npos || end == std::string::npos) return false;
    bootstrap = out.substr(at + 10, end - at - 10);
    return true;
  })) << broker.err();

  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error,
                    sizeof(error));
  rd_kafka_t* client =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  ASSERT_NE(client, nullptr) << error;

  // Traffic flows for the whole of the crashes: about 40 s.
  std::vector<std::string> gen_args = {kBinary, "gen", "--brokers=" + bootstrap,
                                       "--topic=pos.orders", "--rate=1000"};
  gen_args.insert(gen_args.end(), gen_flags.begin(), gen_flags.end());
  Child gen(gen_args, dir_ + "/gen");

  const std::vector<std::string> run_args = {kBinary, "run", pipeline_file,
                                             "--brokers=" + bootstrap};
  std::mt19937 random(20261121);
  int kills = 0;
  for (int round = 0; round < 6; ++round) {
    // Kill once the run has produced a random number of further outputs:
    // anywhere between two checkpoints, or during one.
    const int64_t before = TopicSize(client, "pos.kpis");
    const int64_t more = std::uniform_int_distribution<int64_t>(5, 150)(random);
    Child run(run_args, absl::StrCat(dir_, "/run", round));
    ASSERT_TRUE(WaitFor(60,
                        [&] {
                          return TopicSize(client, "pos.kpis") >=
                                     before + more ||
                                 !run.Running();
                        }))
        << "run " << round << " made no progress: " << run.err();
    ASSERT_TRUE(run.Running()) << run.err();
    run.Kill9();
    ++kills;
  }
  EXPECT_TRUE(gen.Running()) << "traffic ended before the last kill";
  ASSERT_EQ(gen.WaitExit(120), 0) << gen.err();

  // The last run reads to the end and closes every window.
  std::vector<std::string> last_args = run_args;
  last_args.push_back("--bounded");
  Child last(last_args, dir_ + "/last");
  ASSERT_EQ(last.WaitExit(180), 0) << last.err();
  EXPECT_GE(kills, 5);

  rd_kafka_destroy(client);
  int64_t replayed = 0;
  for (const char* output : {"kpis", "rolling", "alerts"}) {
    SCOPED_TRACE(output);
    std::vector<std::string> values;
    for (const testing::Message& m : testing::ConsumeAll(
             bootstrap, absl::StrCat("pos.", output), kPartitions))
      values.push_back(m.value);
    const std::vector<std::string> reference =
        Lines(ReadFile(absl::StrCat(dir_, "/reference/", output, ".ndjson")));
    ASSERT_FALSE(reference.empty());
    const auto got = LastById(values);
    EXPECT_EQ(got, LastById(reference));
    replayed += static_cast<int64_t>(values.size() - got.size());
  }
  // Crashes replayed outputs since their last checkpoint (at-least-once);
  // the ids made them harmless.
  std::printf("%d kills; %lld output records were replays\n", kills,
              static_cast<long long>(replayed));
  // Dead letters: the same bad payloads, each once after dropping replays.
  std::map<std::string, std::string> dead_by_id;
  simdjson::dom::parser parser;
  for (const testing::Message& m :
       testing::ConsumeAll(bootstrap, "pos.deadletter", kPartitions)) {
    simdjson::dom::object o = parser.parse(m.value).get_object();
    dead_by_id[std::string(o["id"].get_string().value())] =
        std::string(o["payload"].get_string().value());
  }
  std::multiset<std::string> dead, reference_dead;
  for (const auto& [id, payload] : dead_by_id) dead.insert(payload);
  for (const std::string& line :
       Lines(ReadFile(dir_ + "/reference/deadletter.ndjson"))) {
    reference_dead.insert(
        std::string(parser.parse(line)["payload"].get_string().value()));
  }
  EXPECT_FALSE(reference_dead.empty());
  EXPECT_EQ(dead, reference_dead);
}

}  // namespace
}  // namespace tillstream
