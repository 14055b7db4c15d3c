#include "engine/changelog_restore.h"

#include <memory>
#include <optional>
#include <string>

#include "engine/status_macros.h"
#include "state/changelog.h"
#include "state/state_codec.h"

namespace tillstream {
namespace {

absl::Status Read(const ChangelogReader& read, int64_t from,
                  ChangelogReplay* replay) {
  return read(from, [replay](int64_t offset, absl::string_view key,
                             std::optional<absl::string_view> value,
                             absl::string_view header) {
    return replay->Add(offset, key, value, header);
  });
}

}  // namespace

std::string EncodeChangelogPosition(int64_t offset, int64_t checkpoint) {
  std::string position;
  StateEncoder out(&position);
  out.I64(offset);
  out.I64(checkpoint);
  return position;
}

absl::StatusOr<ChangelogRestore> RestoreFromChangelog(
    StateStore* store, const std::vector<std::string>& families,
    const ChangelogReader& read) {
  ChangelogRestore result;
  int64_t local_checkpoint = -1;  // none
  absl::StatusOr<std::optional<std::string>> position =
      store->Get(kEngineFamily, kChangelogPositionKey);
  if (!position.ok()) return position.status();
  if (const std::string stored = position->value_or(""); !stored.empty()) {
    StateDecoder in(stored);
    result.from = in.I64() + 1;
    local_checkpoint = in.I64();
    if (!in.done()) return absl::DataLossError("engine: bad changelog offset");
  }
  auto replay = std::make_unique<ChangelogReplay>();
  TS_RETURN_IF_ERROR(Read(read, result.from, replay.get()));
  StateWriteBatch batch;
  if (local_checkpoint >= 0 && replay->checkpoints() > 0 &&
      replay->first_checkpoint() != local_checkpoint + 1) {
    result.replaced = true;
    result.from = 0;
    for (const std::string& family : families) {
      TS_RETURN_IF_ERROR(store->Scan(
          family, "", [&](absl::string_view key, absl::string_view) {
            batch.Delete(family, key);
          }));
    }
    replay = std::make_unique<ChangelogReplay>();
    TS_RETURN_IF_ERROR(Read(read, 0, replay.get()));
  }
  result.records = replay->records();
  result.checkpoints = replay->checkpoints();
  if (replay->last_marker_offset() < 0) return result;
  StateWriteBatch writes = replay->TakeWrites();
  result.writes = static_cast<int64_t>(writes.writes().size());
  for (const StateWriteBatch::Write& write : writes.writes()) {
    if (write.value) {
      batch.Put(write.family, write.key, *write.value);
    } else {
      batch.Delete(write.family, write.key);
    }
  }
  // The number of the last checkpoint read is in its engine record; the
  // position only needs it to tell a continuation from another lineage.
  batch.Put(kEngineFamily, kChangelogPositionKey,
            EncodeChangelogPosition(replay->last_marker_offset(),
                                    replay->last_checkpoint()));
  TS_RETURN_IF_ERROR(store->Write(batch));
  return result;
}

}  // namespace tillstream
