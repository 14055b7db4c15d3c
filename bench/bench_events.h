#ifndef TILLSTREAM_BENCH_BENCH_EVENTS_H_
#define TILLSTREAM_BENCH_BENCH_EVENTS_H_

#include <string>
#include <vector>

#include "connectors/order_decoder.h"
#include "engine/decoded_record.h"
#include "examples/generator/traffic_generator.h"

namespace tillstream {

// `count` generated order events (about 330 bytes each), the same every run.
inline std::vector<std::string> BenchEvents(int64_t count, int stores = 50) {
  TrafficOptions options;
  options.orders = count;
  options.stores = stores;
  options.days = 30;
  TrafficGenerator generator(options);
  std::vector<std::string> records;
  std::string record, key;
  while (generator.Next(&record, &key)) records.push_back(record);
  return records;
}

// `count` generated events, decoded before timing as the engine's decode
// thread decodes them (DecodeAndKeep). Each record's event views its payload
// and the record's own copies, so the two are owned here together and never
// copied. Records that fail to decode are dropped.
struct DecodedBenchEvents {
  explicit DecodedBenchEvents(int64_t count, int stores = 50)
      : payloads(BenchEvents(count, stores)), records(payloads.size()) {
    OrderDecoder decoder({});
    size_t decoded = 0;
    for (const std::string& payload : payloads) {
      DecodeAndKeep(&decoder, payload, &records[decoded]);
      if (records[decoded].status.ok()) ++decoded;
    }
    records.resize(decoded);  // shrinks in place: no record moves
  }
  DecodedBenchEvents(const DecodedBenchEvents&) = delete;
  DecodedBenchEvents& operator=(const DecodedBenchEvents&) = delete;

  const std::vector<std::string> payloads;
  std::vector<DecodedRecord> records;
};

}  // namespace tillstream

#endif  // TILLSTREAM_BENCH_BENCH_EVENTS_H_
