// The `tillstream` binary as a user runs it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace {

const std::string kBinary = TILLSTREAM_BINARY;
const std::string kSource = TILLSTREAM_SOURCE_DIR;

struct Result {
  int exit_code;
  std::string stderr_text;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat(
               "tillstream-cli-", getpid(), "-",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs `tillstream ARGS` from the source directory.
  Result Run(const std::string& args) {
    std::string err = (dir_ / "stderr.txt").string();
    std::string command = absl::StrCat("cd '", kSource, "' && '", kBinary, "' ",
                                       args, " 2>'", err, "'");
    int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(err)};
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(CliTest, BadPipelineFileIsRefusedWithFileLineAndExitCode2) {
  std::string path = WriteFile("bad.yaml",
                               "pipeline: p\n"
                               "kpis:\n"
                               "  - {name: d, window: {size: 1 day}}\n"
                               "outputs: {kpis: k, deadletter: d, late: l}\n");
  Result result = Run(absl::StrCat(
      "run ", path, " --input /dev/null --output-dir ", dir_.string()));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.stderr_text,
            absl::StrCat("tillstream: ", path,
                         ":3: kpis[0].window.size: bad duration \"1 day\": "
                         "unknown unit \" day\" "
                         "(expected e.g. 500ms, 5s, 15m, 1h, 1d, 1h30m)\n"));
  // Nothing was read or written.
  EXPECT_FALSE(std::filesystem::exists(dir_ / "kpis.ndjson"));
}

TEST_F(CliTest, MissingOutputAndUnknownKey) {
  std::string missing = WriteFile("missing.yaml",
                                  "pipeline: p\n"
                                  "kpis: [{name: d, window: {size: 1d}}]\n"
                                  "outputs: {kpis: k, late: l}\n");
  Result result = Run(absl::StrCat(
      "run ", missing, " --input /dev/null --output-dir ", dir_.string()));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_text,
              ::testing::HasSubstr(":3: outputs.deadletter: missing"));
  std::string unknown = WriteFile("unknown.yaml",
                                  "pipeline: p\n"
                                  "kpis: [{name: d, window: {size: 1d}}]\n"
                                  "outputs: {kpis: k, deadletter: d, late: l}\n"
                                  "sauce: {topic: x}\n");
  result = Run(absl::StrCat("run ", unknown, " --input /dev/null --output-dir ",
                            dir_.string()));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_text,
              ::testing::HasSubstr(":4: sauce: unknown key"));
}

// What scale_out does not do is refused at start, before any topic is
// touched: a file replay, the HTTP endpoints.
TEST_F(CliTest, ScaleOutRefusesAFileReplay) {
  const std::string base = absl::StrCat(
      "pipeline: p\n"
      "kpis: [{name: d, group_by: [store_id], window: {size: 1d}}]\n"
      "outputs: {kpis: k, deadletter: d, late: l}\n"
      "state: {dir: ",
      (dir_ / "state").string(), "}\nscale_out: {tasks: 4}\n");
  Result result =
      Run(absl::StrCat("run ", WriteFile("a.yaml", base),
                       " --input /dev/null --output-dir ", dir_.string()));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.stderr_text,
            "tillstream: scale_out splits a Kafka input between "
            "instances; replay a file with one instance (a pipeline without "
            "scale_out)\n");
}

TEST_F(CliTest, FileReplayMatchesGoldenFilesByteForByte) {
  Result result = Run(absl::StrCat(
      "run tests/golden/small.yaml --input tests/golden/small_orders.ndjson"
      " --output-dir ",
      dir_.string()));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(ReadFile((dir_ / "kpis.ndjson").string()),
            ReadFile(kSource + "/tests/golden/small_kpis.ndjson"));
  EXPECT_EQ(ReadFile((dir_ / "deadletter.ndjson").string()),
            ReadFile(kSource + "/tests/golden/small_deadletter.ndjson"));
  EXPECT_EQ(ReadFile((dir_ / "late.ndjson").string()), "");
  EXPECT_THAT(result.stderr_text,
              ::testing::HasSubstr("13 records, 11 events, 2 dead letters"));
}

TEST_F(CliTest, JsonLogsAreOneObjectPerLine) {
  Result result = Run(absl::StrCat(
      "run tests/golden/small.yaml --log-format json --http-port 0 --input "
      "tests/golden/small_orders.ndjson --output-dir ",
      dir_.string()));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  std::vector<std::string> lines =
      absl::StrSplit(result.stderr_text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << result.stderr_text;  // http=..., summary
  simdjson::dom::parser parser;
  for (const std::string& line : lines) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << line;
    EXPECT_EQ(std::string(e["level"].get_string().value()), "info");
    EXPECT_EQ(std::string(e["pipeline"].get_string().value()), "golden");
  }
  EXPECT_THAT(lines[0], ::testing::HasSubstr("\"msg\":\"http=127.0.0.1:"));
  simdjson::dom::element summary = parser.parse(lines[1]);
  EXPECT_EQ(std::string(summary["msg"].get_string().value()), "summary");
  EXPECT_EQ(summary["records"].get_int64().value(), 13);
  EXPECT_EQ(summary["dead_letters"].get_int64().value(), 2);
  EXPECT_EQ(Run("run tests/golden/small.yaml --log-format xml").exit_code, 2);
}

