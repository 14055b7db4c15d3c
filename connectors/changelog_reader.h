#ifndef TILLSTREAM_CONNECTORS_CHANGELOG_READER_H_
#define TILLSTREAM_CONNECTORS_CHANGELOG_READER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "connectors/kafka_config.h"

namespace tillstream {

// A Kafka topic and how to reach it: durable state's changelog
// (state/changelog.h), the lease topic or the repartition topic.
struct KafkaTopicRef {
  std::string brokers;
  KafkaProperties properties;  // kafka.properties, passed through
  std::string topic;
};

// The topic's partition count; NotFound when the cluster does not have it.
absl::StatusOr<int> PartitionCount(const KafkaTopicRef& topic);

// Makes sure the topic exists: when the cluster does not have it, creates it
// with `partitions` partitions, compacted (cleanup.policy=compact: a
// changelog, whose deleting retention would lose state; the lease topic,
// connectors/kafka_lease.h, which stays empty) or with the broker's
// retention (the repartition topic). A cluster that cannot create topics
// (the embedded broker) auto-creates it on first use: the error says so and
// the caller goes on. Returns its partition count (`partitions` when it was
// just created).
absl::StatusOr<int> EnsureTopic(const KafkaTopicRef& topic, int partitions,
                                bool compacted);

// Calls `visit` for each record of `partition` from offset `from` to the
// end, as a read_committed consumer sees them (aborted transactions
// skipped). DataLoss when records at or after `from` were already deleted.
using ChangelogVisitor = absl::FunctionRef<absl::Status(
    int64_t offset, absl::string_view key,
    std::optional<absl::string_view> value, absl::string_view header)>;
absl::Status ReadChangelog(const KafkaTopicRef& topic, int32_t partition,
                           int64_t from, ChangelogVisitor visit);

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_CHANGELOG_READER_H_
