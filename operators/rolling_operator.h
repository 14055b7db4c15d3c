#ifndef TILLSTREAM_OPERATORS_ROLLING_OPERATOR_H_
#define TILLSTREAM_OPERATORS_ROLLING_OPERATOR_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "engine/money.h"
#include "engine/pipeline_config.h"
#include "operators/group_checkpoints.h"
#include "operators/window_assigner.h"
#include "operators/window_listener.h"
#include "state/checkpointed_state.h"

namespace tillstream {

struct RollingProbe {
  int64_t snapshots = 0;    // rolling snapshots, revision 0
  int64_t corrections = 0;  // re-emissions after a KPI window was corrected
};

// Rolling KPIs over the periods of a tumbling KPI rule (DESIGN.md "Rolling
// KPIs"): for each group and each period d from the group's first period on,
// the sums over the `span` periods ending at d and over the `previous_span`
// periods before them, and the percent change between the two. Periods
// without events count as 0. A period is emitted when its KPI window closes
// (for any group); the sums slide incrementally, one period in and one out.
// A corrected KPI window re-emits every rolling period it feeds, revision + 1.
//
// `rule` and `kpi` must outlive the operator. One thread.
class RollingOperator final : public WindowListener, public CheckpointedState {
 public:
  RollingOperator(const RollingRuleConfig& rule, const KpiRuleConfig& kpi,
                  absl::string_view pipeline);

  void OnWindowEmitted(uint32_t group_id, const KpiGroup& group, int64_t start,
                       const KpiAccumulator& kpis, int32_t revision,
                       OutputBatch* out) override;
  void OnWindowsClosed(int64_t closed_through, Timestamp watermark,
                       OutputBatch* out) override;

  const RollingProbe& probe() const { return probe_; }

  // Checkpoints (family "rolling/<rule>"): the groups a window or a period
  // close changed since the last one.
  void EnableCheckpoints() { checkpoints_.Enable(); }
  const std::string& family() const override { return checkpoints_.family(); }
  void Checkpoint(StateWriteBatch* batch) override;
  absl::Status Restore(StateStore* store) override;

 private:
  // The additive parts of one period's KPIs.
  struct Values {
    CentsSum revenue = 0;
    CentsSum gross = 0;  // completed revenue, for aov
    CentsSum orders = 0;
    CentsSum units = 0;
    void Add(const Values& v, int sign) {
      revenue += sign * v.revenue;
      gross += sign * v.gross;
      orders += sign * v.orders;
      units += sign * v.units;
    }
  };
  struct Period {
    Values values;
    int32_t revision =
        -1;  // of this period's rolling snapshot; -1 = not emitted
  };
  struct GroupState {
    KpiGroup group;
    int64_t first_index = 0;     // the group's first period
    int64_t history_index = 0;   // period of history.front()
    std::deque<Period> history;  // finalized periods, oldest first
    absl::btree_map<int64_t, Values>
        pending;               // emitted windows not finalized yet
    Values current, previous;  // sums ending at the newest finalized period
  };

  // Finalizes period `index` of `state` (the next one after its history).
  void Finalize(GroupState& state, int64_t index, OutputBatch* out);
  // Re-emits the finalized periods from `index` on that a change there feeds.
  void Reemit(GroupState& state, int64_t index, OutputBatch* out);
  // Sums over the spans ending at history index `index`, from scratch.
  void SumsAt(const GroupState& state, size_t index, Values* current,
              Values* previous) const;
  void Emit(GroupState& state, size_t index, const Values& current,
            const Values& previous, OutputBatch* out);
  void AppendMetric(RollingMetric metric, const Values& period,
                    const Values& current, const Values& previous,
                    bool full_history, std::string* out) const;

  const RollingRuleConfig& rule_;
  const WindowAssigner assigner_;  // of the KPI rule: period <-> time
  const int64_t size_ms_;
  const size_t keep_;  // periods of history kept per group
  std::string head_;   // {"type":"rolling","pipeline":..,"rule":..,"kpi":..
  std::string span_suffix_;      // "_7d"
  std::string previous_suffix_;  // "_prev_7d"
  absl::flat_hash_map<uint32_t, GroupState> groups_;
  absl::btree_map<std::string, uint32_t>
      order_;  // group key -> id: emission order
  int64_t next_index_ =
      INT64_MIN;  // next period to finalize; INT64_MIN: none seen
  RollingProbe probe_;
  GroupCheckpoints checkpoints_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_ROLLING_OPERATOR_H_
