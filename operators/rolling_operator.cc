#include "operators/rolling_operator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/json_writer.h"
#include "engine/time_format.h"

namespace tillstream {
namespace {

// "d" for daily periods, "h" hourly, "w" weekly, "p" (periods) otherwise.
std::string PeriodUnit(int64_t size_ms) {
  if (size_ms == 86'400'000) return "d";
  if (size_ms == 3'600'000) return "h";
  if (size_ms == 604'800'000) return "w";
  return "p";
}

}  // namespace

RollingOperator::RollingOperator(const RollingRuleConfig& rule,
                                 const KpiRuleConfig& kpi,
                                 absl::string_view pipeline)
    : rule_(rule),
      assigner_(kpi),
      size_ms_(kpi.window_size_ms),
      // Enough history to re-emit every period a correction within the
      // lateness bound can feed.
      keep_(static_cast<size_t>(2 * (rule.span + rule.previous_span) +
                                kpi.allowed_lateness_ms / kpi.window_size_ms +
                                2)),
      checkpoints_(
          absl::StrCat("rolling/", rule.name),
          absl::StrCat("period ", kpi.window_size_ms, "ms",
                       kpi.timezone.empty() ? "" : " ", kpi.timezone, ", span ",
                       rule.span, "+", rule.previous_span)) {
  head_ = "{\"type\":\"rolling\",\"pipeline\":";
  AppendJsonString(pipeline, &head_);
  head_.append(",\"rule\":");
  AppendJsonString(rule.name, &head_);
  head_.append(",\"kpi\":");
  AppendJsonString(kpi.name, &head_);
  span_suffix_ = absl::StrCat("_", rule.span, PeriodUnit(size_ms_));
  previous_suffix_ =
      absl::StrCat("_prev_", rule.previous_span, PeriodUnit(size_ms_));
}

void RollingOperator::OnWindowEmitted(uint32_t group_id, const KpiGroup& group,
                                      int64_t start, const KpiAccumulator& kpis,
                                      int32_t /*revision*/, OutputBatch* out) {
  const Values values{kpis.revenue_cents, kpis.completed_gross_cents,
                      kpis.orders, kpis.units};
  const int64_t index = assigner_.PeriodIndex(start);
  auto [it, inserted] = groups_.try_emplace(group_id);
  GroupState& state = it->second;
  checkpoints_.Mark(group_id);
  if (inserted) {
    state.group = group;
    state.first_index = index;
    state.history_index = index;
    order_.emplace(group.key, group_id);
    if (next_index_ == INT64_MIN) next_index_ = index;
  }
  if (state.history.empty()) {
    // Nothing finalized for this group yet: its periods from the first on
    // that others have already finalized are caught up at once.
    state.pending[index] = values;
    state.first_index = std::min(state.first_index, index);
    state.history_index = state.first_index;
    for (int64_t next = state.first_index; next < next_index_; ++next)
      Finalize(state, next, out);
    return;
  }
  const int64_t finalized_end =
      state.history_index + static_cast<int64_t>(state.history.size());
  if (index >= finalized_end) {
    state.pending[index] = values;
    return;
  }
  // A correction of a finalized period, or a window before the group's first.
  while (index < state.history_index) {
    state.history.push_front(Period{});
    --state.history_index;
  }
  state.first_index = std::min(state.first_index, index);
  state.history[index - state.history_index].values = values;
  SumsAt(state, state.history.size() - 1, &state.current, &state.previous);
  Reemit(state, index, out);
}

void RollingOperator::OnWindowsClosed(int64_t closed_through,
                                      Timestamp /*watermark*/,
                                      OutputBatch* out) {
  if (next_index_ == INT64_MIN) return;
  const int64_t last = assigner_.PeriodOf(closed_through);
  for (; next_index_ <= last; ++next_index_) {
    for (const auto& [key, id] : order_) {
      GroupState& state = groups_.at(id);
      if (state.first_index > next_index_) continue;
      checkpoints_.Mark(id);
      Finalize(state, next_index_, out);
    }
  }
}

void RollingOperator::Finalize(GroupState& state, int64_t index,
                               OutputBatch* out) {
  if (!state.history.empty() &&
      state.history_index + static_cast<int64_t>(state.history.size()) !=
          index) {
    return;  // already finalized (a group that caught up)
  }
  Period period;
  auto pending = state.pending.find(index);
  if (pending != state.pending.end()) {
    period.values = pending->second;
    state.pending.erase(pending);
  }
  if (state.history.empty()) state.history_index = index;
  state.history.push_back(period);
  // Slide: the new period enters the current span; the one leaving it enters
  // the previous span, whose oldest leaves.
  const size_t n = state.history.size();
  const size_t span = static_cast<size_t>(rule_.span);
  const size_t previous = static_cast<size_t>(rule_.previous_span);
  state.current.Add(period.values, +1);
  if (n > span) {
    const Values& leaving = state.history[n - 1 - span].values;
    state.current.Add(leaving, -1);
    state.previous.Add(leaving, +1);
  }
  if (n > span + previous)
    state.previous.Add(state.history[n - 1 - span - previous].values, -1);
  Emit(state, n - 1, state.current, state.previous, out);
  // Trim, keeping the sums' inputs: only periods older than both spans and
  // the correction horizon leave.
  while (state.history.size() > keep_) {
    state.history.pop_front();
    ++state.history_index;
  }
}

void RollingOperator::Reemit(GroupState& state, int64_t index,
                             OutputBatch* out) {
  const size_t first = static_cast<size_t>(index - state.history_index);
  const size_t last = std::min(
      state.history.size() - 1,
      first + static_cast<size_t>(rule_.span + rule_.previous_span) - 1);
  for (size_t i = first; i <= last; ++i) {
    if (state.history_index + static_cast<int64_t>(i) < state.first_index)
      continue;
    Values current, previous;
    SumsAt(state, i, &current, &previous);
    Emit(state, i, current, previous, out);
  }
}

void RollingOperator::SumsAt(const GroupState& state, size_t index,
                             Values* current, Values* previous) const {
  *current = Values{};
  *previous = Values{};
  const int64_t span = rule_.span;
  for (int64_t back = 0; back < span + rule_.previous_span; ++back) {
    if (static_cast<int64_t>(index) - back < 0) break;
    const Values& v = state.history[index - static_cast<size_t>(back)].values;
    (back < span ? current : previous)->Add(v, +1);
  }
}

void RollingOperator::Emit(GroupState& state, size_t index,
                           const Values& current, const Values& previous,
                           OutputBatch* out) {
  Period& period = state.history[index];
  ++period.revision;
  ++(period.revision == 0 ? probe_.snapshots : probe_.corrections);
  const int64_t period_index =
      state.history_index + static_cast<int64_t>(index);
  const int64_t start = assigner_.PeriodStart(period_index);
  // pct_change needs span + previous_span periods of the group's history.
  const bool full_history =
      period_index - state.first_index + 1 >= rule_.span + rule_.previous_span;
  out->BeginRecord(OutputKind::kRolling, state.group.key);
  std::string* json = out->value();
  json->append(head_);
  json->append(",\"group\":");
  json->append(state.group.json);
  json->append(",\"period\":{\"start\":\"");
  AppendRfc3339(Timestamp::FromMillis(start), json);
  json->append("\",\"end\":\"");
  AppendRfc3339(Timestamp::FromMillis(assigner_.End(start)), json);
  json->append("\"}");
  for (RollingMetric metric : rule_.metrics) {
    AppendMetric(metric, period.values, current, previous, full_history, json);
  }
  AppendOutputId(rule_.name, state.group.key, Timestamp::FromMillis(start),
                 json);
  absl::StrAppend(json, ",\"revision\":", period.revision, "}");
  out->EndRecord();
}

void RollingOperator::AppendMetric(RollingMetric metric, const Values& period,
                                   const Values& current,
                                   const Values& previous, bool full_history,
                                   std::string* out) const {
  // The metric's value in a Values, and whether it is money (cents).
  auto value = [metric](const Values& v, bool* known) -> CentsSum {
    *known = true;
    switch (metric) {
      case RollingMetric::kRevenue:
        return v.revenue;
      case RollingMetric::kOrders:
        return v.orders;
      case RollingMetric::kUnits:
        return v.units;
      case RollingMetric::kAov:
        if (v.orders == 0) {
          *known = false;
          return 0;
        }
        return DivideRoundHalfAwayFromZero(v.gross, v.orders);
    }
    return 0;
  };
  const bool money =
      metric == RollingMetric::kRevenue || metric == RollingMetric::kAov;
  auto append = [&](const Values& v) {
    bool known;
    CentsSum x = value(v, &known);
    if (!known) {
      out->append("null");
    } else if (money) {
      out->push_back('"');
      AppendCents(x, out);
      out->push_back('"');
    } else {
      AppendWholeNumber(x, out);
    }
  };
  const std::string name(RollingMetricName(metric));
  absl::StrAppend(out, ",\"", name, "\":");
  append(period);
  absl::StrAppend(out, ",\"", name, span_suffix_, "\":");
  append(current);
  absl::StrAppend(out, ",\"", name, previous_suffix_, "\":");
  append(previous);
  // Revenue's change is "pct_change_7d" (DESIGN.md); the others are prefixed.
  absl::StrAppend(out, ",\"",
                  metric == RollingMetric::kRevenue ? "" : name + "_",
                  "pct_change", span_suffix_, "\":");
  bool known_current, known_previous;
  CentsSum now = value(current, &known_current);
  CentsSum before = value(previous, &known_previous);
  if (!full_history || !known_current || !known_previous || before <= 0) {
    out->append("null");
  } else {
    // 100 x (now - before) / before, rounded half away from zero to 2 decimals.
    out->push_back('"');
    AppendCents(DivideRoundHalfAwayFromZero((now - before) * 10'000, before),
                out);
    out->push_back('"');
  }
}

namespace {
void EncodeValues(const auto& v, StateEncoder* out) {
  out->I128(v.revenue);
  out->I128(v.gross);
  out->I128(v.orders);
  out->I128(v.units);
}
void DecodeValues(StateDecoder* in, auto* v) {
  v->revenue = in->I128();
  v->gross = in->I128();
  v->orders = in->I128();
  v->units = in->I128();
}
}  // namespace

void RollingOperator::Checkpoint(StateWriteBatch* batch) {
  checkpoints_.Write(
      groups_,
      [](const GroupState& state, StateEncoder* out) {
        out->I64(state.first_index);
        out->I64(state.history_index);
        out->U64(state.history.size());
        for (const Period& period : state.history) {
          EncodeValues(period.values, out);
          out->I64(period.revision);
        }
        EncodeMap(state.pending, out,
                  [out](const Values& v) { EncodeValues(v, out); });
        EncodeValues(state.current, out);
        EncodeValues(state.previous, out);
      },
      [this](StateEncoder* meta) { meta->I64(next_index_); }, batch);
}

absl::Status RollingOperator::Restore(StateStore* store) {
  return checkpoints_.Read(
      store, &groups_, &order_,
      [](GroupState& state, StateDecoder* in) {
        state.first_index = in->I64();
        state.history_index = in->I64();
        const size_t n = in->Count();
        for (size_t i = 0; i < n; ++i) {
          Period& period = state.history.emplace_back();
          DecodeValues(in, &period.values);
          period.revision = static_cast<int32_t>(in->I64());
        }
        DecodeMap(in, &state.pending, [in](Values* v) { DecodeValues(in, v); });
        DecodeValues(in, &state.current);
        DecodeValues(in, &state.previous);
      },
      [this](StateDecoder* meta) { next_index_ = meta->I64(); });
}

}  // namespace tillstream
