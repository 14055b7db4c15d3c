// `tillstream tail`: reads output topics and shows them to a person.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "connectors/kafka_config.h"
#include "engine/commands.h"
#include "librdkafka/rdkafka.h"
#include "simdjson.h"

namespace tillstream {
namespace {

std::string Field(simdjson::dom::element e, const char* name) {
  simdjson::dom::element v;
  if (e[name].get(v)) return "-";
  if (v.is_string()) return std::string(v.get_string().value());
  if (v.is_null()) return "null";
  return simdjson::minify(v);
}

// One line per record: KPI snapshots as a row, anything else as its JSON.
// Empty when `kpis` is not empty and the snapshot's rule is not in it.
std::string Describe(absl::string_view topic, absl::string_view value,
                     const std::vector<std::string>& kpis) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(value.data(), value.size()).get(e) || !e.is_object()) {
    return absl::StrCat(topic, "  ", value);
  }
  std::string type = Field(e, "type");
  if (type == "kpi") {
    if (!kpis.empty() &&
        std::find(kpis.begin(), kpis.end(), Field(e, "kpi")) == kpis.end()) {
      return "";
    }
    std::string group;
    simdjson::dom::object g;
    if (!e["group"].get(g)) {
      for (auto [k, v] : g) {
        absl::StrAppend(
            &group, group.empty() ? "" : ",", std::string(k), "=",
            v.is_string() ? std::string(v.get_string().value()) : "null");
      }
    }
    std::string start = Field(e["window"], "start");
    std::string revision = Field(e, "revision");
    return absl::StrFormat(
        "%-12s %-22s %-20s revenue %10s  orders %5s  refunds %3s  units %6s  "
        "aov %7s  "
        "customers %5s%s",
        Field(e, "kpi"), group, start, Field(e, "revenue"), Field(e, "orders"),
        Field(e, "refunded_orders"), Field(e, "units"), Field(e, "aov"),
        Field(e, "distinct_customers"),
        revision == "0" ? "" : "  (revision " + revision + ")");
  }
  if (type == "alert") {
    std::string state = Field(e, "state");
    for (char& c : state)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return absl::StrCat("ALERT ", state, " ", Field(e, "severity"), "  ",
                        Field(e, "message"));
  }
  if (type == "deadletter") {
    return absl::StrCat("DEAD LETTER  ", Field(e, "reason"));
  }
  return absl::StrCat(topic, "  ", value);
}

}  // namespace

int TailCommand(const std::vector<std::string>& args) {
  const std::string brokers = absl::GetFlag(FLAGS_brokers);
  const std::vector<std::string> topics = absl::GetFlag(FLAGS_topics);
  if (!args.empty() || brokers.empty() || topics.empty()) {
    std::fprintf(stderr,
                 "usage: tillstream tail --brokers H:P --topics a[,b] "
                 "[--idle-exit-ms MS]\n");
    return kExitUsage;
  }
  auto conf =
      MakeKafkaConf({{"bootstrap.servers", brokers},
                     {"group.id", absl::StrCat("tillstream-tail-", getpid())},
                     {"auto.offset.reset", "earliest"},
                     {"enable.auto.commit", "false"},
                     {"fetch.wait.max.ms", "10"}},
                    {});
  if (!conf.ok()) {
    std::fprintf(stderr, "tillstream: %s\n",
                 std::string(conf.status().message()).c_str());
    return kExitUsage;
  }
  char error[512];
  rd_kafka_t* consumer =
      rd_kafka_new(RD_KAFKA_CONSUMER, *conf, error, sizeof(error));
  if (consumer == nullptr) {
    std::fprintf(stderr, "tillstream: kafka consumer: %s\n", error);
    return kExitFailure;
  }
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(topics.size());
  for (const std::string& t : topics) {
    rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_subscribe(consumer, list);
  rd_kafka_topic_partition_list_destroy(list);

  const int idle_exit_ms = absl::GetFlag(FLAGS_idle_exit_ms);
  const std::vector<std::string> kpis = absl::GetFlag(FLAGS_kpis);
  int64_t shown = 0, hidden = 0;
  // Idleness counts from the first message: joining the group takes seconds.
  bool seen_any = false;
  auto last = std::chrono::steady_clock::now();
  while (!StopRequested().load()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) {
      auto idle = std::chrono::steady_clock::now() - last;
      if (seen_any && idle_exit_ms > 0 &&
          idle > std::chrono::milliseconds(idle_exit_ms))
        break;
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      seen_any = true;
      last = std::chrono::steady_clock::now();
      std::string line = Describe(
          rd_kafka_topic_name(m->rkt),
          absl::string_view(static_cast<const char*>(m->payload), m->len),
          kpis);
      if (line.empty()) {
        ++hidden;
      } else {
        ++shown;
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
      }
    }
    rd_kafka_message_destroy(m);
  }
  std::fprintf(
      stderr,
      "tillstream tail: %lld records shown, %lld snapshots of other rules\n",
      static_cast<long long>(shown), static_cast<long long>(hidden));
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return kExitOk;
}

}  // namespace tillstream
