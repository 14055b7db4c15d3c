#ifndef TILLSTREAM_ENGINE_DECODED_RECORD_H_
#define TILLSTREAM_ENGINE_DECODED_RECORD_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "connectors/order_decoder.h"
#include "engine/order_event.h"

namespace tillstream {

// A record's decoding: the event, or why it is a bad record.
struct DecodedRecord {
  absl::Status status;
  OrderEvent event;
  // Kept (DecodeAndKeep: decoded on another thread than the one that uses
  // it): the event's views point into the payload, `lines` and `text`,
  // valid until the record is decoded again (and the payload's batch lives).
  // Otherwise (decoded inline) they point into the payload and the decoder,
  // valid until its next Decode.
  bool kept = false;
  std::vector<OrderLine> lines;
  std::string text;
};

// Decodes `payload` (a record of a source's batch, which outlives `record`)
// into `record` and copies what the event's views point to in the decoder's
// scratch into the record's own storage (`lines`, `text`), so that it stays
// valid until the record is decoded again while `decoder` reuses its scratch
// for the next record; marks it kept.
void DecodeAndKeep(OrderDecoder* decoder, absl::string_view payload,
                   DecodedRecord* record);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_DECODED_RECORD_H_
