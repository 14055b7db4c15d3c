#include "engine/scale_out_metrics.h"

#include <algorithm>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/strings/str_cat.h"
#include "engine/time_format.h"

namespace tillstream {
namespace {

// Adds `from`'s (name, count) pairs into `into`, by name, in name order.
void AddByName(const std::vector<std::pair<std::string, int64_t>>& from,
               absl::btree_map<std::string, int64_t>* into) {
  for (const auto& [name, count] : from) (*into)[name] += count;
}

}  // namespace

Timestamp LowerKnown(Timestamp a, Timestamp b) {
  if (a.is_min()) return b;
  if (b.is_min()) return a;
  return std::min(a, b);
}

MetricsSnapshot MergeSnapshots(std::span<const MetricsSnapshot> parts) {
  MetricsSnapshot m;
  absl::btree_map<std::string, int64_t> decode_errors, late, open_windows;
  for (const MetricsSnapshot& p : parts) {
    m.wall_ms = std::max(m.wall_ms, p.wall_ms);
    m.records_in += p.records_in;
    m.events_in += p.events_in;
    m.bad_records += p.bad_records;
    for (int k = 0; k < kOutputKindCount; ++k) m.outputs[k] += p.outputs[k];
    AddByName(p.decode_errors, &decode_errors);
    AddByName(p.late_by_kpi, &late);
    AddByName(p.open_windows_by_kpi, &open_windows);
    m.partitions.insert(m.partitions.end(), p.partitions.begin(),
                        p.partitions.end());
    m.watermark = LowerKnown(m.watermark, p.watermark);
    m.known_customers += p.known_customers;
    m.assigned_partitions += p.assigned_partitions;
    if (p.tasks >= 0) m.tasks = std::max<int64_t>(m.tasks, 0) + p.tasks;
    m.rebalances += p.rebalances;
    m.alerts_fired += p.alerts_fired;
    m.alerts_resolved += p.alerts_resolved;
    m.checkpoints_on = m.checkpoints_on || p.checkpoints_on;
    m.checkpoints += p.checkpoints;
    m.checkpoint_failures += p.checkpoint_failures;
    m.checkpoint_last_us = std::max(m.checkpoint_last_us, p.checkpoint_last_us);
    m.checkpoint_total_us += p.checkpoint_total_us;
    m.checkpoint_last_bytes += p.checkpoint_last_bytes;
    m.checkpoint_last_writes += p.checkpoint_last_writes;
  }
  m.decode_errors.assign(decode_errors.begin(), decode_errors.end());
  m.late_by_kpi.assign(late.begin(), late.end());
  m.open_windows_by_kpi.assign(open_windows.begin(), open_windows.end());
  return m;
}

ScaleOutMetrics::ScaleOutMetrics(EngineMetrics* metrics, size_t task_runners)
    : metrics_(metrics), parts_(1 + task_runners) {}

void ScaleOutMetrics::Publish(size_t part, MetricsSnapshot snapshot) {
  absl::MutexLock lock(&mu_);
  parts_[part] = std::move(snapshot);
  std::vector<MetricsSnapshot> published;
  for (const std::optional<MetricsSnapshot>& p : parts_) {
    if (p.has_value()) published.push_back(*p);
  }
  metrics_->Publish(MergeSnapshots(published));
}

std::string ScaleOutMetrics::HealthJson(bool* ready) const {
  absl::MutexLock lock(&mu_);
  const std::optional<MetricsSnapshot>& ingest = parts_[0];
  *ready = ingest.has_value() && ingest->assigned_partitions > 0;
  int64_t tasks = 0;
  int joined = 0;
  for (size_t i = 1; i < parts_.size(); ++i) {
    if (!parts_[i].has_value() || parts_[i]->tasks < 0) continue;
    ++joined;
    tasks += parts_[i]->tasks;
  }
  *ready = *ready && joined + 1 == static_cast<int>(parts_.size());
  std::string partitions = "[";
  Timestamp watermark = Timestamp::Min();
  for (const std::optional<MetricsSnapshot>& part : parts_) {
    if (part.has_value()) watermark = LowerKnown(watermark, part->watermark);
  }
  if (ingest.has_value()) {
    for (const MetricsSnapshot::Partition& p : ingest->partitions) {
      *ready = *ready && p.caught_up;
      if (partitions.size() > 1) partitions.push_back(',');
      absl::StrAppend(&partitions, "{\"partition\":", p.partition,
                      ",\"lag\":", p.lag,
                      ",\"caught_up\":", p.caught_up ? "true" : "false", "}");
    }
  }
  partitions.push_back(']');
  return absl::StrCat("{\"status\":\"", *ready ? "ready" : "starting",
                      "\",\"source\":\"kafka\",\"partitions\":", partitions,
                      ",\"tasks\":", tasks, ",\"task_workers_joined\":", joined,
                      ",\"watermark\":\"", FormatRfc3339(watermark), "\"}");
}

}  // namespace tillstream
