#include "operators/anomaly_operator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/json_writer.h"
#include "engine/money.h"
#include "engine/time_format.h"

namespace tillstream {
namespace {

// The median of `values` (sorted in place); the mean of the middle two for
// an even count.
double Median(std::vector<double>& values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

}  // namespace

AnomalyOperator::AnomalyOperator(const AnomalyRuleConfig& rule,
                                 const KpiRuleConfig& kpi,
                                 absl::string_view pipeline)
    : rule_(rule),
      assigner_(kpi),
      money_(rule.metric == RollingMetric::kRevenue ||
             rule.metric == RollingMetric::kAov) {
  head_ = "{\"type\":\"alert\",\"pipeline\":";
  AppendJsonString(pipeline, &head_);
  head_.append(",\"rule\":");
  AppendJsonString(rule.name, &head_);
  head_.append(",\"kpi\":");
  AppendJsonString(kpi.name, &head_);
}

int64_t AnomalyOperator::Value(const KpiAccumulator& kpis) const {
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

void AnomalyOperator::OnWindowEmitted(uint32_t group_id, const KpiGroup& group,
                                      int64_t start, const KpiAccumulator& kpis,
                                      int32_t /*revision*/, OutputBatch* out) {
  const int64_t value = Value(kpis);
  const int64_t index = assigner_.PeriodIndex(start);
  auto [it, inserted] = groups_.try_emplace(group_id);
  GroupState& state = it->second;
  if (inserted) {
    state.group = group;
    state.first_index = index;
    state.history_index = index;
    state.quiet_until = index;
    order_.emplace(group.key, group_id);
    if (next_index_ == INT64_MIN) next_index_ = index;
  }
  const int64_t finalized_end =
      state.history_index + static_cast<int64_t>(state.history.size());
  if (state.history.empty() || index >= finalized_end) {
    state.pending[index] = value;
    if (state.history.empty()) {
      state.first_index = std::min(state.first_index, index);
      state.history_index = state.first_index;
      // Periods that other groups have already finalized are caught up now.
      for (int64_t next = state.first_index; next < next_index_; ++next) {
        Finalize(state, next, /*judge=*/true, out);
      }
    }
    return;
  }
  // A correction of a period already judged: later baselines use the new
  // value; the judgement of that period stands.
  if (index >= state.history_index)
    state.history[index - state.history_index] = value;
}

void AnomalyOperator::OnWindowsClosed(int64_t closed_through,
                                      Timestamp watermark, OutputBatch* out) {
  if (next_index_ == INT64_MIN) return;
  const int64_t last = assigner_.PeriodIndex(closed_through);
  // At the end of a bounded input the last period closes without its end
  // having been reached by events: it is likely partial, so not judged.
  const int64_t last_judged = watermark.is_max() ? last - 1 : last;
  for (; next_index_ <= last; ++next_index_) {
    for (const auto& [key, id] : order_) {
      GroupState& state = groups_.at(id);
      if (state.first_index <= next_index_) {
        Finalize(state, next_index_, next_index_ <= last_judged, out);
      }
    }
  }
}

void AnomalyOperator::Finalize(GroupState& state, int64_t index, bool judge,
                               OutputBatch* out) {
  if (!state.history.empty() &&
      state.history_index + static_cast<int64_t>(state.history.size()) !=
          index) {
    return;  // already finalized (a group that caught up)
  }
  int64_t value = 0;
  auto pending = state.pending.find(index);
  if (pending != state.pending.end()) {
    value = pending->second;
    state.pending.erase(pending);
  }
  if (state.history.empty()) state.history_index = index;
  if (judge) Judge(state, index, value, out);
  state.history.push_back(value);
  while (static_cast<int64_t>(state.history.size()) >
         rule_.history * rule_.season) {
    state.history.pop_front();
    ++state.history_index;
  }
}

void AnomalyOperator::Judge(GroupState& state, int64_t index, int64_t value,
                            OutputBatch* out) {
  // The baseline: the `history` periods before this one, or with a season,
  // the same point of the `history` seasons before (same weekday, same hour
  // of the week), missing periods as 0.
  const int64_t available = static_cast<int64_t>(state.history.size());
  baseline_.clear();
  for (int64_t k = 1; k <= rule_.history; ++k) {
    const int64_t back = k * rule_.season;
    if (back > available) break;
    baseline_.push_back(state.history[available - back]);
  }
  const int64_t n = static_cast<int64_t>(baseline_.size());
  if ((index - state.first_index) / rule_.season < rule_.min_history ||
      n < rule_.min_history) {
    return;
  }
  ++probe_.evaluations;
  Evidence evidence;
  evidence.observed = value;
  evidence.n = n;
  std::vector<double> values(baseline_.begin(), baseline_.end());
  evidence.median = Median(values);
  deviations_.clear();
  for (int64_t v : baseline_)
    deviations_.push_back(std::abs(v - evidence.median));
  evidence.mad = Median(deviations_);
  const double x = static_cast<double>(value);
  const double m = evidence.median;
  const bool drop = rule_.direction == AnomalyRuleConfig::Direction::kDrop;
  if (evidence.mad > 0) {
    evidence.has_score = true;
    evidence.score = (x - m) / (1.4826 * evidence.mad);
  }
  evidence.change = m > 0 ? (drop ? (m - x) / m : (x - m) / m) : 0;
  // Volume is in metric units: cents for money.
  const double volume = money_ ? m / 100.0 : m;
  const bool beyond_z = evidence.has_score
                            ? (drop ? evidence.score < -rule_.z_threshold
                                    : evidence.score > rule_.z_threshold)
                            : (drop ? x < m : x > m);
  const bool anomalous = m > 0 && volume >= rule_.min_volume &&
                         evidence.change > rule_.min_change && beyond_z;
  const bool critical = evidence.change >= rule_.critical_change;
  if (anomalous) {
    if (!state.open) {
      if (index < state.quiet_until) {
        ++probe_.suppressed;
        return;
      }
      state.open = true;
      state.critical = critical;
      state.alert_id = absl::StrCat(
          rule_.name, "|", state.group.key, "|",
          FormatRfc3339(Timestamp::FromMillis(assigner_.PeriodStart(index))));
      ++probe_.fired;
      Emit(state, index, evidence, /*firing=*/true, out);
    } else if (critical && !state.critical) {
      state.critical = true;
      ++probe_.escalated;
      Emit(state, index, evidence, /*firing=*/true, out);
    } else {
      ++probe_.folded;
    }
    return;
  }
  if (state.open) {
    state.open = false;
    ++probe_.resolved;
    Emit(state, index, evidence, /*firing=*/false, out);
    state.quiet_until = index + 1 + rule_.cooldown;
  }
}

void AnomalyOperator::AppendValue(double value, std::string* out) const {
  // Medians of cents are whole or half cents, MADs likewise: in currency
  // units at most three decimals, shown exactly as a JSON number.
  absl::StrAppend(out,
                  absl::StrFormat("%.10g", money_ ? value / 100.0 : value));
}

void AnomalyOperator::Emit(const GroupState& state, int64_t index,
                           const Evidence& e, bool firing, OutputBatch* out) {
  const int64_t start = assigner_.PeriodStart(index);
  const int64_t end = assigner_.End(start);
  const bool drop = rule_.direction == AnomalyRuleConfig::Direction::kDrop;
  const std::string metric(RollingMetricName(rule_.metric));
  out->BeginRecord(OutputKind::kAlerts, state.alert_id);
  std::string* json = out->value();
  json->append(head_);
  json->append(",\"alert_id\":");
  AppendJsonString(state.alert_id, json);
  absl::StrAppend(json, ",\"severity\":\"",
                  state.critical ? "critical" : "warning", "\",\"state\":\"",
                  firing ? "firing" : "resolved", "\",\"group\":");
  json->append(state.group.json);
  absl::StrAppend(json, ",\"metric\":\"", metric,
                  "\",\"window\":{\"start\":\"");
  AppendRfc3339(Timestamp::FromMillis(start), json);
  json->append("\",\"end\":\"");
  AppendRfc3339(Timestamp::FromMillis(end), json);
  json->append("\"},\"observed\":");
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
  // One line a person understands without the docs.
  auto shown = [this](double v) {
    return money_ ? FormatCents(static_cast<int64_t>(std::llround(v)))
                  : absl::StrFormat("%.0f", v);
  };
  std::string when = FormatRfc3339(Timestamp::FromMillis(start));
  if (when.size() == 20 && when.substr(10) == "T00:00:00Z")
    when = when.substr(0, 10);
  std::string message =
      firing
          ? absl::StrFormat(
                "%s of %s in the period from %s was %s, %.0f%% %s the usual %s "
                "(median of the %d periods before%s).",
                metric, state.group.key, when,
                shown(static_cast<double>(e.observed)), 100 * e.change,
                drop ? "below" : "above", shown(e.median), e.n,
                e.has_score ? absl::StrFormat("; robust z %.1f", e.score) : "")
          : absl::StrFormat(
                "%s of %s is back to normal in the period from %s: %s against "
                "the "
                "usual %s.",
                metric, state.group.key, when,
                shown(static_cast<double>(e.observed)), shown(e.median));
  AppendJsonString(message, json);
  json->push_back('}');
  out->EndRecord();
}

}  // namespace tillstream
