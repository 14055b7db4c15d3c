#include "engine/decode_stage.h"

#include <utility>

namespace tillstream {
namespace {

// Publishing progress per record would move the counter's cache line
// between the cores on every record.
constexpr size_t kPublishEvery = 16;

// Points `*view` at a copy of its bytes at the end of `text`, whose
// capacity was reserved beforehand (so earlier views stay valid).
void Keep(absl::string_view* view, std::string* text) {
  if (view->empty()) return;
  const size_t at = text->size();
  text->append(view->data(), view->size());
  *view = absl::string_view(text->data() + at, view->size());
}

}  // namespace

DecodeStage::DecodeStage(OrderDecoderOptions options, bool threaded)
    : decoder_(std::move(options)) {
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
  seen_ready_ = 0;
  if (!threaded()) {
    decoder_.SetWallClock(wall_clock_ms);
    return;
  }
  if (decoded_.size() < records.size()) decoded_.resize(records.size());
  ready_.store(0, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    has_work_ = true;
  }
  cv_.notify_all();
}

DecodedRecord& DecodeStage::Get(size_t i) {
  if (!threaded()) {
    DecodedRecord& record = decoded_[0];
    record.status = decoder_.Decode(records_[i].payload, &record.event);
    return record;
  }
  int spins = 0;
  while (i >= seen_ready_) {
    seen_ready_ = ready_.load(std::memory_order_acquire);
    // The decoder is behind (or was descheduled): give the core up rather
    // than spin against it.
    if (i >= seen_ready_ && ++spins > 64) std::this_thread::yield();
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
    decoder_.SetWallClock(wall_clock_ms_);
    const size_t n = records_.size();
    for (size_t i = 0; i < n; ++i) {
      DecodeAhead(i);
      if ((i + 1) % kPublishEvery == 0 || i + 1 == n)
        ready_.store(i + 1, std::memory_order_release);
    }
    {
      std::lock_guard lock(mu_);
      has_work_ = false;
    }
    cv_.notify_all();
  }
}

void DecodeStage::DecodeAhead(size_t i) {
  DecodedRecord& record = decoded_[i];
  OrderEvent& event = record.event;
  record.status = decoder_.Decode(records_[i].payload, &event);
  if (!record.status.ok()) return;
  size_t bytes = event.order_id.size() + event.store_id.size() +
                 event.region.size() + event.customer_id.size() +
                 event.channel.size() + event.currency.size();
  for (const OrderLine& line : event.lines)
    bytes += line.sku.size() + line.category.size();
  record.text.clear();
  record.text.reserve(bytes);
  for (absl::string_view* view :
       {&event.order_id, &event.store_id, &event.region, &event.customer_id,
        &event.channel, &event.currency}) {
    Keep(view, &record.text);
  }
  record.lines.assign(event.lines.begin(), event.lines.end());
  for (OrderLine& line : record.lines) {
    Keep(&line.sku, &record.text);
    Keep(&line.category, &record.text);
  }
  event.lines = record.lines;
}

}  // namespace tillstream
