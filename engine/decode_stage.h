#ifndef TILLSTREAM_ENGINE_DECODE_STAGE_H_
#define TILLSTREAM_ENGINE_DECODE_STAGE_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>

#include "connectors/order_decoder.h"
#include "connectors/record_source.h"
#include "engine/chunked_decode.h"
#include "engine/decoded_record.h"

namespace tillstream {

// Decodes a batch's records for the worker, in order. With a thread of its
// own (`threaded`), it decodes ahead while the worker runs the operators on
// the records already decoded: decoding is about half of a record's cost,
// so on two cores the two halves overlap. The two share the batch's chunks
// (ChunkedDecode): the thread takes the next one whenever it is free, and a
// worker that needs a chunk nobody has claimed yet decodes it itself
// instead of waiting. Neither side idles while the other is behind,
// whatever else shares the cores (librdkafka's threads). Results are the
// same either way: the worker still takes the records one by one, in order.
//
//   stage.Start(batch.records, wall_clock_ms);
//   for (size_t i = 0; i < batch.records.size(); ++i) Use(stage.Get(i));
//   stage.Finish();
class DecodeStage {
 public:
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
  // Record i if the thread has decoded it already, else null (to look
  // ahead without waiting).
  const DecodedRecord* Decoded(size_t i) const {
    return threaded() ? batch_.Decoded(i) : nullptr;
  }
  // The batch is done with (every record was taken).
  void Finish();
  // Chunks of the current batch decoded and kept so far, by either side
  // (tests).
  size_t chunks_decoded_ahead() const { return batch_.chunks_decoded(); }

 private:
  void Loop();

  OrderDecoder decoder_;        // the worker's
  OrderDecoder ahead_decoder_;  // the thread's
  std::span<const SourceRecord> records_;
  int64_t wall_clock_ms_ = 0;
  DecodedRecord inline_record_;     // unthreaded: the record decoded last
  ChunkedDecode batch_;             // threaded
  size_t worker_chunk_ = SIZE_MAX;  // the chunk the worker claimed last
  // std::mutex rather than absl::Mutex: ThreadSanitizer checks this class
  // only through it (Debian's Abseil is not built for it).
  std::mutex mu_;
  std::condition_variable cv_;
  // Atomics for SpinThenWait; changed under mu_.
  std::atomic<bool> has_work_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_DECODE_STAGE_H_
