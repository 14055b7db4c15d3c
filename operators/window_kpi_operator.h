#ifndef TILLSTREAM_OPERATORS_WINDOW_KPI_OPERATOR_H_
#define TILLSTREAM_OPERATORS_WINDOW_KPI_OPERATOR_H_

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "engine/order_event.h"
#include "engine/output_batch.h"
#include "engine/pipeline_config.h"
#include "engine/timestamp.h"
#include "operators/key_shard.h"
#include "operators/kpi_accumulator.h"
#include "operators/string_interner.h"
#include "operators/window_assigner.h"
#include "operators/window_listener.h"
#include "state/checkpointed_state.h"

namespace tillstream {

// Counters of one KPI rule; read by the runtime for the summary and metrics.
struct WindowKpiProbe {
  int64_t late_events =
      0;                  // events past end + allowed_lateness, sent to `late`
  int64_t snapshots = 0;  // first emissions (revision 0)
  int64_t corrections = 0;      // re-emissions (revision > 0)
  int64_t early_snapshots = 0;  // "final": false snapshots of emit: updates
};

// One KPI rule over tumbling event-time windows aligned to the UTC epoch.
//
// Per event, Process() adds it to its (window, group) accumulator, or sends it
// to the `late` output when the watermark has passed end + allowed_lateness.
// Per batch, AdvanceWatermark() emits what the watermark closed:
//  - a window whose end <= watermark is emitted once as revision 0;
//  - a window changed by events after it was emitted is re-emitted once per
//    batch with revision + 1 (corrections are coalesced per input batch; the
//    last revision is the same however the input was batched);
//  - a window whose end + allowed_lateness <= watermark is dropped.
// Snapshots go out ordered by (window start, group key), so the output
// depends only on the events and the batch boundaries, never on hash order.
//
// `rule` and `customers` must outlive the operator. Not thread-safe: owned by
// one worker.
class WindowKpiOperator final : public CheckpointedState {
 public:
  // With `shard`, only the groups it owns (every event still comes by);
  // the owner of an event's first group writes its late records.
  WindowKpiOperator(const KpiRuleConfig& rule, absl::string_view pipeline,
                    KeyShard shard = {});
  WindowKpiOperator(const WindowKpiOperator&) = delete;
  WindowKpiOperator& operator=(const WindowKpiOperator&) = delete;

  // `watermark` is the operator watermark as of the start of this batch.
  // `customer` is the event's customer as the runtime resolved it.
  void Process(const OrderEvent& event, const CustomerRef& customer,
               Timestamp watermark, OutputBatch* out);
  // `now_ms` (processing time) paces the early snapshots of emit: updates.
  void AdvanceWatermark(Timestamp watermark, OutputBatch* out,
                        int64_t now_ms = 0);

  // `listener` (not owned, outlives the operator) hears of every emission.
  void AddListener(WindowListener* listener) { listeners_.push_back(listener); }

  // Live queries: appends [snapshot, ..] of the group's windows not emitted
  // yet ("final": false), by start; false when the group is unknown.
  bool AppendOpenWindowsJson(absl::string_view group_key,
                             std::string* json) const;
  size_t group_count() const { return groups_.size(); }

  // Checkpoints (family "kpi/<rule>"): windows, group and SKU names and the
  // watermark bookkeeping. Off until enabled: only then are changed windows
  // remembered for the next checkpoint.
  void EnableCheckpoints() { checkpointing_ = true; }
  const std::string& family() const override { return family_; }
  void Checkpoint(StateWriteBatch* batch) override;
  absl::Status Restore(StateStore* store) override;

  // Scale-out routing: calls `visit` with the key of each group `event`
  // adds to, owned here or not (a line-level rule: once per line, repeats
  // included), built in `scratch`.
  void ForEachGroupKey(
      const OrderEvent& event, std::string* scratch,
      absl::FunctionRef<void(absl::string_view key)> visit) const;

  const KpiRuleConfig& rule() const { return rule_; }
  const WindowKpiProbe& probe() const { return probe_; }
  size_t open_windows() const { return windows_.size(); }

