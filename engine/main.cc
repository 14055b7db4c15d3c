// The tillstream command line: run, broker, gen, tail.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "engine/commands.h"

ABSL_FLAG(std::string, brokers, "",
          "Kafka bootstrap servers (host:port,...); overrides kafka.brokers of "
          "the pipeline");
ABSL_FLAG(bool, bounded, false,
          "run: read to the end offsets present at start, close every window, "
          "exit 0");
ABSL_FLAG(int32_t, http_port, -1,
          "run: serve the HTTP endpoints on this port (0 = any free port), "
          "overriding the pipeline file's http.port");
ABSL_FLAG(std::string, log_format, "text",
          "run: text (a status line on a terminal) or json (one JSON object "
          "per log line)");
ABSL_FLAG(std::string, state_dir, "",
          "run: keep state in this directory (overrides state.dir); a restart "
          "resumes from its last checkpoint");
ABSL_FLAG(std::string, input, "",
          "run: replay an NDJSON file instead of Kafka ('-' = stdin)");
ABSL_FLAG(std::string, output_dir, "",
          "run: with --input, write DIR/<output>.ndjson");
ABSL_FLAG(int32_t, partitions, 4,
          "broker/run: partitions of each pre-created topic");
ABSL_FLAG(std::vector<std::string>, topics, {},
          "broker: topics to create; tail: topics to read");
ABSL_FLAG(std::string, topic, "pos.orders", "gen: topic to produce to");
ABSL_FLAG(int64_t, orders, 10000, "gen: valid orders to produce");
ABSL_FLAG(double, rate, 0, "gen: orders per second (0 = as fast as possible)");
ABSL_FLAG(uint64_t, seed, 42,
          "gen: random seed; the same seed gives the same traffic");
ABSL_FLAG(std::string, out, "", "gen: NDJSON file to write ('-' = stdout)");
ABSL_FLAG(int32_t, stores, 8, "gen: number of stores");
ABSL_FLAG(int32_t, days, 28, "gen: days of event time the orders span");
ABSL_FLAG(std::string, start, "2024-01-01T00:00:00Z",
          "gen: event time of the first order");
ABSL_FLAG(double, bad_rate, 0, "gen: fraction of malformed records mixed in");
ABSL_FLAG(double, late_rate, 0.01,
          "gen: fraction of events that arrive late (1 s to 10 min)");
ABSL_FLAG(std::vector<std::string>, drop, {},
          "gen: injected sales drops STORE:DAY:FRACTION, e.g. s-003:20:0.6");
ABSL_FLAG(
    int32_t, idle_exit_ms, 0,
    "tail: exit after this long without a new message (0 = run until stopped)");
ABSL_FLAG(std::vector<std::string>, kpis, {},
          "tail: show only snapshots of these KPI rules (others are counted)");

namespace tillstream {

std::atomic<bool>& StopRequested() {
  static std::atomic<bool> stop{false};
  return stop;
}

void InstallStopSignalHandlers() {
  auto handler = [](int) { StopRequested().store(true); };
  std::signal(SIGINT, handler);
  std::signal(SIGTERM, handler);
}

}  // namespace tillstream

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "streaming KPIs for retail orders\n\n"
      "  tillstream run PIPELINE.yaml [--brokers H:P] [--bounded]\n"
      "  tillstream run PIPELINE.yaml --input F.ndjson --output-dir DIR\n"
      "  tillstream check PIPELINE.yaml\n"
      "  tillstream broker [--partitions N] [--topics a,b]\n"
      "  tillstream gen [--orders N] [--rate R] [--seed S] (--out F.ndjson | "
      "--brokers H:P "
      "--topic T)\n"
      "  tillstream tail --brokers H:P --topics pos.kpis[,...] [--idle-exit-ms "
      "MS]");
  // Accept --output-dir as well as --output_dir, as the docs spell flags with
  // dashes.
  std::vector<std::string> normalized;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) {
      size_t end = arg.find('=');
      for (size_t k = 2; k < arg.size() && k < end; ++k) {
        if (arg[k] == '-') arg[k] = '_';
      }
    }
    normalized.push_back(std::move(arg));
  }
  for (std::string& a : normalized) args.push_back(a.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (positional.size() < 2) {
    std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
    return tillstream::kExitUsage;
  }
  std::string command = positional[1];
  std::vector<std::string> rest(positional.begin() + 2, positional.end());
  tillstream::InstallStopSignalHandlers();
  if (command == "run") return tillstream::RunCommand(rest);
  if (command == "check") return tillstream::CheckCommand(rest);
  if (command == "broker") return tillstream::BrokerCommand(rest);
  if (command == "gen") return tillstream::GenCommand(rest);
  if (command == "tail") return tillstream::TailCommand(rest);
  std::fprintf(stderr, "unknown command \"%s\"\n\n%s\n", command.c_str(),
               absl::ProgramUsageMessage().data());
  return tillstream::kExitUsage;
}
