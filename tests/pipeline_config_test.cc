#include "engine/pipeline_config.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

constexpr char kGood[] = R"(pipeline: pos-analytics
source: {topic: pos.orders, max_out_of_orderness: 5s, idle_timeout: 30s}
kpis:
  - {name: store_day, group_by: [store_id], window: {type: tumbling, size: 1d}, allowed_lateness: 1h}
  - name: region_channel_hour
    group_by: [region, channel]
    window: {size: 1h}
outputs: {kpis: pos.kpis, deadletter: pos.deadletter, late: pos.late}
kafka:
  brokers: embedded
  properties: {security.protocol: SASL_SSL, sasl.mechanism: PLAIN}
)";

std::string Error(absl::string_view yaml) {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(yaml, "p.yaml");
  return config.ok() ? "ok" : std::string(config.status().message());
}

std::string ErrorWith(absl::string_view from, absl::string_view to) {
  std::string yaml = absl::StrReplaceAll(kGood, {{from, to}});
  EXPECT_NE(yaml, kGood) << "replacement did not apply: " << from;
  return Error(yaml);
}

TEST(PipelineConfigTest, ReadsEverySetting) {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(kGood, "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->name, "pos-analytics");
  EXPECT_EQ(config->source.topic, "pos.orders");
  EXPECT_EQ(config->source.max_out_of_orderness_ms, 5000);
  EXPECT_EQ(config->source.idle_timeout_ms, 30000);
  ASSERT_EQ(config->kpis.size(), 2u);
  EXPECT_EQ(config->kpis[0].name, "store_day");
  EXPECT_EQ(config->kpis[0].group_by,
            std::vector<GroupField>{GroupField::kStoreId});
  EXPECT_EQ(config->kpis[0].window_size_ms, 86400000);
  EXPECT_EQ(config->kpis[0].allowed_lateness_ms, 3600000);
  EXPECT_EQ(
      config->kpis[1].group_by,
      (std::vector<GroupField>{GroupField::kRegion, GroupField::kChannel}));
  EXPECT_EQ(config->kpis[1].allowed_lateness_ms, 0);
  EXPECT_EQ(config->outputs.kpis, "pos.kpis");
  EXPECT_EQ(config->outputs.deadletter, "pos.deadletter");
  EXPECT_EQ(config->outputs.late, "pos.late");
  EXPECT_EQ(config->kafka.brokers, "embedded");
  EXPECT_EQ(config->kafka.group_id, "tillstream-pos-analytics");
  ASSERT_EQ(config->kafka.properties.size(), 2u);
  EXPECT_EQ(config->kafka.properties[0].first, "security.protocol");
  EXPECT_EQ(config->kafka.properties[0].second, "SASL_SSL");
}

TEST(PipelineConfigTest, UnknownKeyNamesFileLineAndChoices) {
  EXPECT_EQ(
      ErrorWith("idle_timeout: 30s", "idle_timout: 30s"),
      "p.yaml:2: source.idle_timout: unknown key; expected one of: topic, "
      "max_out_of_orderness, idle_timeout, default_currency");
  EXPECT_EQ(ErrorWith("    window: {size: 1h}",
                      "    window: {size: 1h}\n    colour: red"),
            "p.yaml:8: kpis[1].colour: unknown key; expected one of: name, "
            "group_by, window, "
            "allowed_lateness, timezone, top_skus, approx_distinct, emit, "
            "update_interval");
}

TEST(PipelineConfigTest, BadDuration) {
  EXPECT_EQ(ErrorWith("size: 1h}", "size: 1hour}"),
            "p.yaml:7: kpis[1].window.size: bad duration \"1hour\": unknown "
            "unit \"hour\" "
            "(expected e.g. 500ms, 5s, 15m, 1h, 1d, 1h30m)");
  EXPECT_EQ(ErrorWith("allowed_lateness: 1h}", "allowed_lateness: soon}"),
            "p.yaml:4: kpis[0].allowed_lateness: bad duration \"soon\": "
            "expected a number "
            "(expected e.g. 500ms, 5s, 15m, 1h, 1d, 1h30m)");
  EXPECT_EQ(ErrorWith("size: 1d}", "size: 0}"),
            "p.yaml:4: kpis[0].window.size: must be > 0");
}

TEST(PipelineConfigTest, KpiRules) {
  EXPECT_EQ(
      ErrorWith("  - name: region_channel_hour\n    group_by", "  - group_by"),
      "p.yaml:5: kpis[1]: KPI rule has no name");
  EXPECT_EQ(ErrorWith("name: region_channel_hour", "name: store_day"),
            "p.yaml:5: kpis[1].name: duplicate KPI rule name \"store_day\"");
  EXPECT_EQ(ErrorWith("[region, channel]", "[region, colour]"),
            "p.yaml:6: kpis[1].group_by[1]: cannot group by \"colour\"; "
            "expected one of: "
            "store_id, region, channel, currency, customer_id, sku, category");
  EXPECT_EQ(
      ErrorWith("{type: tumbling, size: 1d}", "{type: sliding, size: 1d}"),
      "p.yaml:4: kpis[0].window.type: window type \"sliding\" is not "
      "supported; expected "
      "tumbling, hopping or session");
  EXPECT_EQ(
      ErrorWith("{type: tumbling, size: 1d}", "{type: hopping, size: 1h}"),
      "p.yaml:4: kpis[0].window.slide: missing");
  EXPECT_EQ(ErrorWith("{type: tumbling, size: 1d}",
                      "{type: hopping, size: 1h, slide: 2h}"),
            "p.yaml:4: kpis[0].window.slide: must not exceed the window size "
            "(events would "
            "fall between windows)");
  EXPECT_EQ(
      ErrorWith("{type: tumbling, size: 1d}", "{type: session, size: 1d}"),
      "p.yaml:4: kpis[0].window.size: a session window has no size");
  EXPECT_EQ(ErrorWith("allowed_lateness: 1h}",
                      "allowed_lateness: 1h, timezone: Mars/Olympus}"),
            "p.yaml:4: kpis[0].timezone: unknown time zone \"Mars/Olympus\" "
            "(an IANA name such "
            "as Europe/Berlin)");
  EXPECT_EQ(ErrorWith("{type: tumbling, size: 1d}, allowed_lateness: 1h}",
                      "{type: tumbling, size: 1w}, allowed_lateness: 1h, "
                      "timezone: Europe/Berlin}"),
            "p.yaml:4: kpis[0].timezone: a time zone applies to tumbling "
            "windows of one day or a "
            "part of a day");
  EXPECT_EQ(ErrorWith("    window: {size: 1h}\n", ""),
            "p.yaml:5: kpis[1].window: missing");
}

TEST(PipelineConfigTest, MissingOutputs) {
  EXPECT_EQ(ErrorWith(" late: pos.late}", "}"),
            "p.yaml:8: outputs.late: missing: every pipeline names its kpis, "
            "deadletter and "
            "late outputs");
  EXPECT_EQ(ErrorWith("outputs: {kpis: pos.kpis, deadletter: pos.deadletter, "
                      "late: pos.late}\n",
                      ""),
            "p.yaml:1: outputs: missing");
}

TEST(PipelineConfigTest, StateAndGuarantee) {
  EXPECT_EQ(ErrorWith("kafka:\n", "state: {checkpoint_interval: 1s}\nkafka:\n"),
            "p.yaml:9: state.dir: missing");
  EXPECT_EQ(ErrorWith("kafka:\n",
                      "state: {dir: s, checkpoint_interval: 5ms}\nkafka:\n"),
            "p.yaml:9: state.checkpoint_interval: must be at least 10ms");
  EXPECT_EQ(ErrorWith("kafka:\n", "state: {dir: s, memory_mb: 1}\nkafka:\n"),
            "p.yaml:9: state.memory_mb: must be between 16 and 1048576");
  EXPECT_EQ(ErrorWith("kafka:\n", "state: {dir: s, changelog: \"\"}\nkafka:\n"),
            "p.yaml:9: state.changelog: must not be empty");
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      absl::StrReplaceAll(kGood, {{"kafka:\n", "state: {dir: s}\nkafka:\n"}}),
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->state.changelog,
            absl::StrCat(config->kafka.group_id, "-changelog"));
  config = ParsePipelineConfig(
      absl::StrReplaceAll(
          kGood, {{"kafka:\n", "state: {dir: s, changelog: none}\nkafka:\n"}}),
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->state.changelog, "none");
  EXPECT_EQ(
      ErrorWith("kafka:\n", "processing_guarantee: at_most_once\nkafka:\n"),
      "p.yaml:9: processing_guarantee: expected at_least_once or "
      "exactly_once");
}