TEST_F(CliTest, StdinInput) {
  Result result =
      Run(absl::StrCat("run tests/golden/small.yaml --input - --output-dir ",
                       dir_.string(), " < tests/golden/small_orders.ndjson"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(ReadFile((dir_ / "kpis.ndjson").string()),
            ReadFile(kSource + "/tests/golden/small_kpis.ndjson"));
}

TEST_F(CliTest, GeneratorIsSeeded) {
  std::string a = (dir_ / "a.ndjson").string(),
              b = (dir_ / "b.ndjson").string(),
              c = (dir_ / "c.ndjson").string();
  ASSERT_EQ(
      Run(absl::StrCat("gen --orders 2000 --seed 7 --bad-rate 0.01 --out ", a))
          .exit_code,
      0);
  ASSERT_EQ(
      Run(absl::StrCat("gen --orders 2000 --seed 7 --bad-rate 0.01 --out ", b))
          .exit_code,
      0);
  ASSERT_EQ(
      Run(absl::StrCat("gen --orders 2000 --seed 8 --bad-rate 0.01 --out ", c))
          .exit_code,
      0);
  EXPECT_EQ(ReadFile(a), ReadFile(b));
  EXPECT_NE(ReadFile(a), ReadFile(c));
  // Every generated valid order decodes; the malformed ones are dead letters.
  Result result = Run(absl::StrCat("run examples/pos-analytics.yaml --input ",
                                   a, " --output-dir ", dir_.string()));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_THAT(result.stderr_text, ::testing::HasSubstr(" 2000 events,"));
}

TEST_F(CliTest, BrokerPrintsBootstrapAndStopsOnSignal) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execl(kBinary.c_str(), kBinary.c_str(), "broker", "--partitions", "2",
          "--topics", "a,b", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* stream = fdopen(out[0], "r");
  char line[256] = {};
  ASSERT_NE(fgets(line, sizeof(line), stream), nullptr);
  EXPECT_THAT(std::string(line),
              ::testing::MatchesRegex("bootstrap=127\\.0\\.0\\.1:[0-9]+\n"));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  fclose(stream);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The last line per id, in file order (what a compacted view keeps).
std::map<std::string, std::string> LastLineById(const std::string& text) {
  std::map<std::string, std::string> last;
  simdjson::dom::parser parser;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::string id(
        parser.parse(line.data(), line.size())["id"].get_string().value());
    last[id] = std::string(line);
  }
  return last;
}

TEST_F(CliTest, StateDirResumesAFileThatGrew) {
  // Eight orders, then the rest appended: the second run reads only the new
  // lines, on the state the first run checkpointed.
  const std::string all =
      ReadFile(kSource + "/tests/golden/small_orders.ndjson");
  std::vector<std::string> lines = absl::StrSplit(all, '\n', absl::SkipEmpty());
  const std::string input = (dir_ / "orders.ndjson").string();
  {
    std::ofstream out(input);
    for (size_t i = 0; i < 8; ++i) out << lines[i] << "\n";
  }
  const std::string args =
      absl::StrCat("run tests/golden/small.yaml --log-format json --input ",
                   input, " --output-dir ", (dir_ / "out").string(),
                   " --state-dir ", (dir_ / "state").string());
  Result first = Run(args);
  ASSERT_EQ(first.exit_code, 0) << first.stderr_text;
  EXPECT_THAT(first.stderr_text, ::testing::HasSubstr("\"records\":8,"));
  EXPECT_THAT(first.stderr_text, ::testing::HasSubstr("\"checkpoints\":1,"));
  {
    std::ofstream out(input, std::ios::app);
    for (size_t i = 8; i < lines.size(); ++i) out << lines[i] << "\n";
  }
  Result second = Run(args);
  ASSERT_EQ(second.exit_code, 0) << second.stderr_text;
  EXPECT_THAT(second.stderr_text, ::testing::HasSubstr(absl::StrCat(
                                      "\"records\":", lines.size() - 8, ",")));
  // Windows the first run closed at its end of input are emitted again
  // (same ids) with what the new lines added.
  EXPECT_EQ(
      LastLineById(ReadFile((dir_ / "out" / "kpis.ndjson").string())),
      LastLineById(ReadFile(kSource + "/tests/golden/small_kpis.ndjson")));
  // Dead letters name the file they came from: here the copy.
  EXPECT_EQ(LastLineById(absl::StrReplaceAll(
                ReadFile((dir_ / "out" / "deadletter.ndjson").string()),
                {{input, "tests/golden/small_orders.ndjson"}})),
            LastLineById(
                ReadFile(kSource + "/tests/golden/small_deadletter.ndjson")));
}

TEST_F(CliTest, BadKafkaPropertyIsRefusedWithoutEchoingSecrets) {
  std::string path =
      WriteFile("kafka.yaml",
                "pipeline: p\n"
                "kpis: [{name: d, window: {size: 1d}}]\n"
                "outputs: {kpis: k, deadletter: d, late: l}\n"
                "kafka: {brokers: 127.0.0.1:9, properties: {ssl.key.password: "
                "hunter2, no.such.property: x}}\n");
  Result result = Run(absl::StrCat("run ", path, " --bounded"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_text,
              ::testing::HasSubstr("kafka property \"no.such.property\""));
  EXPECT_THAT(result.stderr_text,
              ::testing::Not(::testing::HasSubstr("hunter2")));
}

// A known secret, given through the environment, must not appear in logs,
// error messages or summaries: not even with librdkafka's debug logs on.
TEST_F(CliTest, SecretsNeverAppearInOutput) {
  const std::string secret = "s3cr3t-P4ssw0rd";
  setenv("TILLSTREAM_TEST_SECRET", secret.c_str(), 1);
  const std::string kafka =
      "kafka: {brokers: \"127.0.0.1:1\", properties: {security.protocol: "
      "SASL_PLAINTEXT, "
      "sasl.mechanism: PLAIN, sasl.username: u, sasl.password: "
      "\"${TILLSTREAM_TEST_SECRET}\", "
      "debug: all}}\n";
  std::string pipeline =
      WriteFile("sasl.yaml",
                "pipeline: p\n"
                "kpis: [{name: d, window: {size: 1d}}]\n"
                "outputs: {kpis: k, deadletter: d, late: l}\n" +
                    kafka);
  // Kafka mode against a port nobody listens on: connection errors, debug logs.
  Result kafka_run = Run(absl::StrCat("run ", pipeline, " --bounded"));
  EXPECT_EQ(kafka_run.exit_code, 1);
  EXPECT_THAT(kafka_run.stderr_text,
              ::testing::HasSubstr("sasl.password = [redacted]"));
  EXPECT_THAT(kafka_run.stderr_text,
              ::testing::Not(::testing::HasSubstr(secret)));
  // File mode: the summary.
  Result file_run = Run(absl::StrCat("run ", pipeline,
                                     " --input tests/golden/small_orders.ndjson"
                                     " --output-dir ",
                                     dir_.string()));
  EXPECT_EQ(file_run.exit_code, 0);
  EXPECT_THAT(file_run.stderr_text,
              ::testing::Not(::testing::HasSubstr(secret)));
  // A configuration error about a value that came from the environment.
  std::string bad =
      WriteFile("bad-secret.yaml",
                "pipeline: p\n"
                "source: {idle_timeout: \"${TILLSTREAM_TEST_SECRET}\"}\n"
                "kpis: [{name: d, window: {size: 1d}}]\n"
                "outputs: {kpis: k, deadletter: d, late: l}\n");
  Result config_error = Run(absl::StrCat(
      "run ", bad, " --input /dev/null --output-dir ", dir_.string()));
  EXPECT_EQ(config_error.exit_code, 2);
  EXPECT_THAT(config_error.stderr_text,
              ::testing::HasSubstr(
                  "the value of ${TILLSTREAM_TEST_SECRET} is not a duration"));
  EXPECT_THAT(config_error.stderr_text,
              ::testing::Not(::testing::HasSubstr(secret)));
  // Nor in the effective configuration, which `check` prints (and #7's
  // /pipeline will serve).
  Result check = Run(
      absl::StrCat("check ", pipeline, " > ", (dir_ / "check.json").string()));
  EXPECT_EQ(check.exit_code, 0) << check.stderr_text;
  std::string effective = ReadFile((dir_ / "check.json").string());
  EXPECT_THAT(effective,
              ::testing::HasSubstr(R"("sasl.password":"[redacted]")"));
  EXPECT_THAT(effective, ::testing::HasSubstr(R"("sasl.username":"u")"));
  EXPECT_THAT(effective, ::testing::Not(::testing::HasSubstr(secret)));
  // Nor in any output file.
  for (const char* name : {"kpis.ndjson", "deadletter.ndjson", "late.ndjson"}) {
    EXPECT_THAT(ReadFile((dir_ / name).string()),
                ::testing::Not(::testing::HasSubstr(secret)));
  }
}

TEST_F(CliTest, EveryExamplePipelineIsValid) {
  for (const auto& entry :
       std::filesystem::directory_iterator(kSource + "/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    Result result =
        Run(absl::StrCat("check ", entry.path().string(), " > /dev/null"));
    EXPECT_EQ(result.exit_code, 0)
        << entry.path() << ": " << result.stderr_text;
  }
}

TEST_F(CliTest, UnknownCommandIsUsageError) {
  EXPECT_EQ(Run("frobnicate").exit_code, 2);
  EXPECT_EQ(Run("run").exit_code, 2);
  EXPECT_EQ(Run("run examples/pos-analytics.yaml --input x.ndjson").exit_code,
            2);
}

}  // namespace
