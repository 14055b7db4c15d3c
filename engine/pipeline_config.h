#ifndef TILLSTREAM_ENGINE_PIPELINE_CONFIG_H_
#define TILLSTREAM_ENGINE_PIPELINE_CONFIG_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tillstream {

// A field a KPI rule can group by: order-level, or line-level (sku,
// category), in which case each line counts towards its own group.
enum class GroupField : uint8_t {
  kStoreId,
  kRegion,
  kChannel,
  kCurrency,
  kCustomerId,
  kSku,
  kCategory,
};
absl::string_view GroupFieldName(GroupField field);
inline bool IsLineField(GroupField field) {
  return field == GroupField::kSku || field == GroupField::kCategory;
}

// source: where orders come from and how event time is tracked.
struct SourceConfig {
  std::string topic = "pos.orders";     // input topic (Kafka mode)
  int64_t max_out_of_orderness_ms = 0;  // watermark = max ts seen - this
  int64_t idle_timeout_ms =
      30'000;  // a silent partition stops holding the watermark back
  std::string default_currency = "USD";  // currency of events that name none
};

// limits: what a single input record may hold. A record over any limit is a
// bad record with a reason naming the limit; none of them can make the engine
// use unbounded memory or time.
struct InputLimits {
  int64_t max_record_bytes = 1 << 20;  // 1 MiB per record
  int64_t max_lines = 1000;            // lines per order
  int64_t max_depth = 16;              // JSON nesting, ignored fields included
  int64_t max_string_bytes = 256;  // order_id, ids, sku, category, region, ...
  int64_t max_qty = 1'000'000;     // per line
  int64_t max_unit_price_cents = 100'000'000;  // per unit: 1,000,000.00
  // Event times outside [min_ts, wall clock + max_future] are refused, so one
  // absurd timestamp cannot drag a partition's watermark years ahead.
  int64_t min_ts_ms = 946'684'800'000;  // 2000-01-01T00:00:00Z
  int64_t max_future_ms = 86'400'000;   // 1 day ahead of the wall clock
};

enum class WindowType : uint8_t { kTumbling, kHopping, kSession };

// One windowed KPI rule (DESIGN.md "KPI semantics").
struct KpiRuleConfig {
  std::string name;
  std::vector<GroupField> group_by;  // empty = one group for everything
  WindowType window_type = WindowType::kTumbling;
  int64_t window_size_ms = 0;   // tumbling and hopping: the window length
  int64_t window_slide_ms = 0;  // hopping: distance between window starts
  int64_t session_gap_ms =
      0;  // session: a group's session ends after this long without events
  std::string
      timezone;  // tumbling: windows follow this zone's local time ("" = UTC)
  int64_t allowed_lateness_ms = 0;  // updates accepted until end + this
  int64_t top_skus = 0;  // > 0: the N SKUs with most revenue per window
  bool approx_distinct =
      false;  // distinct_customers by HyperLogLog (1.6% error)
  // emit: updates: while a window is open, a snapshot marked "final": false
  // every update_interval (processing time) if it changed; 0 = emit: final.
  int64_t update_interval_ms = 0;
  // A rule the engine derives to feed another operator (early warnings):
  // its windows go to listeners only, never to the kpis or late outputs,
  // and it counts no customers.
  bool internal = false;
};

// A KPI metric a rolling rule can sum over its spans.
enum class RollingMetric : uint8_t { kRevenue, kOrders, kUnits, kAov };
absl::string_view RollingMetricName(RollingMetric metric);

// One rolling rule over the periods (windows) of a tumbling KPI rule
// (DESIGN.md "Rolling KPIs"): per group and period d, the sum over d-span+1..d
// and over the previous_span periods before that, and their percent change.
struct RollingRuleConfig {
  std::string name;
  std::string kpi;            // the KPI rule whose windows are the periods
  int64_t span = 7;           // periods in the current span
  int64_t previous_span = 7;  // periods in the span compared with
  std::vector<RollingMetric> metrics = {RollingMetric::kRevenue};
};

// An anomaly rule over the periods of a tumbling KPI rule (DESIGN.md "Anomaly
// rule robust drop"): each period's metric against the median and MAD of the
// `history` periods before it.
struct AnomalyRuleConfig {
  enum class Direction : uint8_t {
    kDrop,
    kSpike
  };  // method robust_drop / robust_spike
  std::string name;
  std::string kpi;
  RollingMetric metric = RollingMetric::kRevenue;
  Direction direction = Direction::kDrop;
  int64_t season =
      1;  // seasonal methods: periods per season (7 days, 168 hours)
  int64_t history =
      28;  // baseline periods (seasons, when seasonal), current one excluded
  int64_t min_history = 28;  // periods of history before the rule judges at all
  double z_threshold = 3.5;  // |robust z| beyond this ...
  double min_change =
      0.30;  // ... and a drop (or rise) of more than this fraction
  double critical_change =
      0.60;  // severity critical from this change on, warning below
  double min_volume =
      0;  // no alert while the baseline median is below this (metric units)
  int64_t cooldown =
      0;  // periods after a resolved alert before the group can fire again

