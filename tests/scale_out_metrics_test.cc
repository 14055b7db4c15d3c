#include "engine/scale_out_metrics.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr int kKpis = static_cast<int>(OutputKind::kKpis);
constexpr int kDeadLetter = static_cast<int>(OutputKind::kDeadLetter);

// The ingest's part: 2 input partitions, 1,010 records, 10 dead letters.
MetricsSnapshot IngestPart(bool caught_up) {
  MetricsSnapshot m;
  m.wall_ms = 5'000;
  m.records_in = 1'010;
  m.events_in = 1'000;
  m.bad_records = 10;
  m.outputs[kDeadLetter] = 10;
  m.decode_errors = {{"missing field store_id", 10}};
  m.partitions = {{.partition = 0, .lag = 0, .caught_up = true},
                  {.partition = 1, .lag = 9'000, .caught_up = caught_up}};
  m.assigned_partitions = 2;
  m.rebalances = 1;
  return m;
}

// A task runner's part: `tasks` tasks (-1: not joined yet).
MetricsSnapshot TaskPart(int64_t tasks, int64_t kpis, int64_t watermark_ms) {
  MetricsSnapshot m;
  m.wall_ms = 4'000;
  m.outputs[kKpis] = kpis;
  m.late_by_kpi = {{"store_day", 2}};
  m.open_windows_by_kpi = {{"region_hour", 3}, {"store_day", 5}};
  m.watermark = Timestamp::FromMillis(watermark_ms);
  m.known_customers = 100;
  m.tasks = tasks;
  m.alerts_fired = 1;
  m.checkpoints_on = true;
  m.checkpoints = 4;
  m.checkpoint_last_us = 300;
  m.checkpoint_total_us = 1'000;
  return m;
}

TEST(MergeSnapshotsTest, CountersAddUpAndTheWatermarkIsTheLowestKnown) {
  MetricsSnapshot no_watermark = TaskPart(0, 0, 0);
  no_watermark.watermark = Timestamp::Min();  // owns no task
  const std::vector<MetricsSnapshot> parts = {
      IngestPart(true), TaskPart(3, 40, 2'000), TaskPart(1, 2, 1'500),
      no_watermark};
  const MetricsSnapshot m = MergeSnapshots(parts);
  EXPECT_EQ(m.wall_ms, 5'000);
  EXPECT_EQ(m.records_in, 1'010);
  EXPECT_EQ(m.events_in, 1'000);
  EXPECT_EQ(m.outputs[kKpis], 42);
  EXPECT_EQ(m.outputs[kDeadLetter], 10);
  EXPECT_THAT(m.decode_errors, ElementsAre(Pair("missing field store_id", 10)));
  EXPECT_THAT(m.late_by_kpi, ElementsAre(Pair("store_day", 6)));
  EXPECT_THAT(m.open_windows_by_kpi,
              ElementsAre(Pair("region_hour", 9), Pair("store_day", 15)));
  EXPECT_EQ(m.watermark, Timestamp::FromMillis(1'500));
  EXPECT_EQ(m.partitions.size(), 2u);
  EXPECT_EQ(m.assigned_partitions, 2);
  EXPECT_EQ(m.tasks, 4);
  EXPECT_EQ(m.known_customers, 300);
  EXPECT_EQ(m.alerts_fired, 3);
  EXPECT_TRUE(m.checkpoints_on);
  EXPECT_EQ(m.checkpoints, 12);
  EXPECT_EQ(m.checkpoint_last_us, 300);
  EXPECT_EQ(m.checkpoint_total_us, 3'000);
}

TEST(MergeSnapshotsTest, NoTasksUntilATaskRunnerHasJoined) {
  const std::vector<MetricsSnapshot> parts = {IngestPart(true),
                                              TaskPart(-1, 0, 0)};
  EXPECT_EQ(MergeSnapshots(parts).tasks, -1);
}

TEST(ScaleOutMetricsTest, ReadyOnceCaughtUpAndEveryTaskRunnerJoined) {
  EngineMetrics metrics;
  ScaleOutMetrics parts(&metrics, 2);
  bool ready = true;
  EXPECT_THAT(parts.HealthJson(&ready), HasSubstr("\"status\":\"starting\""));
  EXPECT_FALSE(ready);

  parts.Publish(0, IngestPart(/*caught_up=*/true));
  parts.Publish(1, TaskPart(3, 40, 2'000));
  parts.HealthJson(&ready);
  EXPECT_FALSE(ready) << "the second task runner has not joined";

  parts.Publish(2, TaskPart(1, 2, 1'500));
  parts.Publish(0, IngestPart(/*caught_up=*/false));
  parts.HealthJson(&ready);
  EXPECT_FALSE(ready) << "partition 1 has not caught up";

  parts.Publish(0, IngestPart(/*caught_up=*/true));
  EXPECT_EQ(parts.HealthJson(&ready),
            "{\"status\":\"ready\",\"source\":\"kafka\",\"partitions\":["
            "{\"partition\":0,\"lag\":0,\"caught_up\":true},"
            "{\"partition\":1,\"lag\":9000,\"caught_up\":true}],"
            "\"tasks\":4,\"task_workers_joined\":2,"
            "\"watermark\":\"1970-01-01T00:00:01.500Z\"}");
  EXPECT_TRUE(ready);

  // What /metrics renders is the merged snapshot.
  const std::string rendered = metrics.RenderPrometheus(10'000);
  EXPECT_THAT(rendered, HasSubstr("\ntillstream_records_in_total 1010\n"));
  EXPECT_THAT(rendered,
              HasSubstr("\ntillstream_outputs_total{output=\"kpis\"} 42\n"));
  EXPECT_THAT(rendered, HasSubstr("\ntillstream_tasks 4\n"));
  EXPECT_THAT(rendered, HasSubstr("\ntillstream_checkpoints_total 8\n"));
}

}  // namespace
}  // namespace tillstream
