#ifndef TILLSTREAM_ENGINE_SCALE_OUT_METRICS_H_
#define TILLSTREAM_ENGINE_SCALE_OUT_METRICS_H_

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/engine_metrics.h"

namespace tillstream {

// The lower of two watermarks, Min (none yet) counting as unknown.
Timestamp LowerKnown(Timestamp a, Timestamp b);

// One snapshot of a scaled-out instance from its parts' snapshots: the
// ingest's (input records, dead letters, input partitions with their lag
// and watermarks, in partition order) and each task runner's (outputs, windows,
// customers, alerts, checkpoints, tasks). Counters add up; the watermark is the
// lowest known; `tasks` adds up over the parts that have joined (-1 when
// none has).
MetricsSnapshot MergeSnapshots(std::span<const MetricsSnapshot> parts);

// The figures of a scaled-out instance (engine/scale_out_run.h), which has
// no single worker to ask: each of its threads publishes its own part (a few
// times a second, and at the end), and every publication passes the merged
// snapshot on to `metrics`, which serves GET /metrics. Part 0 is the
// ingest, 1..N the task runners.
class ScaleOutMetrics {
 public:
  ScaleOutMetrics(EngineMetrics* metrics, size_t task_runners);

  void Publish(size_t part, MetricsSnapshot snapshot);

  // GET /health: ready (*ready) once the ingest has input partitions, each
  // caught up once since it was assigned, and every task runner has joined
  // its group (it may own no task: more instances than tasks).
  std::string HealthJson(bool* ready) const;

 private:
  EngineMetrics* metrics_;
  mutable absl::Mutex mu_;
  std::vector<std::optional<MetricsSnapshot>> parts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_SCALE_OUT_METRICS_H_
