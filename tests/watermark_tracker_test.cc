#include "engine/watermark_tracker.h"

#include "gtest/gtest.h"

namespace tillstream {
namespace {

Timestamp Ms(int64_t ms) { return Timestamp::FromMillis(ms); }

class WatermarkTrackerTest : public ::testing::Test {
 protected:
  WatermarkTracker tracker_{WatermarkOptions{.max_out_of_orderness_ms = 5000,
                                             .idle_timeout_ms = 30000}};
};

TEST_F(WatermarkTrackerTest, MinimumOverPartitionsMinusOutOfOrderness) {
  PartitionWatermark* p0 = tracker_.AddPartition(PartitionId{0}, 0);
  PartitionWatermark* p1 = tracker_.AddPartition(PartitionId{1}, 0);
  EXPECT_EQ(tracker_.Advance(0), Timestamp::Min());  // nothing seen yet
  p0->Observe(Ms(100'000));
  EXPECT_EQ(tracker_.Advance(0), Timestamp::Min());  // p1 still holds it back
  p1->Observe(Ms(50'000));
  EXPECT_EQ(tracker_.Advance(0), Ms(45'000));
  p1->Observe(Ms(40'000));  // out of order: the max stays
  EXPECT_EQ(tracker_.Advance(0), Ms(45'000));
  p1->Observe(Ms(200'000));
  EXPECT_EQ(tracker_.Advance(0), Ms(95'000));
}

TEST_F(WatermarkTrackerTest, IdlePartitionStopsHoldingItBack) {
  PartitionWatermark* p0 = tracker_.AddPartition(PartitionId{0}, 0);
  tracker_.AddPartition(PartitionId{1}, 0);
  p0->Observe(Ms(100'000));
  tracker_.MarkActive(p0, 29'999);
  EXPECT_EQ(tracker_.Advance(29'999), Timestamp::Min());
  tracker_.MarkActive(p0, 30'000);
  EXPECT_EQ(tracker_.Advance(30'000), Ms(95'000));  // p1 silent for 30 s: idle
}

TEST_F(WatermarkTrackerTest, AllIdleHoldsAndNeverMovesBack) {
  PartitionWatermark* p0 = tracker_.AddPartition(PartitionId{0}, 0);
  p0->Observe(Ms(100'000));
  EXPECT_EQ(tracker_.Advance(1'000), Ms(95'000));
  EXPECT_EQ(tracker_.Advance(60'000), Ms(95'000));  // everything idle: hold
  // A partition that comes back behind the watermark does not pull it back.
  PartitionWatermark* p1 = tracker_.AddPartition(PartitionId{1}, 60'000);
  p1->Observe(Ms(10'000));
  EXPECT_EQ(tracker_.Advance(60'000), Ms(95'000));
}

// An empty partition holds the watermark until it is idle. When the others
// were read in the same moment and fall silent with it (a backlog read at
// once after the assignment), the watermark still reaches what the
// partitions read last allow, however rarely Advance is called: it does not
// depend on the poll timing (HttpServerTest's alert once never fired).
TEST_F(WatermarkTrackerTest, ThoseReadLastCountWhenAllFallSilentTogether) {
  tracker_.AddPartition(PartitionId{0}, 0);  // never gets a record
  PartitionWatermark* p1 = tracker_.AddPartition(PartitionId{1}, 0);
  PartitionWatermark* p2 = tracker_.AddPartition(PartitionId{2}, 0);
  p1->Observe(Ms(100'000));
  p2->Observe(Ms(300'000));
  tracker_.MarkActive(p1, 10);
  tracker_.MarkActive(p2, 10);
  EXPECT_EQ(tracker_.Advance(10), Timestamp::Min());  // p0 holds it back
  // Next called when everything is silent: p1 and p2 were read last.
  EXPECT_EQ(tracker_.Advance(60'000), Ms(95'000));
  EXPECT_EQ(tracker_.Advance(120'000), Ms(95'000));  // then it holds
}

TEST_F(WatermarkTrackerTest, FinishedPartitionsAndEndOfInput) {
  PartitionWatermark* p0 = tracker_.AddPartition(PartitionId{0}, 0);
  PartitionWatermark* p1 = tracker_.AddPartition(PartitionId{1}, 0);
  p0->Observe(Ms(100'000));
  p1->Observe(Ms(20'000));
  tracker_.MarkFinished(PartitionId{1});
  EXPECT_EQ(tracker_.Advance(0), Ms(95'000));
  // All finished: it holds; the end of input (after its checkpoint) is the
  // runtime's +infinity, never one the state could be saved at.
  tracker_.MarkFinished(PartitionId{0});
  EXPECT_EQ(tracker_.Advance(0), Ms(95'000));
}

TEST_F(WatermarkTrackerTest, RevokedPartitionIsForgotten) {
  PartitionWatermark* p0 = tracker_.AddPartition(PartitionId{0}, 0);
  tracker_.AddPartition(PartitionId{1}, 0);
  p0->Observe(Ms(100'000));
  EXPECT_EQ(tracker_.Advance(0), Timestamp::Min());
  tracker_.RemovePartition(PartitionId{1});
  EXPECT_EQ(tracker_.Find(PartitionId{1}), nullptr);
  EXPECT_EQ(tracker_.Advance(0), Ms(95'000));
}

}  // namespace
}  // namespace tillstream