TEST(PipelineConfigTest, Workers) {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(kGood, "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->workers, 1);
  config = ParsePipelineConfig(
      absl::StrReplaceAll(kGood, {{"kafka:\n", "workers: 4\nkafka:\n"}}),
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->workers, 4);
  EXPECT_EQ(ErrorWith("kafka:\n", "workers: 0\nkafka:\n"),
            "p.yaml:9: workers: must be between 1 and 64");
  EXPECT_EQ(ErrorWith("kafka:\n", "workers: two\nkafka:\n"),
            "p.yaml:9: workers: expected a whole number");
}

TEST(PipelineConfigTest, ScaleOut) {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(kGood, "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->scale_out_tasks, 0);  // off: one active instance
  constexpr char kState[] = "state: {dir: /var/lib/tillstream}\n";
  config = ParsePipelineConfig(
      absl::StrReplaceAll(
          kGood, {{"kafka:\n", absl::StrCat(kState, "scale_out: {tasks: 8}\n",
                                            "kafka:\n")}}),
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->scale_out_tasks, 8);
  EXPECT_EQ(ErrorWith("kafka:\n", "scale_out: {tasks: 8}\nkafka:\n"),
            "p.yaml:9: scale_out: needs state (state.dir): a task's state "
            "moves between instances through its changelog");
  EXPECT_EQ(
      ErrorWith("kafka:\n", absl::StrCat(kState, "scale_out: {}\nkafka:\n")),
      "p.yaml:10: scale_out.tasks: missing (how many tasks the work is "
      "split into: the partitions of the repartition and changelog "
      "topics)");
  EXPECT_EQ(ErrorWith("kafka:\n",
                      absl::StrCat(kState, "scale_out: {tasks: 0}\nkafka:\n")),
            "p.yaml:10: scale_out.tasks: must be between 1 and 1024");
  EXPECT_EQ(
      ErrorWith("kafka:\n",
                absl::StrCat(kState, "scale_out: {tasks: 8, by: x}\nkafka:\n")),
      "p.yaml:10: scale_out.by: unknown key; expected one of: tasks");
  EXPECT_EQ(ErrorWith("kafka:\n",
                      "state: {dir: /s, changelog: none}\nscale_out: {tasks: "
                      "2}\nkafka:\n"),
            "p.yaml:9: state.changelog: none: scale_out moves a task's state "
            "between instances through its changelog");
}

TEST(PipelineConfigTest, AnomalyRules) {
  const std::string rule =
      "anomalies: [{name: drop, kpi: store_day, metric: orders, method: "
      "robust_drop, history: 14, "
      "min_history: 7, z_threshold: 3, min_drop: 0.25, critical_change: 0.5, "
      "min_volume: 10, "
      "cooldown: 2}]\n";
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      absl::StrReplaceAll(
          kGood, {{"outputs: {kpis: pos.kpis,",
                   rule + "outputs: {alerts: pos.alerts, kpis: pos.kpis,"}}),
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->anomalies.size(), 1u);
  const AnomalyRuleConfig& a = config->anomalies[0];
  EXPECT_EQ(a.metric, RollingMetric::kOrders);
  EXPECT_EQ(a.direction, AnomalyRuleConfig::Direction::kDrop);
  EXPECT_EQ(a.history, 14);
  EXPECT_EQ(a.min_history, 7);
  EXPECT_EQ(a.z_threshold, 3);
  EXPECT_EQ(a.min_change, 0.25);
  EXPECT_EQ(a.critical_change, 0.5);
  EXPECT_EQ(a.min_volume, 10);
  EXPECT_EQ(a.cooldown, 2);
  EXPECT_EQ(config->outputs.alerts, "pos.alerts");
  EXPECT_EQ(
      ErrorWith("outputs: {", rule + "outputs: {"),
      "p.yaml:9: outputs.alerts: missing: the anomaly rules need an output");
  EXPECT_EQ(
      ErrorWith("outputs: {",
                "anomalies: [{name: s, kpi: store_day, method: robust_spike, "
                "min_drop: 0.3}]\noutputs: {alerts: a, "),
      "p.yaml:8: anomalies[0].min_drop: not for method robust_spike");
  EXPECT_EQ(
      ErrorWith("outputs: {",
                "anomalies: [{name: s, kpi: store_day, method: "
                "seasonal}]\noutputs: {alerts: a, "),
      "p.yaml:8: anomalies[0].method: unknown method \"seasonal\"; "
      "expected robust_drop, robust_spike, seasonal_robust or seasonal_spike");
}

TEST(PipelineConfigTest, EarlyWarning) {
  auto with = [](absl::string_view rule) {
    return absl::StrReplaceAll(
        kGood, {{"outputs: {kpis: pos.kpis,",
                 absl::StrCat("anomalies: [", rule,
                              "]\noutputs: {alerts: a, kpis: pos.kpis,")}});
  };
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      with("{name: d, kpi: store_day, z_threshold: 4, min_drop: 0.4, "
           "early_warning: {}}"),
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  // Defaults: hourly steps, the rule's own thresholds.
  const AnomalyRuleConfig::EarlyWarning& early =
      config->anomalies[0].early_warning;
  EXPECT_TRUE(early.enabled);
  EXPECT_EQ(early.step_ms, 3'600'000);
  EXPECT_EQ(early.min_progress, 0.25);
  EXPECT_EQ(early.z_threshold, 4);
  EXPECT_EQ(early.min_change, 0.4);
  config = ParsePipelineConfig(
      with("{name: d, kpi: store_day, early_warning: {step: 30m, "
           "min_progress: 0.5, z_threshold: 3, min_drop: 0.5}}"),
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->anomalies[0].early_warning.step_ms, 1'800'000);
  EXPECT_EQ(config->anomalies[0].early_warning.min_progress, 0.5);
  EXPECT_EQ(config->anomalies[0].early_warning.z_threshold, 3);
  EXPECT_EQ(config->anomalies[0].early_warning.min_change, 0.5);
  EXPECT_FALSE(ParsePipelineConfig(with("{name: d, kpi: store_day}"), "p.yaml")
                   ->anomalies[0]
                   .early_warning.enabled);

  EXPECT_EQ(Error(with("{name: d, kpi: store_day, early_warning: {step: 7h}}")),
            "p.yaml:8: anomalies[0].early_warning.step: must be shorter than "
            "the KPI rule's window and divide it into whole steps");
  EXPECT_EQ(Error(with("{name: d, kpi: region_channel_hour, "
                       "early_warning: {step: 1h}}")),
            "p.yaml:8: anomalies[0].early_warning.step: must be shorter than "
            "the KPI rule's window and divide it into whole steps");
  EXPECT_EQ(
      Error(with("{name: d, kpi: store_day, metric: aov, early_warning: {}}")),
      "p.yaml:8: anomalies[0].early_warning: needs a metric that adds up over "
      "the day (revenue, orders or units), not aov");
  EXPECT_EQ(
      Error(with("{name: d, kpi: store_day, early_warning: {min_rise: 1}}")),
      "p.yaml:8: anomalies[0].early_warning.min_rise: unknown key; expected "
      "one of: step, for, min_progress, z_threshold, min_drop");
  EXPECT_EQ(Error(with("{name: d, kpi: store_day, early_warning: true}")),
            "p.yaml:8: anomalies[0].early_warning: expected a mapping");
  EXPECT_EQ(Error(with("{name: d, kpi: store_day, early_warning: "
                       "{min_progress: 2}}")),
            "p.yaml:8: anomalies[0].early_warning.min_progress: must be "
            "between 0 and 1");
}

TEST(PipelineConfigTest, RollingRules) {
  std::string rolling =
      "rolling: [{name: store_7d, kpi: store_day, span: 28, previous_span: 7, "
      "metrics: [revenue, aov]}]\n";
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      absl::StrReplaceAll(
          kGood,
          {{"outputs: {kpis: pos.kpis,",
            rolling + "outputs: {kpis: pos.kpis, rolling: pos.rolling,"}}),
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->rolling.size(), 1u);
  EXPECT_EQ(config->rolling[0].kpi, "store_day");
  EXPECT_EQ(config->rolling[0].span, 28);
  EXPECT_EQ(config->rolling[0].previous_span, 7);
  EXPECT_EQ(config->rolling[0].metrics,
            (std::vector<RollingMetric>{RollingMetric::kRevenue,
                                        RollingMetric::kAov}));
  EXPECT_EQ(config->outputs.rolling, "pos.rolling");
  EXPECT_EQ(
      ErrorWith("outputs: {", rolling + "outputs: {"),
      "p.yaml:9: outputs.rolling: missing: the rolling rules need an output");
  EXPECT_EQ(
      ErrorWith(
          "outputs: {",
          "rolling: [{name: r, kpi: store_week}]\noutputs: {rolling: r, "),
      "p.yaml:8: rolling[0].kpi: no KPI rule named \"store_week\"");
  EXPECT_EQ(
      ErrorWith("outputs: {",
                "rolling: [{name: r, kpi: store_day, metrics: [margin]}]\n"
                "outputs: {rolling: r, "),
      "p.yaml:8: rolling[0].metrics[0]: unknown metric \"margin\"; expected "
      "one of: "
      "revenue, orders, units, aov");
  EXPECT_EQ(
      ErrorWith("outputs: {",
                "rolling: [{name: store_day, kpi: store_day}]\noutputs: {"),
      "p.yaml:8: rolling[0].name: duplicate rule name \"store_day\"");
}

