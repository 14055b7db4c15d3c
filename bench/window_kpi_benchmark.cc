// Adding decoded events to tumbling KPI windows, and closing them.
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

}  // namespace
}  // namespace tillstream

BENCHMARK_MAIN();
