#ifndef TILLSTREAM_CONNECTORS_OUTPUT_SINK_H_
#define TILLSTREAM_CONNECTORS_OUTPUT_SINK_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "connectors/record_source.h"
#include "engine/output_batch.h"
#include "state/changelog.h"

namespace tillstream {

// Where output records go: Kafka topics or NDJSON files, one per OutputKind.
// Used by one thread. Write() may buffer; Flush() returns once everything
// written so far is durable at the destination (delivered, or written to the
// file), or the first error that happened on the way.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  [[nodiscard]] virtual absl::Status Write(const OutputBatch& batch) = 0;
  [[nodiscard]] virtual absl::Status Flush() = 0;

  // At a checkpoint, once its state is durable: makes the outputs written
  // since the previous commit visible together with the input `offsets`
  // that produced them, labelled `checkpoint` (a transactional sink commits
  // its transaction; others have nothing left to do after Flush).
  [[nodiscard]] virtual absl::Status Commit(const SourceOffsets& /*offsets*/,
                                            int64_t /*checkpoint*/) {
    return absl::OkStatus();
  }
  // True when outputs become visible only at Commit (exactly-once).
  virtual bool transactional() const { return false; }

  // The state's changelog (a Kafka sink given a changelog topic): records
  // written go out with the outputs, in the same transaction when
  // transactional, and are delivered by the next Flush, after which
  // changelog_offset() is the offset of the last of them (-1: none yet).
  virtual bool has_changelog() const { return false; }
  [[nodiscard]] virtual absl::Status WriteChangelog(
      std::span<const ChangelogRecord> /*records*/,
      absl::string_view /*header*/) {
    return absl::FailedPreconditionError("this output has no changelog");
  }
  virtual int64_t changelog_offset() const { return -1; }
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_OUTPUT_SINK_H_
