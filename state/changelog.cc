#include "state/changelog.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace tillstream {
namespace {

// Marker keys: a NUL (no family is empty) and the epoch, one key per run so
// that compaction keeps each run's last marker.
// A value starts with this byte, so that an empty state value is never
// mistaken for a tombstone (a null value).
constexpr absl::string_view kValuePrefix = "=";

std::string MarkerKey(uint64_t epoch) {
  return absl::StrFormat("%c%016x", '\0', epoch);
}

void AppendBigEndian(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>(v >> shift));
}

uint64_t ReadBigEndian(absl::string_view in) {
  uint64_t v = 0;
  for (char c : in) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

}  // namespace

std::string ChangelogHeaderValue(uint64_t epoch, int64_t number) {
  std::string value;
  AppendBigEndian(epoch, &value);
  AppendBigEndian(static_cast<uint64_t>(number), &value);
  return value;
}

std::vector<ChangelogRecord> EncodeChangelog(const StateWriteBatch& batch,
                                             uint64_t epoch, int64_t number) {
  std::vector<ChangelogRecord> records;
  records.reserve(batch.writes().size() + 1);
  for (const StateWriteBatch::Write& write : batch.writes()) {
    std::optional<std::string> value;
    if (write.value) value = absl::StrCat(kValuePrefix, *write.value);
    records.push_back(
        {absl::StrCat(write.family, absl::string_view("\0", 1), write.key),
         std::move(value)});
  }
  records.push_back({MarkerKey(epoch), absl::StrCat(number)});
  return records;
}

absl::Status ChangelogReplay::Add(int64_t offset, absl::string_view key,
                                  std::optional<absl::string_view> value,
                                  absl::string_view header) {
  if (header.size() != 16 || key.empty()) {
    return absl::DataLossError(absl::StrCat("changelog offset ", offset,
                                            ": not a tillstream state record"));
  }
  ++records_;
  const uint64_t epoch = ReadBigEndian(header.substr(0, 8));
  const auto number = static_cast<int64_t>(ReadBigEndian(header.substr(8)));
  if (key.front() != '\0') {
    if (value.has_value() && !absl::ConsumePrefix(&*value, kValuePrefix)) {
      return absl::DataLossError(
          absl::StrCat("changelog offset ", offset, ": bad state value"));
    }
    pending_[epoch].push_back(
        {number, std::string(key),
         value ? std::optional<std::string>(*value) : std::nullopt});
    return absl::OkStatus();
  }
  // A marker completes its run's checkpoints up to `number`; records of a
  // later (cut short) checkpoint of the run stay pending.
  if (checkpoints_++ == 0) first_checkpoint_ = number;
  last_checkpoint_ = number;
  last_marker_offset_ = offset;
  auto it = pending_.find(epoch);
  if (it == pending_.end()) return absl::OkStatus();
  std::vector<Pending> later;
  for (Pending& record : it->second) {
    if (record.number > number) {
      later.push_back(std::move(record));
      continue;
    }
    auto [slot, inserted] = index_.try_emplace(record.key, writes_.size());
    if (inserted) {
      writes_.emplace_back(std::move(record.key), std::move(record.value));
    } else {
      writes_[slot->second].second = std::move(record.value);
    }
  }
  it->second = std::move(later);
  return absl::OkStatus();
}

StateWriteBatch ChangelogReplay::TakeWrites() {
  StateWriteBatch batch;
  for (auto& [key, value] : writes_) {
    const size_t split = key.find('\0');
    const absl::string_view family = absl::string_view(key).substr(0, split);
    const absl::string_view state_key =
        absl::string_view(key).substr(split + 1);
    if (value.has_value()) {
      batch.Put(family, state_key, *value);
    } else {
      batch.Delete(family, state_key);
    }
  }
  writes_.clear();
  index_.clear();
  return batch;
}

}  // namespace tillstream
