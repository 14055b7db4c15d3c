#include "connectors/read_ahead.h"

#include <algorithm>

#include "absl/status/status.h"
#include "engine/thread_name.h"

namespace tillstream {
namespace {
// Chunks in all: one being consumed, one kept for the batch before it (see
// FileSource), and two read ahead.
constexpr int kChunks = 4;
// Room in front of a chunk's bytes: a line cut by a chunk's edge is copied
// there; a longer one (orders are about 400 bytes) is gathered elsewhere.
constexpr size_t kMaxRoom = 64 << 10;
}  // namespace

ReadAhead::ReadAhead(std::FILE* file, size_t chunk_size, bool threaded)
    : file_(file),
      chunk_size_(chunk_size),
      room_(std::min(chunk_size, kMaxRoom)) {
  for (int i = 0; i < kChunks; ++i) {
    chunks_.push_back(std::make_unique<ReadChunk>());
    chunks_.back()->bytes.resize(room_ + chunk_size);
    free_.push_back(chunks_.back().get());
  }
  if (threaded) {
    thread_ = std::thread([this] {
      NameThisThread("ts:read");
      Loop();
    });
  }
}

ReadAhead::~ReadAhead() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

bool ReadAhead::Fill(ReadChunk* chunk) {
  chunk->begin = chunk->end = room_;
  const size_t n =
      std::fread(chunk->bytes.data() + room_, 1, chunk_size_, file_);
  chunk->end += n;
  if (n > 0) return true;
  failed_ = std::ferror(file_) != 0;
  return false;
}

void ReadAhead::Loop() {
  while (true) {
    ReadChunk* chunk;
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [this] { return stopping_ || !free_.empty(); });
      if (stopping_) return;
      chunk = free_.front();
      free_.pop_front();
    }
    const bool more = Fill(chunk);
    {
      std::lock_guard lock(mu_);
      filled_.push_back(chunk);
    }
    changed_.notify_all();
    if (!more) return;
  }
}

absl::StatusOr<ReadChunk*> ReadAhead::Next() {
  ReadChunk* chunk;
  std::unique_lock lock(mu_);
  if (thread_.joinable()) {
    changed_.wait(lock, [this] { return !filled_.empty(); });
    chunk = filled_.front();
    filled_.pop_front();
  } else {
    // Inline: the caller holds at most kChunks - 1 (one consumed, one kept).
    chunk = free_.front();
    free_.pop_front();
    Fill(chunk);
  }
  if (chunk->at_end() && failed_) {
    free_.push_back(chunk);
    return absl::DataLossError("read failed");
  }
  return chunk;
}

void ReadAhead::Release(ReadChunk* chunk) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(chunk);
  }
  changed_.notify_all();
}

}  // namespace tillstream
