// Detection quality of the robust-drop rule on generated traffic: every
// injected store-level drop is flagged on its day, early warnings fire hours
// before that day ends, and the same traffic without injections raises no
// alert of either kind.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/time_format.h"
#include "examples/generator/traffic_generator.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/pipeline_test_support.h"

namespace tillstream {
namespace {

// The daily store revenue rule of DESIGN.md, and its weekly-seasonal variant
// (each day against the same weekday of the 4 weeks before).
PipelineConfig DetectionConfig() {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      "pipeline: detection\n"
      "source: {max_out_of_orderness: 5s}\n"
      "kpis: [{name: store_day, group_by: [store_id], window: {size: 1d}, "
      "allowed_lateness: 1h}]\n"
      "anomalies:\n"
      "  - {name: drop_28d, kpi: store_day, method: robust_drop, history: 28}\n"
      "  - {name: drop_weekly, kpi: store_day, method: seasonal_robust, "
      "history: 4, min_drop: 0.4, early_warning: {}}\n"
      "outputs: {kpis: k, alerts: a, deadletter: d, late: l}\n",
      "detection.yaml");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

// (store, day) -> event time (as_of) of every firing alert of `rule`: the
// period judgements (`early` false, as_of the day's end) or its early
// warnings (the first per store and day).
std::map<std::pair<int, int64_t>, int64_t> Firing(
    const testing::PipelineRun& run, absl::string_view rule, int64_t start_ms,
    bool early = false) {
  std::map<std::pair<int, int64_t>, int64_t> firing;
  simdjson::dom::parser parser;
  for (const std::string& line :
       run.sink.outputs[static_cast<int>(OutputKind::kAlerts)]) {
    simdjson::dom::element e = parser.parse(line);
    if (e["state"].get_string().value() != "firing" ||
        std::string(e["rule"].get_string().value()) != std::string(rule) ||
        e["early"].get_bool().value() != early) {
      continue;
    }
    std::string store(e["group"]["store_id"].get_string().value());
    int64_t day =
        (ParseRfc3339(std::string(e["window"]["start"].get_string().value()))
             ->millis() -
         start_ms) /
        86'400'000;
    const char* time = early ? "as_of" : "end";
    const int64_t as_of =
        ParseRfc3339(std::string(early
                                     ? e["as_of"].get_string().value()
                                     : e["window"][time].get_string().value()))
            ->millis();
    firing.emplace(std::make_pair(std::stoi(store.substr(2)), day), as_of);
  }
  return firing;
}

std::vector<std::string> Traffic(const std::vector<InjectedDrop>& drops) {
  TrafficOptions options;
  options.seed = 2024;
  options.orders = 150'000;
  options.stores = 8;
  options.days = 70;
  options.drops = drops;
  TrafficGenerator generator(options);
  std::vector<std::string> records;
  std::string record, key;
  while (generator.Next(&record, &key)) records.push_back(record);
  return records;
}

TEST(DetectionQualityTest, InjectedDropsAreFlaggedOnTheirDayAndNothingElse) {
  const std::vector<InjectedDrop> drops = {
      {.store = 0, .day = 35, .fraction = 0.6},
      {.store = 1, .day = 40, .fraction = 0.8},
      {.store = 2, .day = 45, .fraction = 0.5},
      {.store = 3, .day = 50, .fraction = 0.7},
      {.store = 4, .day = 55, .fraction = 1.0},
      {.store = 5, .day = 60, .fraction = 0.6},
      {.store = 6, .day = 38, .fraction = 0.9},
      {.store = 7, .day = 65, .fraction = 0.5}};
  const int64_t start = TrafficOptions{}.start.millis();
  const PipelineConfig config = DetectionConfig();
  auto with_drops = testing::RunPipeline(config, Traffic(drops));
  auto without = testing::RunPipeline(config, Traffic({}));
  for (const char* rule : {"drop_28d", "drop_weekly"}) {
    const auto fired = Firing(*with_drops, rule, start);
    int flagged = 0;
    for (const InjectedDrop& drop : drops)
      flagged += fired.count({drop.store, drop.day}) > 0;
    const size_t others = fired.size() - static_cast<size_t>(flagged);
    const size_t false_positives = Firing(*without, rule, start).size();
    std::printf(
        "detection %s: recall %d/%zu injected drops (50%%-100%%) flagged on "
        "their day; %zu other alerts with injections; %zu false positives on "
        "the same traffic without injections (8 stores x 70 days)\n",
        rule, flagged, drops.size(), others, false_positives);
    // The acceptance bar, met by the weekly-seasonal rule: the plain 28-day
    // rule misses drops on days that weekday seasonality already lowers or
    // hides in a wide MAD (its figures are printed for the README).
    if (std::string(rule) == "drop_weekly") {
      EXPECT_EQ(flagged, static_cast<int>(drops.size()));
      EXPECT_EQ(others, 0u);
      EXPECT_EQ(false_positives, 0u);
    }
  }

  // Early warnings of the weekly rule: each injected drop (all >= 50%) is
  // warned of before its day ends; the lead time is the day's end minus the
  // event time the warning was raised at.
  const auto early = Firing(*with_drops, "drop_weekly", start, true);
  std::vector<double> lead_hours;
  for (const InjectedDrop& drop : drops) {
    auto it = early.find({drop.store, drop.day});
    const int64_t day_end = start + (drop.day + 1) * 86'400'000;
    if (it == early.end() || it->second >= day_end) {
      ADD_FAILURE() << "no early warning before the end of store " << drop.store
                    << " day " << drop.day << " (drop " << drop.fraction << ")";
      continue;
    }
    lead_hours.push_back(static_cast<double>(day_end - it->second) / 3.6e6);
  }
  std::sort(lead_hours.begin(), lead_hours.end());
  const size_t early_others = early.size() - lead_hours.size();
  const size_t early_false_positives =
      Firing(*without, "drop_weekly", start, true).size();
  std::printf(
      "early warnings drop_weekly: %zu/%zu injected drops warned of before "
      "their day's end; median lead time %.1f h (min %.1f h, max %.1f h); %zu "
      "other early warnings with injections; %zu false positives without\n",
      lead_hours.size(), drops.size(),
      lead_hours.empty() ? 0.0 : lead_hours[lead_hours.size() / 2],
      lead_hours.empty() ? 0.0 : lead_hours.front(),
      lead_hours.empty() ? 0.0 : lead_hours.back(), early_others,
      early_false_positives);
  EXPECT_EQ(early_others, 0u);
  EXPECT_EQ(early_false_positives, 0u);
}

}  // namespace
}  // namespace tillstream
