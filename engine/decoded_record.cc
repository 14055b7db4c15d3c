#include "engine/decoded_record.h"

namespace tillstream {
namespace {

// Whether `view` lies in the record's payload, which outlives the record.
bool InPayload(const OrderEvent& event, absl::string_view view) {
  return view.data() >= event.payload.data() &&
         view.data() + view.size() <=
             event.payload.data() + event.payload.size();
}

// Points `*view`, unless it is empty or lies in the payload, at a copy of
// its bytes at the end of `text`, whose capacity was reserved beforehand (so
// earlier views stay valid).
void Keep(const OrderEvent& event, absl::string_view* view, std::string* text) {
  if (view->empty() || InPayload(event, *view)) return;
  const size_t at = text->size();
  text->append(view->data(), view->size());
  *view = absl::string_view(text->data() + at, view->size());
}

// Points the event's lines, and its strings that lie in the decoder's
// scratch (strings it unescaped or copied, its defaults), at copies in the
// record's own storage. The strings are only looked at when the decoder
// says some lie there: reading back the views it has just written stalled
// the CPU on nearly every record, for nothing.
void KeepDecoded(const OrderDecoder& decoder, DecodedRecord* record) {
  OrderEvent& event = record->event;
  record->lines.assign(event.lines.begin(), event.lines.end());
  event.lines = record->lines;
  if (!decoder.StringsInScratch()) return;
  size_t bytes = 0;
  const auto count = [&](absl::string_view view) {
    if (!InPayload(event, view)) bytes += view.size();
  };
  for (absl::string_view view :
       {event.order_id, event.store_id, event.region, event.customer_id,
        event.channel, event.currency}) {
    count(view);
  }
  for (const OrderLine& line : event.lines) {
    count(line.sku);
    count(line.category);
  }
  record->text.clear();
  record->text.reserve(bytes);
  for (absl::string_view* view :
       {&event.order_id, &event.store_id, &event.region, &event.customer_id,
        &event.channel, &event.currency}) {
    Keep(event, view, &record->text);
  }
  for (OrderLine& line : record->lines) {
    Keep(event, &line.sku, &record->text);
    Keep(event, &line.category, &record->text);
  }
}

}  // namespace

void DecodeAndKeep(OrderDecoder* decoder, absl::string_view payload,
                   DecodedRecord* record) {
  record->status = decoder->DecodeInPlace(payload, &record->event);
  // A bad record's status is its own already.
  if (record->status.ok()) KeepDecoded(*decoder, record);
  record->kept = true;
}

}  // namespace tillstream
