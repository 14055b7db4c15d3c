#ifndef TILLSTREAM_ENGINE_CHANGELOG_RESTORE_H_
#define TILLSTREAM_ENGINE_CHANGELOG_RESTORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "connectors/changelog_reader.h"
#include "state/state_store.h"

namespace tillstream {

// The engine's own column family, and its key for where the store stands in
// the changelog: the offset of its last checkpoint's marker and that
// checkpoint's number (a local record, never in the log).
inline constexpr absl::string_view kEngineFamily = "engine";
inline constexpr absl::string_view kChangelogPositionKey = "l";
std::string EncodeChangelogPosition(int64_t offset, int64_t checkpoint);

struct ChangelogRestore {
  int64_t from = 0;         // the first offset read
  int64_t records = 0;      // records read
  int64_t checkpoints = 0;  // checkpoint markers read
  int64_t writes = 0;       // state writes applied to the store
  // The store held a checkpoint that the changelog does not continue
  // (another instance went on from an earlier one): it was replaced.
  bool replaced = false;
};

// Brings `store` (with column `families`) up to the newest complete
// checkpoint in the changelog, reading from the record after the last one it
// holds: nothing when it is current, the checkpoints it missed after a
// crash, or all of the state into an empty store (a lost disk, a new
// machine). When the changelog's next checkpoint does not follow the
// store's (another instance took over from an earlier checkpoint, e.g. the
// committed one before this store's unfinished transaction), the store is
// emptied and rebuilt from the whole changelog in the same write. Before the
// state is restored into the operators.
// `read(from, visit)` visits the changelog's records from offset `from` to
// its end (ReadChangelog on the topic).
using ChangelogReader =
    std::function<absl::Status(int64_t from, ChangelogVisitor visit)>;
absl::StatusOr<ChangelogRestore> RestoreFromChangelog(
    StateStore* store, const std::vector<std::string>& families,
    const ChangelogReader& read);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_CHANGELOG_RESTORE_H_
