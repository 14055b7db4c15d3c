#include "connectors/repartition_record.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "state/state_codec.h"

namespace tillstream {
namespace {

// The key's layout: version, stage, kind (a byte each), then varints:
// sender, seq, and by kind: an event a task forwards adds its origin
// partition and offset and the first-order flag; a watermark its millis.
constexpr char kVersion = 1;

}  // namespace

void EncodeRoute(const Route& route, std::string* key) {
  key->assign({kVersion, static_cast<char>(route.stage),
               static_cast<char>(route.kind)});
  StateEncoder encoder(key);
  encoder.I64(route.sender);
  encoder.I64(route.seq);
  switch (route.kind) {
    case RouteKind::kEvent:
      if (route.stage == RouteStage::kTask) {
        encoder.I64(route.origin_partition.value);
        encoder.I64(route.origin_offset.value);
        encoder.Bool(route.first_order);
      }
      break;
    case RouteKind::kWatermark:
      encoder.I64(route.watermark.millis());
      break;
    case RouteKind::kEnd:
      break;
  }
}

absl::StatusOr<Route> DecodeRoute(absl::string_view key,
                                  absl::string_view topic,
                                  PartitionId partition, Offset offset) {
  auto refuse = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(topic, "[", partition.value,
                                                   "] offset ", offset.value,
                                                   ": route key ", what));
  };
  if (key.empty()) return refuse("missing");
  if (key[0] != kVersion) {
    return refuse(
        absl::StrCat("of unknown version ", static_cast<int>(key[0])));
  }
  if (key.size() < 3) return refuse("truncated");
  Route route;
  const uint8_t stage = static_cast<uint8_t>(key[1]);
  const uint8_t kind = static_cast<uint8_t>(key[2]);
  if (stage != static_cast<uint8_t>(RouteStage::kIngest) &&
      stage != static_cast<uint8_t>(RouteStage::kTask)) {
    return refuse(absl::StrCat("names an unknown stage ", stage));
  }
  if (kind < static_cast<uint8_t>(RouteKind::kEvent) ||
      kind > static_cast<uint8_t>(RouteKind::kEnd)) {
    return refuse(absl::StrCat("names an unknown kind ", kind));
  }
  route.stage = static_cast<RouteStage>(stage);
  route.kind = static_cast<RouteKind>(kind);
  StateDecoder decoder(key.substr(3));
  const int64_t sender = decoder.I64();
  route.seq = decoder.I64();
  route.origin_partition = PartitionId{static_cast<int32_t>(sender)};
  route.origin_offset = Offset{route.seq};
  if (route.kind == RouteKind::kEvent && route.stage == RouteStage::kTask) {
    const int64_t origin_partition = decoder.I64();
    route.origin_offset = Offset{decoder.I64()};
    route.first_order = decoder.Bool();
    if (origin_partition < 0 ||
        origin_partition > std::numeric_limits<int32_t>::max()) {
      return refuse("names a bad origin partition");
    }
    route.origin_partition =
        PartitionId{static_cast<int32_t>(origin_partition)};
  } else if (route.kind == RouteKind::kWatermark) {
    route.watermark = Timestamp::FromMillis(decoder.I64());
  }
  if (!decoder.ok()) return refuse("truncated");
  if (!decoder.done()) return refuse("has bytes past its end");
  if (sender < 0 || sender > std::numeric_limits<int32_t>::max() ||
      route.seq < 0) {
    return refuse("names a bad sender or sequence");
  }
  route.sender = static_cast<int32_t>(sender);
  return route;
}

}  // namespace tillstream
