// `tillstream broker`: the embedded Kafka broker as a standalone process.
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "connectors/embedded_broker.h"
#include "engine/commands.h"

namespace tillstream {

int BrokerCommand(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(stderr,
                 "usage: tillstream broker [--partitions N] [--topics a,b]\n");
    return kExitUsage;
  }
  std::vector<std::string> topics = absl::GetFlag(FLAGS_topics);
  if (topics.empty()) {
    // The topics of examples/pos-analytics.yaml.
    topics = {"pos.orders", "pos.kpis",       "pos.rolling",
              "pos.alerts", "pos.deadletter", "pos.late"};
  }
  auto broker = EmbeddedBroker::Start();
  if (!broker.ok()) {
    std::fprintf(stderr, "tillstream: %s\n",
                 std::string(broker.status().message()).c_str());
    return kExitFailure;
  }
  for (const std::string& topic : topics) {
    absl::Status status =
        (*broker)->CreateTopic(topic, absl::GetFlag(FLAGS_partitions));
    if (!status.ok()) {
      std::fprintf(stderr, "tillstream: %s\n",
                   std::string(status.message()).c_str());
      return kExitFailure;
    }
  }
  std::printf("bootstrap=%s\n", (*broker)->bootstrap().c_str());
  std::fflush(stdout);
  // The mock cluster serves from its own threads; this one waits for a signal.
  while (!StopRequested().load())
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return kExitOk;
}

}  // namespace tillstream
