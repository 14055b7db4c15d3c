#ifndef TILLSTREAM_ENGINE_SCALE_OUT_RUN_H_
#define TILLSTREAM_ENGINE_SCALE_OUT_RUN_H_

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "connectors/embedded_broker.h"
#include "engine/pipeline_config.h"
#include "engine/scale_out_metrics.h"
#include "state/state_store.h"

namespace tillstream {

struct ScaleOutRunOptions {
  std::string brokers;               // bootstrap servers
  EmbeddedBroker* broker = nullptr;  // in-process: it creates the topics
  bool bounded = false;              // end once the input read at start is
  // Exactly-once: every producer is transactional, its transactional id
  // made of the group id, `instance_id` (kept in the state, so a restart
  // fences its own zombie) and its role.
  bool exactly_once = false;
  std::string instance_id;
  // Log lines (restores, the closing summary); thread-safe.
  std::function<void(absl::string_view line)> info;
  // Gets each thread's figures (HTTP); sized for config.workers task
  // runners. May be null.
  ScaleOutMetrics* metrics = nullptr;
};

// An instance of a pipeline with scale_out (docs/scale-out.md): the ingest
// of the input partitions the group `<group_id>` gives it, on a thread of
// its own, and `workers` task runners in the group `<group_id>-tasks`
// over `<group_id>-repartition`, each on its own thread with its own
// consumer and producer; the state's changelog has one partition per task.
// The topics are created when missing (with scale_out.tasks partitions) and
// refused with another partition count. Until `stop` (or, bounded, until
// every task has closed its windows); an error on one thread stops the
// others (through `stop`) and is returned. `store` is opened with
// TaskRunner::StateFamilies.
absl::Status RunScaledOut(const PipelineConfig& config, StateStore* store,
                          const ScaleOutRunOptions& options,
                          std::atomic<bool>& stop);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_SCALE_OUT_RUN_H_
