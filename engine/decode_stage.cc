#include "engine/decode_stage.h"

#include <algorithm>
#include <utility>

namespace tillstream {
namespace {

// Points `*view` at a copy of its bytes at the end of `text`, whose
// capacity was reserved beforehand (so earlier views stay valid).
void Keep(absl::string_view* view, std::string* text) {
  if (view->empty()) return;
  const size_t at = text->size();
  text->append(view->data(), view->size());
  *view = absl::string_view(text->data() + at, view->size());
}

// Points the event's views at copies in the record's own storage.
void KeepDecodedStrings(DecodedRecord* record) {
  OrderEvent& event = record->event;
  size_t bytes = event.order_id.size() + event.store_id.size() +
                 event.region.size() + event.customer_id.size() +
                 event.channel.size() + event.currency.size();
  for (const OrderLine& line : event.lines)
    bytes += line.sku.size() + line.category.size();
  record->text.clear();
  record->text.reserve(bytes);
  for (absl::string_view* view :
       {&event.order_id, &event.store_id, &event.region, &event.customer_id,
        &event.channel, &event.currency}) {
    Keep(view, &record->text);
  }
  record->lines.assign(event.lines.begin(), event.lines.end());
  for (OrderLine& line : record->lines) {
    Keep(&line.sku, &record->text);
    Keep(&line.category, &record->text);
  }
  event.lines = record->lines;
}

}  // namespace

DecodeStage::DecodeStage(OrderDecoderOptions options, bool threaded)
    : decoder_(options), ahead_decoder_(std::move(options)) {
  decoded_.resize(1);
  if (threaded) thread_ = std::thread([this] { Loop(); });
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
  if (decoded_.size() < records.size()) decoded_.resize(records.size());
  chunk_count_ = (records.size() + kChunk - 1) / kChunk;
  if (chunk_done_capacity_ < chunk_count_) {
    chunk_done_capacity_ = chunk_count_;
    chunk_done_ = std::make_unique<std::atomic<bool>[]>(chunk_count_);
  }
  for (size_t c = 0; c < chunk_count_; ++c)
    chunk_done_[c].store(false, std::memory_order_relaxed);
  worker_chunk_ = SIZE_MAX;
  next_chunk_.store(0, std::memory_order_relaxed);
  chunks_ahead_.store(0, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    has_work_ = true;
  }
  cv_.notify_all();
}

DecodedRecord& DecodeStage::Get(size_t i) {
  const auto decode_here = [&](DecodedRecord& record) -> DecodedRecord& {
    record.status = decoder_.Decode(records_[i].payload, &record.event);
    record.kept = false;
    return record;
  };
  if (!threaded()) return decode_here(decoded_[0]);
  const size_t chunk = i / kChunk;
  if (chunk == worker_chunk_) return decode_here(decoded_[i]);
  if (chunk_done_[chunk].load(std::memory_order_acquire)) return decoded_[i];
  // Every earlier chunk was claimed, so `chunk` is the next one unless the
  // thread has it already.
  size_t unclaimed = chunk;
  if (next_chunk_.compare_exchange_strong(unclaimed, chunk + 1,
                                          std::memory_order_acq_rel)) {
    worker_chunk_ = chunk;
    return decode_here(decoded_[i]);
  }
  // The thread is decoding it right now.
  int spins = 0;
  while (!chunk_done_[chunk].load(std::memory_order_acquire)) {
    if (++spins > 64) std::this_thread::yield();
  }
  return decoded_[i];
}

void DecodeStage::Finish() {
  if (!threaded()) return;
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !has_work_; });
}

void DecodeStage::Loop() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return has_work_ || stopping_; });
      if (stopping_) return;
    }
    ahead_decoder_.SetWallClock(wall_clock_ms_);
    const size_t n = records_.size();
    while (true) {
      const size_t chunk = next_chunk_.fetch_add(1, std::memory_order_acq_rel);
      if (chunk >= chunk_count_) break;
      for (size_t i = chunk * kChunk; i < std::min(n, (chunk + 1) * kChunk);
           ++i) {
        DecodeAndKeep(&ahead_decoder_, records_[i].payload, &decoded_[i]);
      }
      chunk_done_[chunk].store(true, std::memory_order_release);
      chunks_ahead_.fetch_add(1, std::memory_order_release);
    }
    {
      std::lock_guard lock(mu_);
      has_work_ = false;
    }
    cv_.notify_all();
  }
}

void DecodeAndKeep(OrderDecoder* decoder, absl::string_view payload,
                   DecodedRecord* record) {
  record->status = decoder->Decode(payload, &record->event);
  // A bad record's status is its own already.
  if (record->status.ok()) KeepDecodedStrings(record);
  record->kept = true;
}

}  // namespace tillstream
