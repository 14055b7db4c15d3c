#include "engine/replay_filter.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "state/state_codec.h"

namespace tillstream {
namespace {
constexpr uint64_t kVersion = 1;
}  // namespace

std::string ReplayFilter::Encode() const {
  std::vector<std::pair<uint64_t, int64_t>> senders(highest_.begin(),
                                                    highest_.end());
  std::sort(senders.begin(), senders.end());
  std::string out;
  StateEncoder encoder(&out);
  encoder.U64(kVersion);
  encoder.U64(senders.size());
  for (const auto& [key, seq] : senders) {
    encoder.U64(key);
    encoder.I64(seq);
  }
  return out;
}

absl::Status ReplayFilter::Decode(absl::string_view record) {
  StateDecoder decoder(record);
  if (decoder.U64() != kVersion) {
    return absl::DataLossError("replay filter: incompatible version");
  }
  absl::flat_hash_map<uint64_t, int64_t> highest;
  const size_t senders = decoder.Count();
  for (size_t i = 0; i < senders; ++i) {
    const uint64_t key = decoder.U64();
    highest[key] = decoder.I64();
  }
  if (!decoder.done() || highest.size() != senders) {
    return absl::DataLossError("replay filter: bad record");
  }
  highest_ = std::move(highest);
  return absl::OkStatus();
}

}  // namespace tillstream
