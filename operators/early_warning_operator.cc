#include "operators/early_warning_operator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "engine/time_format.h"

namespace tillstream {
namespace {

constexpr int64_t kDayMs = 86'400'000;

}  // namespace

KpiRuleConfig EarlyWarningOperator::StepRule(const AnomalyRuleConfig& rule,
                                             const KpiRuleConfig& kpi) {
  KpiRuleConfig steps;
  steps.name = absl::StrCat(rule.name, "#early");
  steps.group_by = kpi.group_by;
  steps.window_type = WindowType::kTumbling;
  steps.window_size_ms = rule.early_warning.step_ms;
  steps.timezone = kpi.timezone;
  steps.allowed_lateness_ms = kpi.allowed_lateness_ms;
  steps.internal = true;
  return steps;
}

EarlyWarningOperator::EarlyWarningOperator(const AnomalyRuleConfig& rule,
                                           const KpiRuleConfig& kpi,
                                           const KpiRuleConfig& steps,
                                           absl::string_view pipeline)
    : rule_(rule),
      early_(rule.early_warning),
      drop_(rule.direction == AnomalyRuleConfig::Direction::kDrop),
      periods_(kpi),
      steps_(steps),
      zoned_(!kpi.timezone.empty()),
      positions_(static_cast<int>((zoned_ ? kDayMs : kpi.window_size_ms) /
                                  rule.early_warning.step_ms)),
      writer_(rule, kpi.name, pipeline),
      checkpoints_(absl::StrCat("early/", rule.name),
                   absl::StrCat("period ", kpi.window_size_ms, "ms",
                                kpi.timezone.empty() ? "" : " ", kpi.timezone,
                                ", step ", rule.early_warning.step_ms, "ms, ",
                                RollingMetricName(rule.metric), ", season ",
                                rule.season)) {
  // The configuration checked the zone at load.
  if (zoned_ && !absl::LoadTimeZone(kpi.timezone, &zone_))
    zone_ = absl::UTCTimeZone();
}

int EarlyWarningOperator::Position(int64_t step_start, int64_t period) const {
  int64_t offset_ms;
  if (zoned_) {
    // Local time of day, so a 23- or 25-hour day lines up by the clock.
    const absl::CivilSecond local =
        absl::ToCivilSecond(absl::FromUnixMillis(step_start), zone_);
    offset_ms = (local - absl::CivilSecond(absl::CivilDay(local))) * 1000;
  } else {
    offset_ms = step_start - periods_.PeriodStart(period);
  }
  return static_cast<int>(
      std::clamp<int64_t>(offset_ms / early_.step_ms, 0, positions_ - 1));
}

int64_t EarlyWarningOperator::FirstStepOf(int64_t period) const {
  return steps_.PeriodOf(periods_.PeriodStart(period));
}

void EarlyWarningOperator::OnWindowEmitted(uint32_t group_id,
                                           const KpiGroup& group, int64_t start,
                                           const KpiAccumulator& kpis,
                                           int32_t /*revision*/,
                                           OutputBatch* /*out*/) {
  const int64_t step = steps_.PeriodIndex(start);
  const int64_t period = periods_.PeriodOf(start);
  auto [it, inserted] = groups_.try_emplace(group_id);
  GroupState& state = it->second;
  checkpoints_.Mark(group_id);
  if (inserted) {
    state.group = group;
    state.first_step = step;
    // A group first seen in a period already closed starts with the next.
    state.first_period = closed_period_ == INT64_MIN
                             ? period
                             : std::max(period, closed_period_ + 1);
    state.curves_period = state.first_period;
    order_.emplace(group.key, group_id);
    if (next_step_ == INT64_MIN) next_step_ = step;
  }
  const int64_t value = writer_.Value(kpis);
  auto [entry, added] = state.steps.try_emplace(step, value);
  const int64_t delta = added ? value : value - entry->second;
  entry->second = value;
  // A correction to a closed period's step updates its curve from the
  // step's position on; steps of open periods are summed when judged.
  const int64_t curve = period - state.curves_period;
  if (period <= closed_period_ && curve >= 0 &&
      curve < static_cast<int64_t>(state.curves.size())) {
    std::vector<int64_t>& cumulative = state.curves[curve];
    for (int p = Position(start, period); p < positions_; ++p)
      cumulative[p] += delta;
    state.usual_whole_period = INT64_MIN;
  }
}

void EarlyWarningOperator::OnWindowsClosed(int64_t closed_through,
                                           Timestamp watermark,
                                           OutputBatch* out) {
  if (next_step_ == INT64_MIN) return;
  const int64_t last = steps_.PeriodOf(closed_through);
  // At the end of a bounded input the last step closes without its end
  // having been reached by events: likely partial, so not judged.
  const int64_t last_judged = watermark.is_max() ? last - 1 : last;
  for (; next_step_ <= last_judged; ++next_step_) {
    const int64_t start = steps_.PeriodStart(next_step_);
    const int64_t end = steps_.End(start);
    const int64_t period = periods_.PeriodOf(start);
    const int position = Position(start, period);
    const bool closes_period = periods_.PeriodOf(end) != period;
    for (const auto& [key, id] : order_) {
      GroupState& state = groups_.at(id);
      if (state.first_step > next_step_) continue;
      checkpoints_.Mark(id);
      Judge(state, next_step_, period, position, end, out);
      if (closes_period) ClosePeriod(state, period, out);
    }
    if (closes_period) closed_period_ = period;
  }
}

void EarlyWarningOperator::Judge(GroupState& state, int64_t step,
                                 int64_t period, int position, int64_t as_of,
                                 OutputBatch* out) {
  if ((period - state.first_period) / rule_.season < rule_.min_history) return;
  // The baseline periods as the rule picks them, at the same position.
  baseline_.clear();
  whole_.clear();
  for (int64_t k = 1; k <= rule_.history; ++k) {
    const int64_t index = period - k * rule_.season - state.curves_period;
    if (index < 0) break;
    const std::vector<int64_t>& curve = state.curves[index];
    baseline_.push_back(curve[position]);
    whole_.push_back(curve.back());
  }
  if (static_cast<int64_t>(baseline_.size()) < rule_.min_history) return;
  if (state.usual_whole_period != period) {
    state.usual_whole = robust_.Median(whole_);
    state.usual_whole_period = period;
  }
  const double usual_whole = state.usual_whole;
  int64_t observed = 0;
  for (auto it = state.steps.lower_bound(FirstStepOf(period));
       it != state.steps.end() && it->first <= step; ++it) {
    observed += it->second;
  }
  ++probe_.evaluations;
  const RobustEvidence evidence = robust_.Evaluate(baseline_, observed, drop_);
  state.last = evidence;
  const double progress =
      usual_whole > 0 ? std::min(1.0, evidence.median / usual_whole) : 0;
  if (writer_.InUnits(usual_whole) < rule_.min_volume || progress <= 0 ||
      progress < early_.min_progress) {
    state.streak = 0;
    return;
  }
  const double min_change = early_.min_change / std::sqrt(progress);
  if (state.open) {
    // Hysteresis: an open warning stays open while the shortfall (or
    // excess) persists, even if a wider baseline spread later in the day
    // weakens the z score; it resolves when the cumulative value recovers.
    if (evidence.change > min_change) {
      ++probe_.folded;
      return;
    }
    state.open = false;
    ++probe_.resolved;
    Emit(state, period, as_of, evidence, Transition::kBackOnTrack, out);
    return;
  }
  const bool anomalous = RobustBaseline::Anomalous(
      evidence, drop_, early_.z_threshold, min_change);
  state.streak = anomalous ? state.streak + 1 : 0;
  if (!anomalous || state.streak < early_.confirm_steps) return;
  state.open = true;
  state.alert_id = absl::StrCat(rule_.name, "|", state.group.key, "|early|",
                                FormatRfc3339(Timestamp::FromMillis(as_of)));
  ++probe_.fired;
  Emit(state, period, as_of, evidence, Transition::kFired, out);
}

void EarlyWarningOperator::ClosePeriod(GroupState& state, int64_t period,
                                       OutputBatch* out) {
  if (period < state.first_period) return;
  std::vector<int64_t> curve(positions_, 0);
  const int64_t first = FirstStepOf(period);
  const int64_t next = FirstStepOf(period + 1);
  for (auto it = state.steps.lower_bound(first);
       it != state.steps.end() && it->first < next; ++it) {
    curve[Position(steps_.PeriodStart(it->first), period)] += it->second;
  }
  for (int p = 1; p < positions_; ++p) curve[p] += curve[p - 1];
  state.curves.push_back(std::move(curve));
  while (static_cast<int64_t>(state.curves.size()) >
         rule_.history * rule_.season) {
    state.curves.pop_front();
    ++state.curves_period;
  }
  state.streak = 0;
  // Keep this period's steps for corrections; drop the one before.
  state.steps.erase(state.steps.begin(), state.steps.lower_bound(first));
  if (state.open) {
    state.open = false;
    ++probe_.resolved;
    Emit(state, period, periods_.End(periods_.PeriodStart(period)), state.last,
         Transition::kPeriodClosed, out);
  }
}

void EarlyWarningOperator::Emit(const GroupState& state, int64_t period,
                                int64_t as_of, const RobustEvidence& e,
                                Transition transition, OutputBatch* out) {
  const int64_t start = periods_.PeriodStart(period);
  const std::string when = PeriodName(start);
  const std::string until = FormatRfc3339(Timestamp::FromMillis(as_of));
  const std::string observed = writer_.Shown(static_cast<double>(e.observed));
  const std::string usual = writer_.Shown(e.median);
  // One line a person understands without the docs.
  std::string message;
  switch (transition) {
    case Transition::kFired:
      message = absl::StrFormat(
          "Early warning: %s of %s in the period from %s is %s up to %s, "
          "%.0f%% %s the usual %s by that time (median of %d earlier "
          "periods%s); the period is still open.",
          writer_.metric(), state.group.key, when, observed, until,
          100 * e.change, drop_ ? "below" : "above", usual, e.n,
          e.has_score ? absl::StrFormat("; robust z %.1f", e.score) : "");
      break;
    case Transition::kBackOnTrack:
      message = absl::StrFormat(
          "Early warning over: %s of %s in the period from %s is back on "
          "track up to %s: %s against the usual %s by that time.",
          writer_.metric(), state.group.key, when, until, observed, usual);
      break;
    case Transition::kPeriodClosed:
      message = absl::StrFormat(
          "Early warning over: the period from %s of %s has closed (%s %s "
          "up to its last step, usual %s); the rule now judges the whole "
          "period.",
          when, state.group.key, writer_.metric(), observed, usual);
      break;
  }
  writer_.Append({.alert_id = state.alert_id,
                  .group = &state.group,
                  .firing = transition == Transition::kFired,
                  .early = true,
                  .window_start = start,
                  .window_end = periods_.End(start),
                  .as_of = as_of,
                  .evidence = &e,
                  .message = message},
                 out);
}

void EarlyWarningOperator::Checkpoint(StateWriteBatch* batch) {
  checkpoints_.Write(
      groups_,
      [](const GroupState& state, StateEncoder* out) {
        out->I64(state.first_step);
        out->I64(state.first_period);
        EncodeMap(state.steps, out, [out](int64_t v) { out->I64(v); });
        out->U64(state.curves.size());
        for (const std::vector<int64_t>& curve : state.curves) {
          out->U64(curve.size());
          for (int64_t v : curve) out->I64(v);
        }
        out->I64(state.curves_period);
        out->I64(state.streak);
        out->Bool(state.open);
        out->Bytes(state.alert_id);
        const RobustEvidence& e = state.last;
        out->I64(e.observed);
        out->Double(e.median);
        out->Double(e.mad);
        out->I64(e.n);
        out->Bool(e.has_score);
        out->Double(e.score);
        out->Double(e.change);
      },
      [this](StateEncoder* meta) {
        meta->I64(next_step_);
        meta->I64(closed_period_);
      },
      batch);
}

absl::Status EarlyWarningOperator::Restore(StateStore* store) {
  return checkpoints_.Read(
      store, &groups_, &order_,
      [](GroupState& state, StateDecoder* in) {
        state.first_step = in->I64();
        state.first_period = in->I64();
        DecodeMap(in, &state.steps, [in](int64_t* v) { *v = in->I64(); });
        const size_t curves = in->Count();
        for (size_t i = 0; i < curves; ++i) {
          std::vector<int64_t>& curve = state.curves.emplace_back();
          curve.resize(in->Count());
          for (int64_t& v : curve) v = in->I64();
        }
        state.curves_period = in->I64();
        state.streak = in->I64();
        state.open = in->Bool();
        state.alert_id = std::string(in->Bytes());
        RobustEvidence& e = state.last;
        e.observed = in->I64();
        e.median = in->Double();
        e.mad = in->Double();
        e.n = in->I64();
        e.has_score = in->Bool();
        e.score = in->Double();
        e.change = in->Double();
      },
      [this](StateDecoder* meta) {
        next_step_ = meta->I64();
        closed_period_ = meta->I64();
      });
}

}  // namespace tillstream
