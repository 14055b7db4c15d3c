// Fuzz target: any bytes through the order decoder. It must never crash, and
// an accepted event must satisfy the input contract.
#include <cstdint>
#include <cstdlib>

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
  return 0;
}
