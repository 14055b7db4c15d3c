#include "operators/alert_writer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/json_writer.h"
#include "engine/money.h"
#include "engine/time_format.h"

namespace tillstream {

std::string PeriodName(int64_t start_ms) {
  std::string when = FormatRfc3339(Timestamp::FromMillis(start_ms));
  if (when.size() == 20 && when.substr(10) == "T00:00:00Z") when.resize(10);
  return when;
}

AlertWriter::AlertWriter(const AnomalyRuleConfig& rule, absl::string_view kpi,
                         absl::string_view pipeline)
    : rule_(rule),
      money_(rule.metric == RollingMetric::kRevenue ||
             rule.metric == RollingMetric::kAov),
      metric_(RollingMetricName(rule.metric)) {
  head_ = "{\"type\":\"alert\",\"pipeline\":";
  AppendJsonString(pipeline, &head_);
  head_.append(",\"rule\":");
  AppendJsonString(rule.name, &head_);
  head_.append(",\"kpi\":");
  AppendJsonString(kpi, &head_);
}

int64_t AlertWriter::Value(const KpiAccumulator& kpis) const {
  switch (rule_.metric) {
    case RollingMetric::kRevenue:
      return static_cast<int64_t>(kpis.revenue_cents);
    case RollingMetric::kOrders:
      return kpis.orders;
    case RollingMetric::kUnits:
      return static_cast<int64_t>(kpis.units);
    case RollingMetric::kAov:
      return kpis.orders == 0
                 ? 0
                 : static_cast<int64_t>(DivideRoundHalfAwayFromZero(
                       kpis.completed_gross_cents, kpis.orders));
  }
  return 0;
}

std::string AlertWriter::Shown(double value) const {
  return money_ ? FormatCents(static_cast<int64_t>(std::llround(value)))
                : absl::StrFormat("%.0f", value);
}

void AlertWriter::AppendValue(double value, std::string* out) const {
  // Medians of cents are whole or half cents, MADs likewise: in currency
  // units at most three decimals, shown exactly as a JSON number.
  absl::StrAppend(out,
                  absl::StrFormat("%.10g", money_ ? value / 100.0 : value));
}

void AlertWriter::Append(const AlertRecord& alert, OutputBatch* out) const {
  const RobustEvidence& e = *alert.evidence;
  const bool drop = rule_.direction == AnomalyRuleConfig::Direction::kDrop;
  out->BeginRecord(OutputKind::kAlerts, alert.alert_id);
  std::string* json = out->value();
  json->append(head_);
  // One incident is one id: its last message is its current state.
  json->append(",\"id\":");
  AppendJsonString(alert.alert_id, json);
  json->append(",\"alert_id\":");
  AppendJsonString(alert.alert_id, json);
  absl::StrAppend(
      json, ",\"severity\":\"", alert.critical ? "critical" : "warning",
      "\",\"state\":\"", alert.firing ? "firing" : "resolved",
      "\",\"early\":", alert.early ? "true" : "false", ",\"group\":");
  json->append(alert.group->json);
  absl::StrAppend(json, ",\"metric\":\"", metric_,
                  "\",\"window\":{\"start\":\"");
  AppendRfc3339(Timestamp::FromMillis(alert.window_start), json);
  json->append("\",\"end\":\"");
  AppendRfc3339(Timestamp::FromMillis(alert.window_end), json);
  json->append("\"}");
  if (alert.early) {
    json->append(",\"as_of\":\"");
    AppendRfc3339(Timestamp::FromMillis(alert.as_of), json);
    json->push_back('"');
  }
  json->append(",\"observed\":");
  if (money_) {
    json->push_back('"');
    AppendCents(e.observed, json);
    json->push_back('"');
  } else {
    absl::StrAppend(json, e.observed);
  }
  json->append(",\"expected\":");
  AppendValue(e.median, json);
  json->append(",\"score\":");
  absl::StrAppend(json,
                  e.has_score ? absl::StrFormat("%.4f", e.score) : "null");
  absl::StrAppend(json, ",\"", drop ? "pct_drop" : "pct_rise",
                  "\":", absl::StrFormat("%.4f", e.change),
                  ",\"baseline\":{\"median\":");
  AppendValue(e.median, json);
  json->append(",\"mad\":");
  AppendValue(e.mad, json);
  absl::StrAppend(json, ",\"n\":", e.n, "},\"message\":");
  AppendJsonString(alert.message, json);
  json->push_back('}');
  out->EndRecord();
}

}  // namespace tillstream