  // early_warning: while a period is open, its cumulative value at the end
  // of each step against the baseline periods' cumulative values at the same
  // point of their period (DESIGN.md-style robust rule, own thresholds).
  struct EarlyWarning {
    bool enabled = false;
    int64_t step_ms = 3'600'000;  // judged at the end of every step
    // Not judged before the expected cumulative value reaches this fraction
    // of a usual whole period: the first hours of a day say little.
    double min_progress = 0.25;
    double z_threshold = 3.5;  // default: the rule's
    // Default: the rule's min_drop / min_rise. Applied to a whole period;
    // at progress p (expected / usual whole period) the change must exceed
    // min_change / sqrt(p), as a partial sum is that much noisier.
    double min_change = 0.30;
    // `for`: anomalous at this many consecutive step ends before it fires.
    int64_t confirm_steps = 2;
  };
  EarlyWarning early_warning;
};

// outputs: topic names in Kafka mode, file names (DIR/<key>.ndjson) in file
// mode.
struct OutputsConfig {
  std::string kpis;
  std::string rolling;  // required when there are rolling rules
  std::string alerts;   // required when there are anomaly rules
  std::string deadletter;
  std::string late;
};

struct KafkaConfig {
  std::string brokers = "embedded";  // "embedded" or host:port[,host:port]
  std::string group_id;              // default: "tillstream-<pipeline>"
  // Passed to librdkafka unchanged (SASL, TLS, tuning), in file order.
  std::vector<std::pair<std::string, std::string>> properties;
};

// http: the engine's HTTP endpoints (metrics, queries, dashboard).
struct HttpConfig {
  int port = -1;                      // -1: off (the default); 0: any free port
  std::string address = "127.0.0.1";  // 0.0.0.0 to serve other hosts
};

// Durable state: RocksDB checkpoints (README "Guarantees").
struct StateConfig {
  std::string dir;  // empty: no checkpoints; state lives only in memory
  int64_t checkpoint_interval_ms = 1'000;
  // RocksDB's memory: one block cache that the memtables (write buffers,
  // at most half of it) are charged to.
  int64_t memory_mb = 256;
  // With Kafka: the changelog topic that can rebuild the state on another
  // disk; default "<group_id>-changelog", "none" for no changelog.
  std::string changelog;
};

enum class ProcessingGuarantee {
  kDefault,      // exactly_once with a real cluster, else at_least_once
  kAtLeastOnce,  // outputs carry ids; a crash may replay some
  kExactlyOnce,  // outputs and offsets in one transaction per checkpoint
};

// "default", "at_least_once" or "exactly_once".
absl::string_view GuaranteeName(ProcessingGuarantee guarantee);

struct PipelineConfig {
  std::string file;  // where it was read from, for messages
  std::string name;
  SourceConfig source;
  InputLimits limits;
  std::vector<KpiRuleConfig> kpis;
  std::vector<RollingRuleConfig> rolling;
  std::vector<AnomalyRuleConfig> anomalies;
  OutputsConfig outputs;
  KafkaConfig kafka;
  HttpConfig http;
  StateConfig state;
  ProcessingGuarantee processing_guarantee = ProcessingGuarantee::kDefault;
  // Operator threads: each owns the groups whose key hashes to it, for
  // every rule (engine/operator_graph.h). With scale_out, the threads that
  // run this instance's share of the tasks.
  int64_t workers = 1;
  // scale_out: instances of the pipeline split its work between them over
  // Kafka, in `tasks` tasks (docs/scale-out.md); 0: off, one instance is
  // active and the others are standbys.
  int64_t scale_out_tasks = 0;
};

inline constexpr int64_t kMaxScaleOutTasks = 1024;

inline constexpr int64_t kMaxWorkers = 64;

// True for a librdkafka property that can hold a secret (passwords, SASL
// JAAS and OAUTHBEARER settings): its value is never logged or shown.
bool IsSecretProperty(absl::string_view name);

// The effective configuration (defaults filled in, ${ENV} substituted) as one
// JSON object, with secret property values replaced by "[redacted]": what
// `tillstream check` prints and what operators may be shown.
std::string EffectiveConfigJson(const PipelineConfig& config);

// Reads and validates a pipeline file. The error message names the file, the
// line and what is wrong: "bad.yaml:7: kpis[0].window.size: bad duration ...".
absl::StatusOr<PipelineConfig> LoadPipelineConfig(const std::string& path);
// The same for YAML text; `file` is used in messages only.
absl::StatusOr<PipelineConfig> ParsePipelineConfig(absl::string_view yaml,
                                                   absl::string_view file);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_PIPELINE_CONFIG_H_
