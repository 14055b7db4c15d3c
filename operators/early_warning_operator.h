#ifndef TILLSTREAM_OPERATORS_EARLY_WARNING_OPERATOR_H_
#define TILLSTREAM_OPERATORS_EARLY_WARNING_OPERATOR_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "engine/pipeline_config.h"
#include "operators/alert_writer.h"
#include "operators/anomaly_operator.h"
#include "operators/group_checkpoints.h"
#include "operators/robust_baseline.h"
#include "operators/window_assigner.h"
#include "operators/window_listener.h"
#include "state/checkpointed_state.h"

namespace tillstream {

// The early warnings of an anomaly rule (its early_warning block): while a
// period (a day) is open, at the end of every step (an hour) the cumulative
// value of the period so far is compared with the cumulative values of the
// baseline periods up to the same point of their period: the same time of
// day in the rule's time zone (for a seasonal rule, the same weekday's).
// The expected curve is the pointwise median of those cumulative curves
// (missing periods count as 0), and the step is anomalous by the robust rule
// (median/MAD z, percent drop) with the early_warning thresholds, judged only
// once the expected value reaches min_progress of a usual whole period (the
// median of the baseline periods' totals). At progress p the drop must
// exceed min_change / sqrt(p): the sum of a part of a day varies relatively
// more than a whole day's, roughly so for independent orders. A warning
// fires after `for` consecutive anomalous steps.
//
// It listens to an internal KPI rule over steps (StepRule) with the same
// groups, so late events and corrections reach it as they reach the rule.
// Alerts carry "early": true and severity warning: one incident opens at the
// first anomalous step, folds while it persists, and resolves when the
// cumulative value is back within bounds or when the period closes (the
// rule's own judgement of the whole period then takes over). An open
// warning stays open while the change exceeds its threshold, whatever the z
// score does (no flapping). One thread.
class EarlyWarningOperator final : public WindowListener,
                                   public CheckpointedState {
 public:
  // The internal rule whose windows (one step each) this operator hears.
  static KpiRuleConfig StepRule(const AnomalyRuleConfig& rule,
                                const KpiRuleConfig& kpi);

  // `steps` must be StepRule(rule, kpi) and outlive the operator.
  EarlyWarningOperator(const AnomalyRuleConfig& rule, const KpiRuleConfig& kpi,
                       const KpiRuleConfig& steps, absl::string_view pipeline);

  void OnWindowEmitted(uint32_t group_id, const KpiGroup& group, int64_t start,
                       const KpiAccumulator& kpis, int32_t revision,
                       OutputBatch* out) override;
  void OnWindowsClosed(int64_t closed_through, Timestamp watermark,
                       OutputBatch* out) override;

  const AnomalyProbe& probe() const { return probe_; }

  // Checkpoints (family "early/<rule>"): the groups a window or a period
  // close changed since the last one.
  void EnableCheckpoints() { checkpoints_.Enable(); }
  const std::string& family() const override { return checkpoints_.family(); }
  void Checkpoint(StateWriteBatch* batch) override;
  absl::Status Restore(StateStore* store) override;

 private:
  struct GroupState {
    KpiGroup group;
    int64_t first_step = 0;
    int64_t first_period = 0;
    // Step values (by step index) of the open periods and the last closed
    // one (kept for corrections to it).
    absl::btree_map<int64_t, int64_t> steps;
    // Closed periods from `curves_period` on: the cumulative value at the
    // end of each position (step of the day) of the period.
    std::deque<std::vector<int64_t>> curves;
    int64_t curves_period = 0;
    // The median of the baseline periods' totals, the same at every step of
    // `usual_whole_period` unless a correction changes a closed period.
    int64_t usual_whole_period = INT64_MIN;
    double usual_whole = 0;
    int64_t streak = 0;  // consecutive anomalous steps (for `for`)
    bool open = false;   // an early incident is open
    std::string alert_id;
    RobustEvidence last;  // of the last judged step
  };
  // Where a step falls in its period: 0 .. positions_ - 1.
  int Position(int64_t step_start, int64_t period) const;
  int64_t FirstStepOf(int64_t period) const;
  void Judge(GroupState& state, int64_t step, int64_t period, int position,
             int64_t as_of, OutputBatch* out);
  // Appends the period's curve to the history; ends an open incident.
  void ClosePeriod(GroupState& state, int64_t period, OutputBatch* out);
  enum class Transition { kFired, kBackOnTrack, kPeriodClosed };
  void Emit(const GroupState& state, int64_t period, int64_t as_of,
            const RobustEvidence& evidence, Transition transition,
            OutputBatch* out);

  const AnomalyRuleConfig& rule_;
  const AnomalyRuleConfig::EarlyWarning& early_;
  const bool drop_;
  const WindowAssigner periods_;
  const WindowAssigner steps_;
  const bool zoned_;
  absl::TimeZone zone_;
  const int positions_;  // steps per period
  const AlertWriter writer_;
  absl::flat_hash_map<uint32_t, GroupState> groups_;
  absl::btree_map<std::string, uint32_t> order_;  // group key -> id
  int64_t next_step_ = INT64_MIN;      // the first step not yet judged
  int64_t closed_period_ = INT64_MIN;  // the last period closed
  std::vector<int64_t> baseline_;      // scratch: cumulative values
  std::vector<int64_t> whole_;         // scratch: whole-period values
  RobustBaseline robust_;
  AnomalyProbe probe_;
  GroupCheckpoints checkpoints_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_EARLY_WARNING_OPERATOR_H_
