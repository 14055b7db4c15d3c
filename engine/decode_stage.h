#ifndef TILLSTREAM_ENGINE_DECODE_STAGE_H_
#define TILLSTREAM_ENGINE_DECODE_STAGE_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
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
  // What the event's views point into when it was decoded ahead.
  std::vector<OrderLine> lines;
  std::string text;
};

// Decodes a batch's records for the worker, in order. With a thread of its
// own (`threaded`), it decodes ahead while the worker runs the operators on
// the records already decoded: decoding is about half of a record's cost,
// so on two cores the two halves overlap. Results are the same either way:
// the worker still takes the records one by one, in order.
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
  // Record i of the batch, decoded; valid until Finish. In order: i = 0, 1,
  // 2, ...
  DecodedRecord& Get(size_t i);
  // The batch is done with (every record was taken).
  void Finish();

 private:
  void Loop();
  // Decodes records_[i] into decoded_[i] and copies what its views point to
  // into the record's own storage (the decoder's scratch is reused).
  void DecodeAhead(size_t i);

  OrderDecoder decoder_;
  std::span<const SourceRecord> records_;
  int64_t wall_clock_ms_ = 0;
  std::vector<DecodedRecord> decoded_;
  size_t seen_ready_ = 0;         // the worker's copy of ready_
  std::atomic<size_t> ready_{0};  // records decoded so far
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
