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

// `payloads` decoded before timing as the engine's decode thread decodes
// them (DecodeAndKeep): each event views its payload and its record's own
// copies, so it stays valid while `payloads` and the records live (the vector
// may move; its records never do). Records that fail to decode are dropped.
inline std::vector<DecodedRecord> DecodedRecords(
    const std::vector<std::string>& payloads) {
  OrderDecoder decoder({});
  std::vector<DecodedRecord> records(payloads.size());
  size_t decoded = 0;
  for (const std::string& payload : payloads) {
    DecodeAndKeep(&decoder, payload, &records[decoded]);
    if (records[decoded].status.ok()) ++decoded;
  }
  records.resize(decoded);  // shrinks in place
  return records;
}

}  // namespace tillstream

#endif  // TILLSTREAM_BENCH_BENCH_EVENTS_H_
