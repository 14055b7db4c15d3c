#ifndef TILLSTREAM_OPERATORS_GROUP_CHECKPOINTS_H_
#define TILLSTREAM_OPERATORS_GROUP_CHECKPOINTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "operators/window_listener.h"
#include "state/append_only_table.h"
#include "state/state_codec.h"
#include "state/state_store.h"

namespace tillstream {

// The error for a checkpoint made under other rule settings.
inline absl::Status RuleChanged(absl::string_view family, absl::string_view was,
                                absl::string_view is) {
  return absl::FailedPreconditionError(absl::StrCat(
      family, ": the rule changed since the checkpoint (", was, " -> ", is,
      "); keep its settings, or start from a new state directory"));
}

// The checkpoint side of an operator that keeps one state per KPI group
// (rolling, anomaly, early warning): which groups changed since the last
// checkpoint, and their records in the operator's column family:
//   "m"               the operator's own fields (its encoder writes them)
//   "g" + group id    one group's state
// A group is marked when a window emission or a period close touches it, so
// a checkpoint writes only those. One thread.
class GroupCheckpoints {
 public:
  // `rule` sums up the rule's settings that give the state its meaning
  // (period length, zone, metric, season ...): a checkpoint made under other
  // settings is refused rather than misread.
  GroupCheckpoints(std::string family, std::string rule)
      : family_(std::move(family)), rule_(std::move(rule)) {}

  const std::string& family() const { return family_; }
  void Enable() { enabled_ = true; }
  void Mark(uint32_t group_id) {
    if (enabled_ && marked_.insert(group_id).second) dirty_.push_back(group_id);
  }

  // Puts every marked group (`encode(state, encoder)`) and the meta record.
  template <typename State, typename EncodeGroup, typename EncodeMeta>
  void Write(const absl::flat_hash_map<uint32_t, State>& groups,
             EncodeGroup encode, EncodeMeta encode_meta,
             StateWriteBatch* batch) {
    std::string value;
    for (uint32_t id : dirty_) {
      auto it = groups.find(id);
      if (it == groups.end()) continue;
      value.clear();
      StateEncoder encoder(&value);
      encoder.U64(kVersion);
      EncodeGroupKey(it->second.group, &encoder);
      encode(it->second, &encoder);
      batch->Put(family_, IdKey('g', id), value);
    }
    dirty_.clear();
    marked_.clear();
    value.clear();
    StateEncoder meta(&value);
    meta.U64(kVersion);
    meta.Bytes(rule_);
    encode_meta(&meta);
    batch->Put(family_, "m", value);
  }

  // Reads the meta record (`decode_meta(decoder)`) and every group
  // (`decode(state, decoder)`), filling `groups` and `order`.
  template <typename State, typename DecodeGroup, typename DecodeMeta>
  absl::Status Read(StateStore* store,
                    absl::flat_hash_map<uint32_t, State>* groups,
                    absl::btree_map<std::string, uint32_t>* order,
                    DecodeGroup decode, DecodeMeta decode_meta) {
    absl::StatusOr<std::optional<std::string>> meta_bytes =
        store->Get(family_, "m");
    if (!meta_bytes.ok()) return meta_bytes.status();
    if (!meta_bytes->has_value()) return absl::OkStatus();
    StateDecoder meta(**meta_bytes);
    if (meta.U64() != kVersion) return Corrupt("incompatible version");
    const absl::string_view rule = meta.Bytes();
    if (meta.ok() && rule != rule_) return RuleChanged(family_, rule, rule_);
    decode_meta(&meta);
    if (!meta.done()) return Corrupt("bad meta record");
    absl::Status status;
    absl::Status scanned = store->Scan(
        family_, "g", [&](absl::string_view key, absl::string_view value) {
          StateDecoder decoder(value);
          const uint32_t id =
              static_cast<uint32_t>(ReadOrderedKey(key.substr(1)));
          State state;
          if (decoder.U64() != kVersion) {
            status.Update(Corrupt("incompatible version"));
            return;
          }
          state.group.key = std::string(decoder.Bytes());
          state.group.json = std::string(decoder.Bytes());
          decode(state, &decoder);
          if (key.size() != 9 || !decoder.done()) {
            status.Update(Corrupt("bad group record"));
            return;
          }
          order->emplace(state.group.key, id);
          groups->insert_or_assign(id, std::move(state));
        });
    return scanned.ok() ? status : scanned;
  }

 private:
  static constexpr uint64_t kVersion = 1;
  static void EncodeGroupKey(const KpiGroup& group, StateEncoder* encoder) {
    encoder->Bytes(group.key);
    encoder->Bytes(group.json);
  }
  absl::Status Corrupt(absl::string_view what) const {
    return absl::DataLossError(absl::StrCat(family_, ": ", what));
  }

  const std::string family_;
  const std::string rule_;
  bool enabled_ = false;
  std::vector<uint32_t> dirty_;
  absl::flat_hash_set<uint32_t> marked_;
};

// Encodings of the containers the group states hold.
template <typename Map, typename EncodeValue>
void EncodeMap(const Map& map, StateEncoder* out, EncodeValue encode_value) {
  out->U64(map.size());
  for (const auto& [key, value] : map) {
    out->I64(key);
    encode_value(value);
  }
}
template <typename Map, typename DecodeValue>
void DecodeMap(StateDecoder* in, Map* map, DecodeValue decode_value) {
  const size_t n = in->Count();
  for (size_t i = 0; i < n; ++i) {
    const int64_t key = in->I64();
    decode_value(&(*map)[key]);
  }
}

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_GROUP_CHECKPOINTS_H_
