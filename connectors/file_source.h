#ifndef TILLSTREAM_CONNECTORS_FILE_SOURCE_H_
#define TILLSTREAM_CONNECTORS_FILE_SOURCE_H_

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "connectors/read_ahead.h"
#include "connectors/record_source.h"

namespace tillstream {

struct FileSourceOptions {
  std::string path;                 // an NDJSON file, or "-" for standard input
  size_t max_batch_records = 1024;  // records per Poll
  size_t read_size = 1 << 20;       // bytes per read()
  // Read a regular file ahead on a thread of its own (ReadAhead), when the
  // machine has more than one CPU. Off: every read on the caller's thread.
  bool read_ahead = true;
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
    return {origin_ + static_cast<int64_t>(begin_), size_, "bytes"};
  }

 private:
  FileSource(FileSourceOptions options, std::FILE* file, bool threaded);
  // Moves on to the next chunk, carrying the unconsumed end of this one (a
  // line cut by the chunk's edge) in front of it; false at end of file.
  absl::StatusOr<bool> NextChunk();
  // current_, left behind: kept until the next Poll when the last Poll's
  // records point into it (they stay valid until the Poll after next),
  // released otherwise.
  void RetireCurrent();
  // Back to the reader, or freed when gathered.
  void Release(ReadChunk* chunk);

  FileSourceOptions options_;
  std::FILE* file_;
  std::unique_ptr<ReadAhead> read_ahead_;
  ReadChunk* current_ = nullptr;
  std::vector<ReadChunk*> retired_;
  // A line longer than the room in front of a chunk is gathered in a chunk
  // of the source's own.
  std::vector<std::unique_ptr<ReadChunk>> gathered_;
  bool last_batch_in_current_ = false;
  size_t begin_ = 0;  // first unconsumed byte of current_
  bool eof_ = false;
  bool announced_ = false;
  int64_t line_ = 0;
  int64_t first_line_ = 0;  // StartAt: lines before it are skipped
  int64_t origin_ = 0;      // the file offset of current_->bytes[0]
  int64_t size_ = -1;       // of a regular file
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_FILE_SOURCE_H_
