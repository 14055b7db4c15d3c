#include "engine/chunked_decode.h"

#include <algorithm>
#include <thread>

namespace tillstream {

void ChunkedDecode::Reset(std::span<const SourceRecord> records) {
  records_ = records;
  if (decoded_.size() < records.size()) decoded_.resize(records.size());
  chunk_count_ = Chunks(records.size());
  if (chunk_done_capacity_ < chunk_count_) {
    chunk_done_capacity_ = chunk_count_;
    chunk_done_ = std::make_unique<Flag[]>(chunk_count_);
  }
  for (size_t c = 0; c < chunk_count_; ++c)
    chunk_done_[c].value.store(false, std::memory_order_relaxed);
  next_chunk_.store(0, std::memory_order_relaxed);
  chunks_decoded_.store(0, std::memory_order_relaxed);
}

bool ChunkedDecode::DecodeNext(OrderDecoder* decoder) {
  const size_t chunk = next_chunk_.fetch_add(1, std::memory_order_acq_rel);
  if (chunk >= chunk_count_) return false;
  const size_t end = std::min(records_.size(), (chunk + 1) * kChunk);
  for (size_t i = chunk * kChunk; i < end; ++i)
    DecodeAndKeep(decoder, records_[i].payload, &decoded_[i]);
  chunk_done_[chunk].value.store(true, std::memory_order_release);
  chunks_decoded_.fetch_add(1, std::memory_order_release);
  return true;
}

bool ChunkedDecode::TryClaim(size_t chunk) {
  size_t unclaimed = chunk;
  return next_chunk_.compare_exchange_strong(unclaimed, chunk + 1,
                                             std::memory_order_acq_rel);
}

DecodedRecord& ChunkedDecode::Wait(size_t i, OrderDecoder* decoder) {
  const size_t chunk = i / kChunk;
  while (!done(chunk)) {
    if (!DecodeNext(decoder)) std::this_thread::yield();  // another has it
  }
  return decoded_[i];
}

}  // namespace tillstream
