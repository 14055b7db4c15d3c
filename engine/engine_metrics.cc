#include "engine/engine_metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tillstream {
namespace {

constexpr const char* kOutputNames[kOutputKindCount] = {
    "kpis", "rolling", "alerts", "deadletter", "late"};

// A label value with \, " and newline escaped.
std::string Label(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  return out;
}

void Family(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n");
}

std::string Number(double value) { return absl::StrFormat("%.17g", value); }

int64_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long pages = 0, resident = 0;
  const int read = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return read == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

}  // namespace

std::string ReasonClass(absl::string_view reason) {
  std::string out;
  for (size_t i = 0; i < reason.size() && out.size() < 120; ++i) {
    const char c = reason[i];
    if (c == '"') {
      const size_t close = reason.find('"', i + 1);
      out.append("\"...\"");
      if (close == absl::string_view::npos) break;
      i = close;
    } else if (absl::ascii_isdigit(c)) {
      out.push_back('N');
      while (i + 1 < reason.size() && absl::ascii_isdigit(reason[i + 1])) ++i;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> DecodeErrorClasses(
    const absl::flat_hash_map<std::string, int64_t>& by_reason) {
  absl::flat_hash_map<std::string, int64_t> classes;
  for (const auto& [reason, count] : by_reason) {
    std::string reason_class = ReasonClass(reason);
    if (classes.size() >= 100 && !classes.contains(reason_class))
      reason_class = "(other reasons)";
    classes[reason_class] += count;
  }
  std::vector<std::pair<std::string, int64_t>> sorted(classes.begin(),
                                                      classes.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

void CheckpointProbe::Completed(
    int64_t us, std::span<const StateWriteBatch* const> batches) {
  ++completed;
  last_duration_us = us;
  total_duration_us += us;
  last_writes = 0;
  last_bytes = 0;
  for (const StateWriteBatch* batch : batches) {
    last_writes += static_cast<int64_t>(batch->writes().size());
    for (const StateWriteBatch::Write& write : batch->writes()) {
      last_bytes += static_cast<int64_t>(
          write.key.size() + (write.value ? write.value->size() : 0));
    }
  }
}

void EngineMetrics::Publish(MetricsSnapshot snapshot) {
  absl::MutexLock lock(&mu_);
  if (rate_base_.wall_ms == 0) rate_base_ = snapshot;
  const double seconds = (snapshot.wall_ms - rate_base_.wall_ms) / 1000.0;
  if (seconds >= 1) {
    int64_t outputs = 0, base_outputs = 0;
    for (int k = 0; k < kOutputKindCount; ++k) {
      outputs += snapshot.outputs[k];
      base_outputs += rate_base_.outputs[k];
    }
    events_per_second_ = (snapshot.events_in - rate_base_.events_in) / seconds;
    outputs_per_second_ = (outputs - base_outputs) / seconds;
    rate_base_ = snapshot;
  }
  latest_ = std::move(snapshot);
}

double EngineMetrics::events_per_second() const {
  absl::MutexLock lock(&mu_);
  return events_per_second_;
}

std::string EngineMetrics::RenderPrometheus(int64_t wall_ms) const {
  absl::MutexLock lock(&mu_);
  const MetricsSnapshot& s = latest_;
  std::string out;
  Family(&out, "tillstream_records_in_total", "counter",
         "Input records read from the source.");
  absl::StrAppend(&out, "tillstream_records_in_total ", s.records_in, "\n");
  Family(&out, "tillstream_events_in_total", "counter",
         "Input records decoded into valid order events.");
  absl::StrAppend(&out, "tillstream_events_in_total ", s.events_in, "\n");
  Family(&out, "tillstream_events_in_per_second", "gauge",
         "Valid events per second over the last second or more.");
  absl::StrAppend(&out, "tillstream_events_in_per_second ",
                  Number(events_per_second_), "\n");
  Family(&out, "tillstream_outputs_total", "counter",
         "Output records written, by output.");
  for (int k = 0; k < kOutputKindCount; ++k) {
    absl::StrAppend(&out, "tillstream_outputs_total{output=\"", kOutputNames[k],
                    "\"} ", s.outputs[k], "\n");
  }
  Family(&out, "tillstream_outputs_per_second", "gauge",
         "Output records per second over the last second or more.");
  absl::StrAppend(&out, "tillstream_outputs_per_second ",
                  Number(outputs_per_second_), "\n");
  Family(&out, "tillstream_decode_errors_total", "counter",
         "Bad records sent to the dead-letter output, by reason (values "
         "blanked).");
  for (const auto& [reason, count] : s.decode_errors) {
    absl::StrAppend(&out, "tillstream_decode_errors_total{reason=\"",
                    Label(reason), "\"} ", count, "\n");
  }
  Family(&out, "tillstream_late_events_total", "counter",
         "Events past a window's end plus allowed lateness, by KPI rule.");
  for (const auto& [kpi, count] : s.late_by_kpi) {
    absl::StrAppend(&out, "tillstream_late_events_total{kpi=\"", Label(kpi),
                    "\"} ", count, "\n");
  }
  Family(&out, "tillstream_open_windows", "gauge",
         "Windows held in state (open, or closed and within allowed "
         "lateness), by KPI rule.");
  for (const auto& [kpi, count] : s.open_windows_by_kpi) {
    absl::StrAppend(&out, "tillstream_open_windows{kpi=\"", Label(kpi), "\"} ",
                    count, "\n");
  }
  Family(&out, "tillstream_known_customers", "gauge",
         "Customers the engine has seen (for new/returning customers).");
  absl::StrAppend(&out, "tillstream_known_customers ", s.known_customers, "\n");
  Family(&out, "tillstream_consumer_lag", "gauge",
         "Records between the consumer's position and the end of each "
         "assigned partition.");
  for (const MetricsSnapshot::Partition& p : s.partitions) {
    if (p.lag < 0) continue;
    absl::StrAppend(&out, "tillstream_consumer_lag{partition=\"", p.partition,
                    "\"} ", p.lag, "\n");
  }
  Family(&out, "tillstream_partition_watermark_seconds", "gauge",
         "Event-time watermark of each assigned partition (Unix seconds).");
  for (const MetricsSnapshot::Partition& p : s.partitions) {
    if (p.watermark.is_min() || p.watermark.is_max()) continue;
    absl::StrAppend(&out, "tillstream_partition_watermark_seconds{partition=\"",
                    p.partition, "\"} ", Number(p.watermark.millis() / 1e3),
                    "\n");
  }
  Family(&out, "tillstream_partition_watermark_delay_seconds", "gauge",
         "Wall clock minus each partition's watermark.");
  for (const MetricsSnapshot::Partition& p : s.partitions) {
    if (p.watermark.is_min() || p.watermark.is_max()) continue;
    absl::StrAppend(&out,
                    "tillstream_partition_watermark_delay_seconds{partition=\"",
                    p.partition, "\"} ",
                    Number((wall_ms - p.watermark.millis()) / 1e3), "\n");
  }
  if (!s.watermark.is_min() && !s.watermark.is_max()) {
    Family(&out, "tillstream_watermark_seconds", "gauge",
           "The pipeline's event-time watermark (Unix seconds).");
    absl::StrAppend(&out, "tillstream_watermark_seconds ",
                    Number(s.watermark.millis() / 1e3), "\n");
    Family(&out, "tillstream_watermark_delay_seconds", "gauge",
           "Wall clock minus the pipeline's watermark.");
    absl::StrAppend(&out, "tillstream_watermark_delay_seconds ",
                    Number((wall_ms - s.watermark.millis()) / 1e3), "\n");
  }
  Family(&out, "tillstream_assigned_partitions", "gauge",
         "Input partitions this instance owns.");
  absl::StrAppend(&out, "tillstream_assigned_partitions ",
                  s.assigned_partitions, "\n");
  if (s.tasks >= 0) {
    Family(&out, "tillstream_tasks", "gauge",
           "scale_out: the tasks (repartition partitions) this instance "
           "runs.");
    absl::StrAppend(&out, "tillstream_tasks ", s.tasks, "\n");
  }
  Family(&out, "tillstream_rebalances_total", "counter",
         "Partition assignments and revocations by the consumer group.");
  absl::StrAppend(&out, "tillstream_rebalances_total ", s.rebalances, "\n");
  Family(&out, "tillstream_alerts_total", "counter",
         "Alert messages, by state.");
  absl::StrAppend(&out, "tillstream_alerts_total{state=\"firing\"} ",
                  s.alerts_fired,
                  "\ntillstream_alerts_total{state=\"resolved\"} ",
                  s.alerts_resolved, "\n");
  Family(&out, "tillstream_alerts_firing", "gauge",
         "Alerts open now (fired and not resolved).");
  absl::StrAppend(&out, "tillstream_alerts_firing ",
                  s.alerts_fired - s.alerts_resolved, "\n");
  if (s.checkpoints_on) {
    Family(&out, "tillstream_checkpoints_total", "counter",
           "Checkpoints completed (state, offsets and, exactly-once, the "
           "transaction's commit).");
    absl::StrAppend(&out, "tillstream_checkpoints_total ", s.checkpoints, "\n");
    Family(&out, "tillstream_checkpoint_failures_total", "counter",
           "Checkpoints that failed (the run stops; a restart resumes from "
           "the last good one). Exactly-once: includes aborted transactions.");
    absl::StrAppend(&out, "tillstream_checkpoint_failures_total ",
                    s.checkpoint_failures, "\n");
    Family(&out, "tillstream_checkpoint_duration_seconds", "gauge",
           "Duration of the last checkpoint: output flush, state write, "
           "commit.");
    absl::StrAppend(&out, "tillstream_checkpoint_duration_seconds ",
                    s.checkpoint_last_us / 1e6, "\n");
    Family(&out, "tillstream_checkpoint_seconds_total", "counter",
           "Time spent in checkpoints.");
    absl::StrAppend(&out, "tillstream_checkpoint_seconds_total ",
                    s.checkpoint_total_us / 1e6, "\n");
    Family(&out, "tillstream_checkpoint_bytes", "gauge",
           "Keys and values the last checkpoint wrote (changed state only).");
    absl::StrAppend(&out, "tillstream_checkpoint_bytes ",
                    s.checkpoint_last_bytes, "\n");
    Family(&out, "tillstream_checkpoint_writes", "gauge",
           "Keys the last checkpoint put or deleted.");
    absl::StrAppend(&out, "tillstream_checkpoint_writes ",
                    s.checkpoint_last_writes, "\n");
  }
  const int64_t rss = ResidentBytes();
  if (rss >= 0) {
    Family(&out, "tillstream_resident_memory_bytes", "gauge",
           "Resident memory of the engine process (the hot state lives in "
           "memory; RocksDB's share is bounded by state.memory_mb).");
    absl::StrAppend(&out, "tillstream_resident_memory_bytes ", rss, "\n");
  }
  return out;
}

}  // namespace tillstream
