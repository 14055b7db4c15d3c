#ifndef TILLSTREAM_CONNECTORS_ORDER_DECODER_H_
#define TILLSTREAM_CONNECTORS_ORDER_DECODER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/order_event.h"
#include "engine/pipeline_config.h"
#include "simdjson.h"

namespace tillstream {

struct OrderDecoderOptions {
  // Currency of an event that names none (DESIGN.md: "default from the
  // pipeline").
  std::string default_currency = "USD";
  InputLimits limits;
};

// Decodes one order event (DESIGN.md "Input contract") from JSON bytes with
// simdjson's on-demand parser. Every rule is enforced; money is parsed from the
// decimal text into integer cents, never through a double.
//
//   OrderDecoder decoder({});
//   OrderEvent event;
//   absl::Status s = decoder.Decode(payload, &event);
//   if (!s.ok()) dead_letter(payload, s.message());  // "missing field
//   lines[0].qty"
//
// On success `event` holds views into this decoder's scratch (and into
// `payload`), valid until the next Decode call. A string without escapes is
// a view of the parsed bytes, never copied. The error message is the
// dead-letter reason. One decoder per thread; not thread-safe. Nothing in the
// payload can make it crash or throw.
class OrderDecoder {
 public:
  explicit OrderDecoder(OrderDecoderOptions options);
  OrderDecoder(const OrderDecoder&) = delete;
  OrderDecoder& operator=(const OrderDecoder&) = delete;

  [[nodiscard]] absl::Status Decode(absl::string_view payload,
                                    OrderEvent* event);

  // Decode for a payload that outlives the event (a record of a source's
  // batch): parsed where it lies, without a copy, when the bytes simdjson
  // reads past its end (loaded, never interpreted) lie on the same memory
  // page as its last byte, as for about 98% of records wherever they lie;
  // else from a padded copy. The event's strings that need no unescaping
  // then view `payload` itself.
  [[nodiscard]] absl::Status DecodeInPlace(absl::string_view payload,
                                           OrderEvent* event);

  // Whether the last event decoded has strings in this decoder's scratch
  // (unescaped, parsed from a copy, or the default currency), which a caller
  // keeping the event past the next Decode must copy. Otherwise each one
  // views the payload or is a literal ("unknown", "pos"). Its lines are in
  // the scratch either way.
  bool StringsInScratch() const { return strings_in_scratch_; }

  // The wall clock (epoch ms), for limits.max_future; set once per batch.
  void SetWallClock(int64_t epoch_ms);

 private:
  // A field's name for messages ("order_id", "lines[2].sku"), spelled out
  // only when a message needs it: a record has a few fields per line, and
  // formatting each name up front cost several allocations per record.
  struct FieldName {
    FieldName(const char* top_level) : field(top_level) {}  // NOLINT
    FieldName(size_t line_index, absl::string_view line_field)
        : field(line_field), line(static_cast<int64_t>(line_index)) {}
    std::string Spell() const;

    absl::string_view field;
    int64_t line = -1;  // index in lines[]; -1 for a top-level field
  };

  // Refuses an empty or oversized record before it is copied or parsed.
  absl::Status CheckSize(absl::string_view payload) const;
  // Decodes `payload`'s bytes at `json` (the payload itself or a copy),
  // followed by simdjson's padding: `capacity` bytes in all.
  absl::Status Parse(absl::string_view payload, const char* json,
                     size_t capacity, OrderEvent* event);
  absl::Status DecodeLines(simdjson::ondemand::value& value);
  absl::Status ReadString(simdjson::ondemand::value& v, const FieldName& name,
                          absl::string_view* out,
                          bool allow_empty = false) const;
  absl::Status ReadCents(simdjson::ondemand::value& v, const FieldName& name,
                         int64_t* cents) const;
  absl::Status JsonError(simdjson::error_code error,
                         const char* location) const;

  OrderDecoderOptions options_;
  simdjson::ondemand::parser parser_;
  simdjson::dom::parser dom_parser_;  // only to classify non-object records
  std::vector<char> padded_;          // payload copy with simdjson's padding
  std::vector<OrderLine> lines_;
  size_t payload_size_ = 0;     // of the record being decoded, for messages
  const char* json_ = nullptr;  // the bytes parsed: payload or padded_
  // Whether the record holds a backslash anywhere: without one (nearly
  // always) no string needs scanning for escapes.
  bool record_has_backslash_ = true;
  bool strings_in_scratch_ = true;
  int64_t max_ts_ms_ = INT64_MAX;  // wall clock + limits.max_future
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_ORDER_DECODER_H_
