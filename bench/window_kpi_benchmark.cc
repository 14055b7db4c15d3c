// Adding decoded events to tumbling KPI windows, and closing them.
#include <algorithm>
#include <deque>

#include "bench/bench_events.h"
#include "benchmark/benchmark.h"
#include "connectors/order_decoder.h"
#include "operators/window_kpi_operator.h"

namespace tillstream {
namespace {

// Decodes each event (in place, as the engine does) and adds it to one rule's
// windows: events/s and their bytes/s through one rule.
void BM_WindowKpiProcess(benchmark::State& state) {
  const std::vector<std::string> events =
      BenchEvents(100'000, static_cast<int>(state.range(0)));
  KpiRuleConfig rule;
  rule.name = "store_day";
  rule.group_by = {GroupField::kStoreId};
  rule.window_size_ms = 86'400'000;
  rule.allowed_lateness_ms = 3'600'000;
  OrderDecoder decoder({});
  StringInterner customers;
  OutputBatch out;
  int64_t processed = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    WindowKpiOperator op(rule, "bench");
    state.ResumeTiming();
    for (const std::string& payload : events) {
      OrderEvent event;
      bytes += static_cast<int64_t>(payload.size());
      if (!decoder.DecodeInPlace(payload, &event).ok()) continue;
      op.Process(event, ResolveCustomer(event, &customers), Timestamp::Min(),
                 &out);
      ++processed;
    }
    op.AdvanceWatermark(Timestamp::Max(), &out);
    out.Clear();
  }
  state.SetItemsProcessed(processed);
  state.SetBytesProcessed(bytes);
  state.SetLabel("decode + window update, per event");
}
BENCHMARK(BM_WindowKpiProcess)
    ->Arg(10)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond);

// Updates with thousands of windows open, as when a Kafka backlog is handed
// over a partition at a time: the events (decoded before timing) are cut
// into 32 slices of consecutive event time, and the slices take turns in
// runs of 100 events. Three rules, as examples/pos-analytics.yaml has (a
// day per store, an hour per region, the early warnings' hour per store).
void BM_WindowUpdatesAcrossOpenWindows(benchmark::State& state) {
  const DecodedBenchEvents decoded(200'000);
  const std::vector<DecodedRecord>& records = decoded.records;
  StringInterner customers;
  std::vector<CustomerRef> refs;
  for (const DecodedRecord& record : records)
    refs.push_back(ResolveCustomer(record.event, &customers));
  constexpr size_t kSlices = 32, kRun = 100;
  const size_t slice = records.size() / kSlices;
  std::vector<size_t> order;
  for (size_t run = 0; run * kRun < slice; ++run) {
    for (size_t s = 0; s < kSlices; ++s) {
      for (size_t i = run * kRun; i < std::min(slice, (run + 1) * kRun); ++i)
        order.push_back(s * slice + i);
    }
  }
  auto rule = [](const char* name, GroupField field, int64_t size_ms,
                 bool internal) {
    KpiRuleConfig rule;
    rule.name = name;
    rule.group_by = {field};
    rule.window_size_ms = size_ms;
    rule.allowed_lateness_ms = 3'600'000;
    rule.internal = internal;
    return rule;
  };
  const KpiRuleConfig rules[] = {
      rule("store_day", GroupField::kStoreId, 86'400'000, false),
      rule("region_hour", GroupField::kRegion, 3'600'000, false),
      rule("steps", GroupField::kStoreId, 3'600'000, true)};
  OutputBatch out;
  for (auto _ : state) {
    state.PauseTiming();
    std::deque<WindowKpiOperator> ops;
    for (const KpiRuleConfig& r : rules) ops.emplace_back(r, "bench");
    state.ResumeTiming();
    for (size_t k = 0; k < order.size(); ++k) {
      for (WindowKpiOperator& op : ops) {
        op.Process(records[order[k]].event, refs[order[k]], Timestamp::Min(),
                   &out);
      }
    }
    state.PauseTiming();
    ops.clear();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(
      static_cast<int64_t>(state.iterations() * order.size()));
  state.SetLabel("3 rules, per event");
}
BENCHMARK(BM_WindowUpdatesAcrossOpenWindows)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tillstream

BENCHMARK_MAIN();
