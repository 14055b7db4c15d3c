// The changelog's records and their replay (state/changelog.h): only
// checkpoints whose marker was written count, the last write of a key wins,
// deletes are tombstones.
#include "state/changelog.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tillstream {
namespace {

using Writes = std::vector<
    std::tuple<std::string, std::string, std::optional<std::string>>>;

// Feeds one checkpoint's records (from EncodeChangelog) to `replay`;
// `keep` < 0: all of them, else only the first `keep` (a crash cut it
// short).
void Feed(ChangelogReplay* replay, int64_t* offset,
          const StateWriteBatch& batch, uint64_t epoch, int64_t number,
          int keep = -1) {
  const std::vector<ChangelogRecord> records =
      EncodeChangelog(batch, epoch, number);
  const std::string header = ChangelogHeaderValue(epoch, number);
  for (size_t i = 0; i < records.size(); ++i) {
    if (keep >= 0 && static_cast<int>(i) >= keep) break;
    std::optional<absl::string_view> value;
    if (records[i].value) value = *records[i].value;
    ASSERT_TRUE(replay->Add((*offset)++, records[i].key, value, header).ok());
  }
}

Writes Applied(ChangelogReplay* replay) {
  Writes writes;
  const StateWriteBatch batch = replay->TakeWrites();
  for (const StateWriteBatch::Write& w : batch.writes())
    writes.emplace_back(w.family, w.key, w.value);
  return writes;
}

TEST(ChangelogTest, CompletedCheckpointsLastWriteWinsDeletesAreTombstones) {
  StateWriteBatch first;
  first.Put("kpi/store_day", "w1", "a");
  first.Put("kpi/store_day", "w2", "");  // empty, not a tombstone
  first.Put("engine", "p", "progress-1");
  StateWriteBatch second;
  second.Put("kpi/store_day", "w1", "b");
  second.Delete("kpi/store_day", "w2");
  second.Put("engine", "p", "progress-2");
  ChangelogReplay replay;
  int64_t offset = 0;
  Feed(&replay, &offset, first, 7, 1);
  Feed(&replay, &offset, second, 7, 2);
  EXPECT_EQ(replay.records(), 8);
  EXPECT_EQ(replay.checkpoints(), 2);
  EXPECT_EQ(replay.last_marker_offset(), 7);
  EXPECT_EQ(Applied(&replay), (Writes{{"kpi/store_day", "w1", "b"},
                                      {"kpi/store_day", "w2", std::nullopt},
                                      {"engine", "p", "progress-2"}}));
}

TEST(ChangelogTest, ACheckpointCutShortIsNeverRestored) {
  StateWriteBatch one;
  one.Put("f", "a", "1");
  StateWriteBatch cut;  // the crashed run's checkpoint 2: no marker
  cut.Put("f", "stale", "x");
  cut.Put("f", "a", "2");
  StateWriteBatch again;  // the next run's checkpoint 2, other content
  again.Put("f", "a", "3");
  ChangelogReplay replay;
  int64_t offset = 0;
  Feed(&replay, &offset, one, 1, 1);
  Feed(&replay, &offset, cut, 1, 2, /*keep=*/2);
  Feed(&replay, &offset, again, 2, 2);
  EXPECT_EQ(replay.checkpoints(), 2);
  EXPECT_EQ(Applied(&replay), (Writes{{"f", "a", "3"}}));
}

TEST(ChangelogTest, ALaterMarkerCompletesEarlierCheckpointsOfItsRun) {
  // Compaction keeps one marker per run: the last. Checkpoint 1's records
  // still count, and so do those of checkpoint 2 whose marker is gone.
  StateWriteBatch one;
  one.Put("f", "a", "1");
  StateWriteBatch two;
  two.Put("f", "b", "2");
  ChangelogReplay replay;
  int64_t offset = 0;
  Feed(&replay, &offset, one, 5, 1, /*keep=*/1);
  Feed(&replay, &offset, two, 5, 2);
  EXPECT_EQ(Applied(&replay), (Writes{{"f", "a", "1"}, {"f", "b", "2"}}));
}

TEST(ChangelogTest, AForeignRecordIsRefused) {
  ChangelogReplay replay;
  EXPECT_EQ(replay.Add(3, "k", "v", "").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(replay
                .Add(4, std::string("f\0k", 3), "no prefix",
                     ChangelogHeaderValue(1, 1))
                .code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tillstream
