#ifndef TILLSTREAM_BENCH_BENCH_EVENTS_H_
#define TILLSTREAM_BENCH_BENCH_EVENTS_H_

#include <string>
#include <vector>

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

}  // namespace tillstream

#endif  // TILLSTREAM_BENCH_BENCH_EVENTS_H_
