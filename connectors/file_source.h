#ifndef TILLSTREAM_CONNECTORS_FILE_SOURCE_H_
#define TILLSTREAM_CONNECTORS_FILE_SOURCE_H_

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "connectors/record_source.h"

namespace tillstream {

struct FileSourceOptions {
  std::string path;                 // an NDJSON file, or "-" for standard input
  size_t max_batch_records = 1024;  // records per Poll
  size_t read_size = 1 << 20;       // bytes per read()
};

// Reads an NDJSON file as a bounded, single-partition source: partition 0,
// offset = 1-based line number. Blank lines are skipped (they hold no record);
// a trailing "\r" is dropped. A line of any length is read whole.
class FileSource final : public RecordSource {
 public:
  static absl::StatusOr<std::unique_ptr<FileSource>> Open(
      FileSourceOptions options);
  ~FileSource() override;

  absl::StatusOr<PollResult> Poll(PartitionListener* listener,
                                  absl::Duration timeout,
                                  RecordBatch* batch) override;
  SourceKind kind() const override { return SourceKind::kFile; }
  // Offsets are line numbers (from 1) in partition 0.
  void StartAt(const SourceOffsets& offsets) override {
    auto it = offsets.find(0);
    first_line_ = it == offsets.end() ? 0 : it->second;
  }
  absl::string_view name() const override { return options_.path; }
  // Bytes consumed of the file's size (stdin and pipes: total unknown).
  SourceProgress Progress() const override {
    return {consumed_ + static_cast<int64_t>(begin_), size_, "bytes"};
  }

 private:
  FileSource(FileSourceOptions options, std::FILE* file)
      : options_(std::move(options)), file_(file) {}
  // Reads more bytes; false at end of file.
  absl::StatusOr<bool> Fill();

  FileSourceOptions options_;
  std::FILE* file_;
  std::vector<char> buffer_;
  std::vector<char> spare_;  // the previous buffer, while a batch needs it
  bool buffer_holds_previous_batch_ = false;
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // one past the last byte read
  bool eof_ = false;
  bool announced_ = false;
  int64_t line_ = 0;
  int64_t first_line_ = 0;  // StartAt: lines before it are skipped
  int64_t consumed_ = 0;    // bytes before buffer_[0]
  int64_t size_ = -1;       // of a regular file
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_FILE_SOURCE_H_
