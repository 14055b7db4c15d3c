#ifndef TILLSTREAM_ENGINE_ORDER_EVENT_H_
#define TILLSTREAM_ENGINE_ORDER_EVENT_H_

#include <cstdint>
#include <span>

#include "absl/strings/string_view.h"
#include "engine/timestamp.h"

namespace tillstream {

enum class OrderStatus : uint8_t { kCompleted, kRefunded, kCancelled };

// One order line, decoded. Money is integer cents.
struct OrderLine {
  absl::string_view sku;
  absl::string_view category;  // empty when absent
  int64_t qty = 0;
  int64_t unit_price_cents = 0;
  int64_t unit_cost_cents = 0;
  bool has_cost = false;
};

enum class SourceKind : uint8_t { kKafka, kFile };

// Sums over some lines of an order, before the status sign.
struct OrderTotals {
  int64_t amount_cents = 0;  // sum of qty x unit_price
  int64_t units = 0;         // sum of qty
  int64_t costed_amount_cents =
      0;  // sum of qty x unit_price, lines with a cost
  int64_t margin_cents =
      0;  // sum of qty x (unit_price - unit_cost), same lines
  void AddLine(const OrderLine& line) {
    const int64_t amount = line.qty * line.unit_price_cents;
    amount_cents += amount;
    units += line.qty;
    if (line.has_cost) {
      costed_amount_cents += amount;
      margin_cents += amount - line.qty * line.unit_cost_cents;
    }
  }
};

// Where a record came from: enough to find it again and to report it.
struct SourcePosition {
  SourceKind kind = SourceKind::kKafka;
  absl::string_view topic;  // Kafka topic, or the file name in file mode
  PartitionId partition;
  Offset offset;  // Kafka offset, or 1-based line number in file mode
};

// A decoded order event (DESIGN.md "Input contract"). Views point into the
// decoder's scratch and the source batch: valid only while the record is
// being processed; an operator that keeps anything copies or interns it.
struct OrderEvent {
  absl::string_view order_id;
  absl::string_view store_id;
  absl::string_view region;       // "unknown" when absent
  absl::string_view customer_id;  // empty = anonymous
  absl::string_view channel;      // "pos" when absent
  absl::string_view currency;     // the pipeline default when absent
  Timestamp ts;
  OrderStatus status = OrderStatus::kCompleted;
  std::span<const OrderLine> lines;
  // Totals over all `lines`, computed once by the decoder with overflow
  // checks, so that an order-level rule adds four numbers, not N lines.
  OrderTotals totals;
  absl::string_view payload;  // the original bytes
  SourcePosition source;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_ORDER_EVENT_H_
