#include "connectors/file_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tillstream {

absl::StatusOr<std::unique_ptr<FileSource>> FileSource::Open(
    FileSourceOptions options) {
  std::FILE* file =
      options.path == "-" ? stdin : std::fopen(options.path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(options.path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat info;
  const bool regular = fstat(fileno(file), &info) == 0 && S_ISREG(info.st_mode);
  const bool threaded =
      options.read_ahead && regular && std::thread::hardware_concurrency() > 1;
  auto source = std::unique_ptr<FileSource>(
      new FileSource(std::move(options), file, threaded));
  if (regular) source->size_ = info.st_size;
  return source;
}

// Only a regular file is read ahead on a thread: a read of a pipe or a
// terminal may block for ever, and the thread could not be stopped.
FileSource::FileSource(FileSourceOptions options, std::FILE* file,
                       bool threaded)
    : options_(std::move(options)),
      file_(file),
      read_ahead_(std::make_unique<ReadAhead>(
          file, std::max<size_t>(options_.read_size, 1), threaded)) {}

FileSource::~FileSource() {
  read_ahead_.reset();  // its thread may be reading the file
  if (file_ != nullptr && file_ != stdin) std::fclose(file_);
}

void FileSource::RetireCurrent() {
  if (last_batch_in_current_) {
    retired_.push_back(current_);
  } else {
    Release(current_);
  }
}

void FileSource::Release(ReadChunk* chunk) {
  for (auto it = gathered_.begin(); it != gathered_.end(); ++it) {
    if (it->get() == chunk) {
      gathered_.erase(it);
      return;
    }
  }
  read_ahead_->Release(chunk);
}

absl::StatusOr<bool> FileSource::NextChunk() {
  absl::StatusOr<ReadChunk*> next = read_ahead_->Next();
  if (!next.ok()) {
    return absl::DataLossError(absl::StrCat(options_.path, ": read failed"));
  }
  ReadChunk* chunk = *next;
  if (chunk->at_end()) {
    // What is left of the current chunk is the last line, without a newline.
    read_ahead_->Release(chunk);
    eof_ = true;
    return false;
  }
  const size_t tail = current_ == nullptr ? 0 : current_->end - begin_;
  const char* tail_bytes =
      current_ == nullptr ? nullptr : current_->bytes.data() + begin_;
  if (tail <= chunk->begin) {
    // Usually: the cut line goes into the room in front of the new chunk.
    if (tail > 0) {
      std::memcpy(chunk->bytes.data() + chunk->begin - tail, tail_bytes, tail);
      chunk->begin -= tail;
    }
  } else {
    // A line longer than the room: gathered in a chunk of the source's own.
    auto gathered = std::make_unique<ReadChunk>();
    gathered->bytes.reserve(2 * (tail + chunk->end - chunk->begin));
    gathered->bytes.assign(tail_bytes, tail_bytes + tail);
    gathered->bytes.insert(gathered->bytes.end(),
                           chunk->bytes.data() + chunk->begin,
                           chunk->bytes.data() + chunk->end);
    gathered->end = gathered->bytes.size();
    read_ahead_->Release(chunk);
    chunk = gathered.get();
    gathered_.push_back(std::move(gathered));
  }
  // The byte at begin_ is where the new chunk's data now begins.
  origin_ += static_cast<int64_t>(begin_) - static_cast<int64_t>(chunk->begin);
  if (current_ != nullptr) RetireCurrent();
  last_batch_in_current_ = false;
  current_ = chunk;
  begin_ = chunk->begin;
  return true;
}

absl::StatusOr<PollResult> FileSource::Poll(PartitionListener* listener,
                                            absl::Duration /*timeout*/,
                                            RecordBatch* batch) {
  const PartitionId partition{0};
  if (!announced_) {
    announced_ = true;
    listener->OnPartitionsAssigned({&partition, 1});
  }
  batch->records.clear();
  // The batch before the last one is done with: its chunks go back.
  for (ReadChunk* chunk : retired_) Release(chunk);
  retired_.clear();
  while (batch->records.size() < options_.max_batch_records) {
    const char* data = current_ == nullptr ? nullptr : current_->bytes.data();
    const size_t end = current_ == nullptr ? 0 : current_->end;
    const void* newline =
        begin_ < end ? std::memchr(data + begin_, '\n', end - begin_) : nullptr;
    size_t line_end;
    if (newline != nullptr) {
      line_end = static_cast<const char*>(newline) - data;
    } else if (eof_) {
      if (begin_ == end) break;
      line_end = end;  // last line without a newline
    } else {
      if (!batch->records.empty()) break;  // hand out what we have first
      absl::StatusOr<bool> more = NextChunk();
      if (!more.ok()) return more.status();
      continue;
    }
    ++line_;
    absl::string_view line(data + begin_, line_end - begin_);
    begin_ = line_end < end ? line_end + 1 : end;
    if (line_ < first_line_) continue;  // before a restored checkpoint
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Most lines start with '{': the scan for a blank line stops there.
    if (std::all_of(line.begin(), line.end(),
                    [](char c) { return c == ' ' || c == '\t'; }))
      continue;
    batch->records.push_back({line, partition, Offset{line_}, 0});
  }
  // A batch lies in one chunk: NextChunk only runs before its first record.
  last_batch_in_current_ = !batch->records.empty();
  if (batch->records.empty() && eof_ &&
      begin_ == (current_ == nullptr ? 0 : current_->end)) {
    listener->OnPartitionEnd(partition);
    return PollResult::kEndOfInput;
  }
  return PollResult::kRecords;
}

}  // namespace tillstream
