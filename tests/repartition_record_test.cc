// The repartition topic's route key (connectors/repartition_record.h):
// every kind survives a round trip, and a damaged or unknown key is
// refused with the record it came from.
#include "connectors/repartition_record.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Route> Decode(absl::string_view key) {
  return DecodeRoute(key, "pos-repartition", PartitionId{3}, Offset{41});
}

TEST(RepartitionRecordTest, IngestEventNamesItsOrigin) {
  const Route sent{.stage = RouteStage::kIngest,
                   .kind = RouteKind::kEvent,
                   .sender = 7,
                   .seq = 123'456'789'012};
  const absl::StatusOr<Route> got = Decode(EncodeRoute(sent));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->stage, RouteStage::kIngest);
  EXPECT_EQ(got->kind, RouteKind::kEvent);
  EXPECT_EQ(got->sender, 7);
  EXPECT_EQ(got->seq, 123'456'789'012);
  // From the ingest, the sender is the input partition and seq its offset.
  EXPECT_EQ(got->origin_partition, PartitionId{7});
  EXPECT_EQ(got->origin_offset, Offset{123'456'789'012});
  EXPECT_FALSE(got->first_order);
}

TEST(RepartitionRecordTest, ResolvedEventKeepsOriginAndFirstOrder) {
  for (bool first_order : {false, true}) {
    const Route sent{.stage = RouteStage::kTask,
                     .kind = RouteKind::kEvent,
                     .sender = 2,
                     .seq = 900,
                     .origin_partition = PartitionId{5},
                     .origin_offset = Offset{77},
                     .first_order = first_order};
    const absl::StatusOr<Route> got = Decode(EncodeRoute(sent));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->stage, RouteStage::kTask);
    EXPECT_EQ(got->sender, 2);
    EXPECT_EQ(got->seq, 900);
    EXPECT_EQ(got->origin_partition, PartitionId{5});
    EXPECT_EQ(got->origin_offset, Offset{77});
    EXPECT_EQ(got->first_order, first_order);
  }
}

TEST(RepartitionRecordTest, ControlRecords) {
  const Route watermark{.stage = RouteStage::kTask,
                        .kind = RouteKind::kWatermark,
                        .sender = 1,
                        .seq = 10,
                        .watermark = Timestamp::FromMillis(1704067200000)};
  absl::StatusOr<Route> got = Decode(EncodeRoute(watermark));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kind, RouteKind::kWatermark);
  EXPECT_EQ(got->watermark, Timestamp::FromMillis(1704067200000));
  // Before a sender has seen anything its watermark is -infinity.
  Route at_start = watermark;
  at_start.watermark = Timestamp::Min();
  got = Decode(EncodeRoute(at_start));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->watermark, Timestamp::Min());

  const Route end{.stage = RouteStage::kIngest,
                  .kind = RouteKind::kEnd,
                  .sender = 0,
                  .seq = 5};
  got = Decode(EncodeRoute(end));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kind, RouteKind::kEnd);
  EXPECT_EQ(got->seq, 5);
}

TEST(RepartitionRecordTest, EveryCutShortHeaderIsRefusedWithItsRecord) {
  const std::string key = EncodeRoute({.stage = RouteStage::kTask,
                                       .kind = RouteKind::kEvent,
                                       .sender = 300,
                                       .seq = 1'000'000,
                                       .origin_partition = PartitionId{9},
                                       .origin_offset = Offset{1'000'000},
                                       .first_order = true});
  for (size_t size = 0; size < key.size(); ++size) {
    const absl::StatusOr<Route> got = Decode(key.substr(0, size));
    ASSERT_FALSE(got.ok()) << size;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(),
                HasSubstr("pos-repartition[3] offset 41: route key "));
  }
  EXPECT_THAT(Decode("").status().message(), HasSubstr("key missing"));
  EXPECT_THAT(Decode(key.substr(0, 4)).status().message(),
              HasSubstr("truncated"));
}

TEST(RepartitionRecordTest, UnknownOrOverlongHeadersAreRefused) {
  std::string key = EncodeRoute({.sender = 1, .seq = 2});
  std::string other_version = key;
  other_version[0] = 2;
  EXPECT_THAT(Decode(other_version).status().message(),
              HasSubstr("unknown version 2"));
  std::string other_stage = key;
  other_stage[1] = 9;
  EXPECT_THAT(Decode(other_stage).status().message(),
              HasSubstr("unknown stage 9"));
  std::string other_kind = key;
  other_kind[2] = 0;
  EXPECT_THAT(Decode(other_kind).status().message(),
              HasSubstr("unknown kind 0"));
  EXPECT_THAT(Decode(key + "x").status().message(),
              HasSubstr("bytes past its end"));
  // A negative sender or sequence is nobody's.
  EXPECT_THAT(Decode(EncodeRoute({.sender = -1, .seq = 2})).status().message(),
              HasSubstr("bad sender"));
  EXPECT_THAT(Decode(EncodeRoute({.sender = 1, .seq = -2})).status().message(),
              HasSubstr("bad sender or sequence"));
}

}  // namespace
}  // namespace tillstream
