#ifndef TILLSTREAM_OPERATORS_ALERT_WRITER_H_
#define TILLSTREAM_OPERATORS_ALERT_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/output_batch.h"
#include "engine/pipeline_config.h"
#include "operators/kpi_accumulator.h"
#include "operators/robust_baseline.h"
#include "operators/window_listener.h"

namespace tillstream {

// How alert messages name a period: "2026-03-10" for one starting at
// midnight UTC, else its full RFC 3339 start.
std::string PeriodName(int64_t start_ms);

// One alert message of an anomaly rule (DESIGN.md "Output messages").
struct AlertRecord {
  absl::string_view alert_id;
  const KpiGroup* group = nullptr;
  bool critical = false;
  bool firing = true;  // else resolved
  bool early = false;  // an early warning on a period still open
  int64_t window_start = 0;
  int64_t window_end = 0;
  // Early warnings: the event time the observed cumulative value runs to.
  int64_t as_of = 0;
  const RobustEvidence* evidence = nullptr;
  absl::string_view message;
};

// Writes the alerts of one anomaly rule, and reads and shows its metric: the
// parts its period judgements and its early warnings share.
class AlertWriter {
 public:
  AlertWriter(const AnomalyRuleConfig& rule, absl::string_view kpi,
              absl::string_view pipeline);

  // The rule's metric in its units: cents for money, else a count.
  int64_t Value(const KpiAccumulator& kpis) const;
  // A value of the metric in the units people configure (currency units
  // for money), as min_volume is given.
  double InUnits(double value) const { return money_ ? value / 100 : value; }
  // A value of the metric as a person reads it: "1234.50" or "17".
  std::string Shown(double value) const;
  absl::string_view metric() const { return metric_; }

  void Append(const AlertRecord& alert, OutputBatch* out) const;

 private:
  // A statistic (median, MAD) in the metric's units as a JSON number.
  void AppendValue(double value, std::string* out) const;

  const AnomalyRuleConfig& rule_;
  const bool money_;  // revenue and aov are money
  const absl::string_view metric_;
  std::string head_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_ALERT_WRITER_H_
