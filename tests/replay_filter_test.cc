// A task's record of what each sender has sent it (engine/replay_filter.h):
// a sender that replays from its checkpoint counts nothing twice, and the
// record survives a checkpoint.
#include "engine/replay_filter.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tillstream {
namespace {

TEST(ReplayFilterTest, ReplayedRecordsAreDroppedNewOnesKept) {
  ReplayFilter filter;
  EXPECT_EQ(filter.highest(RouteStage::kIngest, 4), -1);
  // The ingest of partition 4 sends offsets 10, 12, 15 (13 and 14 went to
  // other tasks), crashes, resumes from its checkpoint at 11.
  for (int64_t seq : {10, 12, 15})
    EXPECT_TRUE(filter.Accept(RouteStage::kIngest, 4, seq)) << seq;
  for (int64_t seq : {12, 15})
    EXPECT_FALSE(filter.Accept(RouteStage::kIngest, 4, seq)) << seq;
  EXPECT_TRUE(filter.Accept(RouteStage::kIngest, 4, 16));
  EXPECT_EQ(filter.highest(RouteStage::kIngest, 4), 16);
  // Offset 0 is a record like any other.
  EXPECT_TRUE(filter.Accept(RouteStage::kIngest, 0, 0));
  EXPECT_FALSE(filter.Accept(RouteStage::kIngest, 0, 0));
}

TEST(ReplayFilterTest, SendersAndStagesAreKeptApart) {
  ReplayFilter filter;
  EXPECT_TRUE(filter.Accept(RouteStage::kIngest, 1, 100));
  // Another input partition, and task 1 (not input partition 1), each have
  // their own sequence.
  EXPECT_TRUE(filter.Accept(RouteStage::kIngest, 2, 5));
  EXPECT_TRUE(filter.Accept(RouteStage::kTask, 1, 5));
  EXPECT_FALSE(filter.Accept(RouteStage::kTask, 1, 5));
  EXPECT_TRUE(filter.Accept({.stage = RouteStage::kTask,
                             .kind = RouteKind::kEvent,
                             .sender = 1,
                             .seq = 6}));
  EXPECT_EQ(filter.highest(RouteStage::kIngest, 1), 100);
  EXPECT_EQ(filter.highest(RouteStage::kTask, 1), 6);
  EXPECT_EQ(filter.highest(RouteStage::kTask, 2), -1);
}

TEST(ReplayFilterTest, CheckpointRoundTrip) {
  ReplayFilter filter;
  filter.Accept(RouteStage::kIngest, 7, 1'000'000'000'000);
  filter.Accept(RouteStage::kIngest, 0, 3);
  filter.Accept(RouteStage::kTask, 2'000'000'000, 9);
  const std::string record = filter.Encode();

  ReplayFilter restored;
  restored.Accept(RouteStage::kIngest, 5, 5);  // replaced, not merged
  ASSERT_TRUE(restored.Decode(record).ok());
  EXPECT_EQ(restored.highest(RouteStage::kIngest, 7), 1'000'000'000'000);
  EXPECT_EQ(restored.highest(RouteStage::kIngest, 0), 3);
  EXPECT_EQ(restored.highest(RouteStage::kTask, 2'000'000'000), 9);
  EXPECT_EQ(restored.highest(RouteStage::kIngest, 5), -1);
  EXPECT_FALSE(restored.Accept(RouteStage::kIngest, 0, 3));
  EXPECT_TRUE(restored.Accept(RouteStage::kIngest, 0, 4));
  // The same filter, whatever its hash order, encodes to the same bytes.
  EXPECT_EQ(ReplayFilter().Encode(), ReplayFilter().Encode());
  ReplayFilter same;
  same.Accept(RouteStage::kTask, 2'000'000'000, 9);
  same.Accept(RouteStage::kIngest, 0, 3);
  same.Accept(RouteStage::kIngest, 7, 1'000'000'000'000);
  EXPECT_EQ(same.Encode(), record);
}

TEST(ReplayFilterTest, DamagedRecordIsRefusedAndChangesNothing) {
  ReplayFilter filter;
  filter.Accept(RouteStage::kIngest, 1, 10);
  filter.Accept(RouteStage::kTask, 3, 20);
  const std::string record = filter.Encode();
  ReplayFilter restored;
  restored.Accept(RouteStage::kIngest, 1, 99);
  for (size_t size = 0; size < record.size(); ++size) {
    const absl::Status status = restored.Decode(record.substr(0, size));
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << size;
  }
  EXPECT_EQ(restored.Decode(record + "x").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(restored.highest(RouteStage::kIngest, 1), 99);
}

}  // namespace
}  // namespace tillstream
