#ifndef TILLSTREAM_ENGINE_OPERATOR_GRAPH_H_
#define TILLSTREAM_ENGINE_OPERATOR_GRAPH_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/output_batch.h"
#include "engine/pipeline_config.h"
#include "operators/anomaly_operator.h"
#include "operators/early_warning_operator.h"
#include "operators/key_shard.h"
#include "operators/rolling_operator.h"
#include "operators/window_kpi_operator.h"
#include "state/checkpointed_state.h"

namespace tillstream {

// Every operator of a pipeline, wired: the KPI rules, the rolling and
// anomaly rules that listen to them, and the early warnings with their
// internal step rules. With a KeyShard, the graph is one worker's share:
// the same rules over the groups that shard owns, with outputs of its own.
//
// `config` must outlive the graph. Used by one thread at a time.
class OperatorGraph {
 public:
  explicit OperatorGraph(const PipelineConfig& config, KeyShard shard = {});
  OperatorGraph(const OperatorGraph&) = delete;
  OperatorGraph& operator=(const OperatorGraph&) = delete;

  void Process(const OrderEvent& event, const CustomerRef& customer,
               Timestamp watermark) {
    for (WindowKpiOperator& op : kpi_operators_)
      op.Process(event, customer, watermark, &outputs_);
  }
  void AdvanceWatermark(Timestamp watermark, int64_t now_ms) {
    for (WindowKpiOperator& op : kpi_operators_)
      op.AdvanceWatermark(watermark, &outputs_, now_ms);
  }
  // What Process and AdvanceWatermark wrote since the last Clear.
  OutputBatch& outputs() { return outputs_; }

  // Turns on change tracking and lists every operator's state.
  std::vector<CheckpointedState*> EnableCheckpoints();
  std::vector<std::string> Families() const;

  const std::deque<WindowKpiOperator>& kpi_operators() const {
    return kpi_operators_;
  }
  const std::deque<RollingOperator>& rolling_operators() const {
    return rolling_operators_;
  }
  // Scale-out: the tasks (of `task_count`) `event` must reach, in `tasks`,
  // ascending: those owning a group it adds to in some rule (the owner of
  // its first group judges whether it is late). `scratch` holds the keys as
  // they are built.
  void TasksOf(const OrderEvent& event, uint32_t task_count,
               std::string* scratch, std::vector<uint32_t>* tasks) const;
  // The probes of every anomaly and early-warning operator, summed.
  AnomalyProbe AlertTotals() const;
  // Some rule needs customer hashes (approx_distinct).
  bool approx_distinct() const { return approx_distinct_; }

 private:
  // Calls `visit` with every operator that keeps state, kind by kind.
  template <typename Graph, typename Visit>
  static void ForEachStateful(Graph& graph, Visit visit) {
    for (auto& op : graph.kpi_operators_) visit(op);
    for (auto& op : graph.rolling_operators_) visit(op);
    for (auto& op : graph.anomaly_operators_) visit(op);
    for (auto& op : graph.early_operators_) visit(op);
  }

  // Deques: operators never move, so the pointers between them stay valid.
  std::deque<WindowKpiOperator> kpi_operators_;
  std::deque<RollingOperator> rolling_operators_;  // listen to kpi_operators_
  std::deque<AnomalyOperator> anomaly_operators_;  // likewise
  // Early warnings listen to internal step rules of their own.
  std::deque<KpiRuleConfig> step_rules_;
  std::deque<EarlyWarningOperator> early_operators_;
  OutputBatch outputs_;
  bool approx_distinct_ = false;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_OPERATOR_GRAPH_H_
