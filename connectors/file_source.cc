#include "connectors/file_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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
  auto source =
      std::unique_ptr<FileSource>(new FileSource(std::move(options), file));
  source->buffer_.resize(source->options_.read_size * 2);
  struct stat info;
  if (fstat(fileno(file), &info) == 0 && S_ISREG(info.st_mode))
    source->size_ = info.st_size;
  return source;
}

FileSource::~FileSource() {
  if (file_ != nullptr && file_ != stdin) std::fclose(file_);
}

absl::StatusOr<bool> FileSource::Fill() {
  if (eof_) return false;
  // The unconsumed tail goes to the front, of the other buffer when the
  // previous Poll's records point into this one (they stay valid until the
  // Poll after next); it grows when one line fills it all.
  const size_t tail = end_ - begin_;
  if (buffer_holds_previous_batch_) {
    if (spare_.size() < tail + options_.read_size)
      spare_.resize(tail + options_.read_size);
    std::memcpy(spare_.data(), buffer_.data() + begin_, tail);
    buffer_.swap(spare_);
    buffer_holds_previous_batch_ = false;
  } else if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, tail);
  }
  consumed_ += static_cast<int64_t>(begin_);
  end_ = tail;
  begin_ = 0;
  if (buffer_.size() - end_ < options_.read_size)
    buffer_.resize(end_ + options_.read_size);
  size_t n = std::fread(buffer_.data() + end_, 1, buffer_.size() - end_, file_);
  if (n == 0) {
    if (std::ferror(file_)) {
      return absl::DataLossError(absl::StrCat(options_.path, ": read failed"));
    }
    eof_ = true;
    return false;
  }
  end_ += n;
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
  while (batch->records.size() < options_.max_batch_records) {
    const char* data = buffer_.data();
    const void* newline = begin_ < end_
                              ? std::memchr(data + begin_, '\n', end_ - begin_)
                              : nullptr;
    size_t line_end;
    if (newline != nullptr) {
      line_end = static_cast<const char*>(newline) - data;
    } else if (eof_) {
      if (begin_ == end_) break;
      line_end = end_;  // last line without a newline
    } else {
      if (!batch->records.empty()) break;  // hand out what we have first
      absl::StatusOr<bool> more = Fill();
      if (!more.ok()) return more.status();
      continue;
    }
    ++line_;
    absl::string_view line(data + begin_, line_end - begin_);
    begin_ = line_end < end_ ? line_end + 1 : end_;
    if (line_ < first_line_) continue;  // before a restored checkpoint
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Most lines start with '{': the scan for a blank line stops there.
    if (std::all_of(line.begin(), line.end(),
                    [](char c) { return c == ' ' || c == '\t'; }))
      continue;
    batch->records.push_back({line, partition, Offset{line_}, 0});
  }
  // A batch lies in one buffer: Fill only runs before its first record.
  buffer_holds_previous_batch_ = !batch->records.empty();
  if (batch->records.empty() && eof_ && begin_ == end_) {
    listener->OnPartitionEnd(partition);
    return PollResult::kEndOfInput;
  }
  return PollResult::kRecords;
}

}  // namespace tillstream
