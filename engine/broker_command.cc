// `tillstream broker`: the embedded Kafka broker as a standalone process.
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "connectors/embedded_broker.h"
#include "engine/commands.h"

namespace tillstream {

int BrokerCommand(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(stderr,
                 "usage: tillstream broker [--partitions N] "
                 "[--topics a,b,c:P]\n");
    return kExitUsage;
  }
  std::vector<std::string> topics = absl::GetFlag(FLAGS_topics);
  if (topics.empty()) {
    // The topics of examples/pos-analytics.yaml.
    // The topics of examples/pos-analytics.yaml, and its internal ones:
    // the state's changelog and the lease (one partition each).
    topics = {"pos.orders",
              "pos.kpis",
              "pos.rolling",
              "pos.alerts",
              "pos.deadletter",
              "pos.late",
              "tillstream-pos-analytics-changelog:1",
              "tillstream-pos-analytics-lease:1"};
  }
  auto broker = EmbeddedBroker::Start();
  if (!broker.ok()) {
    std::fprintf(stderr, "tillstream: %s\n",
                 std::string(broker.status().message()).c_str());
    return kExitFailure;
  }
  for (const std::string& spec : topics) {
    // name, or name:P for a topic with its own partition count.
    std::string topic = spec;
    int partitions = absl::GetFlag(FLAGS_partitions);
    if (const size_t colon = spec.rfind(':'); colon != std::string::npos) {
      topic = spec.substr(0, colon);
      if (!absl::SimpleAtoi(spec.substr(colon + 1), &partitions) ||
          partitions <= 0) {
        std::fprintf(stderr,
                     "tillstream: --topics: bad partition count in %s\n",
                     spec.c_str());
        return kExitUsage;
      }
    }
    absl::Status status = (*broker)->CreateTopic(topic, partitions);
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
