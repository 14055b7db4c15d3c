#include "operators/window_kpi_operator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/json_writer.h"
#include "engine/status_macros.h"
#include "engine/time_format.h"
#include "operators/group_checkpoints.h"
#include "state/append_only_table.h"

namespace tillstream {
namespace {

// `line` is the line being grouped, for line-level fields (sku, category).
absl::string_view FieldValue(const OrderEvent& event, const OrderLine* line,
                             GroupField field) {
  switch (field) {
    case GroupField::kSku:
      return line->sku;
    case GroupField::kCategory:
      return line->category;
    case GroupField::kStoreId:
      return event.store_id;
    case GroupField::kRegion:
      return event.region;
    case GroupField::kChannel:
      return event.channel;
    case GroupField::kCurrency:
      return event.currency;
    case GroupField::kCustomerId:
      return event.customer_id;
  }
  return {};
}

// The settings a checkpoint's windows were made under: window kind and
// lengths, zone, grouping, and what an accumulator holds.
std::string Settings(const KpiRuleConfig& rule) {
  std::string settings;
  switch (rule.window_type) {
    case WindowType::kTumbling:
      absl::StrAppend(&settings, "tumbling ", rule.window_size_ms, "ms");
      break;
    case WindowType::kHopping:
      absl::StrAppend(&settings, "hopping ", rule.window_size_ms, "ms/",
                      rule.window_slide_ms, "ms");
      break;
    case WindowType::kSession:
      absl::StrAppend(&settings, "session ", rule.session_gap_ms, "ms");
      break;
  }
  if (!rule.timezone.empty()) absl::StrAppend(&settings, " ", rule.timezone);
  settings.append(", by");
  for (GroupField field : rule.group_by)
    absl::StrAppend(&settings, " ", GroupFieldName(field));
  if (rule.top_skus > 0) settings.append(", top_skus");
  if (rule.approx_distinct) settings.append(", hll");
  return settings;
}

}  // namespace

WindowKpiOperator::WindowKpiOperator(const KpiRuleConfig& rule,
                                     absl::string_view pipeline, KeyShard shard)
    : rule_(rule),
      assigner_(rule),
      line_level_(
          std::any_of(rule.group_by.begin(), rule.group_by.end(), IsLineField)),
      shard_(shard),
      family_(absl::StrCat("kpi/", rule.name)),
      settings_(Settings(rule)) {
  for (size_t i = 0; i < rule.group_by.size(); ++i) {
    key_prefixes_.push_back(
        absl::StrCat(i > 0 ? "," : "", GroupFieldName(rule.group_by[i]), "="));
  }
  // {"type":"kpi","pipeline":"P","kpi":"R" and the same for late records.
  for (auto [head, type] :
       {std::pair{&snapshot_head_, "kpi"}, std::pair{&late_head_, "late"}}) {
    absl::StrAppend(head, "{\"type\":\"", type, "\",\"pipeline\":");
    AppendJsonString(pipeline, head);
    head->append(",\"kpi\":");
    AppendJsonString(rule_.name, head);
  }
}

void WindowKpiOperator::BuildGroupKey(const OrderEvent& event,
                                      const OrderLine* line,
                                      std::string* key) const {
  key->clear();
  for (size_t i = 0; i < rule_.group_by.size(); ++i) {
    key->append(key_prefixes_[i]);
    absl::string_view value = FieldValue(event, line, rule_.group_by[i]);
    key->append(value.data(), value.size());
  }
}

void WindowKpiOperator::ForEachGroupKey(
    const OrderEvent& event, std::string* scratch,
    absl::FunctionRef<void(absl::string_view key)> visit) const {
  if (!line_level_) {
    BuildGroupKey(event, nullptr, scratch);
    visit(*scratch);
    return;
  }
  for (const OrderLine& line : event.lines) {
    BuildGroupKey(event, &line, scratch);
    visit(*scratch);
  }
}

bool WindowKpiOperator::WritesLate(const OrderEvent& event) {
  if (shard_.count == 1) return true;
  if (line_level_ && event.lines.empty()) return shard_.first();
  BuildGroupKey(event, line_level_ ? &event.lines[0] : nullptr, &key_scratch_);
  return shard_.Owns(key_scratch_);
}

uint32_t WindowKpiOperator::InternGroup(const OrderEvent& event,
                                        const OrderLine* line) {
  if (rule_.group_by.size() == 1) {
    return GroupOf(FieldValue(event, line, rule_.group_by[0]), event, line,
                   /*key_built=*/false);
  }
  BuildGroupKey(event, line, &key_scratch_);
  // Before the lookup: every worker sees every event, and the hash is
  // cheaper than a miss in the group table.
  if (!shard_.Owns(key_scratch_)) return kNotOwned;
  return GroupOf(key_scratch_, event, line, /*key_built=*/true);
}

uint32_t WindowKpiOperator::GroupOf(absl::string_view identity,
                                    const OrderEvent& event,
                                    const OrderLine* line, bool key_built) {
  bool added = false;
  const uint32_t known = group_ids_.Intern(identity, &added);
  if (!added) return group_of_identity_[known];

  if (!key_built) BuildGroupKey(event, line, &key_scratch_);
  // By one field, another shard's values are interned too, so that a
  // group's owner is found once, not per event.
  if (!shard_.Owns(key_scratch_)) {
    group_of_identity_.push_back(kNotOwned);
    return kNotOwned;
  }
  KpiGroup group{key_scratch_, "{"};
  for (size_t i = 0; i < rule_.group_by.size(); ++i) {
    if (i > 0) group.json.push_back(',');
    AppendJsonString(GroupFieldName(rule_.group_by[i]), &group.json);
    group.json.push_back(':');
    absl::string_view value = FieldValue(event, line, rule_.group_by[i]);
    // Only customer_id can be empty: an anonymous customer.
    if (value.empty()) {
      group.json.append("null");
    } else {
      AppendJsonString(value, &group.json);
    }
  }
  group.json.push_back('}');
  const uint32_t id = static_cast<uint32_t>(groups_.size());
  groups_.push_back(std::move(group));
  group_of_identity_.push_back(id);
  return id;
}

absl::string_view WindowKpiOperator::IdentityOf(absl::string_view key) const {
  if (rule_.group_by.size() != 1) return key;
  key.remove_prefix(std::min(key.size(), key_prefixes_[0].size()));
  return key;
}

void WindowKpiOperator::Process(const OrderEvent& event,
                                const CustomerRef& resolved,
                                Timestamp watermark, OutputBatch* out) {
  static constexpr CustomerRef kUncounted;
  const CustomerRef& customer = rule_.internal ? kUncounted : resolved;
  if (rule_.window_type == WindowType::kSession) {
    ProcessSession(event, customer, watermark, out);
    return;
  }
  // The event's groups are the same in every window it falls in: resolved
  // once, by the first window that accepts it (a late event interns nothing).
  bool groups_collected = false;
  assigner_.ForEachWindow(event.ts.millis(), [&](int64_t start) {
    ProcessInWindow(event, customer, start, watermark, &groups_collected, out);
  });
}

void WindowKpiOperator::AppendLate(const OrderEvent& event, int64_t start,
                                   int64_t end, Timestamp watermark,
                                   OutputBatch* out) {
  ++probe_.late_events;
  if (rule_.internal) return;  // the rule it derives from reports lateness
  out->BeginRecord(OutputKind::kLate, event.order_id);
  std::string* json = out->value();
  json->append(late_head_);
  AppendWindowJson(start, end, json);
  json->append(",\"ts\":\"");
  AppendRfc3339(event.ts, json);
  json->append("\",\"watermark\":\"");
  AppendRfc3339(watermark, json);
  json->append("\",\"source\":");
  AppendSourceJson(event.source, json);
  json->append(",\"payload\":");
  AppendJsonString(event.payload, json);
  // One late record per (rule, event, window).
  AppendOutputId(
      rule_.name,
      absl::StrCat(event.source.topic, "/", event.source.partition.value, "/",
                   event.source.offset.value),
      Timestamp::FromMillis(start), json);
  json->push_back('}');
  out->EndRecord();
}

void WindowKpiOperator::ProcessSession(const OrderEvent& event,
                                       const CustomerRef& customer,
                                       Timestamp watermark, OutputBatch* out) {
  const int64_t ts = event.ts.millis();
  CollectGroups(event);
  for (const auto& [group, totals] : line_groups_) {
    WindowState* state = SessionFor(group, ts, watermark);
    if (state == nullptr) {
      AppendLate(event, ts, ts + rule_.session_gap_ms, watermark, out);
      continue;
    }
    state->kpis.Add(event.status, customer, rule_.approx_distinct, totals);
    AddSkus(event, group, &state->kpis);
  }
}

WindowKpiOperator::WindowState* WindowKpiOperator::SessionFor(
    uint32_t group, int64_t ts, Timestamp watermark) {
  absl::btree_map<int64_t, int64_t>& sessions =
      sessions_[group];  // start -> end
  int64_t start = ts;
  int64_t end = ts + rule_.session_gap_ms;
  // Sessions [s, e) that [ts, ts + gap) touches: s < ts + gap and e > ts.
  // They are consecutive in start order, ending before lower_bound(ts + gap).
  std::vector<int64_t> parts;
  for (auto it = sessions.lower_bound(end); it != sessions.begin();) {
    --it;
    if (it->second <= ts) break;
    parts.push_back(it->first);
  }
  if (parts.empty() &&
      watermark >= Timestamp::FromMillis(end).Plus(rule_.allowed_lateness_ms)) {
    return nullptr;  // a new session that would already be past its lateness
  }
  for (int64_t part : parts) {
    start = std::min(start, part);
    end = std::max(end, sessions[part]);
  }
  WindowState merged;
  bool have_merged = false;
  bool keeps_key = false;  // one of the parts already has the merged start
  bool start_persisted = false;
  for (int64_t part : parts) {
    auto node = windows_.extract(WindowKey{part, group});
    WindowState& piece = node.mapped();
    Forget(WindowKey{part, group}, piece);
    // The merged window inherits the record under its own start.
    if (part == start && piece.persisted) start_persisted = true;
    session_ends_.erase({piece.session_end, part, group});
    sessions.erase(part);
    if (part == start) keeps_key = true;
    // An emitted session under another start is superseded by this one.
    if (piece.revision >= 0 && part != start) piece.replaces.push_back(part);
    const bool piece_pending = piece.pending && part == start;
    if (!have_merged) {
      merged = std::move(piece);
      merged.pending = piece_pending;
      have_merged = true;
      continue;
    }
    merged.revision = std::max(merged.revision, piece.revision);
    merged.pending = merged.pending || piece_pending;
    merged.replaces.insert(merged.replaces.end(), piece.replaces.begin(),
                           piece.replaces.end());
    merged.kpis.Merge(std::move(piece.kpis));
  }
  if (!keeps_key) merged.updated = false;  // its old key is gone from updated_
  merged.session_end = end;
  merged.dirty = false;  // a part's flag: this key is not in dirty_ yet
  merged.persisted = start_persisted;
  sessions[start] = end;
  session_ends_.insert({end, start, group});
  const WindowKey key{start, group};
  WindowState& state = windows_[key] = std::move(merged);
  Touch(key, state);
  if (Timestamp::FromMillis(end) <= watermark) {
    if (!state.pending) {
      state.pending =
          true;  // closed already: a correction (or a late first emission)
      pending_.push_back(key);
    }
  } else {
    state.pending = false;  // open (again): it goes out when it closes
    if (rule_.update_interval_ms > 0 && !state.updated) {
      state.updated = true;
      updated_.push_back(key);
    }
  }
  return &state;
}

void WindowKpiOperator::CollectGroups(const OrderEvent& event) {
  line_groups_.clear();
  line_group_of_.clear();
  if (!line_level_) {
    const uint32_t group = InternGroup(event, nullptr);
    if (group == kNotOwned) return;
    line_groups_.emplace_back(group, event.totals);
    if (rule_.top_skus > 0) line_group_of_.assign(event.lines.size(), group);
    return;
  }
  for (const OrderLine& line : event.lines) {
    const uint32_t group = InternGroup(event, &line);
    if (rule_.top_skus > 0) line_group_of_.push_back(group);
    if (group == kNotOwned) continue;
    auto it = std::find_if(
        line_groups_.begin(), line_groups_.end(),
        [group](const auto& entry) { return entry.first == group; });
    if (it == line_groups_.end())
      it = line_groups_.insert(it, {group, OrderTotals{}});
    it->second.AddLine(line);
  }
}

void WindowKpiOperator::AddSkus(const OrderEvent& event, uint32_t group,
                                KpiAccumulator* kpis) {
  if (rule_.top_skus == 0) return;
  const int sign = event.status == OrderStatus::kCompleted  ? 1
                   : event.status == OrderStatus::kRefunded ? -1
                                                            : 0;
  if (sign == 0) return;  // cancelled orders change nothing
  for (size_t i = 0; i < event.lines.size(); ++i) {
    if (line_group_of_[i] != group) continue;
    kpis->AddSku(sku_names_.Intern(event.lines[i].sku), sign, event.lines[i]);
  }
}

void WindowKpiOperator::ProcessInWindow(const OrderEvent& event,
                                        const CustomerRef& customer,
                                        int64_t start, Timestamp watermark,
                                        bool* groups_collected,
                                        OutputBatch* out) {
  const Timestamp end = Timestamp::FromMillis(assigner_.End(start));
  if (watermark >= end.Plus(rule_.allowed_lateness_ms)) {
    if (WritesLate(event))
      AppendLate(event, start, end.millis(), watermark, out);
    return;
  }
  max_start_seen_ = std::max(max_start_seen_, start);
  if (!*groups_collected) {
    CollectGroups(event);
    *groups_collected = true;
  }
  for (const auto& [group, totals] : line_groups_) {
    WindowState& state = AddTo(WindowKey{start, group}, end, watermark);
    state.kpis.Add(event.status, customer, rule_.approx_distinct, totals);
    AddSkus(event, group, &state.kpis);
  }
}

WindowKpiOperator::WindowState& WindowKpiOperator::AddTo(const WindowKey& key,
                                                         Timestamp end,
                                                         Timestamp watermark) {
  auto [it, inserted] = windows_.try_emplace(key);
  if (inserted) groups_by_start_[key.start].push_back(key.group);
  WindowState& state = it->second;
  Touch(key, state);
  // Already closed by the watermark: emit again as a correction (or, for a
  // window that had no events before, for the first time).
  if (end <= watermark && !state.pending) {
    state.pending = true;
    pending_.push_back(key);
  } else if (rule_.update_interval_ms > 0 && end > watermark &&
             !state.updated) {
    state.updated = true;  // changed since its last early snapshot
    updated_.push_back(key);
  }
  return state;
}

void WindowKpiOperator::AdvanceWatermark(Timestamp watermark, OutputBatch* out,
                                         int64_t now_ms) {
  // Corrections; a session re-opened by a later merge is no longer pending.
  std::erase_if(pending_, [this](const WindowKey& key) {
    auto it = windows_.find(key);
    return it == windows_.end() || !it->second.pending;
  });
  EmitSorted(&pending_, out);
  if (rule_.window_type == WindowType::kSession) {
    AdvanceSessions(watermark, out, now_ms);
    return;
  }

  for (auto it = groups_by_start_.lower_bound(first_unclosed_start_);
       it != groups_by_start_.end() &&
       Timestamp::FromMillis(assigner_.End(it->first)) <= watermark;
       ++it) {
    closing_scratch_.clear();
    for (uint32_t group : it->second)
      closing_scratch_.push_back({it->first, group});
    EmitSorted(&closing_scratch_, out);
  }
  // Every start whose window ends at or before the watermark is now closed,
  // including starts with no window yet: their first event goes to pending_.
  first_unclosed_start_ =
      std::max(first_unclosed_start_, assigner_.FirstOpenStart(watermark));

  if (!listeners_.empty() && max_start_seen_ != INT64_MIN &&
      first_unclosed_start_ != INT64_MIN) {
    // The last window start that is closed and has been seen at all.
    const int64_t closed_through =
        std::min(max_start_seen_, first_unclosed_start_ == INT64_MAX
                                      ? INT64_MAX
                                      : first_unclosed_start_ - 1);
    for (WindowListener* listener : listeners_)
      listener->OnWindowsClosed(closed_through, watermark, out);
  }

  if (rule_.update_interval_ms > 0 &&
      now_ms - last_update_ms_ >= rule_.update_interval_ms) {
    last_update_ms_ = now_ms;
    EmitEarly(watermark, out);
  }

  while (!groups_by_start_.empty()) {
    auto first = groups_by_start_.begin();
    Timestamp expiry = Timestamp::FromMillis(assigner_.End(first->first))
                           .Plus(rule_.allowed_lateness_ms);
    if (expiry > watermark) break;
    for (uint32_t group : first->second) Erase(WindowKey{first->first, group});
    groups_by_start_.erase(first);
  }
}

void WindowKpiOperator::AdvanceSessions(Timestamp watermark, OutputBatch* out,
                                        int64_t now_ms) {
  // Sessions that ended since the last advance close now; those that ended
  // before and changed since went out through pending_.
  closing_scratch_.clear();
  for (auto it = session_ends_.upper_bound(
           {sessions_closed_through_, INT64_MAX, UINT32_MAX});
       it != session_ends_.end() &&
       Timestamp::FromMillis(std::get<0>(*it)) <= watermark;
       ++it) {
    closing_scratch_.push_back({std::get<1>(*it), std::get<2>(*it)});
  }
  EmitSorted(&closing_scratch_, out);
  if (!watermark.is_min()) {
    sessions_closed_through_ =
        std::max(sessions_closed_through_,
                 watermark.is_max() ? INT64_MAX : watermark.millis());
  }
  if (rule_.update_interval_ms > 0 &&
      now_ms - last_update_ms_ >= rule_.update_interval_ms) {
    last_update_ms_ = now_ms;
    EmitEarly(watermark, out);
  }
  while (!session_ends_.empty()) {
    const auto [end, start, group] = *session_ends_.begin();
    if (Timestamp::FromMillis(end).Plus(rule_.allowed_lateness_ms) > watermark)
      break;
    Erase(WindowKey{start, group});
    sessions_[group].erase(start);
    session_ends_.erase(session_ends_.begin());
  }
}

void WindowKpiOperator::Erase(const WindowKey& key) {
  auto it = windows_.find(key);
  if (it == windows_.end()) return;
  Forget(key, it->second);
  windows_.erase(it);
}

void WindowKpiOperator::EmitEarly(Timestamp watermark, OutputBatch* out) {
  SortKeys(&updated_);
  for (const WindowKey& key : updated_) {
    auto it = windows_.find(key);
    if (it == windows_.end() || !it->second.updated) continue;
    it->second.updated = false;
    Touch(key, it->second);
    // Closed in the meantime: its final snapshot has gone out instead.
    const int64_t end = rule_.window_type == WindowType::kSession
                            ? it->second.session_end
                            : assigner_.End(key.start);
    if (Timestamp::FromMillis(end) <= watermark) continue;
    Emit(key, &it->second, out, Finality::kEarly);
  }
  updated_.clear();
}

void WindowKpiOperator::SortKeys(std::vector<WindowKey>* keys) const {
  std::sort(keys->begin(), keys->end(),
            [this](const WindowKey& a, const WindowKey& b) {
              if (a.start != b.start) return a.start < b.start;
              return groups_[a.group].key < groups_[b.group].key;
            });
}

void WindowKpiOperator::EmitSorted(std::vector<WindowKey>* keys,
                                   OutputBatch* out) {
  SortKeys(keys);
  for (const WindowKey& key : *keys) {
    auto it = windows_.find(key);
    if (it == windows_.end()) continue;
    it->second.pending = false;
    it->second.updated = false;
    Emit(key, &it->second, out, Finality::kFinal);
  }
  keys->clear();
}

void WindowKpiOperator::AppendWindowJson(int64_t start, int64_t end,
                                         std::string* out) const {
  out->append(",\"window\":{\"start\":\"");
  AppendRfc3339(Timestamp::FromMillis(start), out);
  out->append("\",\"end\":\"");
  AppendRfc3339(Timestamp::FromMillis(end), out);
  out->append("\"}");
}

void WindowKpiOperator::Emit(const WindowKey& key, WindowState* state,
                             OutputBatch* out, Finality finality) {
  const bool final = finality == Finality::kFinal;
  if (final) {
    Touch(key, *state);
    ++state->revision;
    ++(state->revision == 0 ? probe_.snapshots : probe_.corrections);
  } else {
    ++probe_.early_snapshots;
  }
  const KpiGroup& group = groups_[key.group];
  if (!rule_.internal) AppendSnapshot(key, *state, final, out);
  if (!final) return;
  for (WindowListener* listener : listeners_) {
    listener->OnWindowEmitted(key.group, group, key.start, state->kpis,
                              state->revision, out);
  }
}

void WindowKpiOperator::AppendSnapshot(const WindowKey& key, WindowState& state,
                                       bool final, OutputBatch* out) {
  out->BeginRecord(OutputKind::kKpis, groups_[key.group].key);
  // In emit: updates mode every snapshot says whether more may follow.
  AppendSnapshotJson(key, state, final, rule_.update_interval_ms > 0,
                     out->value());
  out->EndRecord();
  if (final) state.replaces.clear();
}

void WindowKpiOperator::AppendSnapshotJson(const WindowKey& key,
                                           const WindowState& state, bool final,
                                           bool say_final,
                                           std::string* json) const {
  json->append(snapshot_head_);
  const bool session = rule_.window_type == WindowType::kSession;
  AppendWindowJson(
      key.start, session ? state.session_end : assigner_.End(key.start), json);
  json->append(",\"group\":");
  json->append(groups_[key.group].json);
  state.kpis.AppendJsonFields(json);
  if (rule_.top_skus > 0)
    state.kpis.AppendTopSkus(rule_.top_skus, sku_names_, json);
  if (final && !state.replaces.empty()) {
    // Sessions emitted before under other starts that this one merged.
    json->append(",\"replaces\":[");
    for (size_t i = 0; i < state.replaces.size(); ++i) {
      json->append(i > 0 ? ",{\"start\":\"" : "{\"start\":\"");
      AppendRfc3339(Timestamp::FromMillis(state.replaces[i]), json);
      json->append("\"}");
    }
    json->push_back(']');
  }
  if (say_final) json->append(final ? ",\"final\":true" : ",\"final\":false");
  AppendOutputId(rule_.name, groups_[key.group].key,
                 Timestamp::FromMillis(key.start), json);
  // An early snapshot carries the revision its window's final snapshot will
  // have.
  absl::StrAppend(
      json, ",\"revision\":", final ? state.revision : state.revision + 1, "}");
}

bool WindowKpiOperator::AppendOpenWindowsJson(absl::string_view group_key,
                                              std::string* json) const {
  const uint32_t* identity = group_ids_.Find(IdentityOf(group_key));
  if (identity == nullptr) return false;
  const uint32_t group = group_of_identity_[*identity];
  // A key of another rule's shape can share an identity: check it whole.
  if (group == kNotOwned || groups_[group].key != group_key) return false;
  std::vector<std::pair<WindowKey, const WindowState*>> open;
  for (const auto& [key, state] : windows_) {
    if (key.group == group && state.revision < 0)
      open.emplace_back(key, &state);
  }
  std::sort(open.begin(), open.end(), [](const auto& a, const auto& b) {
    return a.first.start < b.first.start;
  });
  json->push_back('[');
  for (size_t i = 0; i < open.size(); ++i) {
    if (i > 0) json->push_back(',');
    AppendSnapshotJson(open[i].first, *open[i].second, /*final=*/false,
                       /*say_final=*/true, json);
  }
  json->push_back(']');
  return true;
}

// Checkpoint records of family "kpi/<rule>":
//   "m"                      version, first_unclosed_start, max_start_seen,
//                            sessions_closed_through
//   "g" + id (8 bytes)       group key and JSON, append-only
//   "s" + id                 SKU name, append-only
//   "w" + start + group      one window's state
namespace {
constexpr uint64_t kWindowStateVersion = 1;

}  // namespace

void WindowKpiOperator::EncodeWindow(const WindowState& state,
                                     std::string* out) const {
  StateEncoder encoder(out);
  encoder.I64(state.revision);
  encoder.Bool(state.pending);
  encoder.Bool(state.updated);
  encoder.I64(state.session_end);
  encoder.U64(state.replaces.size());
  for (int64_t start : state.replaces) encoder.I64(start);
  state.kpis.Encode(&encoder);
}

void WindowKpiOperator::Checkpoint(StateWriteBatch* batch) {
  std::string key, value;
  auto window_key = [&key](const WindowKey& window) -> const std::string& {
    key.clear();
    key.push_back('w');
    AppendOrderedKey(window.start, &key);
    AppendOrderedKey(window.group, &key);
    return key;
  };
  // A removed window that came back since is put again below.
  for (const WindowKey& window : erased_) {
    if (!windows_.contains(window)) batch->Delete(family_, window_key(window));
  }
  erased_.clear();
  for (const WindowKey& window : dirty_) {
    auto it = windows_.find(window);
    // Gone again before any checkpoint saw it: nothing to write.
    if (it == windows_.end() || !it->second.dirty) continue;
    window_key(window);
    it->second.dirty = false;
    it->second.persisted = true;
    value.clear();
    EncodeWindow(it->second, &value);
    batch->Put(family_, key, value);
  }
  dirty_.clear();
  WriteNewEntries(batch, family_, 'g', groups_.size(), &groups_checkpointed_,
                  [this](size_t id) {
                    std::string group;
                    StateEncoder encoder(&group);
                    encoder.Bytes(groups_[id].key);
                    encoder.Bytes(groups_[id].json);
                    return group;
                  });
  WriteNewEntries(
      batch, family_, 's', sku_names_.size(), &skus_checkpointed_,
      [this](size_t id) { return std::string(sku_names_.Lookup(id)); });
  value.clear();
  StateEncoder meta(&value);
  meta.U64(kWindowStateVersion);
  meta.Bytes(settings_);
  meta.I64(first_unclosed_start_);
  meta.I64(max_start_seen_);
  meta.I64(sessions_closed_through_);
  batch->Put(family_, "m", value);
}

absl::Status WindowKpiOperator::Restore(StateStore* store) {
  std::optional<std::string> meta_bytes;
  TS_ASSIGN_OR_RETURN(meta_bytes, store->Get(family_, "m"));
  if (!meta_bytes.has_value()) return absl::OkStatus();  // never checkpointed
  StateDecoder meta(*meta_bytes);
  if (meta.U64() != kWindowStateVersion) {
    return absl::DataLossError(
        absl::StrCat(family_, ": checkpoint from an incompatible version"));
  }
  const absl::string_view settings = meta.Bytes();
  if (meta.ok() && settings != settings_)
    return RuleChanged(family_, settings, settings_);
  first_unclosed_start_ = meta.I64();
  max_start_seen_ = meta.I64();
  sessions_closed_through_ = meta.I64();
  if (!meta.done())
    return absl::DataLossError(absl::StrCat(family_, ": bad meta"));
  TS_RETURN_IF_ERROR(ReadEntries(
      store, family_, 'g', absl::StrCat(family_, ": group table"),
      [this](absl::string_view value) {
        StateDecoder decoder(value);
        KpiGroup group{std::string(decoder.Bytes()),
                       std::string(decoder.Bytes())};
        bool added = false;
        group_ids_.Intern(IdentityOf(group.key), &added);
        // A repeated group would shift every id after it.
        if (!decoder.ok() || !added) return false;
        group_of_identity_.push_back(static_cast<uint32_t>(groups_.size()));
        groups_.push_back(std::move(group));
        return true;
      },
      &groups_checkpointed_));
  TS_RETURN_IF_ERROR(ReadEntries(
      store, family_, 's', absl::StrCat(family_, ": SKU table"),
      [this](absl::string_view sku) {
        sku_names_.Intern(sku);
        return true;
      },
      &skus_checkpointed_));
  absl::Status status;
  TS_RETURN_IF_ERROR(store->Scan(
      family_, "w", [&](absl::string_view key, absl::string_view value) {
        status.Update(RestoreWindow(key, value));
      }));
  return status;
}

absl::Status WindowKpiOperator::RestoreWindow(absl::string_view key,
                                              absl::string_view value) {
  if (key.size() != 17) {
    return absl::DataLossError(absl::StrCat(family_, ": bad window key"));
  }
  const WindowKey window{ReadOrderedKey(key.substr(1)),
                         static_cast<uint32_t>(ReadOrderedKey(key.substr(9)))};
  WindowState state;
  StateDecoder decoder(value);
  state.revision = static_cast<int32_t>(decoder.I64());
  state.pending = decoder.Bool();
  state.updated = decoder.Bool();
  state.session_end = decoder.I64();
  const size_t replaced = decoder.Count();
  for (size_t i = 0; i < replaced; ++i) state.replaces.push_back(decoder.I64());
  if (!state.kpis.Decode(&decoder) || !decoder.done() ||
      window.group >= groups_.size()) {
    return absl::DataLossError(absl::StrCat(family_, ": bad window record"));
  }
  state.persisted = true;
  if (state.pending) pending_.push_back(window);
  if (state.updated) updated_.push_back(window);
  if (rule_.window_type == WindowType::kSession) {
    sessions_[window.group][window.start] = state.session_end;
    session_ends_.insert({state.session_end, window.start, window.group});
  } else {
    groups_by_start_[window.start].push_back(window.group);
  }
  windows_.emplace(window, std::move(state));
  return absl::OkStatus();
}

}  // namespace tillstream