 private:
  struct WindowKey {
    int64_t start;
    uint32_t group;
    bool operator==(const WindowKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const WindowKey& k) {
      return H::combine(std::move(h), k.start, k.group);
    }
  };
  struct WindowState {
    KpiAccumulator kpis;
    int32_t revision = -1;    // -1: not emitted yet
    bool pending = false;     // in pending_, awaiting a (re-)emission
    bool updated = false;     // in updated_: changed while open (emit: updates)
    bool dirty = false;       // in dirty_: changed since the last checkpoint
    bool persisted = false;   // has a record in the store
    int64_t session_end = 0;  // session windows: last event + gap
    std::vector<int64_t>
        replaces;  // session windows: emitted starts merged into this one
  };
  // The key of the group of `event` (and `line`, in a line-level rule).
  void BuildGroupKey(const OrderEvent& event, const OrderLine* line,
                     std::string* key) const;
  // Whether this shard writes the late record of `event`: the owner of its
  // first group (of its first line, in a line-level rule), so that exactly
  // one shard does, and one that judged it late by its own watermark (the
  // tasks of scale_out each have theirs).
  bool WritesLate(const OrderEvent& event);
  // `line` is the line being grouped in a line-level rule, else null.
  // kNotOwned for a group of another shard (remembered as such when the
  // rule groups by one field, never interned otherwise).
  uint32_t InternGroup(const OrderEvent& event, const OrderLine* line);
  // The group of `identity` (see group_ids_), made from `event` and `line`
  // the first time; `key_built`: key_scratch_ holds its key.
  uint32_t GroupOf(absl::string_view identity, const OrderEvent& event,
                   const OrderLine* line, bool key_built);
  // What group_ids_ holds for the group of `key`.
  absl::string_view IdentityOf(absl::string_view key) const;
  static constexpr uint32_t kNotOwned = UINT32_MAX;
  // Fills line_groups_ with the event's groups and what the event adds to
  // each (one group unless line-level: then an order counts once per group
  // it has lines in), and, for top_skus, line_group_of_.
  void CollectGroups(const OrderEvent& event);
  // For top_skus: the event's lines of `group` under their SKUs.
  void AddSkus(const OrderEvent& event, uint32_t group, KpiAccumulator* kpis);
  void ProcessSession(const OrderEvent& event, const CustomerRef& customer,
                      Timestamp watermark, OutputBatch* out);
  // The session of `group` that an event at `ts` falls in, merging the
  // sessions it bridges; null when it would be a new session already past
  // its lateness.
  WindowState* SessionFor(uint32_t group, int64_t ts, Timestamp watermark);
  void AdvanceSessions(Timestamp watermark, OutputBatch* out, int64_t now_ms);
  void AppendLate(const OrderEvent& event, int64_t start, int64_t end,
                  Timestamp watermark, OutputBatch* out);
  void ProcessInWindow(const OrderEvent& event, const CustomerRef& customer,
                       int64_t start, Timestamp watermark,
                       bool* groups_collected, OutputBatch* out);
  struct WindowState;
  WindowState& AddTo(const WindowKey& key, Timestamp end, Timestamp watermark);
  enum class Finality { kFinal, kEarly };
  void Emit(const WindowKey& key, WindowState* state, OutputBatch* out,
            Finality finality);
  // The snapshot record of an emission (not for internal rules).
  void AppendSnapshot(const WindowKey& key, WindowState& state, bool final,
                      OutputBatch* out);
  // `say_final`: write the "final" member (emit: updates, live queries).
  void AppendSnapshotJson(const WindowKey& key, const WindowState& state,
                          bool final, bool say_final, std::string* json) const;
  void EmitEarly(Timestamp watermark, OutputBatch* out);
  void SortKeys(std::vector<WindowKey>* keys) const;
  void EmitSorted(std::vector<WindowKey>* keys, OutputBatch* out);
  void AppendWindowJson(int64_t start, int64_t end, std::string* out) const;
  // Remembers a changed window for the next checkpoint.
  void Touch(const WindowKey& key, WindowState& state) {
    if (checkpointing_ && !state.dirty) {
      state.dirty = true;
      dirty_.push_back(key);
    }
  }
  // Remembers a removed window that has a record in the store: the record
  // is deleted at the next checkpoint.
  void Forget(const WindowKey& key, const WindowState& state) {
    if (checkpointing_ && state.persisted) erased_.push_back(key);
  }
  void Erase(const WindowKey& key);
  void EncodeWindow(const WindowState& state, std::string* out) const;
  absl::Status RestoreWindow(absl::string_view key, absl::string_view value);

  const KpiRuleConfig& rule_;
  std::string snapshot_head_;  // the JSON every snapshot starts with
  std::string late_head_;      // ... and every late record
  const WindowAssigner assigner_;
  const bool line_level_;  // groups by sku or category
  const KeyShard shard_;
  StringInterner sku_names_;  // for top_skus
  std::vector<std::pair<uint32_t, OrderTotals>>
      line_groups_;  // scratch: the event's groups
  std::vector<uint32_t>
      line_group_of_;  // scratch: each line's group (top_skus only)
  WindowKpiProbe probe_;

  std::vector<KpiGroup> groups_;
  // Groups by identity: the value itself when the rule groups by one field
  // (its key is then never built to find it), else the key. Short
  // identities are compared inside the table's slot, without a second miss.
  StringInterner group_ids_;
  std::vector<uint32_t> group_of_identity_;  // group id, or kNotOwned
  // "store_id=", ",channel=": what precedes each group_by value in a key.
  std::vector<std::string> key_prefixes_;
  std::string key_scratch_;

  // Flat: the key and the state share the slot a lookup loads. A node map
  // cost one more cache miss per update, which shows when thousands of
  // windows are open (a Kafka backlog handed over a partition at a time).
  // References to a state do not outlive an insertion.
  absl::flat_hash_map<WindowKey, WindowState> windows_;
  absl::btree_map<int64_t, std::vector<uint32_t>> groups_by_start_;
  int64_t first_unclosed_start_ = INT64_MIN;  // starts below it were emitted
  std::vector<WindowKey> pending_;            // closed windows changed since
  std::vector<WindowKey> closing_scratch_;
  std::vector<WindowKey>
      updated_;  // open windows changed since the last early snapshots
  // Session windows: per group start -> end, and all sessions by end.
  absl::flat_hash_map<uint32_t, absl::btree_map<int64_t, int64_t>> sessions_;
  absl::btree_set<std::tuple<int64_t, int64_t, uint32_t>>
      session_ends_;  // end, start, group
  int64_t sessions_closed_through_ = INT64_MIN;
  int64_t last_update_ms_ = INT64_MIN / 2;
  int64_t max_start_seen_ = INT64_MIN;
  std::vector<WindowListener*> listeners_;

  const std::string family_;
  const std::string settings_;  // what gives the state its meaning
  bool checkpointing_ = false;
  std::vector<WindowKey> dirty_;    // changed since the last checkpoint
  std::vector<WindowKey> erased_;   // removed since, with a record to delete
  size_t groups_checkpointed_ = 0;  // groups_ before this are in the store
  size_t skus_checkpointed_ = 0;    // likewise sku_names_
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_WINDOW_KPI_OPERATOR_H_
