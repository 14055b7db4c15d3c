#include "engine/pipeline_runner.h"

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "connectors/order_decoder.h"
#include "engine/time_format.h"
#include "examples/generator/traffic_generator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/pipeline_test_support.h"

namespace tillstream {
namespace {

using testing::FinalSnapshots;
using testing::LastById;
using testing::NewCustomersPerRule;
using testing::PosAnalyticsConfig;
using testing::ReadLines;
using testing::RunPipeline;

const std::string kSamples = TILLSTREAM_SOURCE_DIR "/../shared/samples";

std::vector<std::string> Generate(const TrafficOptions& options) {
  TrafficGenerator generator(options);
  std::vector<std::string> records;
  std::string record, key;
  while (generator.Next(&record, &key)) records.push_back(record);
  return records;
}

std::vector<std::string> Generate(int64_t orders, double bad_rate = 0) {
  TrafficOptions options;
  options.orders = orders;
  options.days = 10;
  options.bad_rate = bad_rate;
  return Generate(options);
}

// Readings of a generated order straight from its JSON, independent of the
// engine's decoder: its UTC day, status sign and a price in cents.
int64_t UtcDay(simdjson::dom::element order) {
  simdjson::dom::element ts = order["ts"];
  int64_t ms =
      ts.is_int64()
          ? ts.get_int64().value()
          : ParseRfc3339(std::string(ts.get_string().value()))->millis();
  return ms / 86'400'000;
}
int Sign(simdjson::dom::element order) {
  std::string_view status = order["status"].get_string().value();
  return status == "completed" ? 1 : status == "refunded" ? -1 : 0;
}
int64_t Cents(std::string_view price) {  // the generator writes "12.34"
  size_t dot = price.find('.');
  return std::stoll(std::string(price.substr(0, dot))) * 100 +
         std::stoll(std::string(price.substr(dot + 1)));
}

// `records` reordered by ts + a random delay in [0, max_delay_ms): no record
// arrives more than max_delay_ms behind the newest one before it.
std::vector<std::string> ShuffleWithin(const std::vector<std::string>& records,
                                       int64_t max_delay_ms, uint64_t seed) {
  OrderDecoder decoder({});
  std::mt19937_64 rng(seed);
  std::vector<std::pair<int64_t, size_t>> keyed;
  for (size_t i = 0; i < records.size(); ++i) {
    OrderEvent event;
    EXPECT_TRUE(decoder.Decode(records[i], &event).ok());
    int64_t delay =
        max_delay_ms > 0 ? static_cast<int64_t>(rng() % max_delay_ms) : 0;
    keyed.emplace_back(event.ts.millis() + delay, i);
  }
  std::stable_sort(keyed.begin(), keyed.end());
  std::vector<std::string> shuffled;
  for (const auto& [key, index] : keyed) shuffled.push_back(records[index]);
  return shuffled;
}

// The sample's expected values were computed independently of tillstream.
TEST(PipelineRunnerTest, SampleMatchesIndependentlyComputedKpis) {
  if (!std::filesystem::exists(kSamples + "/orders-sample.ndjson")) {
    GTEST_SKIP() << "shared/samples is not beside the repository";
  }
  auto run = RunPipeline(PosAnalyticsConfig(),
                         ReadLines(kSamples + "/orders-sample.ndjson"));
  EXPECT_EQ(run->summary.events, 20000);
  EXPECT_EQ(run->summary.bad_records, 97);
  EXPECT_EQ(run->summary.late_events, 0);
  std::map<std::string, std::string> snapshots =
      FinalSnapshots(run->sink.kpis());

  simdjson::dom::parser parser;
  int compared = 0;
  struct Expected {
    const char* file;
    const char* kpi;
    const char* group_field;
    const char* window_field;
  };
  for (const Expected& x :
       {Expected{"store_day_kpis.ndjson", "store_day", "store_id", "day"},
        Expected{"region_hour_kpis.ndjson", "region_hour", "region", "hour"}}) {
    for (const std::string& line :
         ReadLines(kSamples + "/expected/" + x.file)) {
      simdjson::dom::element e = parser.parse(line);
      std::string window(e[x.window_field].get_string().value());
      // "2024-01-01" or "2024-01-01T01:00Z" -> RFC 3339 with seconds
      window = window.size() == 10
                   ? window + "T00:00:00Z"
                   : window.substr(0, window.size() - 1) + ":00Z";
      std::string key =
          std::string(x.kpi) + "|" + window + "|{\"" + x.group_field + "\":\"" +
          std::string(e[x.group_field].get_string().value()) + "\"}";
      auto it = snapshots.find(key);
      ASSERT_NE(it, snapshots.end()) << key;
      simdjson::dom::parser got_parser;
      simdjson::dom::element got = got_parser.parse(it->second + "}");
      for (const char* money : {"revenue", "aov", "margin"}) {
        // A decimal string, or null (aov of a window without completed orders).
        EXPECT_EQ(simdjson::minify(got[money]), simdjson::minify(e[money]))
            << key << " " << money;
      }
      for (const char* count :
           {"orders", "refunded_orders", "units", "distinct_customers"}) {
        EXPECT_EQ(got[count].get_int64().value(), e[count].get_int64().value())
            << key << " " << count;
      }
      ++compared;
    }
  }
  EXPECT_EQ(compared, 239 + 3366);
  EXPECT_EQ(snapshots.size(), 239u + 3366u);  // no window the rules do not give

  // Rolling: every store and day, days without events included.
  std::map<std::string, std::string> rolling;
  for (const std::string& line :
       run->sink.outputs[static_cast<int>(OutputKind::kRolling)]) {
    simdjson::dom::element e = parser.parse(line);
    rolling[std::string(e["group"]["store_id"].get_string().value()) + "|" +
            std::string(e["period"]["start"].get_string().value())
                .substr(0, 10)] = line;
  }
  int rolling_compared = 0;
  for (const std::string& line :
       ReadLines(kSamples + "/expected/store_day_rolling.ndjson")) {
    simdjson::dom::element e = parser.parse(line);
    std::string key = std::string(e["store_id"].get_string().value()) + "|" +
                      std::string(e["day"].get_string().value());
    ASSERT_TRUE(rolling.count(key)) << key;
    simdjson::dom::parser got_parser;
    simdjson::dom::element got = got_parser.parse(rolling[key]);
    for (auto [mine, theirs] :
         {std::pair{"revenue", "revenue"}, std::pair{"revenue_7d", "rev_7d"},
          std::pair{"revenue_prev_7d", "rev_prev_7d"},
          std::pair{"pct_change_7d", "pct_change_7d"}}) {
      EXPECT_EQ(simdjson::minify(got[mine]), simdjson::minify(e[theirs]))
          << key << " " << mine;
    }
    ++rolling_compared;
  }
  EXPECT_EQ(rolling_compared, 240);
  EXPECT_EQ(rolling.size(), 240u);

  // Alerts: each run of anomalous days in the expected rule evaluation opens
  // an incident on its first day and resolves on the first normal day after,
  // with the same evidence.
  std::vector<std::string> want, got;
  std::map<std::string, bool> open;
  for (const std::string& line :
       ReadLines(kSamples + "/expected/store_day_anomalies.ndjson")) {
    simdjson::dom::element e = parser.parse(line);
    std::string store(e["store_id"].get_string().value());
    bool anomaly = e["anomaly"].get_bool().value();
    if (anomaly != open[store]) {
      want.push_back(absl::StrFormat(
          "%s %s %s median=%.3f mad=%.3f z=%.4f drop=%.4f", store,
          std::string(e["day"].get_string().value()),
          anomaly ? "firing" : "resolved", e["median_28d"].get_double().value(),
          e["mad_28d"].get_double().value(), e["robust_z"].get_double().value(),
          e["pct_drop"].get_double().value()));
    }
    open[store] = anomaly;
  }
  int early_firing = 0, early_resolved = 0;
  for (const std::string& line :
       run->sink.outputs[static_cast<int>(OutputKind::kAlerts)]) {
    simdjson::dom::element e = parser.parse(line);
    if (e["early"].get_bool().value()) {  // checked by their own tests
      ++(e["state"].get_string().value() == "firing" ? early_firing
                                                     : early_resolved);
      continue;
    }
    got.push_back(absl::StrFormat(
        "%s %s %s median=%.3f mad=%.3f z=%.4f drop=%.4f",
        std::string(e["group"]["store_id"].get_string().value()),
        std::string(e["window"]["start"].get_string().value()).substr(0, 10),
        std::string(e["state"].get_string().value()),
        e["baseline"]["median"].get_double().value(),
        e["baseline"]["mad"].get_double().value(),
        e["score"].get_double().value(), e["pct_drop"].get_double().value()));
  }
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
  // Every early warning of the example rule ends (back on track or at the
  // day's close); the sample's outages were warned of.
  EXPECT_GT(early_firing, 0);
  EXPECT_EQ(early_firing, early_resolved);
  EXPECT_EQ(want.size(), 4u);  // two incidents, each opened and resolved
}

// Rolling revenue of generated traffic (with injected drops) against sums the
// test computes itself from the raw events, independently of the engine.
TEST(PipelineRunnerTest, GeneratedRollingMatchesIndependentSums) {
  TrafficOptions options;
  options.orders = 30000;
  options.days = 35;
  options.stores = 5;
  options.drops = {{.store = 2, .day = 20, .fraction = 0.8},
                   {.store = 4, .day = 3, .fraction = 1.0}};
  TrafficGenerator generator(options);
  std::vector<std::string> records;
  std::string record, key;
  // Revenue in cents per store and day index, from the events themselves.
  std::map<std::string, std::map<int64_t, int64_t>> revenue;
  simdjson::dom::parser parser;
  int64_t last_day = 0;
  while (generator.Next(&record, &key)) {
    records.push_back(record);
    simdjson::dom::element e = parser.parse(record);
    int64_t day = UtcDay(e);
    int sign = Sign(e);
    int64_t cents = 0;
    for (simdjson::dom::element line : e["lines"].get_array()) {
      const int64_t unit = Cents(line["unit_price"].get_string().value());
      cents += line["qty"].get_int64().value() * unit;
    }
    revenue[std::string(e["store_id"].get_string().value())][day] +=
        sign * cents;
    last_day = std::max(last_day, day);
  }
  auto run = RunPipeline(PosAnalyticsConfig(), records);
  std::map<std::string, std::string> got;  // "store|day" -> "7d/prev/pct"
  for (const std::string& line :
       run->sink.outputs[static_cast<int>(OutputKind::kRolling)]) {
    simdjson::dom::element e = parser.parse(line);
    int64_t day =
        ParseRfc3339(std::string(e["period"]["start"].get_string().value()))
            ->millis() /
        86'400'000;
    got[absl::StrCat(std::string(e["group"]["store_id"].get_string().value()),
                     "|", day)] =
        absl::StrCat(std::string(e["revenue_7d"].get_string().value()), "/",
                     std::string(e["revenue_prev_7d"].get_string().value()),
                     "/", simdjson::minify(e["pct_change_7d"]));
  }
  size_t expected_rows = 0;
  for (const auto& [store, days] : revenue) {
    const int64_t first = days.begin()->first;
    for (int64_t day = first; day <= last_day; ++day) {
      int64_t current = 0, previous = 0;
      for (int64_t d = day - 13; d <= day; ++d) {
        auto it = days.find(d);
        int64_t v = it == days.end() ? 0 : it->second;
        (d > day - 7 ? current : previous) += v;
      }
      std::string pct = "null";
      if (day - first + 1 >= 14 && previous > 0) {
        // Half away from zero, in integers: basis points of the change.
        __int128 scaled = static_cast<__int128>(current - previous) * 10000;
        __int128 q = scaled / previous, r = scaled % previous;
        if (2 * (r < 0 ? -r : r) >= previous) q += scaled < 0 ? -1 : 1;
        int64_t bp = static_cast<int64_t>(q);
        pct = absl::StrCat("\"", bp < 0 ? "-" : "", std::abs(bp) / 100, ".",
                           absl::StrFormat("%02d", std::abs(bp) % 100), "\"");
      }
      auto cents = [](int64_t c) {
        return absl::StrCat(c < 0 ? "-" : "", std::abs(c) / 100, ".",
                            absl::StrFormat("%02d", std::abs(c) % 100));
      };
      std::string want =
          absl::StrCat(cents(current), "/", cents(previous), "/", pct);
      EXPECT_EQ(got[absl::StrCat(store, "|", day)], want)
          << store << " day " << day;
      ++expected_rows;
    }
  }
  EXPECT_EQ(got.size(), expected_rows);
  EXPECT_GE(expected_rows, 5u * 35u);  // 5 stores, 35+ days
}

// Line-level KPIs (category per day, top SKUs) of generated traffic against
// sums the test computes itself from the raw events.
TEST(PipelineRunnerTest, GeneratedLineLevelKpisMatchIndependentSums) {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      "pipeline: lines\n"
      "source: {max_out_of_orderness: 5s}\n"
      "kpis: [{name: category_day, group_by: [category], window: {size: 1d}, "
      "allowed_lateness: 1h},\n"
      "       {name: store_day, group_by: [store_id], window: {size: 1d}, "
      "allowed_lateness: 1h, top_skus: 3}]\n"
      "outputs: {kpis: k, deadletter: d, late: l}\n",
      "lines.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  TrafficOptions options;
  options.orders = 20000;
  options.days = 12;
  options.stores = 4;
  TrafficGenerator generator(options);
  std::vector<std::string> records;
  std::string record, key;
  struct Sums {
    int64_t revenue = 0, units = 0, orders = 0;
  };
  std::map<std::string, Sums> by_category;  // "category|day"
  std::map<std::string, std::map<std::string, int64_t>>
      sku_revenue;  // "store|day" -> sku
  simdjson::dom::parser parser;
  while (generator.Next(&record, &key)) {
    records.push_back(record);
    simdjson::dom::element e = parser.parse(record);
    const std::string day = absl::StrCat(UtcDay(e));
    const int sign = Sign(e);
    std::set<std::string> categories_in_order;
    for (simdjson::dom::element line : e["lines"].get_array()) {
      const int64_t unit = Cents(line["unit_price"].get_string().value());
      int64_t qty = line["qty"].get_int64().value();
      std::string category(line["category"].get_string().value());
      Sums& sums = by_category[category + "|" + day];
      sums.revenue += sign * qty * unit;
      sums.units += sign * qty;
      if (sign == 1 && categories_in_order.insert(category).second)
        ++sums.orders;
      sku_revenue[std::string(e["store_id"].get_string().value()) + "|" + day]
                 [std::string(line["sku"].get_string().value())] +=
          sign * qty * unit;
    }
  }
  auto run = RunPipeline(*config, records);
  auto cents = [](int64_t c) {
    return absl::StrCat(c < 0 ? "-" : "", std::abs(c) / 100, ".",
                        absl::StrFormat("%02d", std::abs(c) % 100));
  };
  size_t categories = 0, stores = 0;
  for (const auto& [window, snapshot] : FinalSnapshots(run->sink.kpis())) {
    simdjson::dom::element e = parser.parse(snapshot + "}");
    const std::string day = absl::StrCat(
        ParseRfc3339(std::string(e["window"]["start"].get_string().value()))
            ->millis() /
        86'400'000);
    if (e["kpi"].get_string().value() == "category_day") {
      const Sums& want =
          by_category[std::string(e["group"]["category"].get_string().value()) +
                      "|" + day];
      EXPECT_EQ(e["revenue"].get_string().value(), cents(want.revenue))
          << window;
      EXPECT_EQ(e["units"].get_int64().value(), want.units) << window;
      EXPECT_EQ(e["orders"].get_int64().value(), want.orders) << window;
      ++categories;
    } else {
      // Top 3 SKUs by revenue, ties by SKU name.
      auto& skus =
          sku_revenue[std::string(e["group"]["store_id"].get_string().value()) +
                      "|" + day];
      std::vector<std::pair<int64_t, std::string>> ranked;
      for (const auto& [sku, revenue] : skus)
        ranked.emplace_back(-revenue, sku);
      std::sort(ranked.begin(), ranked.end());
      std::string want, got;
      for (size_t i = 0; i < 3 && i < ranked.size(); ++i) {
        absl::StrAppend(&want, ranked[i].second, "=", cents(-ranked[i].first),
                        ";");
      }
      for (simdjson::dom::element top : e["top_skus"].get_array()) {
        absl::StrAppend(&got, std::string(top["sku"].get_string().value()), "=",
                        std::string(top["revenue"].get_string().value()), ";");
      }
      EXPECT_EQ(got, want) << window;
      ++stores;
    }
  }
  EXPECT_EQ(categories, by_category.size());
  EXPECT_EQ(stores, sku_revenue.size());
}

TEST(PipelineRunnerTest, DeadLettersCarryReasonSourceAndPayload) {
  auto run = RunPipeline(
      PosAnalyticsConfig(),
      {R"({"order_id":"o","ts":1,"store_id":"s","lines":[{"sku":"A","qty":0,)"
       R"("unit_price":"1.00"}]})",
       "not json"});
  EXPECT_EQ(run->summary.bad_records, 2);
  EXPECT_THAT(
      run->sink.outputs[static_cast<int>(OutputKind::kDeadLetter)],
      ::testing::ElementsAre(
          R"({"type":"deadletter","pipeline":"pos-analytics","reason":"lines[0].qty must be > 0, got 0","source":{"topic":"orders","partition":0,"offset":0},"payload":"{\"order_id\":\"o\",\"ts\":1,\"store_id\":\"s\",\"lines\":[{\"sku\":\"A\",\"qty\":0,\"unit_price\":\"1.00\"}]}","id":"orders/0/0"})",
          R"({"type":"deadletter","pipeline":"pos-analytics","reason":"invalid JSON: bad literal","source":{"topic":"orders","partition":0,"offset":1},"payload":"not json","id":"orders/0/1"})"));
}

TEST(PipelineRunnerTest, ShuffleWithinOutOfOrdernessGivesByteIdenticalOutput) {
  std::vector<std::string> records = Generate(20000);
  auto in_order =
      RunPipeline(PosAnalyticsConfig(), ShuffleWithin(records, 0, 1));
  auto shuffled =
      RunPipeline(PosAnalyticsConfig(), ShuffleWithin(records, 5000, 2));
  EXPECT_EQ(in_order->summary.corrections, 0);
  EXPECT_GT(in_order->sink.kpis().size(), 1000u);
  EXPECT_EQ(shuffled->sink.kpis(), in_order->sink.kpis());
}

TEST(PipelineRunnerTest, ShuffleWithinLatenessGivesSameFinalSnapshots) {
  std::vector<std::string> records = Generate(20000);
  auto in_order =
      RunPipeline(PosAnalyticsConfig(), ShuffleWithin(records, 0, 1));
  // Ten minutes is inside both rules' allowed lateness (1h and 15m).
  auto shuffled = RunPipeline(PosAnalyticsConfig(),
                              ShuffleWithin(records, 600'000, 3), 1, 64);
  EXPECT_GT(shuffled->summary.corrections,
            0);  // the shuffle did cause corrections
  EXPECT_EQ(shuffled->summary.late_events, 0);
  EXPECT_EQ(FinalSnapshots(shuffled->sink.kpis()),
            FinalSnapshots(in_order->sink.kpis()));
  EXPECT_EQ(NewCustomersPerRule(shuffled->sink.kpis()),
            NewCustomersPerRule(in_order->sink.kpis()));
}

TEST(PipelineRunnerTest, SameFinalSnapshotsAtAnyBatchSizeAndPartitionCount) {
  std::vector<std::string> records = Generate(10000, /*bad_rate=*/0.01);
  auto reference = RunPipeline(PosAnalyticsConfig(), records, 1, 1024);
  std::map<std::string, std::string> expected =
      FinalSnapshots(reference->sink.kpis());
  for (int partitions : {1, 3, 8}) {
    for (size_t batch : {1u, 7u, 1024u}) {
      auto run = RunPipeline(PosAnalyticsConfig(), records, partitions, batch);
      EXPECT_EQ(FinalSnapshots(run->sink.kpis()), expected)
          << partitions << " partitions, batches of " << batch;
      EXPECT_EQ(NewCustomersPerRule(run->sink.kpis()),
                NewCustomersPerRule(reference->sink.kpis()));
      EXPECT_EQ(run->summary.bad_records, reference->summary.bad_records);
      EXPECT_EQ(run->summary.late_events, 0);
    }
  }
}

// Rolling KPIs and alerts follow from the windows alone, whatever the order
// the partitions arrive in: one at a time in runs of up to 5,000 records, as
// a Kafka backlog is handed over, so that the watermark jumps by days, and
// on two workers. The traffic of the crash tests (an injected drop that
// fires alerts), whose reference is a file replay.
TEST(PipelineRunnerTest,
     SameRollingAndAlertsWhateverThePartitionsArrivalOrder) {
  const std::vector<std::string> records = Generate(testing::AlertingTraffic());
  const PipelineConfig config = PosAnalyticsConfig();
  auto reference = RunPipeline(config, records);
  for (OutputKind kind :
       {OutputKind::kKpis, OutputKind::kRolling, OutputKind::kAlerts}) {
    EXPECT_FALSE(reference->sink.outputs[static_cast<int>(kind)].empty());
  }
  for (int workers : {1, 2}) {
    PipelineConfig on_workers = config;
    on_workers.workers = workers;
    for (size_t burst : {1u, 100u, 1600u, 5000u}) {
      SCOPED_TRACE(absl::StrCat(workers, " workers, bursts of ", burst));
      auto run = RunPipeline(on_workers, records, /*partitions=*/8,
                             /*batch_size=*/2000, 4'102'444'800'000, burst);
      EXPECT_EQ(run->summary.late_events, 0);
      for (OutputKind kind :
           {OutputKind::kKpis, OutputKind::kRolling, OutputKind::kAlerts}) {
        const int k = static_cast<int>(kind);
        EXPECT_EQ(LastById(run->sink.outputs[k]),
                  LastById(reference->sink.outputs[k]))
            << "output kind " << k;
      }
    }
  }
}

// workers: N splits every rule's groups among N threads: the outputs are
// the same records as with one worker (each kind in its own order), for
// every kind of rule (examples/retail-analytics.yaml: time zones, line-level
// groups, top SKUs, early snapshots, sessions, HLL, spikes; pos-analytics:
// rolling, drops and early warnings), with late events and dead letters.
TEST(PipelineRunnerTest, WorkersOneTwoFourGiveTheSameOutputs) {
  if (!std::filesystem::exists(kSamples + "/orders-sample.ndjson")) {
    GTEST_SKIP() << "shared/samples is not beside the repository";
  }
  // The sample's orders (60 days, with sales drops that fire alerts) with
  // two hours of disorder (past the rules' lateness: late events), and its
  // bad records put back among them.
  std::vector<std::string> valid, bad;
  OrderDecoder decoder({});
  OrderEvent event;
  for (const std::string& line :
       ReadLines(kSamples + "/orders-sample.ndjson")) {
    (decoder.Decode(line, &event).ok() ? valid : bad).push_back(line);
  }
  std::vector<std::string> records = ShuffleWithin(valid, 7'200'000, 4);
  for (size_t i = 0; i < bad.size(); ++i)
    records.insert(records.begin() + static_cast<int64_t>(i * 199), bad[i]);
  absl::StatusOr<PipelineConfig> retail = LoadPipelineConfig(
      TILLSTREAM_SOURCE_DIR "/examples/retail-analytics.yaml");
  ASSERT_TRUE(retail.ok()) << retail.status();
  for (const PipelineConfig& base : {PosAnalyticsConfig(), *retail}) {
    SCOPED_TRACE(base.name);
    std::unique_ptr<testing::PipelineRun> one;
    for (int64_t workers : {1, 2, 4}) {
      PipelineConfig config = base;
      config.workers = workers;
      auto run = RunPipeline(config, records, 3, 512);
      for (std::vector<std::string>& outputs : run->sink.outputs)
        std::sort(outputs.begin(), outputs.end());
      if (workers == 1) {
        EXPECT_GT(run->summary.late_events, 0);
        EXPECT_EQ(run->summary.bad_records, 97);
        EXPECT_GT(run->summary.alerts, 0);
        one = std::move(run);
        continue;
      }
      for (int kind = 0; kind < kOutputKindCount; ++kind) {
        EXPECT_EQ(run->sink.outputs[kind], one->sink.outputs[kind])
            << "workers: " << workers << ", output kind " << kind;
      }
      EXPECT_EQ(run->summary.late_events, one->summary.late_events);
      EXPECT_EQ(run->summary.snapshots, one->summary.snapshots);
      EXPECT_EQ(run->summary.alerts, one->summary.alerts);
    }
  }
}

// after_batch reports each batch once, in the order polled, while its
// records are still readable and once its outputs are with the sink (its
// dead letters at least). With workers: 2 and a backlog, a batch's graphs
// run in the phase that reads the next one, and it is reported after that.
TEST(PipelineRunnerTest, AfterBatchSeesEachBatchOnceWithItsOutputsDelivered) {
  const std::vector<std::string> records = Generate(6000, /*bad_rate=*/0.02);
  std::set<std::string> bad;
  OrderDecoder decoder({});
  OrderEvent event;
  for (const std::string& record : records) {
    if (!decoder.Decode(record, &event).ok()) bad.insert(record);
  }
  ASSERT_FALSE(bad.empty());
  for (int64_t workers : {1, 2}) {
    SCOPED_TRACE(absl::StrCat("workers: ", workers));
    PipelineConfig config = PosAnalyticsConfig();
    config.workers = workers;
    // One partition, batches of 300: a backlog (256 or more) all along.
    testing::VectorSource source(records, std::vector<int>(records.size(), 0),
                                 1, 300);
    testing::CollectingSink sink;
    ManualClock clock;
    RunnerOptions options;
    std::vector<std::string> reported;
    size_t bad_reported = 0;
    options.after_batch = [&](const RecordBatch& batch) {
      for (const SourceRecord& record : batch.records) {
        reported.emplace_back(record.payload);
        if (bad.contains(reported.back())) ++bad_reported;
      }
      EXPECT_GE(sink.outputs[static_cast<int>(OutputKind::kDeadLetter)].size(),
                bad_reported);
    };
    PipelineRunner runner(config, &source, &sink, &clock, std::move(options));
    ASSERT_TRUE(runner.Run(std::atomic<bool>(false)).ok());
    EXPECT_EQ(reported, records);
    EXPECT_EQ(bad_reported, bad.size());
  }
}

// Session windows (customer visits) and hopping windows give the same final
// snapshots however the events are shuffled within the lateness bound,
// batched or partitioned.
TEST(PipelineRunnerTest, SessionsAndHoppingWindowsAreDeterministic) {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      "pipeline: visits\n"
      "source: {max_out_of_orderness: 5s}\n"
      "kpis: [{name: visit, group_by: [customer_id], window: {type: session, "
      "gap: 2h},\n"
      "        allowed_lateness: 1h},\n"
      "       {name: store_4h, group_by: [store_id], window: {type: hopping, "
      "size: 4h, slide: 1h},\n"
      "        allowed_lateness: 1h}]\n"
      "outputs: {kpis: k, deadletter: d, late: l}\n",
      "visits.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  TrafficOptions options;
  options.orders = 8000;
  options.days = 4;
  options.customers = 300;  // customers return often: sessions merge
  TrafficGenerator generator(options);
  std::vector<std::string> records;
  std::string record, key;
  while (generator.Next(&record, &key)) records.push_back(record);
  auto reference = RunPipeline(*config, ShuffleWithin(records, 0, 1));
  std::map<std::string, std::string> expected =
      FinalSnapshots(reference->sink.kpis());
  EXPECT_GT(expected.size(), 500u);
  for (uint64_t seed : {2, 3}) {
    auto shuffled =
        RunPipeline(*config, ShuffleWithin(records, 1'800'000, seed), 1, 16);
    EXPECT_GT(shuffled->summary.corrections, 0);
    EXPECT_EQ(shuffled->summary.late_events, 0);
    EXPECT_EQ(FinalSnapshots(shuffled->sink.kpis()), expected)
        << "seed " << seed;
  }
  auto partitioned = RunPipeline(*config, ShuffleWithin(records, 0, 1), 4, 7);
  EXPECT_EQ(FinalSnapshots(partitioned->sink.kpis()), expected);
}

TEST(PipelineRunnerTest, APartitionWithRecordsWaitingIsNotIdle) {
  // Partition 1 delivers nothing for a minute of processing time (longer
  // than idle_timeout, 30 s) while its records wait, as when a fetch serves
  // other partitions first after a restart. It is behind, not idle: its
  // records must not become late. Partition 2 is empty and its lag never
  // known: it is idle, and must not hold the watermark back meanwhile.
  class PartitionZeroFirst final : public RecordSource {
   public:
    explicit PartitionZeroFirst(std::vector<std::string> by_partition[2])
        : records_{std::move(by_partition[0]), std::move(by_partition[1])} {}
    absl::StatusOr<PollResult> Poll(PartitionListener* listener, absl::Duration,
                                    RecordBatch* batch) override {
      if (!announced_) {
        const PartitionId ids[] = {PartitionId{0}, PartitionId{1},
                                   PartitionId{2}};
        listener->OnPartitionsAssigned(ids);
        announced_ = true;
      }
      batch->records.clear();
      const int p = next_[0] < records_[0].size() ? 0 : 1;
      for (int n = 0; n < 50 && next_[p] < records_[p].size(); ++n, ++next_[p])
        batch->records.push_back({records_[p][next_[p]], PartitionId{p},
                                  Offset{static_cast<int64_t>(next_[p])}, 0});
      if (next_[p] == records_[p].size()) listener->OnPartitionEnd({p});
      return next_[1] == records_[1].size() && batch->records.empty()
                 ? PollResult::kEndOfInput
                 : PollResult::kRecords;
    }
    void Lag(std::vector<PartitionLag>* out) override {
      out->clear();
      for (int p = 0; p < 2; ++p) {
        out->push_back({PartitionId{p},
                        static_cast<int64_t>(records_[p].size() - next_[p])});
      }
      out->push_back({PartitionId{2}, -1});
    }
    SourceKind kind() const override { return SourceKind::kKafka; }
    absl::string_view name() const override { return "orders"; }
    void StartAt(const SourceOffsets&) override {}

   private:
    std::vector<std::string> records_[2];
    size_t next_[2] = {0, 0};
    bool announced_ = false;
  };
  TrafficOptions options;
  options.orders = 4000;
  options.stores = 4;
  options.days = 3;
  options.late_rate = 0;
  TrafficGenerator generator(options);
  std::vector<std::string> all, by_partition[2];
  std::string record, key;
  while (generator.Next(&record, &key)) {
    all.push_back(record);
    by_partition[key == "s-000" || key == "s-001" ? 0 : 1].push_back(record);
  }
  ASSERT_FALSE(by_partition[1].empty());
  const PipelineConfig config = PosAnalyticsConfig();
  PartitionZeroFirst source(by_partition);
  testing::CollectingSink sink;
  ManualClock clock;
  RunnerOptions runner_options;
  int64_t snapshots_while_running = 0;
  runner_options.on_batch = [&](const RunSummary& summary) {
    clock.AdvanceMillis(1'000);
    snapshots_while_running = summary.snapshots;
  };
  PipelineRunner runner(config, &source, &sink, &clock, runner_options);
  ASSERT_TRUE(runner.Run(std::atomic<bool>(false)).ok());
  ASSERT_GT(clock.NowMillis(), 2 * config.source.idle_timeout_ms);
  EXPECT_EQ(runner.summary().late_events, 0);
  EXPECT_GT(snapshots_while_running, 0);  // the watermark moved before the end
  EXPECT_EQ(FinalSnapshots(sink.kpis()),
            FinalSnapshots(RunPipeline(config, all)->sink.kpis()));
}

TEST(PipelineRunnerTest, StopKeepsOpenWindowsOpen) {
  class OneBatchThenStop final : public RecordSource {
   public:
    explicit OneBatchThenStop(std::atomic<bool>* stop) : stop_(stop) {}
    absl::StatusOr<PollResult> Poll(PartitionListener* listener, absl::Duration,
                                    RecordBatch* batch) override {
      const PartitionId p{0};
      listener->OnPartitionsAssigned({&p, 1});
      batch->records = {{record_, p, Offset{0}, 0}};
      stop_->store(true);
      return PollResult::kRecords;
    }
    SourceKind kind() const override { return SourceKind::kKafka; }
    absl::string_view name() const override { return "t"; }
    void StartAt(const SourceOffsets&) override {}

   private:
    std::atomic<bool>* stop_;
    std::string record_ =
        R"({"order_id":"o","ts":1704067200000,"store_id":"s","lines":[{"sku":"A","qty":1,"unit_price":"1"}]})";
  };
  std::atomic<bool> stop{false};
  OneBatchThenStop source(&stop);
  testing::CollectingSink sink;
  ManualClock clock;
  PipelineConfig config = PosAnalyticsConfig();
  PipelineRunner runner(config, &source, &sink, &clock);
  ASSERT_TRUE(runner.Run(stop).ok());
  EXPECT_EQ(runner.summary().events, 1);
  EXPECT_TRUE(sink.kpis().empty());  // a stop is not the end of the input
}

}  // namespace
}  // namespace tillstream
