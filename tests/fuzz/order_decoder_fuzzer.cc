// Fuzz target: any bytes through the order decoder. It must never crash, an
// accepted event must satisfy the input contract, and decoding in place must
// give what decoding a copy gives.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "connectors/order_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static tillstream::OrderDecoder* decoder = [] {
    auto* d = new tillstream::OrderDecoder(tillstream::OrderDecoderOptions{});
    d->SetWallClock(1'704'067'200'000);
    return d;
  }();
  tillstream::OrderEvent event;
  absl::string_view payload(reinterpret_cast<const char*>(data), size);
  absl::Status status = decoder->Decode(payload, &event);
  if (status.ok()) {
    // Contract checks: a violation aborts, which the fuzzer reports.
    if (event.order_id.empty() || event.store_id.empty() || event.lines.empty())
      std::abort();
    int64_t amount = 0;
    for (const tillstream::OrderLine& line : event.lines) {
      if (line.qty <= 0 || line.unit_price_cents < 0 || line.sku.empty())
        std::abort();
      amount += line.qty * line.unit_price_cents;
    }
    if (amount != event.totals.amount_cents) std::abort();
  } else if (status.message().empty()) {
    std::abort();  // every bad record has a reason
  }

  // In place, from a buffer with room for simdjson's padding (what follows a
  // record within its page, which is all DecodeInPlace reads, is beyond the
  // fuzzer's allocation here).
  static std::vector<char> buffer;
  buffer.assign(size + simdjson::SIMDJSON_PADDING, '\0');
  if (size > 0) std::memcpy(buffer.data(), data, size);
  const std::string copied_order_id(event.order_id);
  const std::string copied_store_id(event.store_id);
  tillstream::OrderEvent in_place;
  absl::Status in_place_status =
      decoder->DecodeInPlace(absl::string_view(buffer.data(), size), &in_place);
  if (in_place_status != status) std::abort();
  if (status.ok() &&
      (in_place.order_id != copied_order_id ||
       in_place.store_id != copied_store_id ||
       in_place.totals.amount_cents != event.totals.amount_cents))
    std::abort();
  return 0;
}
