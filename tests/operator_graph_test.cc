// Scale-out routing (OperatorGraph::TasksOf): the graphs of five tasks, each
// fed only the events routed to it, emit exactly what one graph fed every
// event emits: snapshots, rolling values, alerts and late records (one per
// rule, event and window, from the owner of the event's first group).
#include "engine/operator_graph.h"

#include <algorithm>
#include <string>
#include <vector>

#include "connectors/order_decoder.h"
#include "examples/generator/traffic_generator.h"
#include "gtest/gtest.h"
#include "operators/kpi_accumulator.h"
#include "tests/pipeline_test_support.h"

namespace tillstream {
namespace {

// Every output record as "kind|key|value", sorted.
std::vector<std::string> Sorted(std::vector<std::string> records) {
  std::sort(records.begin(), records.end());
  return records;
}

void Collect(OutputBatch* outputs, std::vector<std::string>* records) {
  for (size_t i = 0; i < outputs->size(); ++i) {
    const OutputBatch::Record record = (*outputs)[i];
    records->push_back(absl::StrCat(static_cast<int>(record.kind), "|",
                                    record.key, "|", record.value));
  }
  outputs->Clear();
}

TEST(OperatorGraphTest, RoutedTasksEmitWhatOneGraphEmits) {
  PipelineConfig config = testing::PosAnalyticsConfig();
  // A line-level rule: an order reaches the task of each of its categories.
  KpiRuleConfig category = config.kpis[1];
  category.name = "category_hour";
  category.group_by = {GroupField::kCategory};
  category.allowed_lateness_ms = 60'000;  // some events come later
  config.kpis.push_back(category);
  constexpr uint32_t kTasks = 5;
  OperatorGraph one(config);
  std::vector<std::unique_ptr<OperatorGraph>> tasks;
  for (uint32_t t = 0; t < kTasks; ++t)
    tasks.push_back(
        std::make_unique<OperatorGraph>(config, KeyShard{t, kTasks}));

  TrafficOptions traffic;
  traffic.orders = 6000;
  traffic.days = 10;
  traffic.late_rate = 0.05;
  traffic.max_late_ms = 2 * 3'600'000;
  TrafficGenerator generator(traffic);
  OrderDecoder decoder(
      OrderDecoderOptions{config.source.default_currency, config.limits});
  StringInterner customers;
  std::vector<std::string> want, got;
  std::string payload, key, scratch;
  std::vector<uint32_t> targets;
  Timestamp max_seen = Timestamp::Min();
  Timestamp watermark = Timestamp::Min();
  int64_t offset = 0, routed = 0, events = 0;
  while (generator.Next(&payload, &key)) {
    OrderEvent event;
    ASSERT_TRUE(decoder.Decode(payload, &event).ok()) << payload;
    event.source = {SourceKind::kKafka, "orders", PartitionId{0},
                    Offset{offset++}};
    const CustomerRef customer = ResolveCustomer(event, &customers);
    one.Process(event, customer, watermark);
    one.TasksOf(event, kTasks, &scratch, &targets);
    ASSERT_FALSE(targets.empty());
    ASSERT_TRUE(std::is_sorted(targets.begin(), targets.end()));
    for (uint32_t t : targets) tasks[t]->Process(event, customer, watermark);
    routed += static_cast<int64_t>(targets.size());
    ++events;
    max_seen = std::max(max_seen, event.ts);
    // A batch of 100: every graph's watermark moves together.
    if (offset % 100 == 0) {
      watermark = max_seen.Minus(config.source.max_out_of_orderness_ms);
      one.AdvanceWatermark(watermark, 0);
      for (auto& task : tasks) task->AdvanceWatermark(watermark, 0);
    }
    Collect(&one.outputs(), &want);
    for (auto& task : tasks) Collect(&task->outputs(), &got);
  }
  one.AdvanceWatermark(Timestamp::Max(), 0);
  for (auto& task : tasks) task->AdvanceWatermark(Timestamp::Max(), 0);
  Collect(&one.outputs(), &want);
  for (auto& task : tasks) Collect(&task->outputs(), &got);

  // Routing sends an order to fewer tasks than all, and more than one.
  EXPECT_GT(routed, events);
  EXPECT_LT(routed, events * kTasks);
  const auto late = std::count_if(want.begin(), want.end(), [](const auto& r) {
    return r.rfind(absl::StrCat(static_cast<int>(OutputKind::kLate), "|"), 0) ==
           0;
  });
  EXPECT_GT(late, 0) << "no late records: the test would not see them routed";
  EXPECT_EQ(Sorted(got), Sorted(want));
}

}  // namespace
}  // namespace tillstream
