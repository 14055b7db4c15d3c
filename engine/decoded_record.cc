#include "engine/decoded_record.h"

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

void DecodeAndKeep(OrderDecoder* decoder, absl::string_view payload,
                   DecodedRecord* record) {
  record->status = decoder->Decode(payload, &record->event);
  // A bad record's status is its own already.
  if (record->status.ok()) KeepDecodedStrings(record);
  record->kept = true;
}

}  // namespace tillstream
