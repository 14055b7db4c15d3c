#ifndef TILLSTREAM_ENGINE_LIVE_VIEW_H_
#define TILLSTREAM_ENGINE_LIVE_VIEW_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/output_batch.h"

namespace tillstream {

// What the HTTP queries and the dashboard show of emitted results, kept from
// the outputs as they leave the worker (only when http is on): per KPI rule
// and group the last closed window and a short series of closed windows,
// per rolling rule and group the latest period, and the alerts by id.
// Bounded: kMaxSeriesGroups groups per rule keep a series of kSeriesLength
// windows; kMaxResolvedAlerts resolved alerts are kept. One thread (the
// worker); other threads reach it through WorkerQueries.
class LiveView {
 public:
  static constexpr size_t kSeriesLength = 96;
  static constexpr size_t kMaxSeriesGroups = 1000;
  static constexpr size_t kMaxResolvedAlerts = 1000;

  // The outputs of one batch, before the sink takes them.
  void Observe(const OutputBatch& outputs);

  // The last closed (final) snapshot of `group` under KPI rule `kpi`.
  const std::string* LastClosed(absl::string_view kpi,
                                absl::string_view group) const;
  // {"kpi":..,"groups":[{"group":{..},"key":..,"windows":[{"start":..,
  // "revenue":..,"orders":..},..]},..]}: the last `limit` closed windows.
  void AppendSeriesJson(absl::string_view kpi, size_t limit,
                        std::string* out) const;
  // {"rule":..,"groups":[<latest rolling snapshot>,..]}
  void AppendRollingJson(absl::string_view rule, std::string* out) const;
  // [<alert>,..]: the latest message of every alert in `state` ("firing",
  // "resolved" or "" for all), firing first, then by id.
  void AppendAlertsJson(absl::string_view state, std::string* out) const;

 private:
  struct Point {
    int64_t start_ms;
    std::string start, revenue;
    int64_t orders;
  };
  struct GroupView {
    std::string group_json;
    int64_t last_start_ms = INT64_MIN;
    std::string last_closed;
    std::deque<Point> series;
  };
  struct RollingView {
    int64_t start_ms = INT64_MIN;
    std::string json;
  };
  struct AlertView {
    bool firing = false;
    int64_t sequence = 0;  // when last updated, for pruning resolved ones
    std::string json;
  };
  void ObserveKpi(absl::string_view key, absl::string_view json);
  void ObserveRolling(absl::string_view key, absl::string_view json);
  void ObserveAlert(absl::string_view key, absl::string_view json);

  // rule -> group key -> view; btree for a stable order in answers.
  absl::flat_hash_map<std::string, absl::btree_map<std::string, GroupView>>
      kpis_;
  absl::flat_hash_map<std::string, absl::btree_map<std::string, RollingView>>
      rolling_;
  absl::btree_map<std::string, AlertView> alerts_;
  int64_t resolved_ = 0;
  int64_t sequence_ = 0;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_LIVE_VIEW_H_
