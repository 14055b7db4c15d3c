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

// A task's watermark over the senders of the repartition topic: each sender
// reports its own watermark (its lateness already applied, so none here),
// every sender is known from the start, and one not heard from holds the
// task back until it has been silent for the idle timeout.
TEST(WatermarkOverSendersTest, SilentSenderHoldsIdleOneDoesNot) {
  WatermarkTracker senders(
      WatermarkOptions{.max_out_of_orderness_ms = 0, .idle_timeout_ms = 30000});
  PartitionWatermark* s0 = senders.AddPartition(PartitionId{0}, 0);
  PartitionWatermark* s1 = senders.AddPartition(PartitionId{1}, 0);
  senders.AddPartition(PartitionId{2}, 0);  // never reports
  s0->Observe(Ms(50'000));
  senders.MarkActive(s0, 1'000);
  s1->Observe(Ms(70'000));
  senders.MarkActive(s1, 1'000);
  EXPECT_EQ(senders.Advance(1'000), Timestamp::Min());  // sender 2 holds it
  EXPECT_EQ(senders.Advance(29'999), Timestamp::Min());
  // Sender 2 silent for the idle timeout: the others decide.
  s0->Observe(Ms(60'000));
  senders.MarkActive(s0, 30'000);
  senders.MarkActive(s1, 30'000);
  EXPECT_EQ(senders.Advance(30'000), Ms(60'000));
  // A watermark reported again (a replaying sender) is no news.
  s1->Observe(Ms(40'000));
  EXPECT_EQ(senders.Advance(30'000), Ms(60'000));
  // Once sender 2 reports, it counts again, but the watermark never moves
  // back.
  PartitionWatermark* s2 = senders.Find(PartitionId{2});
  s2->Observe(Ms(55'000));
  senders.MarkActive(s2, 31'000);
  EXPECT_EQ(senders.Advance(31'000), Ms(60'000));
  s0->Observe(Ms(90'000));
  s1->Observe(Ms(90'000));
  s2->Observe(Ms(80'000));
  EXPECT_EQ(senders.Advance(31'000), Ms(80'000));
}

}  // namespace
}  // namespace tillstream
