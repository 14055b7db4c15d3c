#include "operators/window_kpi_operator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/json_writer.h"
#include "engine/time_format.h"

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

}  // namespace

WindowKpiOperator::WindowKpiOperator(const KpiRuleConfig& rule,
                                     absl::string_view pipeline)
    : rule_(rule),
      assigner_(rule),
      line_level_(std::any_of(rule.group_by.begin(), rule.group_by.end(),
                              IsLineField)) {
  // {"type":"kpi","pipeline":"P","kpi":"R" and the same for late records.
  for (auto [head, type] :
       {std::pair{&snapshot_head_, "kpi"}, std::pair{&late_head_, "late"}}) {
    absl::StrAppend(head, "{\"type\":\"", type, "\",\"pipeline\":");
    AppendJsonString(pipeline, head);
    head->append(",\"kpi\":");
    AppendJsonString(rule_.name, head);
  }
}

uint32_t WindowKpiOperator::InternGroup(const OrderEvent& event,
                                        const OrderLine* line) {
  key_scratch_.clear();
  for (size_t i = 0; i < rule_.group_by.size(); ++i) {
    if (i > 0) key_scratch_.push_back(',');
    absl::string_view name = GroupFieldName(rule_.group_by[i]);
    key_scratch_.append(name.data(), name.size());
    key_scratch_.push_back('=');
    absl::string_view value = FieldValue(event, line, rule_.group_by[i]);
    key_scratch_.append(value.data(), value.size());
  }
  auto it = group_ids_.find(key_scratch_);
  if (it != group_ids_.end()) return it->second;

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
  uint32_t id = static_cast<uint32_t>(groups_.size());
  groups_.push_back(std::move(group));
  group_ids_.emplace(key_scratch_, id);
  return id;
}

void WindowKpiOperator::Process(const OrderEvent& event,
                                const CustomerRef& customer,
                                Timestamp watermark, OutputBatch* out) {
  assigner_.ForEachWindow(event.ts.millis(), [&](int64_t start) {
    ProcessInWindow(event, customer, start, watermark, out);
  });
}

void WindowKpiOperator::ProcessInWindow(const OrderEvent& event,
                                        const CustomerRef& customer,
                                        int64_t start, Timestamp watermark,
                                        OutputBatch* out) {
  const Timestamp end = Timestamp::FromMillis(assigner_.End(start));
  if (watermark >= end.Plus(rule_.allowed_lateness_ms)) {
    ++probe_.late_events;
    out->BeginRecord(OutputKind::kLate, event.order_id);
    std::string* json = out->value();
    json->append(late_head_);
    AppendWindowJson(start, json);
    json->append(",\"ts\":\"");
    AppendRfc3339(event.ts, json);
    json->append("\",\"watermark\":\"");
    AppendRfc3339(watermark, json);
    json->append("\",\"source\":");
    AppendSourceJson(event.source, json);
    json->append(",\"payload\":");
    AppendJsonString(event.payload, json);
    json->push_back('}');
    out->EndRecord();
    return;
  }
  ++probe_.events;
  max_start_seen_ = std::max(max_start_seen_, start);
  const int sign = event.status == OrderStatus::kCompleted  ? 1
                   : event.status == OrderStatus::kRefunded ? -1
                                                            : 0;
  if (!line_level_) {
    WindowState& state =
        AddTo(WindowKey{start, InternGroup(event, nullptr)}, end, watermark);
    state.kpis.Add(event.status, customer, rule_.approx_distinct, event.totals);
    if (rule_.top_skus > 0 && sign != 0) {
      for (const OrderLine& line : event.lines) {
        state.kpis.AddSku(sku_names_.Intern(line.sku), sign, line);
      }
    }
    return;
  }
  // Line-level: each line counts towards its own group; an order counts once
  // in each group it has lines in.
  line_groups_.clear();
  for (const OrderLine& line : event.lines) {
    const uint32_t group = InternGroup(event, &line);
    auto it = std::find_if(
        line_groups_.begin(), line_groups_.end(),
        [group](const auto& entry) { return entry.first == group; });
    if (it == line_groups_.end())
      it = line_groups_.insert(it, {group, OrderTotals{}});
    it->second.AddLine(line);
  }
  for (const auto& [group, totals] : line_groups_) {
    AddTo(WindowKey{start, group}, end, watermark)
        .kpis.Add(event.status, customer, rule_.approx_distinct, totals);
  }
  if (rule_.top_skus > 0 && sign != 0) {
    for (const OrderLine& line : event.lines) {
      WindowState& state =
          windows_.find(WindowKey{start, InternGroup(event, &line)})->second;
      state.kpis.AddSku(sku_names_.Intern(line.sku), sign, line);
    }
  }
}

WindowKpiOperator::WindowState& WindowKpiOperator::AddTo(const WindowKey& key,
                                                         Timestamp end,
                                                         Timestamp watermark) {
  auto [it, inserted] = windows_.try_emplace(key);
  if (inserted) groups_by_start_[key.start].push_back(key.group);
  WindowState& state = it->second;
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
  EmitSorted(&pending_, out);

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
      listener->OnWindowsClosed(closed_through, out);
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
    for (uint32_t group : first->second)
      windows_.erase(WindowKey{first->first, group});
    groups_by_start_.erase(first);
  }
}

void WindowKpiOperator::EmitEarly(Timestamp watermark, OutputBatch* out) {
  SortKeys(&updated_);
  for (const WindowKey& key : updated_) {
    auto it = windows_.find(key);
    if (it == windows_.end() || !it->second.updated) continue;
    it->second.updated = false;
    // Closed in the meantime: its final snapshot has gone out instead.
    if (Timestamp::FromMillis(assigner_.End(key.start)) <= watermark) continue;
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

void WindowKpiOperator::AppendWindowJson(int64_t start,
                                         std::string* out) const {
  out->append(",\"window\":{\"start\":\"");
  AppendRfc3339(Timestamp::FromMillis(start), out);
  out->append("\",\"end\":\"");
  AppendRfc3339(Timestamp::FromMillis(assigner_.End(start)), out);
  out->append("\"}");
}

void WindowKpiOperator::Emit(const WindowKey& key, WindowState* state,
                             OutputBatch* out, Finality finality) {
  const bool final = finality == Finality::kFinal;
  if (final) {
    ++state->revision;
    ++(state->revision == 0 ? probe_.snapshots : probe_.corrections);
  } else {
    ++probe_.early_snapshots;
  }
  const KpiGroup& group = groups_[key.group];
  out->BeginRecord(OutputKind::kKpis, group.key);
  std::string* json = out->value();
  json->append(snapshot_head_);
  AppendWindowJson(key.start, json);
  json->append(",\"group\":");
  json->append(group.json);
  state->kpis.AppendJsonFields(json);
  if (rule_.top_skus > 0)
    state->kpis.AppendTopSkus(rule_.top_skus, sku_names_, json);
  // In emit: updates mode every snapshot says whether more may follow;
  // an early one carries the revision its window's final snapshot will have.
  if (rule_.update_interval_ms > 0)
    json->append(final ? ",\"final\":true" : ",\"final\":false");
  absl::StrAppend(json, ",\"revision\":",
                  final ? state->revision : state->revision + 1, "}");
  out->EndRecord();
  if (!final) return;
  for (WindowListener* listener : listeners_) {
    listener->OnWindowEmitted(key.group, group, key.start, state->kpis,
                              state->revision, out);
  }
}

}  // namespace tillstream