TEST(PipelineConfigTest, YamlSyntaxAndEmptyFile) {
  EXPECT_EQ(ErrorWith("kpis:\n", "kpis: [\n"),
            "p.yaml:4: invalid YAML: illegal block entry");
  EXPECT_EQ(Error(""), "p.yaml:1: the pipeline file is empty");
  EXPECT_EQ(Error("- just\n- a list\n"), "p.yaml:1: expected a mapping");
}

TEST(PipelineConfigTest, Limits) {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      absl::StrReplaceAll(
          kGood, {{"kafka:\n",
                   "limits: {max_lines: 50, max_unit_price: \"99.99\", "
                   "min_ts: 2020-01-01T00:00:00Z, max_future: 1h}\nkafka:\n"}}),
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->limits.max_lines, 50);
  EXPECT_EQ(config->limits.max_unit_price_cents, 9999);
  EXPECT_EQ(config->limits.min_ts_ms, 1577836800000);
  EXPECT_EQ(config->limits.max_future_ms, 3600000);
  EXPECT_EQ(config->limits.max_depth, 16);  // default kept
  EXPECT_EQ(ErrorWith("kafka:\n", "limits: {max_lines: 0}\nkafka:\n"),
            "p.yaml:9: limits.max_lines: must be between 1 and 1000000");
  EXPECT_EQ(ErrorWith("kafka:\n", "limits: {max_depth: deep}\nkafka:\n"),
            "p.yaml:9: limits.max_depth: expected a whole number");
  EXPECT_EQ(ErrorWith("kafka:\n", "limits: {min_ts: yesterday}\nkafka:\n"),
            "p.yaml:9: limits.min_ts: ts \"yesterday\" is not RFC 3339: "
            "expected YYYY-MM-DD");
}

