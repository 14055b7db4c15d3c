#ifndef TILLSTREAM_OPERATORS_ANOMALY_OPERATOR_H_
#define TILLSTREAM_OPERATORS_ANOMALY_OPERATOR_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "engine/pipeline_config.h"
#include "operators/alert_writer.h"
#include "operators/group_checkpoints.h"
#include "operators/robust_baseline.h"
#include "operators/window_assigner.h"
#include "operators/window_listener.h"
#include "state/checkpointed_state.h"

namespace tillstream {

struct AnomalyProbe {
  int64_t evaluations = 0;  // (group, period) pairs judged
  int64_t fired = 0;        // alerts opened
  int64_t escalated = 0;    // firing alerts re-sent at a higher severity
  int64_t folded = 0;       // anomalous periods of an open alert (no message)
  int64_t resolved = 0;
  int64_t suppressed = 0;  // anomalies within a cooldown

  AnomalyProbe& operator+=(const AnomalyProbe& p) {
    evaluations += p.evaluations;
    fired += p.fired;
    escalated += p.escalated;
    folded += p.folded;
    resolved += p.resolved;
    suppressed += p.suppressed;
    return *this;
  }
};

// The robust drop (or spike) rule over the periods of a tumbling KPI rule
// (DESIGN.md), with an alert lifecycle. When period d of a group closes and
// the group has min_history earlier periods (missing ones count as 0): m and
// MAD are the median and median absolute deviation of the `history` periods
// before d; z = (x - m) / (1.4826 MAD) (none when MAD = 0); change =
// (m - x) / m for a drop, (x - m) / m for a spike. The period is anomalous
// when m > 0, m >= min_volume, change > min_change and z passes -z_threshold
// (or, when MAD = 0, x < m; mirrored for spikes).
//
// Alerts: the first anomalous period opens an incident, sent as state
// "firing" with a stable alert_id (rule|group|first period); further
// anomalous periods fold into it (sent again only if the severity rises);
// the first period back within min_change of the median resolves it (state
// "resolved", same id; a period that only fails the z test, as the incident
// widens the baseline's MAD, keeps it open); after that the group stays
// quiet for `cooldown` periods. One thread.
class AnomalyOperator final : public WindowListener, public CheckpointedState {
 public:
  AnomalyOperator(const AnomalyRuleConfig& rule, const KpiRuleConfig& kpi,
                  absl::string_view pipeline);

  void OnWindowEmitted(uint32_t group_id, const KpiGroup& group, int64_t start,
                       const KpiAccumulator& kpis, int32_t revision,
                       OutputBatch* out) override;
  void OnWindowsClosed(int64_t closed_through, Timestamp watermark,
                       OutputBatch* out) override;

  const AnomalyProbe& probe() const { return probe_; }

  // Checkpoints (family "anomaly/<rule>"): the groups a window or a period
  // close changed since the last one.
  void EnableCheckpoints() { checkpoints_.Enable(); }
  const std::string& family() const override { return checkpoints_.family(); }
  void Checkpoint(StateWriteBatch* batch) override;
  absl::Status Restore(StateStore* store) override;

 private:
  struct GroupState {
    KpiGroup group;
    int64_t first_index = 0;
    int64_t history_index = 0;  // period of history.front()
    std::deque<int64_t>
        history;  // finalized values (cents or counts), last `history`
    absl::btree_map<int64_t, int64_t>
        pending;            // by period: emitted, not finalized
    bool open = false;      // an incident is open
    bool critical = false;  // ... at severity critical
    std::string alert_id;
    int64_t quiet_until = 0;  // cooldown: no new incident before this period
  };
  // `judge`: evaluate the period (false for a likely partial last period).
  void Finalize(GroupState& state, int64_t index, bool judge, OutputBatch* out);
  void Judge(GroupState& state, int64_t index, int64_t value, OutputBatch* out);
  void Emit(const GroupState& state, int64_t index,
            const RobustEvidence& evidence, bool firing, OutputBatch* out);

  const AnomalyRuleConfig& rule_;
  const WindowAssigner assigner_;
  const AlertWriter writer_;
  absl::flat_hash_map<uint32_t, GroupState> groups_;
  absl::btree_map<std::string, uint32_t>
      order_;  // group key -> id: emission order
  int64_t next_index_ = INT64_MIN;
  std::vector<int64_t> baseline_;
  RobustBaseline robust_;
  AnomalyProbe probe_;
  GroupCheckpoints checkpoints_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_ANOMALY_OPERATOR_H_
