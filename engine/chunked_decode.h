#ifndef TILLSTREAM_ENGINE_CHUNKED_DECODE_H_
#define TILLSTREAM_ENGINE_CHUNKED_DECODE_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "connectors/order_decoder.h"
#include "connectors/record_source.h"
#include "engine/decoded_record.h"

namespace tillstream {

// A batch's records decoded by several threads at once: cut into chunks of
// kChunk records that the threads claim in order, each chunk by one thread,
// which decodes it into the batch's slots with its strings kept
// (DecodeAndKeep). A thread that needs a record whose chunk is not done
// decodes the next unclaimed chunks meanwhile instead of idling. Shared by
// DecodeStage (one thread ahead of the operators) and the workers of
// `workers: N`.
//
//   Reset(records)                     while no other thread uses it
//   DecodeNext(decoder) / Wait(i, d)   any threads at once
class ChunkedDecode {
 public:
  static constexpr size_t kChunk = 16;
  static constexpr size_t Chunks(size_t records) {
    return (records + kChunk - 1) / kChunk;
  }

  // A new batch: every chunk unclaimed. `records` must stay valid until the
  // next Reset.
  void Reset(std::span<const SourceRecord> records);
  // Claims the next chunk nobody has claimed and decodes it with `decoder`;
  // false when every chunk is claimed.
  bool DecodeNext(OrderDecoder* decoder);
  // Claims `chunk` for the caller to decode its own way, if it is the next
  // unclaimed one (so the caller must have needed every earlier one).
  bool TryClaim(size_t chunk);
  // Record i once its chunk is decoded, decoding other chunks with
  // `decoder` while another thread has it.
  DecodedRecord& Wait(size_t i, OrderDecoder* decoder);
  bool done(size_t chunk) const {
    return chunk_done_[chunk].value.load(std::memory_order_acquire);
  }
  // Record i if it is in the batch and its chunk is done, else null (to
  // look ahead without waiting).
  const DecodedRecord* Decoded(size_t i) const {
    if (i >= records_.size() || !done(i / kChunk)) return nullptr;
    return &decoded_[i];
  }
  // Slot i (the caller claimed its chunk, or it is done).
  DecodedRecord& slot(size_t i) { return decoded_[i]; }
  const DecodedRecord& slot(size_t i) const { return decoded_[i]; }
  // Chunks of the batch decoded by DecodeNext so far.
  size_t chunks_decoded() const {
    return chunks_decoded_.load(std::memory_order_acquire);
  }

 private:
  // What the threads write as they go sits on cache lines of its own: on a
  // line shared with data another thread reads for every record (a small
  // allocation next to it, the runner's next member), each write would
  // stall that thread's next read.
  static constexpr size_t kCacheLine = 64;
  struct alignas(kCacheLine) Flag {
    std::atomic<bool> value{false};
  };

  // Set by Reset, read by every thread.
  std::span<const SourceRecord> records_;
  size_t chunk_count_ = 0;
  std::vector<DecodedRecord> decoded_;
  // Per chunk: decoded by DecodeNext (release after its records).
  std::unique_ptr<Flag[]> chunk_done_;
  size_t chunk_done_capacity_ = 0;
  // The next chunk nobody claimed.
  alignas(kCacheLine) std::atomic<size_t> next_chunk_{0};
  alignas(kCacheLine) std::atomic<size_t> chunks_decoded_{0};
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_CHUNKED_DECODE_H_
