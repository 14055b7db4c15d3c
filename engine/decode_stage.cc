#include "engine/decode_stage.h"

#include <utility>

#include "engine/spin_then_wait.h"
#include "engine/thread_name.h"

namespace tillstream {

DecodeStage::DecodeStage(OrderDecoderOptions options, bool threaded)
    : decoder_(options), ahead_decoder_(std::move(options)) {
  if (threaded) {
    thread_ = std::thread([this] {
      NameThisThread("ts:decode");
      Loop();
    });
  }
}

DecodeStage::~DecodeStage() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void DecodeStage::Start(std::span<const SourceRecord> records,
                        int64_t wall_clock_ms) {
  records_ = records;
  wall_clock_ms_ = wall_clock_ms;
  decoder_.SetWallClock(wall_clock_ms);
  if (!threaded()) return;
  // The thread is idle between batches (Finish waited for it), so the
  // batch's bookkeeping is reset here and handed over with the mutex.
  batch_.Reset(records);
  worker_chunk_ = SIZE_MAX;
  {
    std::lock_guard lock(mu_);
    has_work_ = true;
  }
  cv_.notify_all();
}

DecodedRecord& DecodeStage::Get(size_t i) {
  const auto decode_here = [&](DecodedRecord& record) -> DecodedRecord& {
    record.status = decoder_.DecodeInPlace(records_[i].payload, &record.event);
    record.kept = false;
    return record;
  };
  if (!threaded()) return decode_here(inline_record_);
  const size_t chunk = i / ChunkedDecode::kChunk;
  if (chunk == worker_chunk_) return decode_here(batch_.slot(i));
  // Every earlier chunk was claimed, so `chunk` is the next one unless the
  // thread has it already.
  if (!batch_.done(chunk) && batch_.TryClaim(chunk)) {
    worker_chunk_ = chunk;
    return decode_here(batch_.slot(i));
  }
  return batch_.Wait(i, &decoder_);
}

void DecodeStage::Finish() {
  if (!threaded()) return;
  SpinThenWait(mu_, cv_, [this] { return !has_work_; });
}

void DecodeStage::Loop() {
  while (true) {
    SpinThenWait(mu_, cv_, [this] { return has_work_ || stopping_; });
    if (stopping_) return;
    ahead_decoder_.SetWallClock(wall_clock_ms_);
    while (batch_.DecodeNext(&ahead_decoder_)) {
    }
    {
      std::lock_guard lock(mu_);
      has_work_ = false;
    }
    cv_.notify_all();
  }
}

}  // namespace tillstream
