#ifndef TILLSTREAM_ENGINE_CHANGELOG_RESTORE_H_
#define TILLSTREAM_ENGINE_CHANGELOG_RESTORE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "connectors/changelog_reader.h"
#include "state/state_store.h"

namespace tillstream {

// The engine's own column family, and its key for the changelog offset of
// the last checkpoint the store holds (a local record, never in the log).
inline constexpr absl::string_view kEngineFamily = "engine";
inline constexpr absl::string_view kChangelogPositionKey = "l";

struct ChangelogRestore {
  int64_t from = 0;         // the first offset read
  int64_t records = 0;      // records read
  int64_t checkpoints = 0;  // checkpoint markers read
  int64_t writes = 0;       // state writes applied to the store
};

// Brings `store` up to the newest complete checkpoint in the changelog,
// reading from the record after the last one it holds: nothing when it is
// current, the checkpoints it missed after a crash, or all of the state
// into an empty store (a lost disk, a new machine). Before the state is
// restored into the operators.
absl::StatusOr<ChangelogRestore> RestoreFromChangelog(
    StateStore* store, const ChangelogTopic& topic);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_CHANGELOG_RESTORE_H_
