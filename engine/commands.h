#ifndef TILLSTREAM_ENGINE_COMMANDS_H_
#define TILLSTREAM_ENGINE_COMMANDS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"

// Flags of the `tillstream` subcommands (defined in main.cc).
ABSL_DECLARE_FLAG(std::string, brokers);
ABSL_DECLARE_FLAG(bool, bounded);
ABSL_DECLARE_FLAG(std::string, input);
ABSL_DECLARE_FLAG(std::string, state_dir);
ABSL_DECLARE_FLAG(int32_t, http_port);
ABSL_DECLARE_FLAG(std::string, log_format);
ABSL_DECLARE_FLAG(std::string, output_dir);
ABSL_DECLARE_FLAG(int32_t, partitions);
ABSL_DECLARE_FLAG(std::vector<std::string>, topics);
ABSL_DECLARE_FLAG(std::string, topic);
ABSL_DECLARE_FLAG(int64_t, orders);
ABSL_DECLARE_FLAG(double, rate);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(int32_t, stores);
ABSL_DECLARE_FLAG(int32_t, days);
ABSL_DECLARE_FLAG(std::string, start);
ABSL_DECLARE_FLAG(double, bad_rate);
ABSL_DECLARE_FLAG(double, late_rate);
ABSL_DECLARE_FLAG(std::vector<std::string>, drop);
ABSL_DECLARE_FLAG(int32_t, idle_exit_ms);
ABSL_DECLARE_FLAG(std::vector<std::string>, kpis);

namespace tillstream {

// Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad pipeline file.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Set by SIGINT/SIGTERM; every long-running command stops cleanly on it.
std::atomic<bool>& StopRequested();
void InstallStopSignalHandlers();

// `args` are the positional arguments after the subcommand name.
int RunCommand(const std::vector<std::string>& args);
int CheckCommand(const std::vector<std::string>& args);
int BrokerCommand(const std::vector<std::string>& args);
int GenCommand(const std::vector<std::string>& args);
int TailCommand(const std::vector<std::string>& args);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_COMMANDS_H_
