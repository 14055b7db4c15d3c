#include "engine/live_view.h"

#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/json_writer.h"
#include "engine/time_format.h"
#include "simdjson.h"

namespace tillstream {
namespace {

// The fields of an output record the view needs. Our own JSON, so a field
// that is missing is a bug, not bad input: the record is then skipped.
struct Fields {
  std::string rule, start, revenue, group;
  int64_t orders = 0;
  bool final = true;
  bool firing = false;
};

bool Read(absl::string_view json, const char* rule_field, const char* window,
          Fields* f) {
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json.data(), json.size());
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc)) return false;
  std::string_view text;
  if (doc[rule_field].get_string().get(text)) return false;
  f->rule.assign(text);
  if (window != nullptr) {
    if (doc[window]["start"].get_string().get(text)) return false;
    f->start.assign(text);
  }
  simdjson::ondemand::object group;
  if (!doc["group"].get_object().get(group)) {
    if (group.raw_json().get(text)) return false;
    f->group.assign(text);
  }
  if (!doc["revenue"].get_string().get(text)) f->revenue.assign(text);
  int64_t orders;
  if (!doc["orders"].get_int64().get(orders)) f->orders = orders;
  bool final;
  if (!doc["final"].get_bool().get(final)) f->final = final;
  if (!doc["state"].get_string().get(text)) f->firing = text == "firing";
  return true;
}

int64_t StartMillis(const std::string& start) {
  absl::StatusOr<Timestamp> t = ParseRfc3339(start);
  return t.ok() ? t->millis() : INT64_MIN;
}

}  // namespace

void LiveView::Observe(const OutputBatch& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const OutputBatch::Record r = outputs[i];
    switch (r.kind) {
      case OutputKind::kKpis:
        ObserveKpi(r.key, r.value);
        break;
      case OutputKind::kRolling:
        ObserveRolling(r.key, r.value);
        break;
      case OutputKind::kAlerts:
        ObserveAlert(r.key, r.value);
        break;
      default:
        break;
    }
  }
}

void LiveView::ObserveKpi(absl::string_view key, absl::string_view json) {
  Fields f;
  if (!Read(json, "kpi", "window", &f) || !f.final) return;
  auto& groups = kpis_[f.rule];
  auto it = groups.find(key);
  if (it == groups.end()) {
    if (groups.size() >= kMaxSeriesGroups) return;
    it = groups.emplace(std::string(key), GroupView{}).first;
    it->second.group_json = f.group;
  }
  GroupView& view = it->second;
  const int64_t start = StartMillis(f.start);
  if (start >= view.last_start_ms) {
    view.last_start_ms = start;
    view.last_closed.assign(json.data(), json.size());
  }
  // The series in window order; a correction replaces its point.
  auto point = view.series.begin();
  while (point != view.series.end() && point->start_ms < start) ++point;
  if (point != view.series.end() && point->start_ms == start) {
    point->revenue = f.revenue;
    point->orders = f.orders;
    return;
  }
  view.series.insert(point, Point{start, f.start, f.revenue, f.orders});
  if (view.series.size() > kSeriesLength) view.series.pop_front();
}

void LiveView::ObserveRolling(absl::string_view key, absl::string_view json) {
  Fields f;
  if (!Read(json, "rule", "period", &f)) return;
  RollingView& view = rolling_[f.rule][key];
  const int64_t start = StartMillis(f.start);
  if (start < view.start_ms) return;
  view.start_ms = start;
  view.json.assign(json.data(), json.size());
}

void LiveView::ObserveAlert(absl::string_view key, absl::string_view json) {
  Fields f;
  if (!Read(json, "rule", nullptr, &f)) return;
  AlertView& view = alerts_[key];
  const bool was_resolved = !view.json.empty() && !view.firing;
  resolved_ += (f.firing ? 0 : 1) - (was_resolved ? 1 : 0);
  view.firing = f.firing;
  view.sequence = ++sequence_;
  view.json.assign(json.data(), json.size());
  if (resolved_ <= static_cast<int64_t>(kMaxResolvedAlerts)) return;
  // Forget the resolved alert updated longest ago.
  auto oldest = alerts_.end();
  for (auto it = alerts_.begin(); it != alerts_.end(); ++it) {
    if (!it->second.firing && (oldest == alerts_.end() ||
                               it->second.sequence < oldest->second.sequence)) {
      oldest = it;
    }
  }
  alerts_.erase(oldest);
  --resolved_;
}

const std::string* LiveView::LastClosed(absl::string_view kpi,
                                        absl::string_view group) const {
  auto rule = kpis_.find(kpi);
  if (rule == kpis_.end()) return nullptr;
  auto it = rule->second.find(group);
  return it == rule->second.end() ? nullptr : &it->second.last_closed;
}

void LiveView::AppendSeriesJson(absl::string_view kpi, size_t limit,
                                std::string* out) const {
  out->append("{\"kpi\":");
  AppendJsonString(kpi, out);
  out->append(",\"groups\":[");
  auto rule = kpis_.find(kpi);
  if (rule != kpis_.end()) {
    bool first_group = true;
    for (const auto& [key, view] : rule->second) {
      out->append(first_group ? "{\"key\":" : ",{\"key\":");
      first_group = false;
      AppendJsonString(key, out);
      out->append(",\"group\":");
      out->append(view.group_json.empty() ? "{}" : view.group_json);
      out->append(",\"windows\":[");
      const size_t skip =
          view.series.size() > limit ? view.series.size() - limit : 0;
      for (size_t i = skip; i < view.series.size(); ++i) {
        const Point& p = view.series[i];
        out->append(i > skip ? ",{\"start\":" : "{\"start\":");
        AppendJsonString(p.start, out);
        out->append(",\"revenue\":");
        AppendJsonString(p.revenue, out);
        absl::StrAppend(out, ",\"orders\":", p.orders, "}");
      }
      out->append("]}");
    }
  }
  out->append("]}");
}

void LiveView::AppendRollingJson(absl::string_view rule,
                                 std::string* out) const {
  out->append("{\"rule\":");
  AppendJsonString(rule, out);
  out->append(",\"groups\":[");
  auto it = rolling_.find(rule);
  if (it != rolling_.end()) {
    bool first = true;
    for (const auto& [key, view] : it->second) {
      if (!first) out->push_back(',');
      first = false;
      out->append(view.json);
    }
  }
  out->append("]}");
}

void LiveView::AppendAlertsJson(absl::string_view state,
                                std::string* out) const {
  out->push_back('[');
  bool first = true;
  for (const bool firing : {true, false}) {
    if ((state == "firing" && !firing) || (state == "resolved" && firing))
      continue;
    for (const auto& [id, view] : alerts_) {
      if (view.firing != firing) continue;
      if (!first) out->push_back(',');
      first = false;
      out->append(view.json);
    }
  }
  out->push_back(']');
}

}  // namespace tillstream
