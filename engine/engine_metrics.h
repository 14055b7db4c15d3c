#ifndef TILLSTREAM_ENGINE_ENGINE_METRICS_H_
#define TILLSTREAM_ENGINE_ENGINE_METRICS_H_

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "engine/output_batch.h"
#include "engine/timestamp.h"
#include "state/state_store.h"

namespace tillstream {

// A partition is caught up when within this many records of its end (one
// poll's worth): /health's readiness.
inline constexpr int64_t kCaughtUpLag = 4096;
inline bool IsCaughtUp(int64_t lag) { return lag >= 0 && lag <= kCaughtUpLag; }
// How often the engine's threads publish their figures, at most.
inline constexpr int64_t kMetricsIntervalMs = 100;

// Checkpoints of one run, for the summary and metrics.
struct CheckpointProbe {
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t last_duration_us = 0;  // flush of outputs + state write
  int64_t total_duration_us = 0;
  int64_t last_writes = 0;  // keys put or deleted by the last checkpoint
  int64_t last_bytes = 0;   // their keys and values

  // A checkpoint that took `us` and wrote `batches`.
  void Completed(int64_t us, std::span<const StateWriteBatch* const> batches);
};

// One consistent set of the engine's figures, as the worker publishes it.
struct MetricsSnapshot {
  struct Partition {
    int32_t partition = 0;
    int64_t lag = -1;  // records; -1 unknown
    Timestamp watermark = Timestamp::Min();
    bool caught_up = false;  // within one poll of its end once since assigned
  };
  int64_t wall_ms = 0;  // when it was taken (processing time)
  int64_t records_in = 0;
  int64_t events_in = 0;
  int64_t bad_records = 0;
  int64_t outputs[kOutputKindCount] = {};
  // Dead letters by reason class (values and numbers blanked, bounded).
  std::vector<std::pair<std::string, int64_t>> decode_errors;
  std::vector<std::pair<std::string, int64_t>> late_by_kpi;
  std::vector<std::pair<std::string, int64_t>> open_windows_by_kpi;
  std::vector<Partition> partitions;
  Timestamp watermark = Timestamp::Min();
  int64_t known_customers = 0;
  int64_t assigned_partitions = 0;
  int64_t tasks = -1;  // scale_out: the tasks this instance runs; -1 without
  int64_t rebalances = 0;
  int64_t alerts_fired = 0;
  int64_t alerts_resolved = 0;
  // Durable state (absent without state.dir).
  bool checkpoints_on = false;
  int64_t checkpoints = 0;
  int64_t checkpoint_failures = 0;
  int64_t checkpoint_last_us = 0;
  int64_t checkpoint_total_us = 0;
  int64_t checkpoint_last_bytes = 0;
  int64_t checkpoint_last_writes = 0;
};

// "lines[N].qty must be > N, got -N": a dead-letter reason with quoted values
// and numbers blanked, so its label values stay few.
std::string ReasonClass(absl::string_view reason);
// Dead letters by reason class, sorted, at most 100 classes (the rest as
// "(other reasons)").
std::vector<std::pair<std::string, int64_t>> DecodeErrorClasses(
    const absl::flat_hash_map<std::string, int64_t>& by_reason);

// The engine's Prometheus metrics. The worker publishes snapshots (a few
// per second); the HTTP thread renders the latest in the Prometheus text
// exposition format (version 0.0.4). Debian has no C++ Prometheus client,
// and the text format is small and stable, so it is written here.
class EngineMetrics {
 public:
  void Publish(MetricsSnapshot snapshot);
  // GET /metrics. `wall_ms` (now) gives the watermark delays.
  std::string RenderPrometheus(int64_t wall_ms) const;
  // events/s over the last second or more, for the status line.
  double events_per_second() const;

 private:
  mutable absl::Mutex mu_;
  MetricsSnapshot latest_ ABSL_GUARDED_BY(mu_);
  MetricsSnapshot rate_base_ ABSL_GUARDED_BY(mu_);  // >= 1 s before latest_
  double events_per_second_ ABSL_GUARDED_BY(mu_) = 0;
  double outputs_per_second_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_ENGINE_METRICS_H_
