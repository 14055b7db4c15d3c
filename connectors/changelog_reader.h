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
// (state/changelog.h, in its partition 0) or the lease topic.
struct KafkaTopicRef {
  std::string brokers;
  KafkaProperties properties;  // kafka.properties, passed through
  std::string topic;
};

// Makes sure the topic exists: when the cluster does not have it, creates it
// with one partition and cleanup.policy=compact (a deleting retention would
// lose state). A cluster that cannot create topics (the embedded broker)
// auto-creates it on first use: the error says so and the caller goes on.
// Also for the lease topic (connectors/kafka_lease.h), which stays empty.
// Returns its partition count (1 when it was just created).
absl::StatusOr<int> CreateCompactedTopic(const KafkaTopicRef& topic);

// Calls `visit` for each record of partition 0 from offset `from` to the
// end, as a read_committed consumer sees them (aborted transactions
// skipped). DataLoss when records at or after `from` were already deleted.
using ChangelogVisitor = absl::FunctionRef<absl::Status(
    int64_t offset, absl::string_view key,
    std::optional<absl::string_view> value, absl::string_view header)>;
absl::Status ReadChangelog(const KafkaTopicRef& topic, int64_t from,
                           ChangelogVisitor visit);

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_CHANGELOG_READER_H_
