// The per-window and per-checkpoint costs behind the per-event ones: rolling
// KPIs, anomaly evaluation, snapshot encoding (what a sink is handed) and a
// checkpoint flush into RocksDB. Each reports items/s and bytes/s.
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "bench/bench_events.h"
#include "benchmark/benchmark.h"
#include "operators/anomaly_operator.h"
#include "operators/robust_baseline.h"
#include "operators/rolling_operator.h"
#include "operators/window_kpi_operator.h"
#include "state/rocksdb_state_store.h"

namespace tillstream {
namespace {

constexpr int64_t kDayMs = 86'400'000;

KpiRuleConfig StoreDay() {
  KpiRuleConfig rule;
  rule.name = "store_day";
  rule.group_by = {GroupField::kStoreId};
  rule.window_size_ms = kDayMs;
  rule.allowed_lateness_ms = 3'600'000;
  return rule;
}

std::vector<KpiGroup> Groups(int64_t n) {
  std::vector<KpiGroup> groups;
  for (int64_t i = 0; i < n; ++i) {
    groups.push_back({absl::StrCat("store_id=s-", i),
                      absl::StrCat("{\"store_id\":\"s-", i, "\"}")});
  }
  return groups;
}

size_t OutputBytes(const OutputBatch& out) {
  size_t bytes = 0;
  for (size_t i = 0; i < out.size(); ++i)
    bytes += out[i].key.size() + out[i].value.size();
  return bytes;
}

// One period per iteration for every group: its window emitted with the
// revenue `revenue(group, day)`, then the period closed. Reports
// group-periods and the bytes of what the operator emitted.
template <typename Operator, typename Revenue>
void RunPeriods(benchmark::State& state, Operator& op, Revenue revenue,
                const char* label) {
  const std::vector<KpiGroup> groups = Groups(state.range(0));
  KpiAccumulator kpis;
  kpis.orders = 20;
  OutputBatch out;
  int64_t day = 0, items = 0, bytes = 0;
  for (auto _ : state) {
    for (size_t g = 0; g < groups.size(); ++g) {
      kpis.revenue_cents = revenue(static_cast<int64_t>(g), day);
      op.OnWindowEmitted(static_cast<uint32_t>(g), groups[g], day * kDayMs,
                         kpis, 0, &out);
    }
    op.OnWindowsClosed(day * kDayMs, Timestamp::FromMillis((day + 1) * kDayMs),
                       &out);
    ++day;
    items += static_cast<int64_t>(groups.size());
    bytes += static_cast<int64_t>(OutputBytes(out));
    out.Clear();
  }
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(bytes);
  state.SetLabel(label);
}

// The 7-day sums slide by one period, a rolling snapshot per group.
void BM_RollingPeriod(benchmark::State& state) {
  const KpiRuleConfig kpi = StoreDay();
  RollingRuleConfig rule;
  rule.name = "store_7d";
  rule.kpi = kpi.name;
  RollingOperator op(rule, kpi, "bench");
  RunPeriods(
      state, op, [](int64_t g, int64_t day) { return 100'000 + 37 * g + day; },
      "group-periods; bytes: rolling snapshots");
}
BENCHMARK(BM_RollingPeriod)->Arg(100)->Arg(10'000);

// Each group's period judged against its 28-period history (median, MAD,
// robust z); after a month, one group in ten far below its usual level.
void BM_AnomalyPeriod(benchmark::State& state) {
  const KpiRuleConfig kpi = StoreDay();
  AnomalyRuleConfig rule;
  rule.name = "drop";
  rule.kpi = kpi.name;
  AnomalyOperator op(rule, kpi, "bench");
  RunPeriods(
      state, op,
      [](int64_t g, int64_t day) -> int64_t {
        const bool low = day > 30 && (g + day) % 10 == 0;
        return (low ? 10'000 : 100'000) + (day * 7919 + g) % 3'000;
      },
      "group-periods judged; bytes: alerts");
}
BENCHMARK(BM_AnomalyPeriod)->Arg(100)->Arg(10'000);

// One judgement's statistics (median, MAD, z) over a baseline of n values,
// as an early warning takes them for every group and step: 40,650 times in
// a replay of a million orders through the example pipeline.
void BM_RobustEvaluate(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  // Baselines of revenue-like values, taken in turn: enough of them that the
  // branch predictor cannot learn their order.
  std::vector<std::vector<int64_t>> baselines(4096);
  uint64_t x = 88172645463325252ull;
  for (std::vector<int64_t>& baseline : baselines) {
    for (size_t i = 0; i < n; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      baseline.push_back(90'000 + static_cast<int64_t>(x % 20'000));
    }
  }
  RobustBaseline robust;
  size_t next = 0;
  for (auto _ : state) {
    const RobustEvidence e =
        robust.Evaluate(baselines[next++ % baselines.size()], 80'000, true);
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("evaluations");
}
BENCHMARK(BM_RobustEvaluate)->Arg(7)->Arg(28)->Arg(56);

// Closing every window: the KPI snapshots' JSON, what the sink is handed.
void BM_SnapshotEncode(benchmark::State& state) {
  const KpiRuleConfig rule = StoreDay();
  const DecodedBenchEvents decoded(50'000, static_cast<int>(state.range(0)));
  StringInterner customers;
  OutputBatch out;
  int64_t items = 0, bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    WindowKpiOperator op(rule, "bench");
    for (const DecodedRecord& record : decoded.records)
      op.Process(record.event, ResolveCustomer(record.event, &customers),
                 Timestamp::Min(), &out);
    out.Clear();
    state.ResumeTiming();
    op.AdvanceWatermark(Timestamp::Max(), &out);
    items += static_cast<int64_t>(out.size());
    bytes += static_cast<int64_t>(OutputBytes(out));
    out.Clear();
  }
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(bytes);
  // The count per pass shows what was measured (1,527 or 14,820 windows).
  state.SetLabel(absl::StrCat(items / std::max<int64_t>(1, state.iterations()),
                              " snapshots per pass; bytes: their JSON"));
}
BENCHMARK(BM_SnapshotEncode)->Arg(50)->Arg(1000)->Unit(benchmark::kMillisecond);

// A checkpoint of every window changed since the last one: encoding the
// windows (sums, customer sets) and one fsynced RocksDB WriteBatch.
void BM_CheckpointFlush(benchmark::State& state) {
  const KpiRuleConfig rule = StoreDay();
  const DecodedBenchEvents decoded(50'000, static_cast<int>(state.range(0)));
  const std::string dir =
      (std::filesystem::temp_directory_path() /
       absl::StrCat("tillstream-bench-checkpoint-", getpid()))
          .string();
  std::filesystem::remove_all(dir);
  auto store =
      RocksDbStateStore::Open({.dir = dir, .families = {"kpi/store_day"}});
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  StringInterner customers;
  OutputBatch out;
  WindowKpiOperator op(rule, "bench");
  op.EnableCheckpoints();
  int64_t items = 0, bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (const DecodedRecord& record : decoded.records)
      op.Process(record.event, ResolveCustomer(record.event, &customers),
                 Timestamp::Min(), &out);
    out.Clear();
    state.ResumeTiming();
    StateWriteBatch batch;
    op.Checkpoint(&batch);
    if (!(*store)->Write(batch).ok()) state.SkipWithError("write failed");
    items += static_cast<int64_t>(op.open_windows());
    for (const StateWriteBatch::Write& write : batch.writes())
      bytes += static_cast<int64_t>(write.key.size() +
                                    (write.value ? write.value->size() : 0));
  }
  store->reset();
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(bytes);
  state.SetLabel(absl::StrCat(op.open_windows(),
                              " changed windows; bytes: keys and values "
                              "written"));
}
BENCHMARK(BM_CheckpointFlush)
    ->Arg(50)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tillstream

BENCHMARK_MAIN();