TEST(PipelineConfigTest, EnvironmentVariables) {
  setenv("TS_TEST_USER", "tillstream", 1);
  setenv("TS_TEST_SECRET", "hunter2", 1);
  unsetenv("TS_TEST_UNSET");
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      absl::StrReplaceAll(
          kGood, {{"sasl.mechanism: PLAIN}",
                   "sasl.mechanism: PLAIN, sasl.username: \"${TS_TEST_USER}\", "
                   "sasl.password: \"${TS_TEST_SECRET}\"}"},
                  {"topic: pos.orders", "topic: \"${TS_TEST_USER}.orders\""}}),
      "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->source.topic, "tillstream.orders");
  EXPECT_EQ(config->kafka.properties[2].second, "tillstream");
  EXPECT_EQ(config->kafka.properties[3].first, "sasl.password");
  EXPECT_EQ(config->kafka.properties[3].second, "hunter2");

  EXPECT_EQ(ErrorWith("sasl.mechanism: PLAIN}",
                      "sasl.password: \"${TS_TEST_UNSET}\"}"),
            "p.yaml:11: kafka.properties.sasl.password: environment variable "
            "TS_TEST_UNSET is "
            "not set");
  EXPECT_EQ(
      ErrorWith("sasl.mechanism: PLAIN}", "sasl.password: \"${TS TEST}\"}"),
      "p.yaml:11: kafka.properties.sasl.password: bad ${NAME} reference (NAME: "
      "letters, "
      "digits, _)");
  // A value from the environment that does not parse is not quoted back.
  EXPECT_EQ(
      ErrorWith("idle_timeout: 30s", "idle_timeout: \"${TS_TEST_SECRET}\""),
      "p.yaml:2: source.idle_timeout: the value of ${TS_TEST_SECRET} is not a "
      "duration");
}

TEST(PipelineConfigTest, MissingFileIsReported) {
  EXPECT_EQ(LoadPipelineConfig("/nonexistent/p.yaml").status().message(),
            "/nonexistent/p.yaml: cannot read the pipeline file");
}

}  // namespace
}  // namespace tillstream
