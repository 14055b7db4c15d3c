#include "operators/anomaly_operator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/json_writer.h"
#include "engine/money.h"
#include "engine/time_format.h"

namespace tillstream {
AnomalyOperator::AnomalyOperator(const AnomalyRuleConfig& rule,
                                 const KpiRuleConfig& kpi,
                                 absl::string_view pipeline)
    : rule_(rule),
      assigner_(kpi),
      writer_(rule, kpi.name, pipeline),
      checkpoints_(absl::StrCat("anomaly/", rule.name),
                   absl::StrCat("period ", kpi.window_size_ms, "ms",
                                kpi.timezone.empty() ? "" : " ", kpi.timezone,
                                ", ", RollingMetricName(rule.metric),
                                ", season ", rule.season)) {}

void AnomalyOperator::OnWindowEmitted(uint32_t group_id, const KpiGroup& group,
                                      int64_t start, const KpiAccumulator& kpis,
                                      int32_t /*revision*/, OutputBatch* out) {
  const int64_t value = writer_.Value(kpis);
  const int64_t index = assigner_.PeriodIndex(start);
  auto [it, inserted] = groups_.try_emplace(group_id);
  GroupState& state = it->second;
  checkpoints_.Mark(group_id);
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
  const int64_t last = assigner_.PeriodOf(closed_through);
  // At the end of a bounded input the last period closes without its end
  // having been reached by events: it is likely partial, so not judged.
  const int64_t last_judged = watermark.is_max() ? last - 1 : last;
  for (; next_index_ <= last; ++next_index_) {
    for (const auto& [key, id] : order_) {
      GroupState& state = groups_.at(id);
      if (state.first_index > next_index_) continue;
      checkpoints_.Mark(id);
      Finalize(state, next_index_, next_index_ <= last_judged, out);
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
  const bool drop = rule_.direction == AnomalyRuleConfig::Direction::kDrop;
  const RobustEvidence evidence = robust_.Evaluate(baseline_, value, drop);
  const bool anomalous =
      writer_.InUnits(evidence.median) >= rule_.min_volume &&
      RobustBaseline::Anomalous(evidence, drop, rule_.z_threshold,
                                rule_.min_change);
  const bool critical = evidence.change >= rule_.critical_change;
  // Hysteresis: an open incident stays open while the metric is still
  // further than min_change from the median, even when the z score no
  // longer passes (the anomalous periods widen the baseline's MAD).
  if (state.open && !anomalous && evidence.change > rule_.min_change) {
    ++probe_.folded;
    return;
  }
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

void AnomalyOperator::Emit(const GroupState& state, int64_t index,
                           const RobustEvidence& e, bool firing,
                           OutputBatch* out) {
  const int64_t start = assigner_.PeriodStart(index);
  const bool drop = rule_.direction == AnomalyRuleConfig::Direction::kDrop;
  const std::string when = PeriodName(start);
  // One line a person understands without the docs.
  const std::string message =
      firing
          ? absl::StrFormat(
                "%s of %s in the period from %s was %s, %.0f%% %s the usual %s "
                "(median of the %d periods before%s).",
                writer_.metric(), state.group.key, when,
                writer_.Shown(static_cast<double>(e.observed)), 100 * e.change,
                drop ? "below" : "above", writer_.Shown(e.median), e.n,
                e.has_score ? absl::StrFormat("; robust z %.1f", e.score) : "")
          : absl::StrFormat(
                "%s of %s is back to normal in the period from %s: %s against "
                "the usual %s.",
                writer_.metric(), state.group.key, when,
                writer_.Shown(static_cast<double>(e.observed)),
                writer_.Shown(e.median));
  writer_.Append({.alert_id = state.alert_id,
                  .group = &state.group,
                  .critical = state.critical,
                  .firing = firing,
                  .window_start = start,
                  .window_end = assigner_.End(start),
                  .evidence = &e,
                  .message = message},
                 out);
}

void AnomalyOperator::Checkpoint(StateWriteBatch* batch) {
  checkpoints_.Write(
      groups_,
      [](const GroupState& state, StateEncoder* out) {
        out->I64(state.first_index);
        out->I64(state.history_index);
        out->U64(state.history.size());
        for (int64_t value : state.history) out->I64(value);
        EncodeMap(state.pending, out, [out](int64_t v) { out->I64(v); });
        out->Bool(state.open);
        out->Bool(state.critical);
        out->Bytes(state.alert_id);
        out->I64(state.quiet_until);
      },
      [this](StateEncoder* meta) { meta->I64(next_index_); }, batch);
}

absl::Status AnomalyOperator::Restore(StateStore* store) {
  return checkpoints_.Read(
      store, &groups_, &order_,
      [](GroupState& state, StateDecoder* in) {
        state.first_index = in->I64();
        state.history_index = in->I64();
        const size_t n = in->Count();
        for (size_t i = 0; i < n; ++i) state.history.push_back(in->I64());
        DecodeMap(in, &state.pending, [in](int64_t* v) { *v = in->I64(); });
        state.open = in->Bool();
        state.critical = in->Bool();
        state.alert_id = std::string(in->Bytes());
        state.quiet_until = in->I64();
      },
      [this](StateDecoder* meta) { next_index_ = meta->I64(); });
}

}  // namespace tillstream
