#include "engine/changelog_restore.h"

#include <optional>
#include <string>

#include "engine/status_macros.h"
#include "state/changelog.h"
#include "state/state_codec.h"

namespace tillstream {

absl::StatusOr<ChangelogRestore> RestoreFromChangelog(
    StateStore* store, const ChangelogTopic& topic) {
  ChangelogRestore result;
  absl::StatusOr<std::optional<std::string>> position =
      store->Get(kEngineFamily, kChangelogPositionKey);
  if (!position.ok()) return position.status();
  if (const std::string stored = position->value_or(""); !stored.empty()) {
    StateDecoder in(stored);
    result.from = in.I64() + 1;
    if (!in.done()) return absl::DataLossError("engine: bad changelog offset");
  }
  ChangelogReplay replay;
  TS_RETURN_IF_ERROR(
      ReadChangelog(topic, result.from,
                    [&replay](int64_t offset, absl::string_view key,
                              std::optional<absl::string_view> value,
                              absl::string_view header) {
                      return replay.Add(offset, key, value, header);
                    }));
  result.records = replay.records();
  result.checkpoints = replay.checkpoints();
  if (replay.last_marker_offset() < 0) return result;
  StateWriteBatch batch = replay.TakeWrites();
  result.writes = static_cast<int64_t>(batch.writes().size());
  std::string offset;
  StateEncoder(&offset).I64(replay.last_marker_offset());
  batch.Put(kEngineFamily, kChangelogPositionKey, offset);
  TS_RETURN_IF_ERROR(store->Write(batch));
  return result;
}

}  // namespace tillstream
