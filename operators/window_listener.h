#ifndef TILLSTREAM_OPERATORS_WINDOW_LISTENER_H_
#define TILLSTREAM_OPERATORS_WINDOW_LISTENER_H_

#include <cstdint>
#include <string>

#include "engine/output_batch.h"
#include "engine/timestamp.h"
#include "operators/kpi_accumulator.h"

namespace tillstream {

// A KPI group as the window operator knows it.
struct KpiGroup {
  std::string key;   // "store_id=s-000,region=EU"
  std::string json;  // {"store_id":"s-000","region":"EU"}
};

// Downstream of a window KPI operator (rolling KPIs, later anomaly rules):
// told of every window emission, then of each watermark advance. Called once
// per window, never per event.
class WindowListener {
 public:
  virtual ~WindowListener() = default;
  // Window [start, start + size) of `group` was emitted with `revision`.
  // `group_id` is dense and stable for the operator's lifetime.
  virtual void OnWindowEmitted(uint32_t group_id, const KpiGroup& group,
                               int64_t start, const KpiAccumulator& kpis,
                               int32_t revision, OutputBatch* out) = 0;
  // Every window starting at or before `closed_through` has been emitted
  // (-infinity: none yet), at `watermark` (+infinity: the input ended, so the
  // last period may hold only part of its events).
  virtual void OnWindowsClosed(int64_t closed_through, Timestamp watermark,
                               OutputBatch* out) = 0;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_WINDOW_LISTENER_H_
