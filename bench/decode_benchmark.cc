// Decoding order events with simdjson on-demand, exact cents.
#include "bench/bench_events.h"
#include "benchmark/benchmark.h"
#include "connectors/order_decoder.h"
#include "engine/decoded_record.h"

namespace tillstream {
namespace {

// in_place 0: Decode, from a padded copy; 1: DecodeInPlace, as the engine
// decodes a source's records.
void BM_DecodeOrder(benchmark::State& state) {
  const bool in_place = state.range(0) == 1;
  const std::vector<std::string> events = BenchEvents(10'000);
  OrderDecoder decoder({});
  OrderEvent event;
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& payload = events[i];
    bytes += static_cast<int64_t>(payload.size());
    benchmark::DoNotOptimize(in_place ? decoder.DecodeInPlace(payload, &event)
                                      : decoder.Decode(payload, &event));
    if (++i == events.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_DecodeOrder)->ArgName("in_place")->Arg(0)->Arg(1);

// DecodeAndKeep, as a decoding thread fills a batch's records for another
// thread: in place, then what the views point to outside the payload copied
// into the record (a batch of 4,096 records, reused).
void BM_DecodeAndKeep(benchmark::State& state) {
  const std::vector<std::string> events = BenchEvents(10'000);
  OrderDecoder decoder({});
  std::vector<DecodedRecord> batch(4096);
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& payload = events[i % events.size()];
    bytes += static_cast<int64_t>(payload.size());
    DecodeAndKeep(&decoder, payload, &batch[i % batch.size()]);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_DecodeAndKeep);

void BM_DecodeBadRecord(benchmark::State& state) {
  const std::string payload =
      R"({"order_id":"o-1","ts":1704067200000,"store_id":"s-1","lines":[{"sku":"A","qty":1,)"
      R"("unit_price":"3,49"}]})";
  OrderDecoder decoder({});
  OrderEvent event;
  for (auto _ : state)
    benchmark::DoNotOptimize(decoder.Decode(payload, &event));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(payload.size()));
}
BENCHMARK(BM_DecodeBadRecord);

}  // namespace
}  // namespace tillstream

BENCHMARK_MAIN();
