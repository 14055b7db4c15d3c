#ifndef TILLSTREAM_CONNECTORS_FILE_SINK_H_
#define TILLSTREAM_CONNECTORS_FILE_SINK_H_

#include <array>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "connectors/output_sink.h"

namespace tillstream {

// Writes each output to DIR/<output>.ndjson (kpis.ndjson, deadletter.ndjson,
// late.ndjson), one JSON value per line, in emission order. The directory is
// created if missing; existing files are replaced (or appended to).
class FileSink final : public OutputSink {
 public:
  // `append`: keep what the files hold (a run resuming from a checkpoint
  // adds to the outputs of the runs before it); else start them empty.
  static absl::StatusOr<std::unique_ptr<FileSink>> Open(const std::string& dir,
                                                        bool append = false);
  ~FileSink() override;

  absl::Status Write(const OutputBatch& batch) override;
  absl::Status Flush() override;

 private:
  FileSink() = default;
  std::string dir_;
  std::array<std::FILE*, kOutputKindCount> files_{};
};

// The file name of an output in file mode: "kpis", "deadletter", "late".
absl::string_view OutputFileStem(OutputKind kind);

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_FILE_SINK_H_
