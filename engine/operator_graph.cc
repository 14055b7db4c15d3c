#include "engine/operator_graph.h"

#include <algorithm>

namespace tillstream {

OperatorGraph::OperatorGraph(const PipelineConfig& config, KeyShard shard) {
  for (const KpiRuleConfig& rule : config.kpis) {
    approx_distinct_ = approx_distinct_ || rule.approx_distinct;
    kpi_operators_.emplace_back(rule, config.name, shard);
  }
  for (const RollingRuleConfig& rule : config.rolling) {
    for (WindowKpiOperator& op : kpi_operators_) {
      if (op.rule().name != rule.kpi) continue;
      rolling_operators_.emplace_back(rule, op.rule(), config.name);
      op.AddListener(&rolling_operators_.back());
    }
  }
  const size_t rule_count = kpi_operators_.size();
  for (const AnomalyRuleConfig& rule : config.anomalies) {
    for (size_t i = 0; i < rule_count; ++i) {
      WindowKpiOperator& op = kpi_operators_[i];
      if (op.rule().name != rule.kpi) continue;
      anomaly_operators_.emplace_back(rule, op.rule(), config.name);
      op.AddListener(&anomaly_operators_.back());
      if (!rule.early_warning.enabled) continue;
      step_rules_.push_back(EarlyWarningOperator::StepRule(rule, op.rule()));
      WindowKpiOperator& steps =
          kpi_operators_.emplace_back(step_rules_.back(), config.name, shard);
      early_operators_.emplace_back(rule, op.rule(), step_rules_.back(),
                                    config.name);
      steps.AddListener(&early_operators_.back());
    }
  }
}

std::vector<CheckpointedState*> OperatorGraph::EnableCheckpoints() {
  std::vector<CheckpointedState*> stateful;
  ForEachStateful(*this, [&](auto& op) {
    op.EnableCheckpoints();
    stateful.push_back(&op);
  });
  return stateful;
}

std::vector<std::string> OperatorGraph::Families() const {
  std::vector<std::string> families;
  ForEachStateful(*this,
                  [&](const auto& op) { families.push_back(op.family()); });
  return families;
}

AnomalyProbe OperatorGraph::AlertTotals() const {
  AnomalyProbe total;
  for (const AnomalyOperator& op : anomaly_operators_) total += op.probe();
  for (const EarlyWarningOperator& op : early_operators_) total += op.probe();
  return total;
}

void OperatorGraph::TasksOf(const OrderEvent& event, uint32_t task_count,
                            std::string* scratch,
                            std::vector<uint32_t>* tasks) const {
  tasks->clear();
  for (const WindowKpiOperator& op : kpi_operators_) {
    op.ForEachGroupKey(event, scratch, [&](absl::string_view key) {
      tasks->push_back(KeyShard::IndexOf(key, task_count));
    });
  }
  std::sort(tasks->begin(), tasks->end());
  tasks->erase(std::unique(tasks->begin(), tasks->end()), tasks->end());
}

}  // namespace tillstream
