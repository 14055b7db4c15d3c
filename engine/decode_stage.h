#ifndef TILLSTREAM_ENGINE_DECODE_STAGE_H_
#define TILLSTREAM_ENGINE_DECODE_STAGE_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "connectors/order_decoder.h"
#include "connectors/record_source.h"
#include "engine/order_event.h"

namespace tillstream {

// A record's decoding: the event, or why it is a bad record.
struct DecodedRecord {
  absl::Status status;
  OrderEvent event;
  // Kept (DecodeAndKeep: decoded ahead by the stage's thread, or by a
  // worker of `workers: N`): the event's views point into `lines` and
  // `text`, valid until the record is decoded again. Otherwise (decoded
  // inline) they point into the decoder, valid until the next Get.
  bool kept = false;
  std::vector<OrderLine> lines;
  std::string text;
};

// Decodes `payload` into `record` and copies what the event's views point to
// into the record's own storage (`lines`, `text`), so that it stays valid
// until the record is decoded again while `decoder` reuses its scratch for
// the next record; marks it kept.
void DecodeAndKeep(OrderDecoder* decoder, absl::string_view payload,
                   DecodedRecord* record);

// Decodes a batch's records for the worker, in order. With a thread of its
// own (`threaded`), it decodes ahead while the worker runs the operators on
// the records already decoded: decoding is about half of a record's cost,
// so on two cores the two halves overlap. The batch is cut into chunks of
// kChunk records that either side claims, in order: the thread takes the
// next one whenever it is free, and a worker that needs a chunk nobody has
// claimed yet decodes it itself instead of waiting. Neither side idles while
// the other is behind, whatever else shares the cores (librdkafka's
// threads). Results are the same either way: the worker still takes the
// records one by one, in order.
//
//   stage.Start(batch.records, wall_clock_ms);
//   for (size_t i = 0; i < batch.records.size(); ++i) Use(stage.Get(i));
//   stage.Finish();
class DecodeStage {
 public:
  static constexpr size_t kChunk = 16;

  DecodeStage(OrderDecoderOptions options, bool threaded);
  ~DecodeStage();
  DecodeStage(const DecodeStage&) = delete;
  DecodeStage& operator=(const DecodeStage&) = delete;

  bool threaded() const { return thread_.joinable(); }
  // `records` must stay valid until Finish.
  void Start(std::span<const SourceRecord> records, int64_t wall_clock_ms);
  // Record i of the batch, decoded (see DecodedRecord::kept for how long its
  // views last). In order: i = 0, 1, 2, ...
  DecodedRecord& Get(size_t i);
  // The batch is done with (every record was taken).
  void Finish();
  // Chunks of the current batch the thread has decoded so far (tests).
  size_t chunks_decoded_ahead() const {
    return chunks_ahead_.load(std::memory_order_acquire);
  }

 private:
  void Loop();

  OrderDecoder decoder_;        // the worker's
  OrderDecoder ahead_decoder_;  // the thread's
  std::span<const SourceRecord> records_;
  int64_t wall_clock_ms_ = 0;
  std::vector<DecodedRecord> decoded_;
  size_t chunk_count_ = 0;
  size_t worker_chunk_ = SIZE_MAX;  // the chunk the worker claimed last
  // The next chunk nobody has claimed; both sides claim by moving it on.
  std::atomic<size_t> next_chunk_{0};
  // Per chunk: decoded by the thread (release after its records).
  std::unique_ptr<std::atomic<bool>[]> chunk_done_;
  size_t chunk_done_capacity_ = 0;
  std::atomic<size_t> chunks_ahead_{0};
  // std::mutex rather than absl::Mutex: ThreadSanitizer checks this class
  // only through it (Debian's Abseil is not built for it).
  std::mutex mu_;
  std::condition_variable cv_;
  bool has_work_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_DECODE_STAGE_H_
